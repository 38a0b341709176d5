"""Fixtures for the real-browser tests: a ``sanmin demo`` server process and Debian's chromium.

The browser is Debian's ``chromium`` package (``.ci/install-browser``) driven by the
``playwright`` Python package; Playwright's own browser download is never used. Without
either, the tests are skipped with the reason, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from core.testing import in_ci

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
READY_DEADLINE_SECONDS = 30.0  # hang guard for the server's start, not a timing requirement
STOP_TIMEOUT_SECONDS = 10.0


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


def sanmin_command() -> list[str]:
    """The ``sanmin`` console script next to this interpreter, or the same CLI through ``-c``."""
    script = Path(sys.executable).with_name("sanmin")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from core.cli.main import main; main()"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class DemoServer:
    """A ``sanmin demo`` process; its output goes to files (a pipe could fill and block it)."""

    base_url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def url(self, path: str) -> str:
        return self.base_url + path

    def output(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        status = "running" if self.proc.poll() is None else f"exited {self.proc.returncode}"
        return f"--- sanmin demo (pid {self.proc.pid}, {status}) output:\n{text[-4000:]}"

    def wait_until_ready(self) -> None:
        """Poll ``/healthz`` until it answers 200, the process exits, or the deadline passes."""
        deadline = time.monotonic() + READY_DEADLINE_SECONDS
        # trust_env=False: no proxy from the environment between us and 127.0.0.1
        with httpx.Client(base_url=self.base_url, timeout=2.0, trust_env=False) as client:
            while True:
                if self.proc.poll() is not None:
                    pytest.fail(f"sanmin demo exited before it was ready\n{self.output()}")
                try:
                    if client.get("/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"sanmin demo not ready after {READY_DEADLINE_SECONDS} s\n{self.output()}"
                    )
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_SECONDS)


@pytest.fixture(scope="module")
def demo_server(
    browser_available: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoServer]:
    """``sanmin demo`` on a free port with its own SQLite file, stopped after the module."""
    workdir = tmp_path_factory.mktemp("demo")
    port = free_port()
    # only our database: no stray SANMIN_* variable or sanmin.toml reaches the server
    env = {key: value for key, value in os.environ.items() if not key.startswith("SANMIN_")}
    env["SANMIN_CONFIG_FILE"] = str(workdir / "no-sanmin.toml")
    env["PYTHONUNBUFFERED"] = "1"
    log = workdir / "server.log"
    command = [
        *sanmin_command(),
        "demo",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--db",
        str(workdir / "demo.db"),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, cwd=workdir, stdout=out, stderr=subprocess.STDOUT)
    server = DemoServer(f"http://127.0.0.1:{port}", proc, log)
    try:
        server.wait_until_ready()
        yield server
    finally:
        server.stop()


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
    """A page plus what went wrong on it: script errors and failed HTTP responses."""

    page: Page
    errors: list[str]
    bad_responses: list[str]


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    """A fresh browser context and page (zh-CN) that records page errors and 4xx/5xx answers."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    watched = Watched(page, [], [])
    page.on("pageerror", lambda exc: watched.errors.append(str(exc)))
    page.on("console", lambda msg: _record_console_error(watched, msg))
    page.on(
        "response",
        lambda r: watched.bad_responses.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    try:
        yield watched
    finally:
        context.close()


def _record_console_error(watched: Watched, msg: ConsoleMessage) -> None:
    if msg.type != "error":
        return
    source = msg.location.get("url", "")
    watched.errors.append(f"{msg.text} ({source})" if source else msg.text)


def copy_for_humans(source: Path, target: Path) -> None:
    """Best effort: a copy of a screenshot where a person can look at it."""
    with contextlib.suppress(OSError):
        shutil.copyfile(source, target)
