"""Which temporary files each live session holds, so that a closing session's files are removed.

Gradio keeps every upload in its temporary folder (``GRADIO_TEMP_DIR``) under a folder named by a
hash of the content, so two sessions that upload the same photo share one file. The app claims the
files a session sends or is shown (``claim``) and its private folder of charts and reports
(``claim_folder``); when the session ends (the browser disconnects, or a stateless call returns) it
``release``s them: each file no other live session holds is deleted, with its content-hash folder
when that is left empty. Only paths inside ``root`` are ever deleted, and never a ``protected`` one
(the app's examples), so nothing outside gradio's temporary folder can be touched by a session.

Uploads are not tied to a session until its handler runs, so a session that re-uploads a shared
photo may not have claimed it yet when another holder closes. Gradio moves every upload into place
(replacing the file), so each claim records the file's identity (device, inode, ctime); a release
deletes a file only while it is still the version last claimed — a newer copy belongs to an upload
whose session has not claimed it yet, and that session deletes it when it ends.

Uploads are counted from the moment they arrive (``uploaded``, fed by the app from gradio's
record of uploads) until a request claims them: two visitors who upload the same photo get the same
path, and the first to finish must not delete the copy the second has not claimed yet (its request
may wait in the queue for minutes). An upload nobody claims within ``pending_ttl`` seconds is no
longer counted (``sweep`` deletes it when no one holds it). Ownership is counted per request (a
``check`` call, one chat turn) and per session.

A session that has been released is remembered as closed for a while (``is_closed``): a turn that
finishes after its page went away must delete what it wrote instead of claiming it for a session
that will never be released again. ``IdleSessions`` tells which sessions have been idle too long
(REST-API clients never send a disconnect).

No gradio import: plain paths in, paths deleted out, testable on its own.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections import OrderedDict, defaultdict
from pathlib import Path
from typing import Callable, Iterable


def _inside(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([os.path.realpath(path), root]) == root
    except ValueError:   # different drives
        return False


def _identity(path: str) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_ctime_ns)


class SessionFiles:
    def __init__(self, root: str | os.PathLike, protected: Callable[[], Iterable[str]] | None = None,
                 pending_ttl: float = 1800.0, remember_closed: int = 10000):
        self.root = os.path.realpath(root)
        self._protected = protected or (lambda: ())
        self._lock = threading.Lock()
        self._files: dict[str, set[str]] = defaultdict(set)     # session -> file paths
        self._folders: dict[str, set[str]] = defaultdict(set)   # session -> private folders
        self._claimed: dict[str, tuple] = {}                     # file path -> identity at last claim
        self._pending: dict[str, list[float]] = defaultdict(list)  # file path -> arrival of unclaimed uploads
        self._closed: OrderedDict[str, float] = OrderedDict()    # released sessions, newest last
        self.pending_ttl = pending_ttl
        self._remember_closed = remember_closed

    def uploaded(self, paths: Iterable[str]) -> None:
        """Uploads that arrived (one entry per upload, the same path twice for two uploads of the
        same bytes): each is counted as held until a request claims it or ``pending_ttl`` passes."""
        now = time.monotonic()
        with self._lock:
            for p in paths:
                if p and _inside(str(p), self.root):
                    self._pending[os.path.realpath(str(p))].append(now)

    def claim(self, session: str, paths: Iterable[str], *, upload: bool = True) -> None:
        """Record that ``session`` (a request or a session) holds these files (paths outside ``root``
        are ignored). ``upload``: the paths are the request's own uploads, so each takes over one
        counted upload of its path; ``False`` when a holder takes files another already claimed."""
        real = [os.path.realpath(str(p)) for p in paths if p and _inside(str(p), self.root)]
        if real:
            with self._lock:
                self._files[session] |= set(real)
                for path in real:
                    if upload and self._pending.get(path):
                        self._pending[path].pop(0)
                        if not self._pending[path]:
                            del self._pending[path]
                    ident = _identity(path)
                    if ident is not None:
                        self._claimed[path] = ident

    def is_closed(self, session: str) -> bool:
        with self._lock:
            return session in self._closed

    def reopen(self, session: str) -> None:
        """A new turn of a session released before (an API client coming back): it is live again."""
        with self._lock:
            self._closed.pop(session, None)

    def _live_pending(self, now: float) -> set[str]:
        for path in list(self._pending):
            fresh = [t for t in self._pending[path] if now - t < self.pending_ttl]
            if fresh:
                self._pending[path] = fresh
            else:
                del self._pending[path]
        return set(self._pending)

    def claim_folder(self, session: str, folder: str | os.PathLike | None) -> None:
        """Record a folder that belongs to ``session`` alone (its charts and reports)."""
        if folder and _inside(str(folder), self.root):
            with self._lock:
                self._folders[session].add(os.path.realpath(str(folder)))

    def holders(self, path: str) -> list[str]:
        real = os.path.realpath(path)
        with self._lock:
            return [s for s, files in self._files.items() if real in files]

    def sessions(self) -> list[str]:
        with self._lock:
            return sorted(set(self._files) | set(self._folders))

    def release(self, session: str) -> list[str]:
        """Forget ``session`` and delete what only it held. Returns the paths deleted. Safe to call
        for an unknown session or twice."""
        protected = {os.path.realpath(p) for p in self._protected()}
        with self._lock:
            files = self._files.pop(session, set())
            folders = self._folders.pop(session, set())
            still_held = set().union(*self._files.values()) if self._files else set()
            orphans = sorted(files - still_held - protected - self._live_pending(time.monotonic()))
            claimed = {p: self._claimed.pop(p, None) for p in orphans}
            if not session.startswith("request-"):
                self._closed[session] = time.monotonic()
                self._closed.move_to_end(session)
                while len(self._closed) > self._remember_closed:
                    self._closed.popitem(last=False)
        # a path replaced by a newer upload not yet claimed stays: its session deletes it
        deleted = _delete_uploads([p for p in orphans if _identity(p) == claimed[p]], self.root)
        for folder in sorted(folders):
            if folder != self.root and os.path.isdir(folder):
                shutil.rmtree(folder, ignore_errors=True)
                deleted.append(folder)
        return deleted

    def sweep(self) -> list[str]:
        """Delete uploads that were never claimed within ``pending_ttl`` and that no one holds."""
        protected = {os.path.realpath(p) for p in self._protected()}
        now = time.monotonic()
        with self._lock:
            expired = [p for p, times in self._pending.items() if all(now - t >= self.pending_ttl for t in times)]
            for p in expired:
                del self._pending[p]
            held = set().union(*self._files.values()) if self._files else set()
            doomed = [p for p in expired if p not in held and p not in protected]
        return _delete_uploads(doomed, self.root)

    def release_all(self) -> list[str]:
        """Release every session (a clean shutdown)."""
        deleted = []
        for session in self.sessions():
            deleted += self.release(session)
        with self._lock:
            pending = list(self._pending)
            self._pending.clear()
        return deleted + _delete_uploads(pending, self.root)


def _delete_uploads(paths, root: str) -> list[str]:
    """Delete each upload (already gone: skipped) and its content-hash folder once empty; the
    paths deleted."""
    deleted = []
    for path in paths:
        try:
            os.remove(path)
        except OSError:
            continue
        deleted.append(path)
        _remove_empty_parent(path, root)
    return deleted


def _remove_empty_parent(path: str, root: str) -> None:
    parent = Path(path).parent
    if str(parent) != root and _inside(str(parent), root):
        try:
            parent.rmdir()   # only when empty: the content-hash folder of this upload
        except OSError:
            pass


class TrackedUploads(set):
    """A stand-in for gradio's record of uploaded paths (``Blocks.upload_file_set``) that also
    tells ``on_upload`` of every upload as it arrives (gradio calls ``update`` once per upload
    request with the paths it wrote)."""

    def __init__(self, existing: Iterable[str], on_upload: Callable[[list[str]], None]):
        super().__init__(existing)
        self._on_upload = on_upload

    def update(self, *iterables) -> None:
        for items in iterables:
            items = [str(p) for p in items]
            self._on_upload(items)
            super().update(items)

    def add(self, item) -> None:
        self._on_upload([str(item)])
        super().add(item)


class IdleSessions:
    """When each session last did something; which have been idle longer than ``idle_s``. A session
    with a turn in progress (``busy``) is never idle, however long the turn takes."""

    def __init__(self, idle_s: float):
        self.idle_s = idle_s
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}
        self._busy: dict[str, int] = defaultdict(int)

    def touch(self, session: str) -> None:
        with self._lock:
            self._seen[session] = time.monotonic()

    @contextlib.contextmanager
    def busy(self, session: str):
        """While the block runs the session is in use; it is touched when the block ends."""
        with self._lock:
            self._busy[session] += 1
            self._seen[session] = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self._busy[session] -= 1
                if self._busy[session] <= 0:
                    del self._busy[session]
                self._seen[session] = time.monotonic()

    def forget(self, session: str) -> None:
        with self._lock:
            self._seen.pop(session, None)

    def expired(self) -> list[str]:
        """Sessions idle longer than ``idle_s``; they are forgotten here (the caller releases them)."""
        now = time.monotonic()
        with self._lock:
            old = [s for s, t in self._seen.items() if now - t > self.idle_s and s not in self._busy]
            for s in old:
                del self._seen[s]
        return old
