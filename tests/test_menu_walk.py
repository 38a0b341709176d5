"""Every demo account's menu, walked on the loaded demo (SQLite and PostgreSQL).

Each demo account (one per core role, and each practice's from its ``demo_accounts`` hook)
logs in through the login form, opens the home page and follows every link of the header
menu and every link the page offers into a practice's pages (its 已启用的功能 cards). It does
so again at one township of each distinct set of practices it can reach (in the demo:
柯城区's townships with 红色代办, 衢江区's 莲花镇 with 民情直通车, the other counties' with the
defaults, 江山市's 双塔街道 without 民情茶馆).

No link may answer a 5xx, and no menu link a 4xx either: a menu must not offer a link the
account cannot open. A card may answer 403 to an account without its practice's permission
(the cards list what is on in the township, for everyone). Every failure is reported with
the account, its role, the page the link was on and the status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from core.demo.accounts import DemoAccount
from core.demo.load import DEMO_ACCOUNTS, DEMO_PASSWORD
from core.identity.web import CSRF_COOKIE, SESSION_COOKIE
from core.plugins.declarations import collect
from core.testing import Sanmin
from tests import test_demo_practices

# the loaded-demo fixture of the practices' tests, shared rather than written again
demo = test_demo_practices.demo

PAGE_HEADERS = {"Accept": "text/html,application/xhtml+xml"}  # as a browser asks


@dataclass
class Links:
    """The links of one page: its header menu, its cards into practice pages, and its
    township list (行政区划)."""

    menu: list[str] = field(default_factory=list)
    practices: list[str] = field(default_factory=list)
    townships: list[str] = field(default_factory=list)


class LinkParser(HTMLParser):
    """Collects :class:`Links` from a page in the shared layout (``core/base.html``)."""

    def __init__(self) -> None:
        super().__init__()
        self.links = Links()
        self._in_header = self._in_nav = self._in_main = self._in_units = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        classes = (values.get("class") or "").split()
        if tag == "header" and "top" in classes:
            self._in_header = True
        elif tag == "nav" and self._in_header:
            self._in_nav = True
        elif tag == "main":
            self._in_main = True
        elif tag == "ul" and "units" in classes:
            self._in_units = True
        elif tag == "a" and values.get("href"):
            href = values["href"] or ""
            if self._in_nav:
                self.links.menu.append(href)
            elif self._in_units:
                self.links.townships.append(href)
            elif self._in_main and href.startswith("/p/"):
                self.links.practices.append(href)

    def handle_endtag(self, tag: str) -> None:
        if tag == "header":
            self._in_header = False
        elif tag == "nav":
            self._in_nav = False
        elif tag == "main":
            self._in_main = False
        elif tag == "ul":
            self._in_units = False


def links_of(html: str) -> Links:
    """The menu, practice and township links of ``html``."""
    parser = LinkParser()
    parser.feed(html)
    parser.close()
    return parser.links


def demo_accounts(demo: Sanmin) -> list[DemoAccount]:
    """Every account the demo creates: the core's and each plugin's, as ``load_demo`` does."""
    accounts = list(DEMO_ACCOUNTS)
    for plugin_accounts in collect(demo.kernel.registry, "demo_accounts", DemoAccount).values():
        accounts.extend(plugin_accounts)
    return accounts


def logged_in(demo: Sanmin, username: str) -> TestClient:
    """A client that logged in as ``username`` through the login form (CSRF token included)
    and asks for HTML, as a browser does."""
    client = TestClient(demo.app, headers=PAGE_HEADERS)
    assert client.get("/login").status_code == 200
    answer = client.post(
        "/login",
        data={
            "username": username,
            "password": DEMO_PASSWORD,
            "csrf_token": client.cookies[CSRF_COOKIE],
            "next": "/",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, (username, answer.status_code, answer.text[:300])
    assert SESSION_COOKIE in client.cookies, username
    return client


def practice_set(links: Links) -> frozenset[str]:
    """The practices a home page's cards offer (their plugin names)."""
    return frozenset(urlsplit(href).path.split("/")[2] for href in links.practices)


@dataclass
class Walk:
    """One account's walk: the links already opened and what went wrong."""

    client: TestClient
    who: str
    opened: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)

    def page(self, url: str) -> Links:
        """Open a home page the walk starts from; it must answer 200."""
        answer = self.client.get(url)
        if answer.status_code != 200:
            self.failures.append(f"{self.who}: {url} -> {answer.status_code}")
            return Links()
        return links_of(answer.text)

    def follow(self, source: str, hrefs: list[str], *, menu: bool) -> None:
        """Open each of ``hrefs`` (once per walk): no 5xx, and no 4xx for a menu link; a
        link that lands on the login page lost the session."""
        for href in hrefs:
            if href in self.opened:
                continue
            self.opened.add(href)
            answer = self.client.get(href)
            status = answer.status_code
            what = "menu link" if menu else "practice link"
            if status >= 500 or (menu and status >= 400):
                self.failures.append(f"{self.who} on {source}: {what} {href} -> {status}")
            elif answer.url.path == "/login":
                self.failures.append(f"{self.who} on {source}: {what} {href} -> login page")


def walk_account(demo: Sanmin, account: DemoAccount) -> list[str]:
    """Walk ``account``'s menus at its home page and at one township per distinct set of
    practices it reaches; return the failures."""
    who = f"{account.username} ({account.role} @ {account.unit_code})"
    walk = Walk(logged_in(demo, account.username), who)
    home = walk.page("/")
    walk.follow("/", home.menu, menu=True)
    walk.follow("/", home.practices, menu=False)
    seen = {practice_set(home)} if home.practices else set()
    for township in home.townships:
        links = walk.page(township)
        practices = practice_set(links)
        if practices in seen:
            continue
        seen.add(practices)
        walk.follow(township, links.menu, menu=True)
        walk.follow(township, links.practices, menu=False)
    walk.client.close()
    return walk.failures


def test_every_demo_account_opens_every_link_its_menu_offers(demo: Sanmin) -> None:
    accounts = demo_accounts(demo)
    plugin_roles = {a.role for a in accounts} - {a.role for a in DEMO_ACCOUNTS}
    assert len(plugin_roles) >= 4, plugin_roles  # the practices' own accounts are walked too

    # the menus differ by township: 民情直通车 at 莲花镇 (衢江区), 红色代办 at 府山街道 (柯城区)
    client = logged_in(demo, "city_admin")
    fushan = links_of(client.get("/?unit=330802001000").text)
    lianhua = links_of(client.get("/?unit=330803104000").text)
    client.close()
    assert practice_set(fushan) >= {"knock_door", "tea_house", "red_proxy"}
    assert practice_set(lianhua) >= {"knock_door", "tea_house", "mobile_office"}
    assert "mobile_office" not in practice_set(fushan)
    assert "red_proxy" not in practice_set(lianhua)
    assert [h for h in fushan.menu if h.startswith("/p/mobile_office/")] == []
    assert [h for h in lianhua.menu if h.startswith("/p/red_proxy/")] == []
    assert "/p/mobile_office/?unit=330803104000" in lianhua.menu
    assert "/p/red_proxy/?unit=330802001000" in fushan.menu

    failures = [failure for account in accounts for failure in walk_account(demo, account)]
    assert not failures, "links that failed:\n" + "\n".join(failures)
