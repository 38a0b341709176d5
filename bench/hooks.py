"""Per-request cost of Sanmin's plugin machinery, each figure next to a baseline from the same run.

Run from the repository root (about 30-40 s on 2 cores)::

    python bench/hooks.py            # everything, HTTP part included when possible
    python bench/hooks.py --no-http  # skip the uvicorn part

What is measured (see docs/benchmarks.md for why each baseline is the right one):

1. A township-scoped ``menu_links`` call with 50 plugins installed and 25 enabled, through
   ``HookScoper``/``TownshipHooks`` (callers cached per enabled set, as the kernel does), against
   a plain pluggy call on a separate manager holding only those 25 plugins. Target ratio <= 1.3.
2. The kernel's per-request work (``require_plugin``: unit code from the request,
   ``kernel.scope``, ``kernel.require``) on a real app from ``create_app`` over a temporary
   SQLite database with the demo county and 50 plugins, against the service time of ``/healthz``
   driven in-process through ASGI, and over real HTTP (uvicorn on 127.0.0.1) when possible.
   Target <= 10 %.

Timings use ``time.perf_counter_ns`` on short batches of calls with the GC off, project and
baseline batches interleaved, one warm-up round, then 31-81 timed rounds: medians (and minima)
per call; ratios are medians of the per-round ratios of adjacent batches.
The exit code is 0 even when a target is missed: this is a report.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import gc
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from sqlmodel import Session, select

from core.demo.load import DEMO_UNITS, load_demo
from core.hookspecs import hookimpl
from core.identity.models import Account
from core.identity.service import issue_token
from core.plugins.calling import call_robust
from core.plugins.manifest import PluginManifest
from core.plugins.registry import PluginRegistry, new_plugin_manager
from core.plugins.scoping import HookScoper
from core.plugins.service import bump_config_version, set_plugin_setting
from core.plugins.toggles import ScopeUnit
from core.settings import Settings
from core.units.codes import Level
from core.web.app import create_app
from core.web.menu import MenuLink
from core.web.scope import require_plugin

SEED = 20261127
N_PLUGINS = 50
N_ENABLED = 25  # in the benchmark township: 20 on by default + 5 switched on at the county
N_DEFAULT_ON = 20
COUNTY = "330802000000"  # 柯城区 in the demo county
TOWNSHIP = ScopeUnit("330802001000", "府山街道", Level.township, COUNTY)
HOOK_ROUNDS = 81  # timed rounds (after one warm-up round) of short interleaved batches
KERNEL_ROUNDS = 31
REQUEST_RATE = 100  # req/s, to amortise the once-per-interval version check
HTTP_REQUESTS = 2000
WRK_SECONDS = 1  # per wrk run; WRK_RUNS runs per URL, alternating
WRK_RUNS = 3

HOOK_TARGET = 1.3
KERNEL_TARGET = 0.10


# -- timing -----------------------------------------------------------------------------------


@dataclass
class Stat:
    """Per-operation times (ns) of several batches."""

    samples: list[float]
    low: float | None = None  # shown instead of min(samples) (differences: min a - min b)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def min(self) -> float:
        return min(self.samples) if self.low is None else self.low


Batch = Callable[[], float]  # runs one batch, returns ns per operation


def timed_loop(fn: Callable[..., Any], args: Sequence[Any]) -> float:
    """ns per call of ``fn(arg)`` over ``args``, with the GC off."""
    gc.disable()
    try:
        start = time.perf_counter_ns()
        for arg in args:
            fn(arg)
        return (time.perf_counter_ns() - start) / len(args)
    finally:
        gc.enable()


def interleaved(batches: dict[str, Batch], repeats: int) -> dict[str, Stat]:
    """Run every batch once as warm-up, then ``repeats`` rounds of all of them, interleaved."""
    for batch in batches.values():
        batch()
    samples: dict[str, list[float]] = {name: [] for name in batches}
    for _ in range(repeats):
        gc.collect()
        for name, batch in batches.items():
            samples[name].append(batch())
    return {name: Stat(values) for name, values in samples.items()}


def delta(a: Stat, b: Stat) -> Stat:
    """Per-round differences ``a - b`` of two interleaved measurements."""
    return Stat([x - y for x, y in zip(a.samples, b.samples, strict=True)], low=a.min - b.min)


def scaled(stat: Stat, factor: float) -> Stat:
    return Stat([x * factor for x in stat.samples])


def summed(a: Stat, b: Stat) -> Stat:
    return Stat([x + y for x, y in zip(a.samples, b.samples, strict=True)])


# -- report -----------------------------------------------------------------------------------


@dataclass
class Row:
    label: str
    project: Stat
    baseline: Stat | None
    baseline_key: str
    target: float | None = None  # maximum ratio; None = information only
    percent: bool = False

    @property
    def ratio(self) -> float:
        """Median of the per-round ratios when both sides come from the same interleaved rounds
        (adjacent batches see the same machine load), else the ratio of the medians."""
        assert self.baseline is not None
        a, b = self.project.samples, self.baseline.samples
        if len(a) == len(b) > 1:
            return statistics.median(x / y for x, y in zip(a, b, strict=True))
        return self.project.median / self.baseline.median


def fmt_us(ns: float) -> str:
    return f"{ns / 1000:,.2f}"


def fmt_ratio(value: float, percent: bool) -> str:
    return f"{value:.1%}" if percent else f"{value:.2f}x"


def print_table(title: str, rows: list[Row], baselines: dict[str, str]) -> list[bool]:
    print(f"\n{title}")
    head = (
        f"{'measurement':<58} {'project µs':>19} {'baseline µs':>21} {'ratio':>7} "
        f"{'target':>7}  result"
    )
    print(head)
    print("-" * len(head))
    verdicts = []
    for row in rows:
        project = f"{fmt_us(row.project.median)} ({fmt_us(row.project.min)})"
        if row.baseline is None:
            baseline, ratio = "-", "-"
        else:
            baseline = (
                f"{row.baseline_key} {fmt_us(row.baseline.median)} ({fmt_us(row.baseline.min)})"
            )
            ratio = fmt_ratio(row.ratio, row.percent)
        if row.target is None or row.baseline is None:
            target, result = "info", ""
        else:
            ok = row.ratio <= row.target
            verdicts.append(ok)
            target = (
                "≤" + fmt_ratio(row.target, row.percent).replace(".0%", "%")
                if row.percent
                else f"≤{row.target:.1f}x"
            )
            result = "PASS" if ok else "FAIL"
        print(f"{row.label:<58} {project:>19} {baseline:>21} {ratio:>7} {target:>7}  {result}")
    print(
        "µs per operation: median of the batches (min); ratio: median of per-round ratios of "
        "adjacent batches, or of the medians when not measured in the same rounds"
    )
    for key, text in baselines.items():
        print(f"  {key}: {text}")
    return verdicts


# -- plugins ----------------------------------------------------------------------------------


def make_plugin(index: int, default_enabled: bool) -> tuple[str, type]:
    """A generated plugin: a manifest, a ``menu_links`` and a tiny API router."""
    name = f"bench{index:02d}"
    links = [MenuLink(href=f"/p/{name}/", label=f"基准{index:02d}", order=index)]
    router = APIRouter()

    @router.get("/ping")
    def ping() -> dict[str, bool]:
        return {"ok": True}

    def menu_links(township, request):  # type: ignore[no-untyped-def]
        return links

    def register_api_routes() -> APIRouter:
        return router

    namespace = {
        "PLUGIN": PluginManifest(
            name=name,
            title=f"基准插件{index:02d}",
            version="0.1.0",
            default_enabled=default_enabled,
        ),
        "menu_links": staticmethod(hookimpl(menu_links)),
        "register_api_routes": staticmethod(hookimpl(register_api_routes)),
    }
    return name, type(name, (), namespace)


@dataclass(frozen=True)
class PluginSet:
    plugins: list[tuple[str, type]]
    default_on: frozenset[str]
    county_on: frozenset[str]  # switched on at COUNTY with set_plugin_setting

    @property
    def enabled(self) -> frozenset[str]:
        return self.default_on | self.county_on

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.plugins]


def plugin_set() -> PluginSet:
    """50 plugins; with a fixed seed, 20 on by default and 5 more on at the county."""
    rng = random.Random(SEED)
    chosen = rng.sample(range(N_PLUGINS), N_ENABLED)
    default_on = set(chosen[:N_DEFAULT_ON])
    plugins = [make_plugin(i, i in default_on) for i in range(N_PLUGINS)]
    return PluginSet(
        plugins=plugins,
        default_on=frozenset(f"bench{i:02d}" for i in chosen[:N_DEFAULT_ON]),
        county_on=frozenset(f"bench{i:02d}" for i in chosen[N_DEFAULT_ON:]),
    )


def fake_request(app: Any = None, query: bytes = b"", path: str = "/") -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": path,
            "query_string": query,
            "headers": [],
            "path_params": {},
            "app": app,
        }
    )


def run_coroutine(coro: Any) -> Any:
    """Run a coroutine that never suspends, without an event loop."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise RuntimeError("the coroutine suspended")


# -- 1. township-scoped hook call ------------------------------------------------------------


def bench_hooks(ps: PluginSet) -> list[Row]:
    pm = new_plugin_manager()
    for name, obj in ps.plugins:
        pm.register(obj, name=name)
    optional = frozenset(ps.names)
    scoped = HookScoper(pm, optional).for_enabled(ps.enabled).menu_links

    plain_pm = new_plugin_manager()  # same hookspecs, only the 25 enabled plugins
    for name, obj in ps.plugins:
        if name in ps.enabled:
            plain_pm.register(obj, name=name)
    plain = plain_pm.hook.menu_links

    request = fake_request(path="/p/bench/")
    township = TOWNSHIP

    def per_call_build(_: object) -> object:
        return (
            HookScoper(pm, optional)
            .for_enabled(ps.enabled)
            .menu_links(township=township, request=request)
        )

    expected = plain(township=township, request=request)
    assert len(expected) == N_ENABLED
    assert scoped(township=township, request=request) == expected
    assert per_call_build(None) == expected
    assert (
        run_coroutine(call_robust(scoped, where=None, township=township, request=request))
        == expected
    )

    loop = range(250)
    stats = interleaved(
        {
            "scoped": lambda: timed_loop(
                lambda _: scoped(township=township, request=request), loop
            ),
            "plain": lambda: timed_loop(lambda _: plain(township=township, request=request), loop),
            "built": lambda: timed_loop(per_call_build, loop),
            "robust_scoped": lambda: timed_loop(
                lambda _: run_coroutine(
                    call_robust(scoped, where=None, township=township, request=request)
                ),
                loop,
            ),
            "robust_plain": lambda: timed_loop(
                lambda _: run_coroutine(
                    call_robust(plain, where=None, township=township, request=request)
                ),
                loop,
            ),
        },
        HOOK_ROUNDS,
    )
    return [
        Row(
            "menu_links, 25 of 50 on: TownshipHooks caller (cached)",
            stats["scoped"],
            stats["plain"],
            "P",
            HOOK_TARGET,
        ),
        Row(
            "  same, HookScoper and caller built on every call", stats["built"], stats["plain"], "P"
        ),
        Row(
            "  call_robust (menu render path) on the scoped caller",
            stats["robust_scoped"],
            stats["robust_plain"],
            "R",
        ),
    ]


# -- 2. the kernel per request ---------------------------------------------------------------


def build_registry(ps: PluginSet) -> PluginRegistry:
    return PluginRegistry().load(discover=False, extra=ps.plugins)


def build_app(ps: PluginSet, db_path: Path) -> FastAPI:
    """The real application on a fresh SQLite file with the demo county loaded."""
    registry = build_registry(ps)
    settings = Settings(database_url=f"sqlite:///{db_path}", auto_migrate=True)
    app = create_app(settings, registry=registry)
    kernel = app.state.kernel
    load_demo(kernel.engine, registry)
    with Session(kernel.engine) as session:
        # Plugin routes refuse anonymous callers: the demo county admin's bearer token.
        admin = session.exec(select(Account).where(Account.username == "county_admin")).one()
        app.state.bench_token = issue_token(session, admin, "bearer", None)
        for name in sorted(ps.county_on):
            set_plugin_setting(
                session, registry, plugin=name, unit_code=COUNTY, enabled=True, actor="bench"
            )
        session.commit()
    kernel.toggles.invalidate()
    on = kernel.scope(TOWNSHIP.code).enabled - kernel.toggles.snapshot().essential
    assert on == ps.enabled, sorted(on ^ ps.enabled)
    return app


def county_codes() -> list[str]:
    """Demo codes at or below township level in COUNTY: what requests name."""
    with DEMO_UNITS.open(encoding="utf-8-sig", newline="") as handle:
        codes = [row[0] for row in csv.reader(handle)][1:]
    return [c for c in codes if c.startswith(COUNTY[:6]) and (len(c) == 15 or c[6:9] != "000")]


class AsgiDriver:
    """Calls an ASGI app directly: no network, no test client."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.status = 0

    def scope(self, path: str, query: bytes = b"") -> dict[str, Any]:
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1:8000"), (b"accept", b"application/json")],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000),
        }

    async def _receive(self) -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def _send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]

    async def batch(self, scope: dict[str, Any], n: int) -> float:
        """ns per request over ``n`` sequential requests; every answer must be a 200."""
        app, receive, send = self.app, self._receive, self._send
        gc.disable()
        try:
            start = time.perf_counter_ns()
            for _ in range(n):
                self.status = 0
                await app(dict(scope), receive, send)
                if self.status != 200:
                    raise RuntimeError(f"{scope['path']} answered {self.status}")
            return (time.perf_counter_ns() - start) / n
        finally:
            gc.enable()


def add_probe_routes(app: FastAPI, plugin: str) -> None:
    """Two async routes, first in the route table, to isolate the guard's cost under FastAPI:
    no dependency, and ``require_plugin`` as the core declares it (an async dependency)."""
    guard = require_plugin(plugin)

    async def probe() -> dict[str, str]:
        return {"status": "ok"}

    before = len(app.router.routes)
    app.add_api_route("/bench/plain", probe, methods=["GET"])
    app.add_api_route("/bench/guarded", probe, methods=["GET"], dependencies=[Depends(guard)])
    added = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[:0] = added


def bench_kernel(ps: PluginSet, app: FastAPI) -> tuple[list[Row], Stat, Stat]:
    kernel = app.state.kernel
    plugin = min(ps.enabled)
    guard = require_plugin(plugin)
    codes = county_codes()
    n = 500
    code_list = [codes[i % len(codes)] for i in range(n)]
    queries = [f"unit={code}".encode() for code in code_list]
    for code in codes:
        assert kernel.scope(code).enabled - kernel.toggles.snapshot().essential == ps.enabled

    def guard_batch() -> float:
        # Requests are built outside the timing: FastAPI builds one for every request anyway.
        requests = [fake_request(app, query) for query in queries]
        return timed_loop(lambda request: run_coroutine(guard(request)), requests)

    def refresh(_: object) -> None:
        kernel.toggles.invalidate()
        kernel.toggles.snapshot()

    add_probe_routes(app, plugin)
    driver = AsgiDriver(app)
    unit_query = f"unit={codes[-1]}".encode()
    plugin_route = driver.scope(f"/api/v1/p/{plugin}/ping", unit_query)
    plugin_route["headers"].append((b"authorization", f"Bearer {app.state.bench_token}".encode()))
    asgi = {
        "healthz": driver.scope("/healthz"),
        "plain": driver.scope("/bench/plain", unit_query),
        "guarded": driver.scope("/bench/guarded", unit_query),
        "plugin_route": plugin_route,  # plugin routes refuse anonymous callers
    }
    m = 40

    async def measure() -> dict[str, Stat]:
        results: dict[str, list[float]] = {
            name: [] for name in [*asgi, "scope", "guard", "refresh"]
        }
        for round_ in range(KERNEL_ROUNDS + 1):  # round 0 is the warm-up
            gc.collect()
            sample = {name: await driver.batch(scope, m) for name, scope in asgi.items()}
            sample["scope"] = timed_loop(kernel.scope, code_list)
            sample["guard"] = guard_batch()
            sample["refresh"] = timed_loop(refresh, range(40))
            if round_:
                for name, value in sample.items():
                    results[name].append(value)
        return {name: Stat(values) for name, values in results.items()}

    stats = asyncio.run(measure())
    reload = measure_reload(kernel)
    healthz = stats["healthz"]
    amortised = summed(stats["guard"], scaled(stats["refresh"], 1 / REQUEST_RATE))
    rows = [
        Row(
            "kernel per request: require_plugin work (scope incl.)",
            stats["guard"],
            healthz,
            "H",
            KERNEL_TARGET,
            percent=True,
        ),
        Row(
            f"  + version check amortised at {REQUEST_RATE} req/s",
            amortised,
            healthz,
            "H",
            KERNEL_TARGET,
            percent=True,
        ),
        Row(
            "  same, against an async route (no thread hop)",
            stats["guard"],
            stats["plain"],
            "A",
            percent=True,
        ),
        Row("  of which kernel.scope(unit_code)", stats["scope"], healthz, "H", percent=True),
        Row(
            "  version check itself (1 SELECT, at most 1/s)",
            stats["refresh"],
            healthz,
            "H",
            percent=True,
        ),
        Row(
            "  snapshot reload after a settings change (1/change)",
            reload,
            healthz,
            "H",
            percent=True,
        ),
        Row(
            "  guard as a FastAPI router dependency (kernel + FastAPI), ASGI Δ",
            delta(stats["guarded"], stats["plain"]),
            healthz,
            "H",
            percent=True,
        ),
        Row(
            "  real plugin route (async dep + sync endpoint), ASGI",
            stats["plugin_route"],
            healthz,
            "H",
            percent=True,
        ),
    ]
    return rows, stats["guard"], amortised


def measure_reload(kernel: Any) -> Stat:
    """Re-reading the settings snapshot after the config version moved (one per change)."""
    samples = []
    for _ in range(KERNEL_ROUNDS):
        with Session(kernel.engine) as session:
            bump_config_version(session)
            session.commit()
        kernel.toggles.invalidate()
        start = time.perf_counter_ns()
        kernel.toggles.snapshot()
        kernel.scope(TOWNSHIP.code)
        samples.append(time.perf_counter_ns() - start)
    return Stat(samples)


# -- HTTP over loopback -----------------------------------------------------------------------


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(port: int, db_path: Path) -> None:
    """Child process: the same application under uvicorn on 127.0.0.1."""
    import uvicorn

    registry = build_registry(plugin_set())
    app = create_app(Settings(database_url=f"sqlite:///{db_path}"), registry=registry)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def http_latencies(
    port: int,
    targets: Sequence[str],
    n: int,
    warmup: int = 200,
    headers: Sequence[str] | None = None,
) -> list[list[float]]:
    """Round-trip ns of ``n`` sequential GETs per target, alternating between the targets, on
    one keep-alive connection (raw socket, so the client adds little). ``headers``: one extra
    header line per target (``"Name: value"``, or ``""`` for none)."""
    extra = [f"{line}\r\n" if line else "" for line in headers or [""] * len(targets)]
    messages = [
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{more}\r\n".encode()
        for target, more in zip(targets, extra, strict=True)
    ]
    samples: list[list[float]] = [[] for _ in targets]
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = sock.makefile("rb")
        for i in range((warmup + n) * len(targets)):
            k = i % len(targets)
            target, message = targets[k], messages[k]
            start = time.perf_counter_ns()
            sock.sendall(message)
            status = reader.readline()
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            reader.read(length)
            elapsed = time.perf_counter_ns() - start
            if b" 200 " not in status:
                raise RuntimeError(f"{target} answered {status!r}")
            if i >= warmup * len(targets):
                samples[k].append(elapsed)
    return samples


def run_wrk(url: str, header: str | None = None) -> tuple[float, float] | None:
    """Requests/s and p50 latency (ms) from wrk (1 thread, 8 connections); ``header``: one
    extra request header (``"Name: value"``)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    extra = ["-H", header] if header else []
    out = subprocess.run(
        [wrk, "-t1", "-c8", f"-d{WRK_SECONDS}s", "--latency", *extra, url],
        capture_output=True,
        text=True,
        timeout=WRK_SECONDS + 30,
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\b", out, re.MULTILINE)
    if rps is None or p50 is None or "Non-2xx" in out:
        raise RuntimeError(f"wrk failed on {url}:\n{out}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p50.group(2)]
    return float(rps.group(1)), float(p50.group(1)) * scale


def bench_http(
    ps: PluginSet, db_path: Path, guard: Stat, amortised: Stat, token: str
) -> list[Row] | str:
    """The same app under uvicorn in a child process; returns rows or why it was skipped."""
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        return "uvicorn is not installed"
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), str(db_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        if not wait_ready(port, proc):
            err = proc.stderr.read().decode(errors="replace")[-500:] if proc.poll() else ""
            return f"uvicorn did not start on 127.0.0.1:{port} {err}".strip()
        plugin_target = f"/api/v1/p/{min(ps.enabled)}/ping?unit={TOWNSHIP.code}"
        auth = f"Authorization: Bearer {token}"
        healthz, plugin_route = (
            Stat(samples)
            for samples in http_latencies(
                port, ["/healthz", plugin_target], HTTP_REQUESTS, headers=["", auth]
            )
        )
        rows = [
            Row(
                "kernel per request vs /healthz over HTTP (round trip)",
                guard,
                healthz,
                "T",
                KERNEL_TARGET,
                percent=True,
            ),
            Row(
                f"  + version check amortised at {REQUEST_RATE} req/s",
                amortised,
                healthz,
                "T",
                KERNEL_TARGET,
                percent=True,
            ),
            Row(
                "  real plugin route over HTTP (round trip)",
                plugin_route,
                healthz,
                "T",
                percent=True,
            ),
        ]
        if shutil.which("wrk") is None:
            return rows
        runs: dict[str, list[tuple[float, float]]] = {"healthz": [], "plugin": []}
        for _ in range(WRK_RUNS):
            for key, target, header in (
                ("healthz", "/healthz", None),
                ("plugin", plugin_target, auth),
            ):
                result = run_wrk(f"http://127.0.0.1:{port}{target}", header)
                assert result is not None
                runs[key].append(result)
        service = {key: Stat([1e9 / rps for rps, _ in got]) for key, got in runs.items()}

        def label(key: str, title: str) -> str:
            rps = statistics.median(rps for rps, _ in runs[key])
            p50 = statistics.median(p50 for _, p50 in runs[key])
            return f"  wrk {title}: {rps:,.0f} req/s, p50 {p50:.2f} ms"

        rows += [
            Row(
                "kernel per request vs /healthz wrk service time",
                guard,
                service["healthz"],
                "W",
                KERNEL_TARGET,
                percent=True,
            ),
            Row(label("healthz", "/healthz"), service["healthz"], None, ""),
            Row(
                label("plugin", "plugin route"),
                service["plugin"],
                service["healthz"],
                "W",
                percent=True,
            ),
        ]
        return rows
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


# -- main -------------------------------------------------------------------------------------


# -- shared by the benchmark scripts: the database, the report's first and last lines -----------

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextlib.contextmanager
def bench_database(postgres: bool) -> Iterator[str]:
    """A URL of an empty database: a temporary SQLite file, or a fresh PostgreSQL schema
    (``SANMIN_TEST_POSTGRES_URL`` or the default) dropped afterwards."""
    if not postgres:
        with tempfile.TemporaryDirectory(prefix="sanmin-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    from core.testing import postgres_schema  # imports pytest: only when asked for

    with postgres_schema(os.environ.get("SANMIN_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)) as url:
        yield url


def part(name: str, fn: Callable[[], list[bool]]) -> list[bool]:
    """Run one part of a benchmark: a part that fails is reported (one missed target) and
    the others still run."""
    try:
        return fn()
    except Exception:
        sys.stdout.flush()
        traceback.print_exc()
        sys.stderr.flush()
        print(f"\n{name}: stopped on the error above")
        return [False]


def report(title: str, run: Callable[[], list[bool]], versions: str = "") -> int:
    """Print the machine line, ``run()`` the parts (each returns its targets' verdicts), then
    how many targets were met. Always 0: a benchmark is a report, even when it breaks."""
    import fastapi
    import sqlalchemy

    started = time.monotonic()
    print(
        f"Sanmin {title} benchmark - Python {sys.version.split()[0]}, {versions}FastAPI "
        f"{fastapi.__version__}, SQLAlchemy {sqlalchemy.__version__}, {os.cpu_count()} CPUs, "
        f"load average {loadavg()}"
    )
    try:
        verdicts = run()
    except Exception:  # a report: say what broke, exit 0
        sys.stdout.flush()
        traceback.print_exc()
        sys.stderr.flush()
        print("\nthe benchmark stopped on the error above")
        return 0
    failed = verdicts.count(False)
    print(
        f"\n{len(verdicts) - failed} of {len(verdicts)} targets met"
        + (f", {failed} MISSED (see above)" if failed else "")
        + f"; {time.monotonic() - started:.0f} s; load average now {loadavg()}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-http", action="store_true", help="skip the uvicorn part")
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(int(args.serve[0]), Path(args.serve[1]))
        return 0

    import pluggy

    random.seed(SEED)
    return report("hook/kernel", lambda: run(args), f"pluggy {pluggy.__version__}, ")


def run(args: argparse.Namespace) -> list[bool]:
    """The three parts; their targets' verdicts."""
    ps = plugin_set()
    verdicts = print_table(
        "1. Township-scoped hook call (50 plugins installed, 25 on)",
        bench_hooks(ps),
        {
            "P": "plain pluggy call, separate PluginManager with only the 25 enabled plugins",
            "R": "call_robust over that plain caller (same 25 implementations)",
        },
    )

    with tempfile.TemporaryDirectory(prefix="sanmin-bench-") as tmp:
        db_path = Path(tmp) / "bench.db"
        app = build_app(ps, db_path)
        rows, guard, amortised = bench_kernel(ps, app)
        verdicts += print_table(
            "2. Kernel per request (real app, SQLite, demo county, 50 plugins, 25 on)",
            rows,
            {
                "H": "GET /healthz service time, ASGI app called in-process (no network); "
                "an async endpoint: no threadpool hop",
                "A": "GET /bench/plain: async probe route, no dependency, first in the route "
                "table (in-process ASGI)",
            },
        )
        app.state.kernel.engine.dispose()
        if args.no_http:
            print("\n3. HTTP: skipped (--no-http)")
        else:
            http = bench_http(ps, db_path, guard, amortised, app.state.bench_token)
            if isinstance(http, str):
                print(f"\n3. HTTP: skipped ({http})")
            else:
                legend = {
                    "T": f"GET /healthz round trip, {HTTP_REQUESTS} sequential requests on "
                    "one keep-alive connection, alternating with the plugin route"
                }
                if shutil.which("wrk"):
                    legend["W"] = (
                        f"1 s / wrk requests per second on /healthz (-t1 -c8 "
                        f"-d{WRK_SECONDS}s, {WRK_RUNS} runs alternating with the "
                        "plugin route)"
                    )
                verdicts += print_table(
                    "3. Over HTTP: uvicorn (1 worker) on 127.0.0.1, client in this process",
                    http,
                    legend,
                )
                if not shutil.which("wrk"):
                    print("  wrk is not installed: the throughput (wrk) part was skipped")
    return verdicts


if __name__ == "__main__":
    sys.exit(main())
