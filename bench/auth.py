"""Per-request cost of authentication and scope, each figure next to ``/healthz`` from the same run.

Run from the repository root (15-30 s on 2 cores, depending on the database and the load)::

    python bench/auth.py             # SQLite (a temporary file), HTTP part included when possible
    python bench/auth.py --no-http   # skip the uvicorn part
    python bench/auth.py --postgres  # the same on PostgreSQL, in a fresh schema dropped afterwards

What is measured (see docs/benchmarks.md, "Authentication and scope"):

1. A real application from ``create_app`` (installed plugins, migrations, the demo county from
   ``load_demo``, bearer tokens issued in the database for the demo grid worker of
   330802001001001 and the demo township admin of 330802001000), driven in-process through
   ASGI: ``GET /healthz`` against ``GET /api/v1/units/330802001001001`` as the grid worker (a
   scope-filtered detail) and ``GET /api/v1/units?under=330802001000`` as the township admin (a
   scope-filtered list). Added cost per request = difference of adjacent batches. Target: added
   cost <= 1 ms (median).
2. Where that cost goes: ``resolve_actor`` alone (token digest, the joined token/account SELECT,
   the roles query, the session around them), ``scope_clause``, the units queries and the
   endpoint body, the route's work called directly against what FastAPI adds around it, and
   FastAPI's threadpool hops (probe routes with the same dependency shape as the units routes
   but no work, against an async probe). One line is not core code: the token lookup as one
   prebuilt Core statement, to show what a fix could cost.
3. The same application under uvicorn (1 worker, 127.0.0.1, a child process): sequential
   keep-alive round trips, and wrk throughput when wrk is installed.

Timing as in bench/hooks.py (whose helpers this imports): ``time.perf_counter_ns`` on short
batches with the GC off, all batches of a round interleaved, one warm-up round, medians (and
minima) per request; ratios are medians of per-round ratios of adjacent batches. The exit code
is 0 even when a target is missed or a part fails: this is a report.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel
from sqlalchemy import bindparam, insert, text
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from core.db.types import utcnow
from core.demo.load import load_demo
from core.identity.access import AccessCatalog, Actor, role_at, scope_clause
from core.identity.models import Account, AuthToken, RoleAssignment
from core.identity.secrets import digest, new_token
from core.identity.service import TOKEN_TTL, actor_from_token, issue_token, roles_of
from core.identity.web import require_permission, resolve_actor
from core.plugins.registry import PluginRegistry
from core.settings import Settings
from core.units.api import UnitDetail, get_unit_api, list_units_api
from core.units.models import Unit
from core.units.service import children, get_unit, list_units
from core.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as ``python bench/auth.py``: make ``bench`` importable
    sys.path.insert(0, str(ROOT))

from bench.hooks import (  # noqa: E402
    DEFAULT_POSTGRES_URL,
    WRK_RUNS,
    WRK_SECONDS,
    AsgiDriver,
    Row,
    Stat,
    bench_database,
    delta,
    fmt_ratio,
    fmt_us,
    free_port,
    http_latencies,
    print_table,
    report,
    run_coroutine,
    run_wrk,
    timed_loop,
    wait_ready,
)

GRID = "330802001001001"  # 府山社区第一网格: the demo grid worker's grid
TOWNSHIP = "330802001000"  # 府山街道: the demo township admin's township
OTHER_GRID = "330802001001002"  # the next grid: must answer 404 to the grid worker
NEXT_TOWNSHIP = "330802002000"  # the next township: must answer 404 to the township admin
DETAIL = f"/api/v1/units/{GRID}"
LIST = "/api/v1/units"
LIST_QUERY = f"under={TOWNSHIP}"
PERMISSION = "units.read"
EXTRA_TOKENS = 1000  # other live tokens in auth_token, so the lookup is a real index probe
ROUNDS = 11  # timed rounds after one warm-up round
ASGI_BATCH = 10  # requests per ASGI batch
CALL_BATCH = 20  # calls per in-process batch
HTTP_REQUESTS = 200  # per target, alternating between the targets
ADDED_TARGET_NS = 1_000_000  # 1 ms


# -- the application ---------------------------------------------------------------------------


@dataclass
class Bench:
    """The application under test and the credentials made for it."""

    app: FastAPI
    url: str
    grid_token: str
    township_token: str
    grid_actor: Actor
    township_actor: Actor
    grid_account_id: int
    database: str  # what the machine line says about the database

    @property
    def access(self) -> AccessCatalog:
        return self.app.state.kernel.access

    @property
    def engine(self) -> Any:
        return self.app.state.kernel.engine


def build(url: str) -> Bench:
    """``create_app`` on an empty database, the demo county loaded, bearer tokens issued."""
    registry = PluginRegistry().load()  # the installed plugins, as an installation has them
    app = create_app(Settings(database_url=url, auto_migrate=True), registry=registry)
    engine = app.state.kernel.engine
    load_demo(engine, registry)
    with Session(engine, expire_on_commit=False) as session:
        accounts = {
            a.username: a
            for a in session.exec(
                select(Account).where(col(Account.username).in_(["grid_worker", "township_admin"]))
            )
        }
        grid, township = accounts["grid_worker"], accounts["township_admin"]
        expires = utcnow() + TOKEN_TTL["bearer"]
        session.execute(  # other sessions' live tokens, half of each account
            insert(AuthToken),
            [
                {
                    "account_id": (grid if i % 2 else township).id,
                    "token_hash": digest(new_token("smt")),
                    "kind": "bearer",
                    "created_at": utcnow(),
                    "expires_at": expires,
                    "address": "127.0.0.1",
                }
                for i in range(EXTRA_TOKENS)
            ],
        )
        grid_token = issue_token(session, grid, "bearer", "127.0.0.1")
        township_token = issue_token(session, township, "bearer", "127.0.0.1")
        session.commit()
        grid_actor = actor_from_token(session, grid_token, "bearer")
        township_actor = actor_from_token(session, township_token, "bearer")
        if engine.dialect.name == "sqlite":
            database = f"SQLite {sqlite3.sqlite_version} (temporary file, WAL)"
        else:
            version = session.execute(text("SHOW server_version")).scalar()
            database = f"PostgreSQL {version} (fresh schema)"
    assert grid_actor is not None and township_actor is not None
    assert grid.id is not None
    return Bench(
        app, url, grid_token, township_token, grid_actor, township_actor, grid.id, database
    )


def add_probe_routes(app: FastAPI, bench: Bench) -> None:
    """Routes first in the route table that isolate FastAPI's share (no database work):

    - ``/bench/async``: an ``async def`` endpoint, no dependency (like ``/healthz``);
    - ``/bench/sync``: the same as a plain ``def`` endpoint: one threadpool hop;
    - ``/bench/shape``: the units routes' shape with no work in it: a sync generator
      dependency (like ``get_session``), two sync dependencies taking the request (like
      ``require_permission`` and ``access_catalog``), a ``def`` endpoint with a response model;
    - ``/bench/one-hop/{unit_code}``: the units detail done in one hop: an async endpoint that
      runs ``require_permission`` and the endpoint body (with its own session) in one
      ``run_in_threadpool`` call: what the route would cost with the same work, fewer hops.
    """

    class Out(BaseModel):
        status: str

    def session_like() -> Iterator[None]:
        yield None

    def dep_a(request: Request) -> None:
        return None

    def dep_b(request: Request) -> None:
        return None

    async def probe_async() -> dict[str, str]:
        return {"status": "ok"}

    def probe_sync() -> dict[str, str]:
        return {"status": "ok"}

    def probe_shape(
        _s: None = Depends(session_like), _a: None = Depends(dep_a), _b: None = Depends(dep_b)
    ) -> Out:
        return Out(status="ok")

    guard = require_permission(PERMISSION)

    async def one_hop(unit_code: str, request: Request) -> Any:
        def work() -> Any:
            actor = run_coroutine(guard(request))
            return run_coroutine(get_unit_api(unit_code, request, actor))

        return await run_in_threadpool(work)

    before = len(app.router.routes)
    app.add_api_route("/bench/async", probe_async, methods=["GET"])
    app.add_api_route("/bench/sync", probe_sync, methods=["GET"])
    app.add_api_route("/bench/shape", probe_shape, methods=["GET"], response_model=Out)
    app.add_api_route(
        "/bench/one-hop/{unit_code}", one_hop, methods=["GET"], response_model=UnitDetail
    )
    added = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[:0] = added


def with_header(scope: dict[str, Any], token: str) -> dict[str, Any]:
    """An ASGI scope that also sends ``Authorization: Bearer <token>``."""
    return {**scope, "headers": [*scope["headers"], (b"authorization", f"Bearer {token}".encode())]}


def auth_request(app: FastAPI, token: str) -> Request:
    """A ``Request`` as FastAPI builds one, with the bearer token (and a fresh state)."""
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": DETAIL,
            "query_string": b"",
            "headers": [(b"authorization", f"Bearer {token}".encode())],
            "path_params": {},
            "app": app,
        }
    )


def one_query_lookup(bench: Bench) -> Callable[[str], Actor | None]:
    """What a fix could cost (not what the core does): the token, its account and the roles
    in one SQL statement built once (SQLAlchemy Core, ``bindparam``), rows read as tuples,
    on a connection checked out for the call. Same conditions as ``actor_from_token``."""
    statement = (
        select(
            col(Account.id),
            col(Account.username),
            col(Account.person_id),
            col(RoleAssignment.role),
            col(RoleAssignment.unit_code),
        )
        .join(AuthToken, col(AuthToken.account_id) == col(Account.id))
        .outerjoin(RoleAssignment, col(RoleAssignment.account_id) == col(Account.id))
        .where(
            col(AuthToken.token_hash) == bindparam("token_hash"),
            col(AuthToken.kind) == "bearer",
            col(AuthToken.revoked_at).is_(None),
            col(AuthToken.expires_at) > bindparam("now"),
            col(Account.active).is_(True),
        )
        .order_by(col(RoleAssignment.id))
    )
    engine = bench.engine

    def lookup(raw: str) -> Actor | None:
        with engine.connect() as conn:
            rows = conn.execute(statement, {"token_hash": digest(raw), "now": utcnow()}).all()
        if not rows:
            return None
        account_id, username, person_id = rows[0][:3]
        roles = tuple(role_at(r[3], r[4]) for r in rows if r[3] is not None)
        return Actor("account", account_id, username, roles, person_id=person_id)

    return lookup


def in_session(bench: Bench, fn: Callable[[Session], Any], n: int) -> float:
    """ns per ``fn(session)`` in one open session (connection already checked out); the
    identity map is emptied before each call so that rows are really loaded."""
    with Session(bench.engine) as session:
        fn(session)

        def call(_: object) -> None:
            session.expunge_all()
            fn(session)

        return timed_loop(call, range(n))


# -- 1 and 2: in process -------------------------------------------------------------------------


def check(bench: Bench, driver: AsgiDriver, asgi: dict[str, dict[str, Any]]) -> None:
    """Before timing: the right answers (in scope 200, out of scope 404, anonymous 401)."""
    with Session(bench.engine) as session:
        visible = scope_clause(bench.township_actor, bench.access, PERMISSION, col(Unit.code))
        listed = list_units(session, TOWNSHIP, limit=500, visible=visible)
    assert listed and all(u.code.startswith(TOWNSHIP[:9]) for u in listed), listed

    async def statuses() -> dict[str, int]:
        base = driver.scope(DETAIL)
        cases = {
            "detail": asgi["detail"],
            "list": asgi["list"],
            "one_hop": asgi["one_hop"],
            "other grid": with_header(
                driver.scope(f"/api/v1/units/{OTHER_GRID}"), bench.grid_token
            ),
            "next township": with_header(
                driver.scope(LIST, f"under={NEXT_TOWNSHIP}".encode()), bench.township_token
            ),
            "anonymous": base,
        }
        found = {}
        for name, scope in cases.items():
            driver.status = 0
            await driver.app(dict(scope), driver._receive, driver._send)
            found[name] = driver.status
        return found

    got = asyncio.run(statuses())
    want = {"detail": 200, "list": 200, "one_hop": 200, "other grid": 404}
    want |= {"next township": 404, "anonymous": 401}
    assert got == want, got


def bench_in_process(bench: Bench) -> dict[str, Stat]:
    app, access = bench.app, bench.access
    add_probe_routes(app, bench)
    driver = AsgiDriver(app)
    asgi = {
        "healthz": driver.scope("/healthz"),
        "detail": with_header(driver.scope(DETAIL), bench.grid_token),
        "list": with_header(driver.scope(LIST, LIST_QUERY.encode()), bench.township_token),
        "async": driver.scope("/bench/async"),
        "sync": driver.scope("/bench/sync"),
        "shape": driver.scope("/bench/shape"),
        "one_hop": with_header(driver.scope(f"/bench/one-hop/{GRID}"), bench.grid_token),
    }
    check(bench, driver, asgi)
    grid, township = bench.grid_actor, bench.township_actor
    grid_visible = scope_clause(grid, access, PERMISSION, col(Unit.code))
    township_visible = scope_clause(township, access, PERMISSION, col(Unit.code))
    raw, account_id = bench.grid_token, bench.grid_account_id
    n = CALL_BATCH
    lookup = one_query_lookup(bench)
    found = lookup(raw)
    assert found is not None and (found.id, found.roles) == (grid.id, grid.roles), found

    def resolve_batch() -> float:
        requests = [auth_request(app, raw) for _ in range(n)]  # built outside the timing
        return timed_loop(resolve_actor, requests)

    body_request = auth_request(app, raw)

    def detail_body(_: object) -> None:  # the endpoint's one Core read on the loop connection
        run_coroutine(get_unit_api(GRID, body_request, grid))

    guard = require_permission(PERMISSION)

    def route_work(request: Request) -> None:  # what the route runs, minus FastAPI and threads
        actor = run_coroutine(guard(request))
        run_coroutine(get_unit_api(GRID, request, actor))

    def route_batch() -> float:
        requests = [auth_request(app, raw) for _ in range(n)]
        return timed_loop(route_work, requests)

    def list_body(_: object) -> None:
        run_coroutine(
            list_units_api(
                body_request,
                under=TOWNSHIP,
                level=None,
                limit=500,
                offset=0,
                actor=township,
            )
        )

    calls: dict[str, Callable[[], float]] = {
        "resolve": resolve_batch,
        "digest": lambda: timed_loop(lambda _: digest(raw), range(n)),
        "token_actor": lambda: in_session(bench, lambda s: actor_from_token(s, raw, "bearer"), n),
        "roles": lambda: in_session(bench, lambda s: roles_of(s, account_id), n),
        "one_query": lambda: timed_loop(lookup, [raw] * n),
        "clause": lambda: timed_loop(
            lambda _: scope_clause(grid, access, PERMISSION, col(Unit.code)), range(n)
        ),
        "detail_queries": lambda: in_session(
            bench,
            lambda s: (
                get_unit(s, GRID, visible=grid_visible),
                children(s, GRID, visible=grid_visible),
            ),
            n,
        ),
        "list_queries": lambda: in_session(
            bench, lambda s: list_units(s, TOWNSHIP, limit=500, visible=township_visible), n
        ),
        "detail_body": lambda: timed_loop(detail_body, range(n)),
        "route_work": route_batch,
        "list_body": lambda: timed_loop(list_body, range(n)),
    }

    cpu_of = ("healthz", "detail", "list")  # CPU time (all threads) per request, as well

    async def measure() -> dict[str, Stat]:
        names = [*asgi, *calls, *(f"cpu_{name}" for name in cpu_of)]
        results: dict[str, list[float]] = {name: [] for name in names}
        for round_ in range(ROUNDS + 1):  # round 0 is the warm-up
            gc.collect()
            sample = {}
            for name, scope in asgi.items():
                cpu = time.process_time_ns()
                sample[name] = await driver.batch(scope, ASGI_BATCH)
                if name in cpu_of:
                    sample[f"cpu_{name}"] = (time.process_time_ns() - cpu) / ASGI_BATCH
            sample |= {name: batch() for name, batch in calls.items()}
            if round_:
                for name, value in sample.items():
                    results[name].append(value)
        return {name: Stat(values) for name, values in results.items()}

    return asyncio.run(measure())


# -- report ------------------------------------------------------------------------------------


@dataclass
class Added:
    """A request against its baseline: the added cost per request is judged."""

    label: str
    project: Stat
    baseline: Stat
    key: str
    target_ns: float | None = ADDED_TARGET_NS

    @property
    def added(self) -> Stat:
        return delta(self.project, self.baseline)

    @property
    def ratio(self) -> float:
        return Row(self.label, self.project, self.baseline, self.key).ratio


def print_added(title: str, rows: list[Added], baselines: dict[str, str]) -> list[bool]:
    """A table like bench/hooks.py's, with the added cost per request as the judged figure."""
    print(f"\n{title}")
    head = (
        f"{'measurement':<46} {'project µs':>19} {'baseline µs':>21} {'added µs':>19} "
        f"{'ratio':>7} {'target':>8}  result"
    )
    print(head)
    print("-" * len(head))
    verdicts = []
    for row in rows:
        project = f"{fmt_us(row.project.median)} ({fmt_us(row.project.min)})"
        baseline = f"{row.key} {fmt_us(row.baseline.median)} ({fmt_us(row.baseline.min)})"
        added = f"{fmt_us(row.added.median)} ({fmt_us(row.added.min)})"
        if row.target_ns is None:
            target, result = "info", ""
        else:
            ok = row.added.median <= row.target_ns
            verdicts.append(ok)
            target = f"≤{row.target_ns / 1e6:g} ms"
            result = "PASS" if ok else "FAIL"
        ratio = fmt_ratio(row.ratio, False)
        cells = f"{project:>19} {baseline:>21} {added:>19} {ratio:>7} {target:>8}"
        print(f"{row.label:<46} {cells}  {result}")
    print(
        "µs per request: median of the batches (min); added: median of per-round differences of "
        "adjacent batches (difference of the minima); ratio: median of per-round ratios"
    )
    for key, text_ in baselines.items():
        print(f"  {key}: {text_}")
    return verdicts


def report_in_process(stats: dict[str, Stat]) -> tuple[list[bool], Stat]:
    healthz, cpu = stats["healthz"], stats["cpu_healthz"]
    verdicts = print_added(
        "1. Authenticated, scope-filtered GET vs /healthz (in-process ASGI)",
        [
            Added(f"GET /api/v1/units/{GRID} (grid worker)", stats["detail"], healthz, "H"),
            Added(f"GET /api/v1/units?{LIST_QUERY} (township adm.)", stats["list"], healthz, "H"),
            Added(
                "  the detail done in one hop (probe route)", stats["one_hop"], healthz, "H", None
            ),
            Added("  CPU time per request: detail", stats["cpu_detail"], cpu, "C", None),
            Added("  CPU time per request: list", stats["cpu_list"], cpu, "C", None),
        ],
        {
            "H": "GET /healthz of the same app, ASGI callable awaited in-process (no network); "
            "an async endpoint: no threadpool hop",
            "C": "CPU time of this process (all threads) per /healthz request, same batches: "
            "what a request costs in work, whatever it waited for a core",
        },
    )
    added = delta(stats["detail"], healthz)
    rows = [
        Row("resolve_actor (session, digest, token SELECT, roles)", stats["resolve"], added, "D"),
        Row("  of which the token digest (SHA-256)", stats["digest"], added, "D"),
        Row(
            "  of which the joined token/account SELECT (Δ)",
            delta(stats["token_actor"], stats["roles"]),
            added,
            "D",
        ),
        Row("  of which the roles query", stats["roles"], added, "D"),
        Row(
            "  of which Session, connection checkout/release (Δ)",
            delta(stats["resolve"], stats["token_actor"]),
            added,
            "D",
        ),
        Row("  fix? token+roles as one prebuilt Core SELECT", stats["one_query"], added, "D"),
        Row("scope_clause (grid worker)", stats["clause"], added, "D"),
        Row(
            "units queries: get_unit + children (open session)", stats["detail_queries"], added, "D"
        ),
        Row("endpoint body with its own Session (get_unit_api)", stats["detail_body"], added, "D"),
        Row("the route's work called directly (guard + body)", stats["route_work"], added, "D"),
        Row(
            "FastAPI, hops and threads around it (D - direct)",
            delta(added, stats["route_work"]),
            added,
            "D",
        ),
        Row(
            "threadpool hop: def vs async probe, ASGI Δ",
            delta(stats["sync"], stats["async"]),
            added,
            "D",
        ),
        Row(
            "units route shape, no work (6 hops), ASGI Δ",
            delta(stats["shape"], stats["async"]),
            added,
            "D",
        ),
        Row("list: units query (open session)", stats["list_queries"], added, "D"),
        Row("list: endpoint body with its own Session", stats["list_body"], added, "D"),
    ]
    for row in rows:
        row.percent = True
    print_table(
        "2. Where the detail's added cost goes (information; ratio = share of D)",
        rows,
        {
            "D": "the added cost of the detail GET above (per-round differences detail - /healthz)",
        },
    )
    return verdicts, added


# -- 3: over HTTP --------------------------------------------------------------------------------


def serve(port: int, url: str) -> None:
    """Child process: the same application (same database) under uvicorn on 127.0.0.1."""
    import uvicorn

    app = create_app(Settings(database_url=url), registry=PluginRegistry().load())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def bench_http(bench: Bench, notes: list[str]) -> list[Added] | str:
    """Round trips and wrk against the app under uvicorn; rows (and ``notes``), or why it was
    skipped."""
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        return "uvicorn is not installed"
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), bench.url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        if not wait_ready(port, proc):
            err = proc.stderr.read().decode(errors="replace")[-500:] if proc.poll() else ""
            return f"uvicorn did not start on 127.0.0.1:{port} {err}".strip()
        grid_header = f"Authorization: Bearer {bench.grid_token}"
        township_header = f"Authorization: Bearer {bench.township_token}"
        healthz, detail, listed = (
            Stat(samples)
            for samples in http_latencies(
                port,
                ["/healthz", DETAIL, f"{LIST}?{LIST_QUERY}"],
                HTTP_REQUESTS,
                warmup=30,
                headers=["", grid_header, township_header],
            )
        )
        rows = [
            Added("detail round trip (grid worker)", detail, healthz, "T"),
            Added("list round trip (township admin)", listed, healthz, "T"),
        ]
        if shutil.which("wrk") is None:
            return rows
        runs: dict[str, list[tuple[float, float]]] = {"healthz": [], "detail": []}
        for _ in range(WRK_RUNS):
            for key, target, header in (
                ("healthz", "/healthz", None),
                ("detail", DETAIL, grid_header),
            ):
                result = run_wrk(f"http://127.0.0.1:{port}{target}", header)
                assert result is not None
                runs[key].append(result)
        service = {key: Stat([1e9 / rps for rps, _ in got]) for key, got in runs.items()}

        def summary(key: str) -> str:
            rps = statistics.median(rps for rps, _ in runs[key])
            p50 = statistics.median(p50 for _, p50 in runs[key])
            return f"{rps:,.0f} req/s, p50 {p50:.2f} ms"

        rows.append(Added("detail, wrk service time", service["detail"], service["healthz"], "W"))
        notes.append(f"wrk /healthz: {summary('healthz')}; wrk detail: {summary('detail')}")
        return rows
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


# -- main --------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> list[bool]:
    verdicts: list[bool] = []
    with bench_database(args.postgres) as url:
        bench = build(url)
        print(f"database: {bench.database}; demo county; {EXTRA_TOKENS + 2} live bearer tokens")
        stats = bench_in_process(bench)
        found, _ = report_in_process(stats)
        verdicts += found
        bench.engine.dispose()
        if args.no_http:
            print("\n3. HTTP: skipped (--no-http)")
            return verdicts
        notes: list[str] = []
        http = bench_http(bench, notes)
        if isinstance(http, str):
            print(f"\n3. HTTP: skipped ({http})")
            return verdicts
        legend = {
            "T": f"GET /healthz round trip, {HTTP_REQUESTS} sequential requests per target on one "
            "keep-alive connection, alternating /healthz, detail, list",
        }
        if shutil.which("wrk"):
            legend["W"] = (
                f"1 s / wrk requests per second on /healthz (-t1 -c8 -d{WRK_SECONDS}s, "
                f"{WRK_RUNS} runs alternating with the detail)"
            )
        verdicts += print_added(
            "3. Over HTTP: uvicorn (1 worker) on 127.0.0.1, client in this process",
            http,
            legend,
        )
        for note in notes:
            print(f"  {note}")
        if not shutil.which("wrk"):
            print("  wrk is not installed: the throughput (wrk) part was skipped")
    return verdicts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-http", action="store_true", help="skip the uvicorn part")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="run on PostgreSQL (SANMIN_TEST_POSTGRES_URL or "
        f"{DEFAULT_POSTGRES_URL}) in a fresh schema, dropped afterwards",
    )
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return 0

    return report("auth/scope", lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
