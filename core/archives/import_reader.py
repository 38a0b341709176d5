"""Reading and checking an import file: in this process, or for a large file in a second
process while this one writes.

Parsing, checking, hashing and encrypting a row costs about as much as writing it (docs
design-notes, "Archive search, import speed and ID numbers"). Threads cannot share that work
(sqlite3 re-takes the GIL for every row it binds), a second process can: it sends each
checked chunk through a pipe, whose buffer keeps at most about one chunk waiting. A file error
in the child reaches the importer as the same exception, after the chunks before it.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

from core.archives.crypto import ArchiveCipher
from core.archives.template import read_rows

PARALLEL_FROM_ROWS = 50_000  # below this, starting a process costs more than it saves

Chunk = tuple[int, list[Any]]  # rows read, their PersonRow checks


@dataclass(frozen=True)
class ReadJob:
    """What to read and how to check it (sent to the child, so plain values)."""

    path: Path
    encoding: str | None
    size: int
    scope_path: str
    today: date


def checked_chunks(job: ReadJob, cipher: ArchiveCipher) -> Iterator[Chunk]:
    """The file's rows ``job.size`` at a time, each checked, the valid ones hashed and
    encrypted (:func:`core.archives.importer.check_row`)."""
    from core.archives.importer import check_row

    rows = read_rows(job.path, job.encoding)
    while chunk := list(islice(rows, job.size)):
        checked = [check_row(n, values, job.scope_path, job.today) for n, values in chunk]
        for r in checked:
            if not r.problems:
                r.id_hash = cipher.lookup_hash(r.id_number)
                r.id_cipher = cipher.encrypt(r.id_number)
        yield len(chunk), checked


def _send(out: BinaryIO, message: tuple[str, Any]) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(len(data).to_bytes(8, "little"))
    out.write(data)
    out.flush()


def _receive(source: BinaryIO) -> tuple[str, Any] | None:
    size = source.read(8)
    if len(size) < 8:
        return None
    return pickle.loads(source.read(int.from_bytes(size, "little")))


def child_main() -> None:
    """The reader process: the job and the cipher on stdin, then every chunk on stdout, and
    ``end``; or the exception that stopped it."""
    job, cipher = pickle.load(sys.stdin.buffer)
    out = sys.stdout.buffer
    try:
        for chunk in checked_chunks(job, cipher):
            _send(out, ("chunk", chunk))
        _send(out, ("end", None))
    except Exception as exc:  # handed to the parent, which raises it
        _send(out, ("error", exc))


def _received(child: subprocess.Popen[bytes]) -> Iterator[Chunk]:
    assert child.stdout is not None
    while (message := _receive(child.stdout)) is not None:
        kind, value = message
        if kind == "end":
            return
        if kind == "error":
            raise value
        yield value
    raise RuntimeError(
        f"导入读取进程意外退出 / the import's reader process died (exit code {child.wait()})"
    )


@contextmanager
def chunks_of(job: ReadJob, cipher: ArchiveCipher, parallel: bool) -> Iterator[Iterator[Chunk]]:
    """The checked chunks of ``job``'s file, read here or (``parallel``) by a child process
    (``python -m core.archives.import_reader``: a fresh interpreter, not a fork of a possibly
    threaded server), which is stopped when the block ends, however it ends. The pipe's
    buffer is the queue: the child waits while the parent writes."""
    if not parallel:
        yield checked_chunks(job, cipher)
        return
    child = subprocess.Popen(
        [sys.executable, "-m", "core.archives.import_reader"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdin is not None
        pickle.dump((job, cipher), child.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        child.stdin.close()
        yield _received(child)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()


if __name__ == "__main__":
    child_main()
