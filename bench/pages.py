"""Render time of the heaviest pages at demo size, each against ``/healthz`` in the same run
(issue 8: target p95 <= 3x ``/healthz``'s p95).

Run from the repository root (2-4 min on a busy 2-core machine, half a minute of it loading the
demo county)::

    python bench/pages.py                  # SQLite (a temporary file)
    python bench/pages.py --postgres       # PostgreSQL, in a fresh schema dropped afterwards
    python bench/pages.py --quick          # a trial: 30 requests a page
    python bench/pages.py --requests 500   # more requests a page (default 200)
    python bench/pages.py --profile        # then profile the slowest page in-process (cProfile)
    python bench/pages.py --profile /admin/audit  # ... or the page at this path (repeatable)

What is measured (see docs/benchmarks.md, "Pages"):

1. Set-up: ``create_app`` with the installed plugins on an empty database (migrated), the demo
   county loaded with ``core.demo.load.load_demo`` (what ``sanmin demo`` loads), then the
   metric aggregates refreshed once with ``core.metrics.refresh.refresh_all`` (what the
   hourly job of a running installation has done). The application is served by uvicorn in a
   child process (1 worker, 127.0.0.1; ``bench/tickets.py``'s server), and each demo account
   a page needs signs in through the real login form (``GET /login`` for the CSRF cookie and
   token, ``POST /login`` with the demo password): the client then sends the session and
   CSRF cookies, as a browser does.
2. Pages: the staff workbench ``/admin`` (grid worker, township admin), ``/tickets/inbox``
   (both), the ticket with the longest timeline in the township, the township's household list, the
   household with the most records in the grid worker's grid (masked for the grid worker;
   unmasked, hence an audited read, for the township admin), a 50-household page of the
   village book of the village with the most households, the dashboard at the county and at
   the township, ``/admin/plugins`` (the city-wide matrix), ``/admin/audit``, the public board
   ``/tickets/public`` (anonymous) and each practice's landing page ``/p/<plugin>/`` as that
   practice's first demo account. Each page must answer 200 with its expected ``<h1>`` and a
   ``Content-Length`` before timing; a page that does not is reported (a missed target) and
   left out.
3. Timing: ``bench/hooks.py``'s raw-socket client on one keep-alive connection, 10 warm-up
   rounds then N rounds (``--requests``, default 200); a round requests ``/healthz`` then the
   first page, ``/healthz`` then the second page, and so on, so that every page and
   ``/healthz`` are spread over the same minutes and see the same machine load. Per page:
   median, p95 and p99 of the round trips (nearest rank); the ratio of its p95 to the p95 of
   all ``/healthz`` requests (target <= 3x) and of the medians (information).
4. In-process, for information: every timed page driven through the ASGI app of this process
   (``bench/hooks.py``'s driver, the same cookies) with every threadpool hop run inline,
   counting the SQL statements and the hops a request (the table's last columns). With
   ``--profile``: the slowest page (highest median), or the page at the given path or with the
   given label, 20 requests under cProfile (the hops inline, so that cProfile, which sees one
   thread, sees all the work): own time by library and the top functions. The profiler
   inflates Python against C: read the shares.

The exit code is 0 even when a target is missed or a part fails: this is a report.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import html
import http.client
import io
import math
import pstats
import re
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI
from sqlalchemy import event, text

from core.demo.accounts import DemoAccount
from core.demo.load import DEMO_PASSWORD, load_demo
from core.identity.web import CSRF_COOKIE, SESSION_COOKIE
from core.metrics.refresh import refresh_all
from core.plugins.declarations import collect
from core.plugins.registry import PluginRegistry
from core.settings import Settings
from core.units.codes import parse_code, path_upper_bound
from core.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as ``python bench/pages.py``: make ``bench`` importable
    sys.path.insert(0, str(ROOT))

from bench.hooks import (  # noqa: E402
    DEFAULT_POSTGRES_URL,
    AsgiDriver,
    bench_database,
    http_latencies,
    loadavg,
    part,
    report,
)
from bench.tickets import server  # noqa: E402

COUNTY = "330802000000"  # 柯城区, the demo county
TOWNSHIP = "330802001000"  # 府山街道: the demo township admin's township
GRID = "330802001001001"  # the demo grid worker's grid
REQUESTS = 200  # timed requests per page (and as many /healthz before them)
QUICK_REQUESTS = 30
WARMUP = 10  # untimed rounds first
P95_TARGET = 3.0
PROFILE_REQUESTS = 20
COUNT_REQUESTS = 3  # in-process requests a page whose statements and hops are counted


# -- the application -----------------------------------------------------------------------------


@dataclass
class Bench:
    """The application (in this process, for choosing pages and profiling) and its database."""

    app: FastAPI
    url: str
    registry: PluginRegistry

    @property
    def engine(self) -> Any:
        return self.app.state.kernel.engine


def build(url: str) -> Bench:
    """``create_app`` on an empty database, the demo county loaded, the aggregates fresh."""
    registry = PluginRegistry().load()  # the installed plugins, as an installation has them
    app = create_app(Settings(database_url=url, auto_migrate=True), registry=registry)
    kernel = app.state.kernel
    started = time.monotonic()
    demo = load_demo(kernel.engine, registry)
    loaded = time.monotonic() - started
    started = time.monotonic()
    refresh_all(kernel)
    refreshed = time.monotonic() - started
    with kernel.engine.connect() as conn:
        if kernel.engine.dialect.name == "sqlite":
            database = f"SQLite {sqlite3.sqlite_version} (temporary file, WAL)"
        else:
            version = conn.execute(text("SHOW server_version")).scalar()
            database = f"PostgreSQL {version} (fresh schema)"
    print(
        f"database: {database}; demo county loaded in {loaded:.1f} s, aggregates {refreshed:.1f} s"
    )
    print(f"  {demo.archive.summary()}")
    print(f"  {demo.tickets.summary()}")
    return Bench(app, url, registry)


# -- the pages -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One page to time: who asks for it, and the ``<h1>`` it must start with."""

    label: str
    account: str | None  # a demo username; None: anonymous
    path: str
    heading: str


def one(conn: Any, sql: str, **values: Any) -> Any:
    """The first row of ``sql``; a clear error if there is none."""
    row = conn.execute(text(sql), values).first()
    if row is None:
        raise RuntimeError(f"the demo data has no row for: {sql.split()[:12]}")
    return row


def choose_pages(bench: Bench) -> list[Page]:
    """The pages, with the demo records that carry the most data picked from the database."""
    township, county = parse_code(TOWNSHIP).path, parse_code(COUNTY).path
    with bench.engine.connect() as conn:
        names = dict(conn.execute(text("SELECT code, name FROM unit")).all())
        ticket = one(
            conn,
            "SELECT t.id, t.title, "
            "(SELECT count(*) FROM workflow_history h WHERE h.instance_id = t.instance_id) "
            "+ (SELECT count(*) FROM ticket_comment c WHERE c.ticket_id = t.id) "
            "+ (SELECT count(*) FROM ticket_attachment a WHERE a.ticket_id = t.id) AS entries "
            "FROM ticket t WHERE t.unit_code >= :low AND t.unit_code < :high "
            "ORDER BY entries DESC, t.id LIMIT 1",
            low=township,
            high=path_upper_bound(township),
        )
        household = one(
            conn,
            "SELECT h.id, h.number, "
            "(SELECT count(*) FROM archive_person p WHERE p.household_id = h.id) "
            "+ (SELECT count(*) FROM archive_house x WHERE x.household_id = h.id) "
            "+ (SELECT count(*) FROM archive_vehicle v WHERE v.household_id = h.id) "
            "+ (SELECT count(*) FROM archive_person_tag g JOIN archive_person p "
            "   ON p.id = g.person_id WHERE p.household_id = h.id) "
            "+ (SELECT count(*) FROM form_record f JOIN archive_person p "
            "   ON f.subject_kind = 'person' AND f.subject_id = CAST(p.id AS VARCHAR) "
            "   WHERE p.household_id = h.id) AS records "
            "FROM archive_household h WHERE h.unit_code = :grid "
            "ORDER BY records DESC, h.id LIMIT 1",
            grid=GRID,
        )
        village = one(
            conn,
            "SELECT substr(unit_code, 1, 12) AS village, count(*) AS households "
            "FROM archive_household WHERE unit_code >= :low AND unit_code < :high "
            "GROUP BY substr(unit_code, 1, 12) ORDER BY households DESC, village LIMIT 1",
            low=county,
            high=path_upper_bound(county),
        )
    print(
        f"  chosen: ticket {ticket.id} ({ticket.entries} timeline entries), household "
        f"{household.id} ({household.records} records), village {village.village} "
        f"({village.households} households)"
    )
    pages = [
        Page("workbench, grid worker", "grid_worker", "/admin", "工作台"),
        Page("workbench, township admin", "township_admin", "/admin", "工作台"),
        Page("ticket inbox, grid worker", "grid_worker", "/tickets/inbox", "工单待办"),
        Page("ticket inbox, township admin", "township_admin", "/tickets/inbox", "工单待办"),
        Page(
            f"ticket page, {ticket.entries} entries",
            "township_admin",
            f"/tickets/{ticket.id}",
            ticket.title,
        ),
        Page(
            "household list, township admin", "township_admin", "/archives/households", "民情档案"
        ),
        Page(
            "household file, grid worker (masked)",
            "grid_worker",
            f"/archives/households/{household.id}",
            f"一户一档 · 户号 {household.number}",
        ),
        Page(
            "household file, township admin (audited)",
            "township_admin",
            f"/archives/households/{household.id}",
            f"一户一档 · 户号 {household.number}",
        ),
        Page(
            "village book, 50 households",
            "county_admin",
            f"/archives/village-book?unit={village.village}",
            f"一村一册 · {names[village.village]}",
        ),
        Page(
            "dashboard, county",
            "county_admin",
            f"/admin/dashboard?unit={COUNTY}",
            f"指标看板：{names[COUNTY]}",
        ),
        Page(
            "dashboard, township",
            "township_admin",
            f"/admin/dashboard?unit={TOWNSHIP}",
            f"指标看板：{names[TOWNSHIP]}",
        ),
        Page("plugin matrix, city", "system_admin", "/admin/plugins", "插件管理"),
        Page("audit log, county admin", "county_admin", "/admin/audit", "审计日志"),
        Page("public board, anonymous", None, "/tickets/public", "为民办事公示栏"),
    ]
    practices = collect(bench.registry, "demo_accounts", DemoAccount)
    for info in sorted(bench.registry.optional(), key=lambda p: p.name):
        accounts = practices.get(info.name)
        if not accounts:
            print(f"  {info.name}: no demo account, its landing page is not measured")
            continue
        pages.append(
            Page(f"{info.name} landing page", accounts[0].username, f"/p/{info.name}/", info.title)
        )
    return pages


# -- the browser's side --------------------------------------------------------------------------


def cookies_set(response: http.client.HTTPResponse) -> dict[str, str]:
    """The cookies a response sets, by name."""
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_all("set-cookie") or []:
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


def sign_in(port: int, username: str | None) -> str:
    """The ``Cookie`` header a browser sends after signing in through the login form (for
    ``None``, an anonymous visitor: the CSRF cookie the login page sets)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", "/login")
        response = conn.getresponse()
        body = response.read().decode()
        csrf = cookies_set(response).get(CSRF_COOKIE)
        field = re.search(r'name="csrf_token" value="([^"]+)"', body)
        if response.status != 200 or csrf is None or field is None:
            raise RuntimeError(f"GET /login answered {response.status} without a CSRF token")
        if username is None:
            return f"{CSRF_COOKIE}={csrf}"
        form = {
            "username": username,
            "password": DEMO_PASSWORD,
            "csrf_token": html.unescape(field.group(1)),
            "next": "/",
        }
        conn.request(
            "POST",
            "/login",
            body=urlencode(form),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"{CSRF_COOKIE}={csrf}",
            },
        )
        response = conn.getresponse()
        response.read()
        session = cookies_set(response).get(SESSION_COOKIE)
        if response.status != 303 or session is None:
            raise RuntimeError(f"{username} could not sign in: POST /login {response.status}")
        return f"{SESSION_COOKIE}={session}; {CSRF_COOKIE}={csrf}"
    finally:
        conn.close()


def heading(body: str) -> str:
    """The text of the first ``<h1>``, tags stripped and spaces collapsed."""
    found = re.search(r"<h1[^>]*>(.*?)</h1>", body, re.DOTALL)
    if found is None:
        return ""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


def check(port: int, page: Page, cookie: str) -> str | None:
    """Why ``page`` cannot be timed (status, heading, no Content-Length), or ``None``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", page.path, headers={"Cookie": cookie})
        response = conn.getresponse()
        body = response.read().decode(errors="replace")
    finally:
        conn.close()
    if response.status != 200:
        return f"answered {response.status} ({heading(body) or body[:200]!r})"
    if response.getheader("content-length") is None:
        return "answered without Content-Length (the timing client needs it)"
    found = heading(body)
    if not found.startswith(page.heading):
        return f"heading {found!r}, expected {page.heading!r}…"
    return None


# -- figures -------------------------------------------------------------------------------------


def quantile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank quantile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Timed:
    """Round trips of one page (ns), and what one request of it does (in-process)."""

    page: Page
    samples: list[float]
    statements: float | None = None  # SQL statements a request
    hops: float | None = None  # threadpool hops a request

    def q(self, level: float) -> float:
        """The ``level`` quantile (ns)."""
        return quantile(self.samples, level)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


@dataclass
class Measured:
    """What the HTTP part found."""

    rows: list[Timed]
    healthz: list[float]
    failed: list[tuple[Page, str]]
    cookies: dict[str | None, str]  # ``Cookie`` header by demo username (None: anonymous)


def count(value: float | None) -> str:
    """A per-request count for the table (``?``: not counted)."""
    return "?" if value is None else f"{value:.0f}"


def print_results(measured: Measured) -> list[bool]:
    """The table; one verdict per page (a page that could not be timed is a miss)."""
    rows, healthz = measured.rows, measured.healthz
    h50, h95, h99 = statistics.median(healthz), quantile(healthz, 0.95), quantile(healthz, 0.99)
    head = (
        f"{'page':<42} {'account':<20} {'median ms':>9} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'p95 ratio':>9} {'median ratio':>12} {'target':>7}  result  {'SQL':>4} {'hops':>4}"
    )
    print(
        f"\n2. Pages over HTTP vs /healthz (uvicorn, 1 worker, 127.0.0.1; {len(healthz):,} "
        "/healthz requests, one before each page request)"
    )
    print(head)
    print("-" * len(head))
    print(f"{'/healthz':<42} {'-':<20} {h50 / 1e6:>9.2f} {h95 / 1e6:>8.2f} {h99 / 1e6:>8.2f}")
    verdicts = []
    for row in rows:
        ratio = row.q(0.95) / h95
        ok = ratio <= P95_TARGET
        verdicts.append(ok)
        print(
            f"{row.page.label:<42} {row.page.account or 'anonymous':<20} "
            f"{row.median / 1e6:>9.2f} {row.q(0.95) / 1e6:>8.2f} {row.q(0.99) / 1e6:>8.2f} "
            f"{ratio:>8.1f}x {row.median / h50:>11.1f}x {'≤' + f'{P95_TARGET:.0f}x':>7}  "
            f"{'PASS' if ok else 'FAIL':<6}  {count(row.statements):>4} {count(row.hops):>4}"
        )
    for page, why in measured.failed:
        verdicts.append(False)
        print(f"{page.label:<42} {page.account or 'anonymous':<20} NOT TIMED: {why}  FAIL")
    print(
        f"  {len(rows[0].samples)} requests per page after {WARMUP} of warm-up, round trips on "
        "one keep-alive connection (raw socket), nearest-rank quantiles; p95 ratio: the page's "
        "p95 / /healthz's p95; SQL, hops: statements and threadpool hops a request, counted "
        "in-process"
    )
    for row in rows:
        print(f"  {row.page.label}: GET {row.page.path}")
    return verdicts


# -- 2. over HTTP --------------------------------------------------------------------------------


def bench_http(bench: Bench, pages: list[Page], requests: int) -> Measured:
    """Sign in, check every page, then time them alternating with ``/healthz``."""
    cookies: dict[str | None, str] = {}
    with server("app", bench.url) as port:
        started = time.monotonic()
        for account in sorted({p.account for p in pages}, key=str):
            cookies[account] = sign_in(port, account)
        print(
            f"\n  {len(cookies)} visitors signed in through the login form in "
            f"{time.monotonic() - started:.1f} s; load average {loadavg()}"
        )
        good: list[Page] = []
        failed: list[tuple[Page, str]] = []
        for page in pages:
            why = check(port, page, cookies[page.account])
            if why is None:
                good.append(page)
            else:
                failed.append((page, why))
                print(f"  PAGE FAILED: {page.label} (GET {page.path}): {why}")
        if not good:
            raise RuntimeError("no page answered as expected: nothing to time")
        targets, headers = [], []
        for page in good:
            targets += ["/healthz", page.path]
            headers += ["", f"Cookie: {cookies[page.account]}"]
        started = time.monotonic()
        samples = http_latencies(port, targets, requests, warmup=WARMUP, headers=headers)
        print(
            f"  timed {len(targets) * requests:,} requests in {time.monotonic() - started:.0f} s; "
            f"load average {loadavg()}"
        )
    healthz = [x for s in samples[0::2] for x in s]
    rows = [Timed(page, s) for page, s in zip(good, samples[1::2], strict=True)]
    return Measured(rows, healthz, failed, cookies)


# -- in-process: statements, hops, the profile ---------------------------------------------------


class InProcess:
    """Pages driven through the ASGI app of this process, every threadpool hop run inline
    (so that cProfile, which sees one thread, sees all the work), counting SQL statements
    and hops."""

    def __init__(self, bench: Bench) -> None:
        self.driver = AsgiDriver(bench.app)
        kernel = bench.app.state.kernel
        self.engines = list({id(e): e for e in (kernel.engine, kernel.loop_engine)}.values())
        self.statements = 0
        self.hops = 0

    def scope(self, page: Page, cookie: str) -> dict[str, Any]:
        parts = urlsplit(page.path)
        scope = self.driver.scope(parts.path, parts.query.encode())
        scope["headers"] = [
            (b"host", b"127.0.0.1"),
            (b"accept", b"text/html"),
            (b"cookie", cookie.encode()),
        ]
        return scope

    def _statement(self, *_: Any) -> None:
        self.statements += 1

    async def _inline(self, func: Any, *args: Any, **_: Any) -> Any:
        self.hops += 1
        return func(*args)

    @contextmanager
    def inline(self) -> Iterator[None]:
        """Threadpool hops run inline, and SQL statements counted, inside the block."""
        import anyio.to_thread

        original = anyio.to_thread.run_sync
        anyio.to_thread.run_sync = self._inline  # type: ignore[assignment]
        for engine in self.engines:
            event.listen(engine, "before_cursor_execute", self._statement)
        try:
            yield
        finally:
            for engine in self.engines:
                event.remove(engine, "before_cursor_execute", self._statement)
            anyio.to_thread.run_sync = original  # type: ignore[assignment]

    async def per_request(self, scope: dict[str, Any], n: int) -> tuple[float, float]:
        """Statements and hops a request, over ``n`` requests after one of warm-up."""
        await self.driver.batch(scope, 1)
        self.statements = self.hops = 0
        await self.driver.batch(scope, n)
        return self.statements / n, self.hops / n


def count_work(bench: Bench, measured: Measured) -> list[bool]:
    """Statements and threadpool hops a request of each timed page, on ``measured.rows``
    (information: no target)."""
    runner = InProcess(bench)

    async def run() -> None:
        for row in measured.rows:
            scope = runner.scope(row.page, measured.cookies[row.page.account])
            try:
                row.statements, row.hops = await runner.per_request(scope, COUNT_REQUESTS)
            except Exception as error:  # the table says "?" and why
                print(f"  {row.page.label}: not counted in-process ({error!r})")

    with runner.inline():
        asyncio.run(run())
    return []


# What a function is counted as, by the first rule its "file:function" matches (lower case).
CATEGORIES = (
    ("SQL: SQLAlchemy, SQLModel, driver", ("sqlalchemy/", "sqlmodel/", "sqlite3", "psycopg")),
    ("templates: Jinja2, MarkupSafe", ("jinja2/", "markupsafe", ".html:")),
    ("charts: pygal", ("pygal/",)),
    ("pydantic", ("pydantic",)),
    ("web: FastAPI, Starlette, anyio", ("fastapi/", "starlette/", "anyio/")),
    ("signing and crypto", ("itsdangerous", "cryptography", "hmac", "hashlib", "argon2")),
    ("Sanmin plugins/", (f"{ROOT / 'plugins'}/".lower(),)),
    ("Sanmin core/", (f"{ROOT / 'core'}/".lower(),)),
)


def category(filename: str, function: str) -> str:
    """The :data:`CATEGORIES` name of a profiled function."""
    where = f"{filename}:{function}".lower()
    for name, needles in CATEGORIES:
        if any(needle in where for needle in needles):
            return name
    return "the rest: standard library, builtins"


def short(filename: str) -> str:
    """A profiled file's path from its package or the repository root."""
    for marker in ("site-packages/", f"{ROOT}/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def print_profile(profile: cProfile.Profile, n: int) -> None:
    """Own time a request by category, then the top functions."""
    entries = pstats.Stats(profile, stream=io.StringIO()).stats  # type: ignore[attr-defined]
    total = sum(own for _, _, own, _, _ in entries.values())
    groups: dict[str, float] = {}
    for (filename, _, function), (_, _, own, _, _) in entries.items():
        key = category(filename, function)
        groups[key] = groups.get(key, 0.0) + own
    print(f"  profiled: {total / n * 1000:.1f} ms a request (own time, all functions)")
    for name, own in sorted(groups.items(), key=lambda item: -item[1]):
        print(f"    {own / total:6.1%}  {own / n * 1000:7.2f} ms  {name}")
    print("  top functions by own time (ms a request, calls a request):")
    for (filename, line, function), (_, calls, own, _, _) in sorted(
        entries.items(), key=lambda item: -item[1][2]
    )[:15]:
        print(f"    {own / n * 1000:7.2f}  {calls / n:8.0f}  {short(filename)}:{line}({function})")
    project = [item for item in entries.items() if category(item[0][0], "").startswith("Sanmin")]
    print("  Sanmin functions by cumulative time (ms a request, calls a request):")
    for (filename, line, function), (_, calls, _, cumulative, _) in sorted(
        project, key=lambda item: -item[1][3]
    )[:15]:
        where = f"{short(filename)}:{line}({function})"
        print(f"    {cumulative / n * 1000:7.2f}  {calls / n:8.0f}  {where}")


def bench_profile(bench: Bench, measured: Measured, which: str) -> list[bool]:
    """Profile the page at path (or with the label) ``which``, or the timed page with the
    highest median for ``"worst"``."""
    if which == "worst":
        row = max(measured.rows, key=lambda row: row.median)
    else:
        matching = [r for r in measured.rows if which in (r.page.path, r.page.label)]
        if not matching:
            raise RuntimeError(f"no timed page at {which}: {[r.page.path for r in measured.rows]}")
        row = matching[0]
    page = row.page
    runner = InProcess(bench)
    scope = runner.scope(page, measured.cookies[page.account])
    profile = cProfile.Profile()

    async def run() -> None:
        await runner.driver.batch(scope, 3)  # warm-up
        profile.enable()
        await runner.driver.batch(scope, PROFILE_REQUESTS)
        profile.disable()

    with runner.inline():
        asyncio.run(run())
    print(
        f"\n3. Profile: {page.label} (GET {page.path}, {page.account or 'anonymous'}), "
        f"in-process, {PROFILE_REQUESTS} requests under cProfile, threadpool hops run inline "
        f"({count(row.hops)} a request); load average {loadavg()}"
    )
    print_profile(profile, PROFILE_REQUESTS)
    return []


# -- main ----------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> list[bool]:
    requests = args.requests or (QUICK_REQUESTS if args.quick else REQUESTS)
    verdicts: list[bool] = []
    with bench_database(args.postgres) as url:
        bench = build(url)
        pages = choose_pages(bench)
        print(f"1. Set-up done; {len(pages)} pages; load average {loadavg()}")
        measured: list[Measured] = []

        def http_part() -> list[bool]:
            measured.append(bench_http(bench, pages, requests))
            part("in-process counts", lambda: count_work(bench, measured[0]))
            return print_results(measured[0])

        verdicts += part("2. pages over HTTP", http_part)
        for which in (args.profile or []) if measured else []:
            verdicts += part("3. profile", lambda w=which: bench_profile(bench, measured[0], w))
        bench.app.state.kernel.dispose()
    return verdicts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="run on PostgreSQL (SANMIN_TEST_POSTGRES_URL or "
        f"{DEFAULT_POSTGRES_URL}) in a fresh schema, dropped afterwards",
    )
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_REQUESTS} requests a page")
    parser.add_argument("--requests", type=int, help=f"requests a page (default {REQUESTS})")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="worst",
        action="append",
        metavar="PATH",
        help="profile the slowest page (or the page at PATH, or with that label) in-process "
        "with cProfile; may be repeated",
    )
    args = parser.parse_args(argv)
    return report("pages", lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
