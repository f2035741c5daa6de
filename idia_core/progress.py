"""The one progress callback every long step reports through, and the honest share of a job of
several steps.

``progress(done, total, message)``: ``done`` of ``total`` units (prompts, photos, people, stages)
are finished, and ``message`` says in words what is happening ("Encoding 1000 names for this
model — about 40 s left", "Checking 50 look-alikes"). The CLI draws it as a bar, the chat as one
line beside the chat, and tests collect it; callers that do not care pass ``None`` (see ``report``).

``Steps`` turns a job of several steps (one check: its names, its photos, the reference people, the
controls) into one line whose share of the whole is a share of *time*: the seconds spent so far
over those plus the seconds still expected, each step's remaining seconds estimated from the rate
measured on its units in this process (``measure``/``seconds_per_unit``). The share never goes
back and never reaches ``total`` while the job runs (at most ``CAP``): a job is done when its
caller returns, not when its last estimate ran out.
"""
from __future__ import annotations

import math
import threading
import time
from typing import Callable

Progress = Callable[[int, int, str], None]

SCALE = 1000          # ``Steps`` reports done of SCALE
CAP = 0.95            # the most a running job ever shows
_RATES: dict[tuple[str, str], float] = {}    # (step, model fingerprint) -> seconds per unit, last measured
_LOCK = threading.Lock()


def report(progress: Progress | None, done: int, total: int, message: str) -> None:
    """Call ``progress`` when there is one (a ``None`` callback is the usual "nobody listens")."""
    if progress is not None:
        progress(done, total, message)


def format_seconds(seconds: float) -> str:
    """A rounded duration: '5 s', '40 s', '2 min', '1 h 5 min'."""
    if seconds < 10:
        return f"{max(1, math.ceil(seconds))} s"
    if seconds < 60:
        return f"{int(5 * math.ceil(seconds / 5))} s"
    if seconds < 3600:
        minutes = seconds / 60
        return f"{minutes:.1f} min".replace(".0 min", " min") if minutes < 3 else f"{round(minutes)} min"
    return f"{int(seconds // 3600)} h {round((seconds % 3600) / 60)} min"


def measure(step: str, key: str, units: float, seconds: float) -> None:
    """Record that ``units`` of ``step`` took ``seconds`` on the model ``key`` (its fingerprint)."""
    if units > 0 and seconds > 0:
        with _LOCK:
            _RATES[(step, key)] = seconds / units


def seconds_per_unit(step: str, key: str) -> float | None:
    """Seconds per unit of ``step`` last measured on this model in this process, or None."""
    with _LOCK:
        return _RATES.get((step, key))


class RateClock:
    """Time left for ``total`` units from the rate measured since the clock started."""

    def __init__(self, total: int):
        self.total = total
        self.started = time.perf_counter()

    def left_s(self, done: int) -> float | None:
        elapsed = time.perf_counter() - self.started
        return None if done <= 0 or elapsed <= 0 else elapsed / done * max(0, self.total - done)

    def left_text(self, done: int) -> str:
        left = self.left_s(done)
        return "a moment" if left is None else format_seconds(left)


class Steps:
    """One job of named steps as one progress line (see the module docstring).

    ``planned``: (step, expected seconds) in order, ``None`` seconds for a step not yet known (it
    counts from its first report). ``step(name)`` gives that step's own ``Progress``: its
    ``done``/``total`` are its units, its message is shown as it is."""

    def __init__(self, progress: Progress | None, planned: list[tuple[str, float | None]]):
        self._progress = progress
        self._expected = {name: secs for name, secs in planned}
        self._order = [name for name, _ in planned]
        self._spent: dict[str, float] = {}            # finished steps: seconds they took
        self._current: tuple[str, float] | None = None    # (step, its start)
        self._shown = 0.0
        self._lock = threading.Lock()

    def step(self, name: str, per_unit: float | None = None) -> Progress | None:
        """Step ``name``'s own callback. ``per_unit``: its expected seconds per unit, for the time
        left before its first unit is done (after that, the rate it shows)."""
        if self._progress is None:
            return None
        return lambda done, total, message: self._report(name, done, total, message, per_unit)

    def say(self, name: str, message: str) -> None:
        """Step ``name`` begins (its words at once, before its first unit is done)."""
        self._report(name, 0, 0, message)

    def _begin(self, name: str, now: float) -> None:
        if self._current is not None and self._current[0] != name:
            prev, started = self._current
            self._spent[prev] = now - started
            self._current = None
        if self._current is None:
            for earlier in self._order[:self._order.index(name)] if name in self._order else ():
                self._spent.setdefault(earlier, 0.0)     # skipped: nothing to do
            self._current = (name, now)

    def _report(self, name: str, done: int, total: int, message: str, per_unit: float | None = None) -> None:
        if self._progress is None:
            return
        now = time.perf_counter()
        with self._lock:
            self._begin(name, now)
            elapsed_here = now - self._current[1]
            if total and done:
                left_here = elapsed_here / done * max(0, total - done)
            elif total and per_unit:
                left_here = max(0.0, per_unit * total - elapsed_here)
            else:
                left_here = max(0.0, (self._expected.get(name) or 0.0) - elapsed_here)
            later = [n for n in self._order if n not in self._spent and n != name]
            spent = sum(self._spent.values()) + elapsed_here
            ahead = left_here + sum(self._expected.get(n) or 0.0 for n in later)
            share = spent / (spent + ahead) if spent + ahead > 0 else 0.0
            self._shown = max(self._shown, min(CAP, share))
            shown = self._shown
        self._progress(int(shown * SCALE), SCALE, message)
