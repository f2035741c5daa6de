"""The chat history a client sends back, trusted only where the server wrote it.

Gradio's chat hands every turn the history *the client* sends. Issue 23 forged one: an assistant
message holding a live ``<form>``, a link and a remote image, 10 MB of it, echoed back in every reply
(and, through gradio's deep links, into another visitor's chat). Here the server keeps, per session,
the digests of the messages it has put in that session's history (``HistoryRecord``: role and text,
SHA-256, at most ``MAX_MESSAGES`` of them); a client's history is then ``validated``:

- only messages whose role is ``user`` or ``assistant`` and whose content is text (a string, or
  gradio's list of text parts) are read; anything else (files, components, other roles, metadata)
  is dropped;
- only messages the server itself wrote in this session are kept — a forged or edited one never
  comes back, so nothing in the history is markup the client chose;
- at most the last ``MAX_MESSAGES`` messages and ``MAX_CHARS`` characters are kept.

No gradio import: messages are plain ``{"role", "content"}`` dicts.
"""
from __future__ import annotations

import hashlib

from ..memo import BoundedMemo

MAX_MESSAGES = 200          # messages of one session's history kept and sent back
MAX_CHARS = 400_000         # characters of text in it
MAX_SESSIONS = 20_000       # sessions remembered (least recently used dropped first)
ROLES = ("user", "assistant")


def message_text(message) -> str | None:
    """A message's text (its content as a string, or gradio's text parts joined), or None when the
    content is anything but text."""
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text"
                                         and isinstance(p.get("text"), str) for p in content):
        return "".join(p["text"] for p in content)
    return None


def _digest(role: str, text: str) -> str:
    return hashlib.sha256(f"{role}\0{text.strip()}".encode("utf-8", "surrogatepass")).hexdigest()


class HistoryRecord:
    """Per session, the digests of the messages the server wrote into its history."""

    def __init__(self, max_messages: int = MAX_MESSAGES, max_sessions: int = MAX_SESSIONS):
        self._sessions: BoundedMemo[str, BoundedMemo[str, None]] = BoundedMemo(max_sessions)
        self.max_messages, self.max_sessions = max_messages, max_sessions

    def note(self, session: str, messages) -> None:
        """Remember the messages of a history the server is about to send to ``session``."""
        digests = [_digest(m["role"], text) for m in messages or ()
                   if isinstance(m, dict) and m.get("role") in ROLES and (text := message_text(m)) is not None]
        # the last two full histories' worth of digests per session
        known = self._sessions.get_or_put(session, lambda: BoundedMemo(self.max_messages * 2))
        for d in digests:
            known.put(d, None)

    def forget(self, session: str) -> None:
        self._sessions.pop(session, None)

    def validated(self, session: str, history) -> list[dict]:
        """The messages of a client's ``history`` that this server wrote for ``session``, as plain
        ``{"role", "content"}`` text messages, at most ``MAX_MESSAGES`` and ``MAX_CHARS``."""
        if not isinstance(history, list):
            return []
        record = self._sessions.get(session)
        known = set(record.keys()) if record is not None else set()
        kept: list[dict] = []
        chars = 0
        for message in reversed(history[-4 * self.max_messages:]):
            role = message.get("role") if isinstance(message, dict) else None
            text = message_text(message) if role in ROLES else None
            if text is None or _digest(role, text) not in known:
                continue
            chars += len(text)
            if chars > MAX_CHARS or len(kept) >= self.max_messages:
                break
            kept.append({"role": role, "content": text})
        return kept[::-1]
