"""A small HTTP/1.1 load generator for the benchmarks, used when wrk is not installed.

Run by ``bench/tickets.py`` as a child process (standard library only, so it starts in a few
tens of milliseconds and adds little CPU on a 2-core machine)::

    python bench/loadgen.py < spec.json

The spec (JSON on stdin): ``port``, ``connections``, ``timeout`` (seconds per request) and
``requests``, a list of ``[method, path, [[header, value], ...], body]``. The generator opens
``connections`` keep-alive connections to 127.0.0.1 first, then starts the clock; each
connection takes the next request of the list as soon as its previous answer is read, until
the list is exhausted (a closed system: at most ``connections`` requests in flight). A
request that times out or whose connection breaks is counted, and its connection reopened.

Prints one JSON object: ``seconds`` (first send to last answer), ``latencies_ns`` (per
answered request, send to last byte read), ``statuses`` (count per HTTP status), ``timeouts``,
``errors`` (connections broken during an answer, or again after a resend), ``reconnects``
(requests resent once because the server had closed the keep-alive connection before reading
them), and ``failed`` (a few answers other than 2xx, status and
body, for the report).
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from typing import Any

FAILED_KEPT = 5


class Closed(ConnectionError):
    """The connection was closed before any byte of the answer arrived."""


def message(method: str, path: str, headers: list[list[str]], body: str) -> bytes:
    data = body.encode()
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(data)}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return reader, writer


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes
) -> tuple[int, bytes]:
    """Send one request, read its answer (Content-Length framing): status and body."""
    try:
        writer.write(data)
        await writer.drain()
        status_line = await reader.readline()
    except ConnectionResetError as exc:
        raise Closed from exc
    if not status_line:
        raise Closed
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length) if length else b""
    return int(status_line.split()[1]), body


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    port, timeout = spec["port"], spec["timeout"]
    messages = [message(*request) for request in spec["requests"]]
    latencies: list[int] = []
    statuses: dict[int, int] = {}
    failed: list[str] = []
    counts = {"timeouts": 0, "errors": 0, "reconnects": 0}
    pending = iter(messages)
    connections = [await connect(port) for _ in range(spec["connections"])]

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for data in pending:
            start = time.perf_counter_ns()
            try:
                try:
                    status, body = await asyncio.wait_for(exchange(reader, writer, data), timeout)
                except Closed:
                    # The server closed this keep-alive connection after its previous answer
                    # (uvicorn does after an unhandled exception): the request was not read.
                    # Resend it once on a new connection, as HTTP clients do.
                    counts["reconnects"] += 1
                    writer.close()
                    reader, writer = await connect(port)
                    start = time.perf_counter_ns()
                    status, body = await asyncio.wait_for(exchange(reader, writer, data), timeout)
            except (TimeoutError, ConnectionError, asyncio.IncompleteReadError) as exc:
                counts["timeouts" if isinstance(exc, TimeoutError) else "errors"] += 1
                writer.close()
                reader, writer = await connect(port)
                continue
            latencies.append(time.perf_counter_ns() - start)
            statuses[status] = statuses.get(status, 0) + 1
            if status >= 300 and len(failed) < FAILED_KEPT:
                failed.append(f"{status} {body[:300].decode(errors='replace')}")
        writer.close()

    started = time.perf_counter_ns()
    await asyncio.gather(*(client(reader, writer) for reader, writer in connections))
    seconds = (time.perf_counter_ns() - started) / 1e9
    return {
        "seconds": seconds,
        "latencies_ns": latencies,
        "statuses": statuses,
        "failed": failed,
        **counts,
    }


def main() -> int:
    spec = json.load(sys.stdin)
    try:
        import uvloop  # the servers run on it too, when installed
    except ImportError:
        result = asyncio.run(run(spec))
    else:
        result = uvloop.run(run(spec))
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
