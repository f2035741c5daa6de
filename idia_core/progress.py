"""The one progress callback every long step reports through.

``progress(done, total, message)``: ``done`` of ``total`` units (prompts, photos, people, stages)
are finished, and ``message`` says in words what is happening ("Preparing 1000 names for this
model — about 40 s left", "embedding photos"). The CLI draws it as a bar, the chat as a line over
the chat, and tests collect it; callers that do not care pass ``None`` (see ``report``).
"""
from __future__ import annotations

from typing import Callable

Progress = Callable[[int, int, str], None]


def report(progress: Progress | None, done: int, total: int, message: str) -> None:
    """Call ``progress`` when there is one (a ``None`` callback is the usual "nobody listens")."""
    if progress is not None:
        progress(done, total, message)
