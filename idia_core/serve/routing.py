"""Which chat turns need the compute slots, so that cheap turns are never queued behind checks.

A turn with photos, a name, added or removed names, a changed setting or a comparison may load a
model and run a check; it waits for one of the server's few compute slots. Everything else (help,
status, share, report, why?, reset, opening a link, a message not understood) only reads the
session and is answered at once, even while long checks hold every slot. Which kinds are cheap is
said by the command table (``chat.commands.COMMANDS``); a kind it does not mark cheap counts as
compute: the safe side.
"""
from __future__ import annotations

from ..memo import BoundedMemo
from .admission import CHEAP, COMPUTE
from ..chat.commands import is_cheap, parse


def needs_compute(text: str, files=()) -> bool:
    """Whether the turn (message text and uploaded files) may run a check or load a model."""
    if files:
        return True   # photos are decoded, and a check may follow
    try:
        kind = parse(text or "").kind
    except Exception:   # the controller will answer it; let it wait its turn
        return True
    return not is_cheap(kind)


def event_kind(fn_name: str, data, sent=None) -> str:
    """``COMPUTE`` or ``CHEAP`` for an event about to join the queue (``admission``): ``fn_name`` is
    its handler's name, ``data`` the inputs as the client sent them (not trusted: anything odd counts
    as compute). A chat message is cheap when ``needs_compute`` says so; the buttons (share, report,
    why?, reset) are cheap; ``check``, settings and anything else may compute. ``sent`` (optional)
    answers for a chat event whose message is the server's own outbox (``SentKinds.take``)."""
    if fn_name == "chat":
        message = data[0] if isinstance(data, list) and data else None
        if message is None and sent is not None:   # the browser's turn: its message waits in the outbox
            return sent()
        if not isinstance(message, dict):
            return COMPUTE
        text, files = message.get("text"), message.get("files")
        if (text is not None and not isinstance(text, str)) or (files is not None and not isinstance(files, list)):
            return COMPUTE
        return COMPUTE if needs_compute(text or "", files or ()) else CHEAP
    if fn_name.startswith("say_"):
        return CHEAP
    return COMPUTE


class SentKinds:
    """The kind (``COMPUTE`` or ``CHEAP``) of the message each session's box has just sent.

    The browser's chat turn reads its message from a server-side outbox (a ``gr.State``), so the
    event that joins the queue carries no text to classify. ``echo`` runs at once, outside the
    queue, and notes the message's kind here; the queue's admission takes it (once) when that
    session's chat event arrives. Unknown sessions, and a second event for one message, count as
    compute: the safe side. At most ``limit`` sessions are remembered (the oldest are forgotten)."""

    def __init__(self, limit: int = 10_000):
        self._kinds: BoundedMemo[str, str] = BoundedMemo(limit)

    def note(self, session: str | None, text: str, files=()) -> None:
        if session:
            self._kinds.put(session, COMPUTE if needs_compute(text, files) else CHEAP)

    def take(self, session: str | None) -> str:
        return self._kinds.pop(session, COMPUTE) if session else COMPUTE
