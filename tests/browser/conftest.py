"""Fixtures for the real-browser tests: a ``sanmin demo`` server process and Debian's chromium.

The browser is Debian's ``chromium`` package (``.ci/install-browser``) driven by the
``playwright`` Python package; Playwright's own browser download is never used. Without
either, the tests are skipped with the reason, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

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
