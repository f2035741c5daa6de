"""What crosses the boundary to the UI: the user's message, the assistant's replies, one turn's
outcome, and the reply texts themselves (``prompts/messages/chat.toml``, as data)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..attack.result import IdiaResult
from ..messages import fill
from ..zoo.catalogue import CATALOGUE
from .session import ChatSession


# -- values that cross the boundary to the UI --------------------------------------------------
@dataclass(frozen=True)
class UserMessage:
    """What the user sent: the text and the paths of the files (gradio's temporary copies)."""

    text: str = ""
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reply:
    """One assistant message: markdown text, PNG images to show in it, files to download."""

    text: str
    images: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    kind: str = "info"          # info, verdict, error, help, share, report, compare


@dataclass
class Turn:
    state: ChatSession
    replies: list[Reply] = field(default_factory=list)
    photo_strip: str | None = None   # thumbnails of this message's accepted photos (one PNG)

    @property
    def result(self) -> IdiaResult | None:
        return self.state.last_result


# -- texts -----------------------------------------------------------------------------------
def say(key: str, **values) -> str:
    """A reply text from ``prompts/messages/chat.toml`` with its placeholders filled."""
    return fill("chat", key, **values)


def model_label(spec: str) -> str:
    for entry in CATALOGUE:
        if entry.spec == spec:
            return entry.label
    return spec


def busy_reply(message: UserMessage) -> Reply:
    text = " ".join((message.text or "").split())
    preview = (text[:60] + "…" if len(text) > 60 else text) or f"{len(message.files)} photo(s)"
    return Reply(say("busy_kept", preview=preview), kind="info")


def short_list(names, k: int = 8) -> str:
    """'A, B, C and 5 more': at most ``k`` names of a list, for a reply."""
    shown = ", ".join(names[:k])
    return shown + (f" and {len(names) - k} more" if len(names) > k else "")
