"""One turn at a time per session: messages a session sends while its turn runs wait, in order,
and that turn answers them after its own (so none is lost, and none runs on stale state)."""
from __future__ import annotations

import threading
from collections import deque

from .replies import UserMessage


class TurnGate:
    """One turn at a time per session; messages that arrive while a turn runs are kept, in order,
    and answered by that turn after its own (so none is lost, and none runs on stale state)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pending: dict[str, deque] = {}

    def begin(self, key: str, message: UserMessage) -> bool:
        """True: run now. False: a turn of this session is running; the message is kept for it."""
        with self._lock:
            if key in self._pending:
                self._pending[key].append(message)
                return False
            self._pending[key] = deque()
            return True

    def next_or_end(self, key: str) -> UserMessage | None:
        """The next kept message, or None (and the session is idle again)."""
        with self._lock:
            queue = self._pending.get(key)
            if queue:
                return queue.popleft()
            self._pending.pop(key, None)
            return None

    def abandon(self, key: str) -> None:
        with self._lock:
            self._pending.pop(key, None)

    def busy(self, key: str) -> bool:
        with self._lock:
            return key in self._pending


TURNS = TurnGate()
