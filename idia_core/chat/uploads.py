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

No gradio import: plain paths in, paths deleted out, testable on its own.
"""
from __future__ import annotations

import os
import shutil
import threading
from collections import defaultdict
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
    def __init__(self, root: str | os.PathLike, protected: Callable[[], Iterable[str]] | None = None):
        self.root = os.path.realpath(root)
        self._protected = protected or (lambda: ())
        self._lock = threading.Lock()
        self._files: dict[str, set[str]] = defaultdict(set)     # session -> file paths
        self._folders: dict[str, set[str]] = defaultdict(set)   # session -> private folders
        self._claimed: dict[str, tuple] = {}                     # file path -> identity at last claim

    def claim(self, session: str, paths: Iterable[str]) -> None:
        """Record that ``session`` holds these files (paths outside ``root`` are ignored)."""
        keep = {os.path.realpath(str(p)) for p in paths if p and _inside(str(p), self.root)}
        if keep:
            with self._lock:
                self._files[session] |= keep
                for path in keep:
                    ident = _identity(path)
                    if ident is not None:
                        self._claimed[path] = ident

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
            orphans = sorted(files - still_held - protected)
            claimed = {p: self._claimed.pop(p, None) for p in orphans}
        deleted: list[str] = []
        for path in orphans:
            if _identity(path) != claimed[path]:
                continue   # replaced by a newer upload not yet claimed: its session deletes it
            try:
                os.remove(path)
                deleted.append(path)
            except FileNotFoundError:
                continue
            except OSError:
                continue
            parent = Path(path).parent
            if str(parent) != self.root and _inside(str(parent), self.root):
                try:
                    parent.rmdir()   # only when empty: the content-hash folder of this upload
                except OSError:
                    pass
        for folder in sorted(folders):
            if folder != self.root and os.path.isdir(folder):
                shutil.rmtree(folder, ignore_errors=True)
                deleted.append(folder)
        return deleted
