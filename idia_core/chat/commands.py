"""The chat's commands, in one table: each kind of message the agent understands, how it is said
(``phrasing``: a whole message that asks for it; ``None``: read by its shape in ``intents``), its
handler, whether it is cheap (answered without a compute slot: it only reads the session, so the
server's ``routing`` never queues it behind checks), and the words and examples "did you mean …?"
offers.

Adding a command is one row here and one handler (``(intent, state, **turn) → (state, replies)``)
in the module of its kind, plus its reply text in ``prompts/messages/chat.toml``.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Callable

from .compare import on_compare
from .handlers import (on_ack, on_clear_photos, on_explain, on_help, on_none, on_open_link, on_question, on_report,
                       on_reset, on_share, on_status, on_too_long, on_who_is_this)
from .intents import Intent, read
from .name_handlers import on_add_names, on_name, on_remove_names
from .replies import Reply, say
from .setting_handlers import on_adjust, on_paper_settings, on_set, on_undo


def on_unknown(intent, state, **_):
    """A message not understood: the closest command ("did you mean …?"), or the short help."""
    suggestion = closest_command(intent.value or "")
    return state, [Reply(say("did_you_mean", suggestion=suggestion) if suggestion else say("unknown"), kind="help")]


@dataclass(frozen=True)
class Command:
    kind: str
    handler: Callable
    phrasing: str | None = None     # a whole message asking for it (an anchored regex on the folded text)
    cheap: bool = False             # answered at once: reads the session, runs no check, loads no model
    words: tuple[str, ...] = ()     # first words "did you mean" offers (the rest of the message is kept)
    examples: tuple[str, ...] = ()  # whole example messages "did you mean" offers


COMMANDS = (   # whole-message phrasings are tried in this order, before any shape
    Command("help", on_help, r"(?:help|commands|what can you do|how does (?:this|it) work|menu|what is this|"
            r"what does this do|what is idia|how do i use (?:this|it)|instructions)", cheap=True,
            words=("help",), examples=("help",)),
    Command("reset", on_reset, r"(?:reset|start over|start again|restart|new session|clear all|forget everything)",
            cheap=True, words=("reset",), examples=("reset",)),
    Command("share", on_share, r"(?:share(?: (?:it|this|a link|the link|link))?|(?:get |give me )?(?:a )?"
            r"(?:share )?link|permalink)", cheap=True, words=("share",), examples=("share",)),
    Command("report", on_report, r"(?:(?:download|get|make|export)(?: (?:a|the))? )?(?:report|evidence"
            r"(?: bundle)?|json|html)(?: please)?", cheap=True, words=("report",), examples=("report",)),
    Command("explain", on_explain, r"(?:why|why not|explain(?: (?:it|this|that|more))?|details?|more details|"
            r"how come|per[- ]template|show (?:the )?(?:templates|votes))", cheap=True,
            words=("explain", "why"), examples=("why?",)),
    Command("status", on_status, r"(?:status|settings|show settings|current settings|show (?:me )?the settings|"
            r"which model|what model)", cheap=True, words=("settings", "status"), examples=("settings",)),
    Command("clear_photos", on_clear_photos, r"(?:clear|remove|delete|forget|drop)(?: (?:the|all|my|all my|all the))?"
            r" (?:photos|images|pictures|uploads)", cheap=True, examples=("clear photos",)),
    Command("undo", on_undo, r"(?:undo|undo (?:that|it|the last change|last change)|go back|revert(?: that| it)?|"
            r"take (?:that|it) back)", words=("undo",), examples=("undo",)),
    Command("paper_settings", on_paper_settings, r"(?:(?:please )?(?:use|apply|switch to|go with|give me) )?"
            r"(?:the )?(?:paper'?s?|paper’s|original) (?:settings|setup|configuration|config|defaults)|"
            r"(?:do it |set it up )?(?:(?:the )?same |exactly )?(?:as|like) (?:in )?the paper",
            examples=("use the paper's settings",)),
    Command("ack", on_ack, r"(?:thanks?(?: you)?(?: (?:so|very) much| a lot)?|thx|ty|ok(?:ay)?(?: thanks?(?: you)?)?|"
            r"k|cool|great|nice|got it|perfect|alright|all right|fine|awesome|cheers|sounds good|understood|i see|"
            r"good|great thanks|👍|🙏|merci|danke)"),
    # read by their shape (``intents``): a value, a list, a name, a link, a question
    Command("adjust", on_adjust, words=("stricter", "looser"), examples=("make it stricter", "make it looser")),
    Command("open_link", on_open_link, cheap=True),
    Command("compare", on_compare, words=("compare",), examples=("compare models sandbox, ViT-B-32:openai",)),
    Command("add_names", on_add_names, words=("add",), examples=("add Jane Dow, Janet Doe",)),
    Command("remove_names", on_remove_names, words=("remove",)),
    Command("set", on_set, words=("tau", "seed", "model", "templates"),
            examples=("tau 3", "seed 7", "use 500 names", "paper templates", "paper names")),
    Command("who_is_this", on_who_is_this),
    Command("name", on_name, words=("check",), examples=("my name is Jane Doe", "is this Jane Doe?", "check Jane Doe")),
    Command("question", on_question, examples=(
        "what is tau?", "what does p mean?", "how many photos do I need?", "what is the sandbox?",
        "what happens to my photos?", "who made the method?", "how sure is the verdict?")),
    Command("too_long", on_too_long),
    Command("none", on_none, cheap=True),
    Command("unknown", on_unknown, cheap=True),
)
COMMAND = {c.kind: c for c in COMMANDS}
_PHRASINGS = [(c.kind, re.compile(c.phrasing + "$", re.IGNORECASE)) for c in COMMANDS if c.phrasing]


def parse(text: str | None, *, expecting_name: bool = False) -> Intent:
    """The intent of a message's text (files are the controller's): a command's phrasing, else
    what its shape says (``intents.read``). ``expecting_name``: the agent just asked "Who is it?",
    so a bare word or two that look like a name are taken as the name."""
    return read(text, _PHRASINGS, expecting_name=expecting_name)


def is_cheap(kind: str) -> bool:
    """Whether a turn of this kind is answered without a compute slot (unknown kinds: no, the safe side)."""
    command = COMMAND.get(kind)
    return command is not None and command.cheap


def closest_command(text: str) -> str | None:
    """The known command closest to a message (``difflib``), e.g. 'tua 3' → 'tau 3'; None when
    nothing is close. Only short messages are compared (difflib is quadratic)."""
    text = " ".join(text.split())
    if not text or len(text) > 60:
        return None
    words = [w for c in COMMANDS for w in c.words]
    examples = [e for c in COMMANDS for e in c.examples]
    first, _, rest = text.partition(" ")
    word = difflib.get_close_matches(first.lower(), words, n=1, cutoff=0.7)
    if word and word[0] != first.lower() and rest:
        return f"{word[0]} {rest}"
    whole = difflib.get_close_matches(text.lower(), [c.lower() for c in examples], n=1, cutoff=0.6)
    if whole:
        return next(c for c in examples if c.lower() == whole[0])
    if word:
        return word[0] if not rest else f"{word[0]} {rest}"
    return None
