"""Fixtures for the real-browser tests: a ``sanmin demo`` server process and Debian's chromium.

The browser is Debian's ``chromium`` package (``.ci/install-browser``) driven by the
``playwright`` Python package; Playwright's own browser download is never used. Without
either, the tests are skipped with the reason, except under ``CI=true``, where they fail.

Every page but ``/login`` and ``/healthz`` needs a login: :func:`log_in` goes through the
real login page with one of the demo accounts (``core/demo/load.py``). A :class:`Watched`
page records script errors and 4xx/5xx answers; a test names each one it expects with
:meth:`Watched.failing` and ends with :meth:`Watched.assert_clean`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import pytest

from core.demo.load import DEMO_PASSWORD
from core.testing import in_ci
from tests.servers import SanminServer, child_env

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def browser_problem() -> str | None:
    """Why the browser tests cannot run here (``None`` when they can)."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"{CHROMIUM} not found: run .ci/install-browser (Debian package chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"playwright is not importable ({exc}): pip install -e '.[dev]'"
    return None


@pytest.fixture(scope="session")
def browser_available() -> None:
    """Skip (or, under ``CI=true``, fail) when chromium or playwright is missing."""
    problem = browser_problem()
    if problem is None:
        return
    if in_ci():
        pytest.fail(f"{problem} (CI=true requires the browser tests to run)")
    pytest.skip(problem)


# -- the server ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_server(
    browser_available: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SanminServer]:
    """``sanmin demo`` on a free port with its own SQLite file, stopped after the module."""
    workdir = tmp_path_factory.mktemp("demo")
    database = workdir / "demo.db"
    # only our database: no stray SANMIN_* variable or sanmin.toml reaches the server
    env = child_env(f"sqlite:///{database}", workdir)
    with SanminServer("demo", ["demo", "--db", str(database)], env=env, workdir=workdir) as server:
        server.wait_until_ready()
        yield server


# -- the browser ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(browser_available: None) -> Iterator[Browser]:
    """Debian's chromium, headless, launched by Playwright with a fresh profile."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watched:
    """A page plus what went wrong on it: script errors and failed HTTP responses.

    ``expected`` lists the ``(status, url)`` failures the test asked for with
    :meth:`failing`; :meth:`assert_clean` allows those and nothing else.
    """

    page: Page
    errors: list[str]
    bad_responses: list[str]
    expected: list[tuple[int, str]] = field(default_factory=list)

    @contextlib.contextmanager
    def failing(self, status: int, url: str) -> Iterator[None]:
        """Expect one ``status`` answer for ``url`` in the block (a navigation or a form
        submission) and wait for the browser's own console line about it, so that the
        check at the end sees it: no sleeping."""
        self.expected.append((status, url))

        def about_it(msg: ConsoleMessage) -> bool:
            return (
                msg.type == "error"
                and msg.location.get("url") == url
                and f"status of {status} " in msg.text
            )

        with self.page.expect_console_message(about_it):
            yield

    def assert_clean(self) -> None:
        """No script error and no 4xx/5xx answer except those expected, in their order;
        for each of those, only the browser's "Failed to load resource" line."""
        assert self.bad_responses == [f"{status} {url}" for status, url in self.expected]
        assert self.errors == [_failed_resource(status, url) for status, url in self.expected]


def _failed_resource(status: int, url: str) -> str:
    """What chromium logs (as recorded by :func:`_record_console_error`) for a 4xx/5xx."""
    phrase = HTTPStatus(status).phrase
    text = f"Failed to load resource: the server responded with a status of {status} ({phrase})"
    return f"{text} ({url})"


def watch(page: Page) -> Watched:
    """``page`` as a :class:`Watched` page: its script errors and 4xx/5xx answers recorded."""
    watched = Watched(page, [], [])
    page.on("pageerror", lambda exc: watched.errors.append(str(exc)))
    page.on("console", lambda msg: _record_console_error(watched, msg))
    page.on(
        "response",
        lambda r: watched.bad_responses.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    return watched


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    """A fresh browser context and page (zh-CN) that records page errors and 4xx/5xx answers."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    try:
        yield watch(context.new_page())
    finally:
        context.close()


def _record_console_error(watched: Watched, msg: ConsoleMessage) -> None:
    if msg.type != "error":
        return
    source = msg.location.get("url", "")
    watched.errors.append(f"{msg.text} ({source})" if source else msg.text)


# Screenshots are kept here after the run (CI keeps the folder as the run's artefacts).
ARTIFACTS = Path(
    os.environ.get("SANMIN_TEST_ARTIFACTS")
    or Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
)


def keep_screenshot(source: Path, name: str) -> Path:
    """A copy of the screenshot ``source`` as ``name`` in :data:`ARTIFACTS`, where people
    and CI find it after the run (the test's own copy is in its temporary directory)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    kept = ARTIFACTS / name
    shutil.copyfile(source, kept)
    return kept


# -- logging in ----------------------------------------------------------------------------


def login_url(server: SanminServer, target: str) -> str:
    """Where an anonymous visit to ``target`` is sent: the login page, with ``next``."""
    return server.url("/login?" + urlencode({"next": target}))


def fill_login_form(page: Page, username: str, password: str = DEMO_PASSWORD) -> None:
    """Type the credentials into the login page's form and submit it."""
    form = page.locator("section.login form")
    form.get_by_label("用户名", exact=True).fill(username)
    form.get_by_label("密码", exact=True).fill(password)
    form.get_by_role("button", name="登录", exact=True).click()


def log_in(watched: Watched, server: SanminServer, username: str, target: str = "/") -> None:
    """Open ``target`` anonymously, be sent to the login page, log in there as the demo
    account ``username`` and land on ``target``."""
    from playwright.sync_api import expect

    page = watched.page
    page.goto(server.url(target))
    expect(page).to_have_url(login_url(server, target))
    expect(page.get_by_role("heading", level=1)).to_have_text("登录")
    fill_login_form(page, username)
    expect(page).to_have_url(server.url(target))
    expect(page.locator("header.top .who")).to_have_attribute("title", username)
