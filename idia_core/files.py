"""Writing files so that a reader never sees half of one.

Reports, metrics, charts and caches are written to a temporary name beside the target and then
renamed into place (a rename is atomic on one file system), so an interrupted run (Ctrl-C, a
killed worker) leaves either the old file or the new one, never a torn one.
"""
from __future__ import annotations

import os
from pathlib import Path


def atomic_write(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically; returns the path."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    if isinstance(data, str):
        tmp.write_text(data, encoding="utf-8")
    else:
        tmp.write_bytes(data)
    tmp.replace(path)
    return path
