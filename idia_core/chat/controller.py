"""The conversation controller: (message text + files, session state) → (replies, new state).

No gradio here: the server hands in plain values and renders the ``Reply`` objects it gets back, so
the whole conversation is testable without a browser. ``handle`` takes a message's photos in
(``photos``), parses its words (``commands.parse``) and runs the command's handler (one table:
``commands.COMMANDS``); ``handle_in_order`` runs the messages one session sent while a turn ran, in
order; ``change_setting`` is a settings control. Rules every handler keeps:

- it returns the next state and its replies (``(state, replies)``), never changing the state it got;
- every check goes through ``run_idia`` (validation, caches, the attack); nothing is recomputed;
- every mistake a user can make is answered with the core's message and the state as it was;
- a check runs again by itself whenever something it depends on changed (photos, name, names,
  settings) and it has a name and photos, so "tau 3" after a verdict simply gives the new verdict;
- a session's files (charts, reports) live in its own temp folder, deleted when it closes.
"""
from __future__ import annotations

from dataclasses import replace

from ..attack.settings import FIELD
from ..progress import Progress
from . import views
from .commands import COMMAND, parse
from .intents import Intent
from .photos import accept_photos
from .replies import Reply, Turn, UserMessage, say
from .session import ChatSession, copy_state
from .setting_handlers import on_set
from .turns import TURNS, TurnGate


def handle(message: UserMessage, state: ChatSession, *, progress: Progress | None = None,
           base_url: str = "") -> Turn:
    """One user message → replies and the next state. Never raises for user mistakes."""
    state = copy_state(state)   # the live state is never touched (its result is shared, not copied)
    expecting_name = state.awaiting_name
    state = replace(state, awaiting_name=False)
    replies: list[Reply] = []
    thumbs: list = []
    photos_changed = False
    if message.files:
        taken = accept_photos(state, message.files)
        state, replies, thumbs, photos_changed = taken.state, [taken.reply], taken.thumbs, taken.accepted
    intent = parse(message.text, expecting_name=expecting_name)
    kind = "none" if intent.kind == "unknown" and photos_changed else intent.kind
    state, more = COMMAND.get(kind, COMMAND["unknown"]).handler(intent, state, progress=progress, base_url=base_url,
                                                                photos_changed=photos_changed)
    replies += more
    if not replies:   # an empty message (a rejected upload has been answered already)
        replies.append(Reply(say("unknown"), kind="help"))
    strip = views.photo_strip(thumbs, state.ensure_workdir()) if thumbs else None
    return Turn(state, replies, photo_strip=str(strip) if strip else None)


def handle_in_order(key: str, message: UserMessage, state: ChatSession, *, gate: TurnGate = TURNS,
                    **kwargs) -> list[tuple[UserMessage, Turn]]:
    """Run this message's turn, then every message the same session (``key``) sent meanwhile, in
    order, each on the state the previous one left. Returns ``[]`` when another turn of the session
    is running: the message is kept and that turn answers it."""
    if not gate.begin(key, message):
        return []
    done: list[tuple[UserMessage, Turn]] = []
    try:
        while message is not None:
            turn = handle(message, state, **kwargs)
            done.append((message, turn))
            state = turn.state
            message = gate.next_or_end(key)
    except BaseException:
        gate.abandon(key)
        raise
    return done


def change_setting(state: ChatSession, fld: str, value, *, progress: Progress | None = None) -> Turn:
    """A settings control changed: the same validation, reply and re-run as typing it."""
    if fld not in FIELD:
        raise ValueError(f"unknown settings field {fld!r}")   # a programming error, not a user one
    text = "" if value is None else str(value)
    if FIELD[fld].whole and isinstance(value, float) and value.is_integer():
        text = str(int(value))   # a number control sends 3.0 for 3
    state, replies = on_set(Intent("set", value=text, setting=fld), copy_state(state), progress=progress)
    return Turn(state, replies)
