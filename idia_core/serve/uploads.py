"""Which temporary files each live session holds, so that a closing session's files are removed.

Gradio keeps every upload in its temporary folder (``GRADIO_TEMP_DIR``) under a folder named by a
hash of the content, so two sessions that upload the same photo share one file. The server claims the
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

Uploads are counted from the moment they arrive (``uploaded``, fed by the server from gradio's
record of uploads) until a request claims them: two visitors who upload the same photo get the same
path, and the first to finish must not delete the copy the second has not claimed yet (its request
may wait in the queue for minutes). An upload nobody claims within ``pending_ttl`` seconds is no
longer counted (``sweep`` deletes it when no one holds it). Ownership is counted per request (a
``check`` call, one chat turn) and per session.

A session that has been released is remembered as closed for a while (``is_closed``): a turn that
finishes after its page went away must delete what it wrote instead of claiming it for a session
that will never be released again. ``IdleSessions`` tells which sessions have been idle too long
(REST-API clients never send a disconnect).

Uploads are also bounded as they arrive (issue 23: 20 × 24 MB in 3.7 s from one client, kept
until a 30-minute sweep):

- ``UploadQuota`` admits an upload request (before gradio writes a byte; ``gates.UploadGate``)
  only while its client address has under ``pending_bytes`` of uploads no request has claimed yet
  and under ``window_bytes``/``window_requests`` in the last ``window_s`` seconds;
- an upload nobody claims lives ``unclaimed_ttl`` seconds (5 minutes), no longer; an event waiting
  in the queue holds the uploads it names (``queued``), so a visitor whose turn waits keeps them;
- a file of a type the app never reads (SVG, HTML, scripts, documents: ``images.not_a_photo_type``) is
  deleted the moment it arrives;
- each upload is moved to a folder of its own with a random name (``private_path``): gradio names the
  folder by the file's content hash, so anyone who had a photo could ask the file route whether
  some session held it right now (403 vs 200). A private path is known to its uploader only.

No gradio import: plain paths in, paths deleted out, testable on its own.
"""
from __future__ import annotations

import contextlib
import contextvars
import os
import secrets
import shutil
import threading
import time
from collections import OrderedDict, defaultdict, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from .. import config
from ..images import not_a_photo_type

UNCLAIMED_TTL_S = 300.0    # seconds an upload no request has claimed is kept
# the client address of the upload request being handled (set by gates.UploadGate)
UPLOADER: contextvars.ContextVar[str | None] = contextvars.ContextVar("idia_uploader", default=None)


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
                 pending_ttl: float = 1800.0, remember_closed: int = 10000,
                 queued: Callable[[], Iterable[str]] | None = None):
        self.root = os.path.realpath(root)
        self._protected = protected or (lambda: ())
        self._queued = queued or (lambda: ())   # paths named by events still waiting in the queue
        self._lock = threading.Lock()
        self._files: dict[str, set[str]] = defaultdict(set)     # session -> file paths
        self._folders: dict[str, set[str]] = defaultdict(set)   # session -> private folders
        self._claimed: dict[str, tuple] = {}                     # file path -> identity at last claim
        self._pending: dict[str, list[float]] = defaultdict(list)  # file path -> arrival of unclaimed uploads
        self._owner: dict[str, tuple[str, int]] = {}             # unclaimed upload -> (client address, bytes)
        self._closed: OrderedDict[str, float] = OrderedDict()    # released sessions, newest last
        self.pending_ttl = pending_ttl
        self._remember_closed = remember_closed

    def uploaded(self, paths: Iterable[str], owner: str | None = None) -> None:
        """Uploads that arrived (one entry per upload, the same path twice for two uploads of the
        same bytes): each is counted as held until a request claims it or ``pending_ttl`` passes;
        ``owner`` (the uploading client's address) is charged its bytes meanwhile (``pending_bytes``)."""
        now = time.monotonic()
        with self._lock:
            for p in paths:
                if p and _inside(str(p), self.root):
                    real = os.path.realpath(str(p))
                    self._pending[real].append(now)
                    if owner is not None:
                        with contextlib.suppress(OSError):
                            self._owner[real] = (owner, os.path.getsize(real))

    def pending_bytes(self, owner: str) -> int:
        """Bytes of uploads from ``owner`` that no request has claimed yet (and not expired)."""
        now = time.monotonic()
        with self._lock:
            live = self._live_pending(now)
            return sum(size for path, (who, size) in self._owner.items() if who == owner and path in live)

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
                            self._owner.pop(path, None)
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
        """Uploads still counted as held (an arrival within ``pending_ttl``). Only reads: an expired
        one stays recorded until ``sweep`` deletes it — forgotten here, it would be deleted by no one."""
        return {path for path, times in self._pending.items() if any(now - t < self.pending_ttl for t in times)}

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
        waiting = {os.path.realpath(str(p)) for p in self._queued()}
        with self._lock:
            now = time.monotonic()
            files = self._files.pop(session, set())
            folders = self._folders.pop(session, set())
            still_held = set().union(*self._files.values()) if self._files else set()
            orphans = sorted(files - still_held - protected - self._live_pending(now))
            for path in [p for p in orphans if p in waiting]:   # a queued event will claim it: kept,
                self._pending[path].append(now)                  # counted as a fresh upload meanwhile
            orphans = [p for p in orphans if p not in waiting]
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
        """Delete uploads that were never claimed within ``pending_ttl`` and that no one holds (nor
        an event waiting in the queue)."""
        protected = {os.path.realpath(p) for p in self._protected()}
        waiting = {os.path.realpath(str(p)) for p in self._queued()}
        now = time.monotonic()
        with self._lock:
            expired = [p for p, times in self._pending.items()
                       if p not in waiting and all(now - t >= self.pending_ttl for t in times)]
            for p in expired:
                del self._pending[p]
                self._owner.pop(p, None)
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
            self._owner.clear()
        return deleted + _delete_uploads(pending, self.root)


def delete_uploads_inside(paths: Iterable[str], root: str | os.PathLike) -> list[str]:
    """Delete the files among ``paths`` that lie inside ``root`` (and their folders once empty); the
    paths deleted. For a shutdown: everything gradio recorded as written for visitors."""
    real_root = os.path.realpath(root)
    return _delete_uploads([os.path.realpath(str(p)) for p in paths if p and _inside(str(p), real_root)], real_root)


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
    request with the list of paths it wrote, then returns that very list to the client).

    ``arrive`` (optional) sees each request's uploads first and returns their paths as the client
    should know them (``arrive_privately``: moved to private folders, refused types deleted); the
    list gradio passed is updated in place, so the client gets those paths. ``on_upload`` may take
    the uploader's address as ``owner`` (``UPLOADER``, set by the upload gate)."""

    def __init__(self, existing: Iterable[str], on_upload: Callable[..., None],
                 arrive: Callable[[list[str]], list[str | None]] | None = None):
        super().__init__(existing)
        self._on_upload = on_upload
        self._arrive = arrive

    def update(self, *iterables) -> None:
        for items in iterables:
            paths = [str(p) for p in items]
            if self._arrive is not None:
                placed = self._arrive(paths)
                if isinstance(items, list):
                    items[:] = [new if new is not None else old for old, new in zip(paths, placed)]
                paths = [p for p in placed if p is not None]
            owner = UPLOADER.get()
            if owner is None:
                self._on_upload(paths)
            else:
                self._on_upload(paths, owner=owner)
            super().update(paths)

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

    def reap_forever(self, close: Callable[[str], None], sweep: Callable[[], None]) -> None:
        """Every third of ``idle_s`` (0.5 s to 60 s): ``close`` each expired session, then ``sweep``.
        Never returns (a daemon thread's loop). REST clients never disconnect, so without this their
        state, uploads, charts, reports and private embeddings would stay until the process ends;
        an error is logged by its type only and the loop goes on."""
        period = max(0.5, min(60.0, self.idle_s / 3))
        while True:
            time.sleep(period)
            try:
                for session in self.expired():
                    close(session)
                sweep()
            except Exception as exc:  # pragma: no cover - keep reaping
                print(f"idia: idle-session sweep failed: {type(exc).__name__}")


# -- arrival: private paths, refused types, quota ------------------------------------------------------
def private_path(path: str, root: str) -> str:
    """Move an upload from gradio's content-hash folder to a folder of its own with a random name,
    and return the new path (the old folder goes when empty). A path outside ``root``, or one that
    is not there (yet), is returned as it is."""
    real = os.path.realpath(path)
    root = os.path.realpath(root)
    if not _inside(real, root) or not os.path.isfile(real):
        return path
    folder = os.path.join(root, "u-" + secrets.token_hex(16))
    os.makedirs(folder)
    target = os.path.join(folder, os.path.basename(real))
    os.rename(real, target)
    _remove_empty_parent(real, root)
    return target


def arrive_privately(root: str, protected: Callable[[], Iterable[str]] | None = None
                     ) -> Callable[[list[str]], list[str | None]]:
    """The ``arrive`` hook of ``TrackedUploads``: each upload moved to a private folder; one the app
    never reads deleted at once (its path is kept for the client, but nothing is there any more and
    it is not counted as held). An upload of a ``protected`` file's bytes (an example photo, which
    gradio keeps at the same content-hash path) stays where it is: it is public anyway, and moving
    it would take the example away from everyone."""
    def arrive(paths: list[str]) -> list[str | None]:
        shared = {os.path.realpath(p) for p in (protected() if protected else ())}
        placed: list[str | None] = []
        for path in paths:
            if os.path.realpath(path) in shared:
                placed.append(path)
            elif not_a_photo_type(path):
                _delete_uploads([os.path.realpath(path)], os.path.realpath(root))
                placed.append(None)
            else:
                try:
                    placed.append(private_path(path, root))
                except OSError:
                    placed.append(path)
        return placed
    return arrive


def unclaimed_ttl(environ=None) -> float:
    """Seconds an unclaimed upload is kept: ``IDIA_UPLOAD_TTL_S``, else ``UNCLAIMED_TTL_S``."""
    return max(1.0, config.number("IDIA_UPLOAD_TTL_S", UNCLAIMED_TTL_S, environ))


@dataclass(frozen=True)
class UploadLimits:
    pending_bytes: int | None = 1536 * 2**20   # unclaimed uploads of one address (one 50-photo check: 1.25 GB)
    window_bytes: int | None = 4 * 2**30       # uploaded by one address in window_s
    window_requests: int | None = 600          # upload requests of one address in window_s
    window_s: float = 600.0


def upload_limits(public: bool, environ=None) -> UploadLimits:
    """A public deployment's limits per client address (``IDIA_UPLOAD_PENDING_MB``,
    ``IDIA_UPLOAD_WINDOW_MB``, ``IDIA_UPLOAD_WINDOW_REQUESTS`` override them); none on a laptop."""
    if not public:
        return UploadLimits(None, None, None)
    def number(name: str, default: int | None, scale: int = 1):
        value = config.whole(name, None, environ)
        return value * scale if value is not None else default

    base = UploadLimits()
    return UploadLimits(number("IDIA_UPLOAD_PENDING_MB", base.pending_bytes, 2**20),
                        number("IDIA_UPLOAD_WINDOW_MB", base.window_bytes, 2**20),
                        number("IDIA_UPLOAD_WINDOW_REQUESTS", base.window_requests))


class UploadQuota:
    """Admits an upload request of ``n_bytes`` from ``address`` against ``UploadLimits``; the bytes
    an address has waiting unclaimed come from ``pending_bytes(address)`` (``SessionFiles``)."""

    def __init__(self, limits: UploadLimits, pending_bytes: Callable[[str], int]):
        self.limits = limits
        self._pending_bytes = pending_bytes
        self._lock = threading.Lock()
        self._recent: dict[str, deque] = defaultdict(deque)   # address -> (time, bytes) of its requests

    @property
    def limited(self) -> bool:
        lim = self.limits
        return any(x is not None for x in (lim.pending_bytes, lim.window_bytes, lim.window_requests))

    def admit(self, address: str, n_bytes: int, now: float | None = None) -> str | None:
        """None when the request may upload (it is then counted), else why not (for the client)."""
        lim = self.limits
        now = time.monotonic() if now is None else now
        if lim.pending_bytes is not None and self._pending_bytes(address) + n_bytes > lim.pending_bytes:
            return (f"You have uploaded {lim.pending_bytes // 2**20} MB of files that no message or check has used "
                    f"yet. Send them (or wait {unclaimed_ttl() / 60:.0f} minutes until they are deleted) before "
                    "uploading more.")
        with self._lock:
            recent = self._recent[address]
            while recent and now - recent[0][0] > lim.window_s:
                recent.popleft()
            if lim.window_requests is not None and len(recent) >= lim.window_requests:
                return f"Too many uploads from your address in {lim.window_s / 60:.0f} minutes; wait a little."
            if lim.window_bytes is not None and sum(b for _, b in recent) + n_bytes > lim.window_bytes:
                return (f"Your address uploaded more than {lim.window_bytes // 2**20} MB in "
                        f"{lim.window_s / 60:.0f} minutes; wait a little.")
            recent.append((now, n_bytes))
            if len(self._recent) > 50_000:   # addresses seen long ago
                for gone in [a for a, q in self._recent.items() if not q or now - q[-1][0] > lim.window_s][:10_000]:
                    del self._recent[gone]
        return None
