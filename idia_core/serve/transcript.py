"""A turn as chat messages: the agent's ``Reply`` objects and the user's message as the plain
``{"role", "content"}`` dicts of gradio's ``Chatbot`` (markdown text, images inline, downloads as
links). No gradio import: the messages are plain data.

Pictures and downloads are markdown inside a message, never file messages: gradio 6.31 gives every
file message its own share-to-Hub button, which would upload the picture, and the app promises that
photos stay in the session.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from ..chat.replies import Reply, say
from .history import message_text


def file_url(path: str) -> str:
    """Where the page fetches a file gradio serves (the session's folder is inside its upload folder)."""
    return "/gradio_api/file=" + quote(str(path), safe="/")


def image_markdown(path: str, alt: str) -> str:
    """An image inside a message's markdown rather than a file message (see the module's note)."""
    return f"![{alt}]({file_url(path)})"


def reply_messages(replies: list[Reply]) -> list[dict]:
    """One assistant message per reply: its text, then its chart inline, then its downloads as plain
    links (a file message would carry gradio's share-to-Hub button too)."""
    out = []
    for r in replies:
        parts = [r.text] + [image_markdown(p, f"chart {Path(p).stem.split('-')[0]}") for p in r.images]
        if r.files:
            parts.append("Download: " + " · ".join(f"[{Path(p).name}]({file_url(p)})" for p in r.files))
        out.append({"role": "assistant", "content": "\n\n".join(parts)})
    return out


def user_messages(text: str, files, strip: str | None = None) -> list[dict]:
    """The user's message: their photos as one thumbnail strip (not a screen per photo), then
    their words."""
    parts = []
    if strip:
        parts.append(image_markdown(strip, f"{len(files)} photo(s)"))
    elif files:
        parts.append(f"*{len(files)} file(s)*")
    if text:
        parts.append(text)
    return [{"role": "user", "content": "\n\n".join(parts)}] if parts else []


def echoed(text: str, files) -> list[dict]:
    """What the page shows at once, before the turn is queued: the message and a "Checking …" line."""
    return user_messages(text, files) + [{"role": "assistant", "content": say("echo_working")}]


def without_echo(history: list, text: str, files) -> list:
    """The history as it was before ``echoed`` added this message and its "Checking …" line."""
    echo = echoed(text, files)
    tail = history[-len(echo):]
    if len(tail) == len(echo) and all(isinstance(m, dict) and m.get("role") == e["role"] and
                                      (message_text(m) or "").strip() == e["content"].strip()
                                      for m, e in zip(tail, echo)):
        return history[:-len(echo)]
    return history


def file_paths(files) -> tuple[str, ...]:
    """The paths of a message's files, as gradio hands them (a path, ``{"path": …}`` or a FileData)."""
    return tuple(f if isinstance(f, str) else (f.get("path") if isinstance(f, dict) else getattr(f, "path", str(f)))
                 for f in (files or []))
