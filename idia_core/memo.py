"""A bounded memo: at most ``size`` entries, the least recently used dropped first, safe to share
between threads. The one helper behind every in-process memo and record with a bound (pool
embeddings, reference sets, loaded models, what each session sent, the history a server wrote).

>>> m = BoundedMemo(2)
>>> m.put("a", 1); m.put("b", 2); m.get("a"); m.put("c", 3)
1
>>> sorted(m.keys())
['a', 'c']
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
_MISSING = object()


class BoundedMemo(Generic[K, V]):
    def __init__(self, size: int):
        if size < 1:
            raise ValueError("a bounded memo holds at least one entry")
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, default=None):
        """The value (now the most recently used), or ``default``."""
        with self._lock:
            value = self._items.get(key, _MISSING)
            if value is _MISSING:
                return default
            self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` as the most recently used; the least recently used beyond ``size`` go."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get_or_put(self, key: K, make: Callable[[], V]) -> V:
        """The value for ``key``; made by ``make()`` (outside the lock) and kept when missing."""
        value = self.get(key, _MISSING)
        if value is _MISSING:
            value = make()
            self.put(key, value)
        return value

    def pop(self, key: K, default=None):
        with self._lock:
            return self._items.pop(key, default)

    def keys(self) -> list[K]:
        """The keys, least recently used first."""
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __contains__(self, key) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
