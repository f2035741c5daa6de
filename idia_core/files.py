"""Writing files so that a reader never sees half of one, and no file at all once a shutdown began.

Reports, metrics, charts and caches are written to a temporary name beside the target and then
renamed into place (a rename is atomic on one file system), so an interrupted run (Ctrl-C, a
killed worker) leaves either the old file or the new one, never a torn one.

A server that shuts down cleans up what its visitors left (their uploads, charts, reports) and then
must not write again: a turn still running would otherwise put a visitor's photo strip or chart on
disk after the cleanup, where nothing deletes it. ``stop_writes`` closes every writer of this
process for good; ``check_writable`` (called by ``atomic_write`` and by whatever creates a folder or
saves a picture) then raises ``WritesStopped``.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

_STOPPED = threading.Event()


class WritesStopped(OSError):
    """The process is shutting down: nothing more is written."""


def stop_writes() -> None:
    """From now on this process writes no file through idia (a shutdown has begun)."""
    _STOPPED.set()


def writes_stopped() -> bool:
    return _STOPPED.is_set()


def check_writable() -> None:
    if _STOPPED.is_set():
        raise WritesStopped("the server is shutting down; nothing more is written")


def atomic_write(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically; returns the path.
    ``WritesStopped`` once a shutdown began (the temporary file is removed if it began meanwhile)."""
    check_writable()
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    if isinstance(data, str):
        tmp.write_text(data, encoding="utf-8")
    else:
        tmp.write_bytes(data)
    if _STOPPED.is_set():
        tmp.unlink(missing_ok=True)
        raise WritesStopped("the server is shutting down; nothing more is written")
    tmp.replace(path)
    return path
