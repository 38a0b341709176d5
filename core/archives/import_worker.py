"""The import's checking process: a large sheet is read, checked, hashed and encrypted
(:func:`core.archives.rowcheck.checked_batches`) by a second process while the importing
process writes the batches before.

Why a process started afresh (``python -c``, not ``multiprocessing``): the importing process
has all of Sanmin loaded (~100 MB). A forked copy would count that memory a second time and
inherit the threads of a server; a ``spawn`` or ``forkserver`` child of :mod:`multiprocessing`
imports the parent's main module (the CLI). This one imports only what checking needs: the
:mod:`core` and :mod:`core.archives` packages are registered empty, so that their
``__init__`` (which imports the whole application) does not run, then
:mod:`core.archives.rowcheck` loads with the standard library, ``stdnum`` and ``cryptography``:
~35 MB.

The protocol, on the child's standard input and output: the parent writes the job (file,
encoding, batch size, the importing unit's path, today, the grid codes that exist, the archive
cipher's derived keys) as one ``marshal``-ed tuple and closes the pipe; the child writes
frames, each a kind byte, a length and a ``marshal``-ed payload: a checked batch (plain tuples
of text: loading them costs the writer ~1 µs a row, where pickled dataclasses cost ~10), a
sheet error (its message), or the end. The pipe's buffer is the queue: a child ahead of the
writer blocks on its next batch, so memory stays at about two batches. A child that dies
(or exits without the end frame) is an :class:`ImportWorkerError` with its exit status and
the end of what it wrote on standard error, never a hang; a parent that stops early kills it.
"""

from __future__ import annotations

import gc
import marshal
import struct
import subprocess
import sys
import tempfile
from collections.abc import Collection, Iterator
from datetime import date
from pathlib import Path
from typing import IO

from core.archives.crypto import ArchiveCipher
from core.archives.rowcheck import CheckedBatch, checked_batches
from core.archives.template import SheetError

FRAME = struct.Struct("<cQ")  # kind, payload length
BATCH, SHEET_ERROR, END = b"B", b"S", b"E"
STDERR_TAIL = 2000  # characters of the child's standard error quoted in an error

# The child's whole program: core and core.archives as empty packages (their modules found
# in the directories given as arguments), then the checking loop.
BOOTSTRAP = """\
import sys, types
for name, path in zip(("core", "core.archives", "core.units"), sys.argv[1:4]):
    package = types.ModuleType(name)
    package.__path__ = [path]
    sys.modules[name] = package
from core.archives.import_worker import serve
serve()
"""


class ImportWorkerError(RuntimeError):
    """The checking process failed; the message says how and quotes its standard error."""


def _package_dirs() -> list[str]:
    import core
    import core.archives
    import core.units

    return [str(Path(package.__file__).parent) for package in (core, core.archives, core.units)]  # type: ignore[arg-type]


def checked_in_worker(
    path: Path,
    encoding: str | None,
    size: int,
    scope_path: str,
    today: date,
    grids: Collection[str],
    cipher: ArchiveCipher,
) -> Iterator[CheckedBatch]:
    """:func:`~core.archives.rowcheck.checked_batches` of the same arguments, computed by a
    checking process while the caller works on the batches already given.

    :raises SheetError: the file is unreadable or lacks a required column.
    :raises ImportWorkerError: the checking process died or failed.
    """
    job = (str(path), encoding, size, scope_path, today.toordinal(), list(grids))
    with tempfile.TemporaryFile() as errors:
        command = [sys.executable, "-P", "-c", BOOTSTRAP, *_package_dirs()]
        child = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors
        )
        assert child.stdin is not None and child.stdout is not None
        try:
            try:
                with child.stdin:
                    child.stdin.write(marshal.dumps((*job, *cipher.derived_keys())))
            except BrokenPipeError:
                pass  # the child is gone: reading its first frame says so
            while True:
                kind, payload = _read_frame(child.stdout, child, errors)
                if kind == BATCH:
                    yield CheckedBatch(*marshal.loads(payload))
                elif kind == SHEET_ERROR:
                    raise SheetError(payload.decode())
                else:
                    break
            if child.wait() != 0:
                raise _failure(child, errors)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            child.stdout.close()


def _read_frame(
    stream: IO[bytes], child: subprocess.Popen[bytes], errors: IO[bytes]
) -> tuple[bytes, bytes]:
    head = stream.read(FRAME.size)
    if len(head) == FRAME.size:
        kind, length = FRAME.unpack(head)
        payload = stream.read(length)
        if len(payload) == length:
            return kind, payload
    child.wait()
    raise _failure(child, errors)


def _failure(child: subprocess.Popen[bytes], errors: IO[bytes]) -> ImportWorkerError:
    errors.seek(0)
    said = errors.read().decode(errors="replace").strip()[-STDERR_TAIL:]
    return ImportWorkerError(
        f"导入校验进程意外退出 / the import's checking process ended unexpectedly "
        f"(exit status {child.returncode})" + (f":\n{said}" if said else "")
    )


def serve() -> None:
    """The child: read the job from standard input, write the frames to standard output."""
    gc.freeze()  # the modules' objects: no collection needs to walk them again
    gc.disable()  # and the young generations are collected after each batch, not every 700
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write into the frames
    path, encoding, size, scope_path, today, grids, encrypt_key, hash_key = marshal.loads(
        sys.stdin.buffer.read()
    )
    cipher = ArchiveCipher.from_derived_keys(encrypt_key, hash_key)

    def send(kind: bytes, payload: bytes) -> None:
        out.write(FRAME.pack(kind, len(payload)))
        out.write(payload)
        out.flush()

    batches = checked_batches(
        Path(path), encoding, size, scope_path, date.fromordinal(today), set(grids), cipher
    )
    try:
        for batch in batches:
            payload = marshal.dumps(tuple(batch))
            del batch  # not kept while the next is checked
            send(BATCH, payload)
            del payload
            gc.collect(1)
    except SheetError as exc:
        send(SHEET_ERROR, str(exc).encode())
        return
    except BrokenPipeError:
        return  # the importing process stopped reading: it has failed or finished early
    send(END, b"")
