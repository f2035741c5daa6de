"""A server's shutdown in order: stop accepting turns, let running turns end (or cancel them), then
clean, and write nothing after that.

Before this, SIGTERM deleted what visitors had left and stopped the server while a check was still
running in a worker thread; that turn then finished and wrote the visitor's photo strip and verdict
chart into a folder nobody would delete again (issue 23). Now:

1. ``begin``: no new turn starts (``turn`` raises ``ShuttingDown``; the server answers "the server is
   restarting", and its queue refuses new events), and every file writer of the process is closed
   (``files.stop_writes``: a turn that gets further writes nothing).
2. ``wait``: running turns end on their own, or are cancelled at their next progress report
   (``guard`` wraps a turn's progress callback and raises ``ShuttingDown`` there: the core reports
   progress all through encoding, so a check stops within a fraction of a second). Up to a grace
   period; what still runs after it is abandoned — it can no longer write.
3. the caller cleans (uploads, session folders), knowing no turn will put anything back.

No gradio import; the server (``server.Server``) runs every turn inside ``turn`` with a ``guard``ed
progress, and calls ``shut_down`` from its SIGTERM handler.
"""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Callable

from ..files import WritesStopped, stop_writes

GRACE_S = 10.0   # how long a shutdown waits for running turns (Docker and Spaces allow ~10-30 s)


class ShuttingDown(Exception):
    """The server is shutting down: this turn does not start, or stops here."""


STOPPING = (ShuttingDown, WritesStopped)   # what a turn meets when the shutdown overtakes it


class Lifecycle:
    def __init__(self):
        self._cond = threading.Condition()
        self._closing = False
        self._running = 0

    @property
    def closing(self) -> bool:
        return self._closing

    @contextlib.contextmanager
    def turn(self):
        """One turn of a visitor (a chat message, a setting, a ``check`` call) while the block runs;
        ``ShuttingDown`` instead when the shutdown has begun."""
        with self._cond:
            if self._closing:
                raise ShuttingDown()
            self._running += 1
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()

    def guard(self, report: Callable | None) -> Callable:
        """``report`` (a progress callback), raising ``ShuttingDown`` once the shutdown began: the
        check it reports on stops at its next step."""
        def guarded(*args, **kwargs):
            if self._closing:
                raise ShuttingDown()
            if report is not None:
                return report(*args, **kwargs)
        return guarded

    def begin(self) -> None:
        """Stop accepting turns and close every writer (idempotent)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        stop_writes()

    def running(self) -> int:
        with self._cond:
            return self._running

    def wait(self, timeout: float = GRACE_S) -> bool:
        """Wait until no turn runs, at most ``timeout`` seconds; True when none does."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._running > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def shut_down(self, clean: Callable[[], None], timeout: float = GRACE_S) -> bool:
        """``begin``, ``wait`` (up to ``timeout``), then ``clean``; True when every turn had ended."""
        self.begin()
        ended = self.wait(timeout)
        clean()
        return ended
