"""The conversation controller: (message text + files, session state) → (replies, new state).

No gradio here: the app hands in plain values and renders the ``Reply`` objects it gets back, so
the whole conversation is testable without a browser. ``handle`` takes a message's photos in
(``photos``), parses its words (``intents``) and dispatches the intent to its handler
(``handlers``, ``name_handlers``, ``setting_handlers``, ``compare``); ``handle_in_order`` runs the
messages one session sent while a turn ran, in order; ``change_setting`` is a settings control.
Rules every handler keeps:

- every check goes through ``run_idia`` (validation, caches, the attack); nothing is recomputed;
- every mistake a user can make is answered with the core's message and the state as it was;
- a check runs again by itself whenever something it depends on changed (photos, name, names,
  settings) and it has a name and photos, so "tau 3" after a verdict simply gives the new verdict;
- a session's files (charts, reports) live in its own temp folder, deleted when it closes.
"""
from __future__ import annotations

from ..attack.settings import FIELD
from ..progress import Progress
from . import views
from .compare import on_compare
from .handlers import (on_ack, on_clear_photos, on_explain, on_help, on_none, on_open_link, on_question, on_report,
                       on_reset, on_share, on_status, on_too_long, on_unknown, on_who_is_this)
from .intents import Intent, parse
from .name_handlers import on_add_names, on_name, on_remove_names
from .photos import accept_photos
from .replies import Reply, Turn, UserMessage, say
from .session import ChatSession, copy_state
from .setting_handlers import on_adjust, on_paper_settings, on_set, on_undo
from .turns import TURNS, TurnGate


def handle(message: UserMessage, state: ChatSession, *, progress: Progress | None = None,
           base_url: str = "") -> Turn:
    """One user message → replies and the next state. Never raises for user mistakes."""
    state = copy_state(state)
    replies: list[Reply] = []
    photos_changed = False
    expecting_name, state.awaiting_name = state.awaiting_name, False
    thumbs: list = []
    if message.files:
        photos_changed = accept_photos(state, message.files, replies, thumbs)
    intent = parse(message.text, expecting_name=expecting_name)
    handler = _HANDLERS.get(intent.kind, on_unknown)
    if intent.kind == "unknown" and photos_changed:
        handler = on_none
    state = handler(intent, state, replies, progress=progress, base_url=base_url,
                    photos_changed=photos_changed) or state
    if not replies:
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
    state = copy_state(state)
    replies: list[Reply] = []
    text = "" if value is None else str(value)
    if FIELD[fld].whole and isinstance(value, float) and value.is_integer():
        text = str(int(value))   # a number control sends 3.0 for 3
    state = on_set(Intent("set", value=text, setting=fld), state, replies, progress=progress) or state
    return Turn(state, replies)


_HANDLERS = {
    "none": on_none, "unknown": on_unknown, "help": on_help, "reset": on_reset, "status": on_status,
    "clear_photos": on_clear_photos, "name": on_name, "add_names": on_add_names,
    "remove_names": on_remove_names, "set": on_set, "explain": on_explain, "report": on_report,
    "share": on_share, "compare": on_compare, "open_link": on_open_link,
    "too_long": on_too_long, "ack": on_ack, "who_is_this": on_who_is_this, "question": on_question,
    "undo": on_undo, "adjust": on_adjust, "paper_settings": on_paper_settings,
}
