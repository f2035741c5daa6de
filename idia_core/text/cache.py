"""The persistent text-embedding cache: (model fingerprint, filled prompt) → float32 vector.

A 1000-name pool under 21 templates is 21,000 prompts; encoding them is the slow part of a check,
and the same distractors recur in every check. So vectors are kept on disk (one SQLite file per
model, WAL mode: many readers, one writer at a time, across processes) and in memory. Keys are
hashes of the prompt, so the file holds no readable list of who was checked, and nothing about
sessions, photos or verdicts is stored. The directory is bounded: whole models' files are dropped,
least recently used first, when it grows past ``IDIA_CACHE_MAX_MB``.

What comes back is exactly the float32 vector the model produced (stored as its raw bytes): the
attack compares similarities in float32, and a rounded vector would flip close predictions. The
files are named by ``CACHE_FORMAT``, so a file of the earlier format (float16 vectors, in
``text-<fingerprint>.sqlite``) is never read: it is the least recently used and the bound drops it
first.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from pathlib import Path

import numpy as np

from .. import config
from ..files import writes_stopped

DEFAULT_MAX_MB = 1024
_MEMORY_LIMIT_BYTES = 400 * 2**20   # vectors kept in memory per process, across models
CACHE_FORMAT = "f32"                 # in every file name: a new storage format never reads an old one
DTYPE = np.float32


def default_cache_dir() -> Path | None:
    """``IDIA_CACHE_DIR`` (``none`` turns the disk cache off), else the user's cache directory. On a
    Hugging Face Space, mount a Storage Bucket and point ``IDIA_CACHE_DIR`` at it, so a restarted
    Space never encodes the same pool again (Spaces no longer have a ``/data`` of their own)."""
    env = config.raw("IDIA_CACHE_DIR")
    if env is not None:
        if env.strip().lower() in ("", "none") or env.strip().lower() in config.FALSE:
            return None
        return Path(env).expanduser()
    base = config.text("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "idia"


def prompt_key(prompt: str) -> bytes:
    return hashlib.blake2b(prompt.encode("utf-8"), digest_size=16).digest()


class TextEmbeddingCache:
    """Look up and store prompt embeddings for one process; thread-safe."""

    def __init__(self, directory: str | os.PathLike | None = None, max_mb: float | None = None, *,
                 disk: bool = True):
        self.directory = Path(directory) if directory is not None else (default_cache_dir() if disk else None)
        if max_mb is None:
            max_mb = config.number("IDIA_CACHE_MAX_MB", DEFAULT_MAX_MB)
        self.max_bytes = int(max_mb * 2**20)
        self._memory: dict[str, dict[bytes, np.ndarray]] = {}
        self._lock = threading.RLock()
        self._conns: dict[str, sqlite3.Connection] = {}

    # -- public API ---------------------------------------------------------------------------
    def get_many(self, fingerprint: str, prompts: list[str]) -> tuple[list[np.ndarray | None], list[int]]:
        """Vectors for the prompts (None where unknown) and the indices that are missing."""
        keys = [prompt_key(p) for p in prompts]
        with self._lock:
            mem = self._memory.setdefault(fingerprint, {})
            found: list[np.ndarray | None] = [mem.get(k) for k in keys]
            missing = [i for i, v in enumerate(found) if v is None]
            if missing and self.directory is not None:
                from_disk = self._read_disk(fingerprint, [keys[i] for i in missing])
                for i in missing:
                    vec = from_disk.get(keys[i])
                    if vec is not None:
                        found[i] = vec
                        mem[keys[i]] = vec
                missing = [i for i in missing if found[i] is None]
        return found, missing

    def put_many(self, fingerprint: str, prompts: list[str], vectors: np.ndarray) -> None:
        vecs = np.asarray(vectors, dtype=DTYPE)
        keys = [prompt_key(p) for p in prompts]
        with self._lock:
            mem = self._memory.setdefault(fingerprint, {})
            for k, v in zip(keys, vecs):
                mem[k] = v
            self._trim_memory()
            if self.directory is not None:
                self._write_disk(fingerprint, keys, vecs)

    def clear_memory(self) -> None:
        with self._lock:
            self._memory.clear()

    def disk_bytes(self) -> int:
        if self.directory is None or not self.directory.is_dir():
            return 0
        return sum(p.stat().st_size for p in self.directory.glob("text-*.sqlite*"))

    def close(self) -> None:
        with self._lock:
            for conn in self._conns.values():
                conn.close()
            self._conns.clear()

    # -- internals ----------------------------------------------------------------------------
    def _trim_memory(self) -> None:
        def size(vectors: dict) -> int:
            return len(vectors) * next(iter(vectors.values())).nbytes if vectors else 0

        total = sum(size(m) for m in self._memory.values())
        if total <= _MEMORY_LIMIT_BYTES:
            return
        for fp in list(self._memory):  # drop whole models, oldest inserted first
            total -= size(self._memory.pop(fp))
            if total <= _MEMORY_LIMIT_BYTES:
                break

    def _path(self, fingerprint: str) -> Path:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in fingerprint)
        return self.directory / f"text-{CACHE_FORMAT}-{safe}.sqlite"

    def _conn(self, fingerprint: str) -> sqlite3.Connection | None:
        conn = self._conns.get(fingerprint)
        if conn is not None:
            return conn
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self._path(fingerprint)
            conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("CREATE TABLE IF NOT EXISTS emb (key BLOB PRIMARY KEY, vec BLOB NOT NULL)")
            os.utime(path)  # the file's mtime marks it recently used
        except (OSError, sqlite3.Error):
            return None  # an unusable cache directory costs speed, never a check
        self._conns[fingerprint] = conn
        return conn

    def _read_disk(self, fingerprint: str, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        conn = self._conn(fingerprint)
        if conn is None:
            return {}
        out: dict[bytes, np.ndarray] = {}
        try:
            for start in range(0, len(keys), 900):
                chunk = keys[start:start + 900]
                marks = ",".join("?" * len(chunk))
                for key, blob in conn.execute(f"SELECT key, vec FROM emb WHERE key IN ({marks})", chunk):
                    out[bytes(key)] = np.frombuffer(blob, dtype=DTYPE)
        except sqlite3.Error:
            return out
        return out

    def _write_disk(self, fingerprint: str, keys: list[bytes], vecs: np.ndarray) -> None:
        if writes_stopped():   # a shutdown began: memory only (files.stop_writes)
            return
        conn = self._conn(fingerprint)
        if conn is None:
            return
        try:
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT OR IGNORE INTO emb (key, vec) VALUES (?, ?)",
                [(k, v.tobytes()) for k, v in zip(keys, vecs)],
            )
            conn.execute("COMMIT")
        except sqlite3.Error:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            return
        self._enforce_bound(keep=self._path(fingerprint))

    def _enforce_bound(self, keep: Path) -> None:
        files = sorted(self.directory.glob("text-*.sqlite"), key=lambda p: p.stat().st_mtime)
        total = self.disk_bytes()
        for path in files:
            if total <= self.max_bytes:
                return
            if path == keep:
                continue
            fp_size = sum(q.stat().st_size for q in path.parent.glob(path.name + "*"))
            for fp, conn in list(self._conns.items()):
                if self._path(fp) == path:
                    conn.close()
                    del self._conns[fp]
            for q in path.parent.glob(path.name + "*"):
                q.unlink(missing_ok=True)
            total -= fp_size
        if total > self.max_bytes:  # one model's file alone is over the bound: drop its oldest rows
            conn = self._conns.get(next((fp for fp in self._conns if self._path(fp) == keep), ""), None)
            if conn is not None:
                # down to 80% of the bound, so that the next writes do not each trim and VACUUM again
                row_bytes = max(1, total // max(1, conn.execute("SELECT COUNT(*) FROM emb").fetchone()[0]))
                excess = (total - int(self.max_bytes * 0.8)) // row_bytes + 1
                conn.execute("DELETE FROM emb WHERE rowid IN (SELECT rowid FROM emb ORDER BY rowid LIMIT ?)",
                             (int(excess),))
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                conn.execute("VACUUM")


_default: TextEmbeddingCache | None = None
_default_lock = threading.Lock()


def default_cache() -> TextEmbeddingCache:
    """The process-wide cache (created on first use, so ``IDIA_CACHE_DIR`` set by then counts)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = TextEmbeddingCache()
        return _default


def reset_default_cache() -> None:
    global _default
    with _default_lock:
        if _default is not None:
            _default.close()
        _default = None
