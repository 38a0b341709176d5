"""Real ``sanmin`` processes for tests that need a running server.

* :func:`sanmin_command` is the ``sanmin`` command of this interpreter's environment.
* :func:`child_env` is the environment of every child: only the test's database.
* :class:`SanminServer` is one ``sanmin <args> --host 127.0.0.1 --port <free port>``
  process with its output in files, waited for on ``/healthz`` and stopped again.

The deadlines here only guard against a hang; nothing is timed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx
import pytest

HOST = "127.0.0.1"
READY_DEADLINE_SECONDS = 90.0  # a hang guard (the demo loads its archive and tickets)
STOP_TIMEOUT_SECONDS = 10.0
OUTPUT_TAIL_CHARS = 4000


def sanmin_command() -> list[str]:
    """The ``sanmin`` console script next to this interpreter, else ``python -m core.cli``."""
    script = Path(sys.executable).with_name("sanmin")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "core.cli"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def child_env(database_url: str, workdir: Path) -> dict[str, str]:
    """The environment of a child process: only our database, no stray ``SANMIN_*`` variable
    or ``sanmin.toml`` (the config file named here does not exist), unbuffered output."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SANMIN_")}
    env["SANMIN_DATABASE_URL"] = database_url
    env["SANMIN_CONFIG_FILE"] = str(workdir / "no-sanmin.toml")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _tail(path: Path) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-OUTPUT_TAIL_CHARS:]


class SanminServer:
    """One ``sanmin <args>`` server process on a free port of 127.0.0.1, started at once.

    Its output goes to ``<workdir>/<name>.out.log`` and ``.err.log`` (a pipe could fill and
    block it). Used as a context manager, it is stopped on the way out.
    """

    def __init__(
        self, name: str, args: Sequence[str], *, env: dict[str, str], workdir: Path
    ) -> None:
        self.name = name
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.stdout = workdir / f"{name}.out.log"
        self.stderr = workdir / f"{name}.err.log"
        # trust_env=False: no proxy from the environment between us and 127.0.0.1
        self.client = httpx.Client(base_url=self.base_url, timeout=5.0, trust_env=False)
        command = [*sanmin_command(), *args, "--host", HOST, "--port", str(self.port)]
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.proc = subprocess.Popen(command, env=env, cwd=workdir, stdout=out, stderr=err)

    def url(self, path: str) -> str:
        return self.base_url + path

    def output(self) -> str:
        """The process's state and the tail of what it wrote, for failure messages."""
        status = "running" if self.proc.poll() is None else f"exited {self.proc.returncode}"
        return (
            f"--- {self.name} (pid {self.proc.pid}, port {self.port}, {status}) stderr:\n"
            f"{_tail(self.stderr)}\n--- {self.name} stdout:\n{_tail(self.stdout)}"
        )

    def wait_until_ready(self, deadline: float | None = None) -> None:
        """Poll ``/healthz`` until it answers 200; fail with the output if the process exits
        or the deadline (``time.monotonic()``; default ``READY_DEADLINE_SECONDS`` from now)
        passes first."""
        if deadline is None:
            deadline = time.monotonic() + READY_DEADLINE_SECONDS
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited before it was ready\n{self.output()}")
            try:
                if self.client.get("/healthz", timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{self.name} not ready before its deadline\n{self.output()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Terminate the process, and kill it if it does not end in time."""
        self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_SECONDS)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
