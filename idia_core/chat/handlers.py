"""The handlers of everyday turns: help, questions, status, why?, report, share, reset, clear
photos, a pasted link, thanks, and a message not understood ("did you mean …?"). Each takes
(intent, state, replies) and returns the next state; mistakes are answered, never raised."""
from __future__ import annotations

import difflib
from dataclasses import replace
from pathlib import Path

from .. import limits
from ..attack.controls import DEFAULT_M
from ..attack.result import IdiaResult
from ..audit import explain
from ..audit.evidence import write_evidence_bundle
from ..echo import code
from ..errors import IdiaInputError
from ..text.templates import load_templates
from . import share
from .flow import run_when_ready
from .intents import Intent
from .replies import Reply, model_label, say
from .session import ChatSession, SharedRun
from .start import new_session, open_link, welcome


def on_none(intent: Intent, state: ChatSession, replies, *, progress, photos_changed, **_):
    if photos_changed:
        return run_when_ready(state, replies, progress, explicit=False)
    if not replies:   # an empty message; a rejected upload has already been answered
        replies.append(Reply(say("unknown"), kind="help"))
    return state


def on_unknown(intent, state, replies, **_):
    suggestion = closest_command(intent.value or "")
    replies.append(Reply(say("did_you_mean", suggestion=suggestion) if suggestion else say("unknown"), kind="help"))
    return state


# What "did you mean" can offer: a command's first word (the rest of the message is kept) and
# whole example commands.
COMMAND_WORDS = ("tau", "seed", "model", "templates", "help", "report", "share", "reset", "settings", "undo",
                 "compare", "add", "remove", "check", "explain", "why", "stricter", "looser", "status")
COMMAND_EXAMPLES = (
    "help", "tau 3", "seed 7", "use 500 names", "why?", "report", "share", "reset", "settings", "clear photos",
    "undo", "make it stricter", "make it looser", "use the paper's settings", "paper templates", "paper names",
    "what is tau?", "what does p mean?", "how many photos do I need?", "what is the sandbox?",
    "what happens to my photos?", "who made the method?", "how sure is the verdict?", "my name is Jane Doe",
    "is this Jane Doe?", "check Jane Doe", "add Jane Dow, Janet Doe", "compare models sandbox, ViT-B-32:openai",
)


def closest_command(text: str) -> str | None:
    """The known command closest to a message (``difflib``), e.g. 'tua 3' → 'tau 3'; None when
    nothing is close. Only short messages are compared (difflib is quadratic)."""
    text = " ".join(text.split())
    if not text or len(text) > 60:
        return None
    first, _, rest = text.partition(" ")
    word = difflib.get_close_matches(first.lower(), COMMAND_WORDS, n=1, cutoff=0.7)
    if word and word[0] != first.lower() and rest:
        return f"{word[0]} {rest}"
    whole = difflib.get_close_matches(text.lower(), [c.lower() for c in COMMAND_EXAMPLES], n=1, cutoff=0.6)
    if whole:
        return next(c for c in COMMAND_EXAMPLES if c.lower() == whole[0])
    if word:
        return word[0] if not rest else f"{word[0]} {rest}"
    return None


def on_too_long(intent, state, replies, **_):
    replies.append(Reply(say("message_too_long", length=intent.value, max=limits.MAX_MESSAGE_CHARS), kind="error"))
    return state


def on_ack(intent, state, replies, **_):
    replies.append(Reply(say("ack"), kind="info"))
    return state


def on_who_is_this(intent, state, replies, **_):
    replies.append(Reply(say("who_is_this"), kind="info"))
    state.awaiting_name = True
    return state


def on_question(intent, state, replies, **_):
    s = state.settings
    replies.append(Reply(say(f"answer_{intent.value}", T=len(load_templates(s.template_set)), tau=s.tau,
                             N=s.n_candidates, min=limits.MIN_PHOTOS, max=limits.MAX_PHOTOS, M=DEFAULT_M),
                         kind="help"))
    return state


def on_help(intent, state, replies, **_):
    spec = state.settings.model
    replies.append(Reply(say("help", max_photos=limits.MAX_PHOTOS, model=code(spec, 200), model_label=model_label(spec)),
                         kind="help"))
    return state


def on_reset(intent, state, replies, **_):
    state.close()
    fresh = new_session()
    replies.append(Reply(say("reset_done"), kind="info"))
    replies.append(welcome(fresh))
    return fresh


def on_status(intent, state, replies, **_):
    s = state.settings
    replies.append(Reply(say(
        "settings_summary", model=code(s.model, 200), model_label=model_label(s.model), tau=s.tau, n=s.n_candidates,
        seed=s.seed, mode=s.name_mode, templates=s.template_set, T=len(load_templates(s.template_set)),
        name=state.name or "not given yet", photos=len(state.photos), added=len(state.added_names),
    ), kind="info"))
    return state


def on_clear_photos(intent, state, replies, **_):
    if not state.photos:
        replies.append(Reply(say("photos_none_yet"), kind="info"))
        return state
    replies.append(Reply(say("photos_cleared", old=len(state.photos)), kind="info"))
    state.photos = []
    return state


def on_explain(intent, state, replies, **_):
    result = state.last_result
    if result is None:
        replies.append(Reply(say("need_result"), kind="error"))
        return state
    lines = explain.template_detail_lines(result)
    body = "\n".join([lines[0], ""] + [f"- {ln}" for ln in lines[1:]])
    body += "\n\n" + explain.significance_sentence(result)
    replies.append(Reply(body, kind="explain"))
    return state


def on_report(intent, state, replies, **_):
    result = state.last_result
    if result is None:
        replies.append(Reply(say("need_result"), kind="error"))
        return state
    folder = state.ensure_workdir() / f"report-{len(list(state.ensure_workdir().glob('report-*'))) + 1}"
    folder.mkdir(parents=True, exist_ok=True)
    files = write_report(result, folder)
    verdict = result.verdict_word
    replies.append(Reply(say("report_ready", name=result.true_name, verdict=verdict),
                         files=tuple(str(p) for p in files), kind="report"))
    return state


def write_report(result: IdiaResult, folder: Path) -> list[Path]:
    """The evidence bundle (evidence.json + evidence.html; photos only as SHA-256)."""
    # no timings: on a shared server they would tell which names other visitors checked (cache hits)
    written = write_evidence_bundle(replace(result, timings={}), folder)
    return [Path(p) for p in written.values()]


def on_share(intent, state, replies, *, base_url="", **_):
    if not state.name:
        replies.append(Reply(say("need_name_for_share"), kind="error"))
        return state
    result = state.last_result if not state.is_stale else None
    run = SharedRun(
        settings=state.settings, name=state.name, added_names=tuple(state.added_names),
        photo_hashes=tuple(p.sha256 for p in state.photos),
        member=result.member if result else None,
        correct_templates=result.correct_templates if result else None,
        fingerprint=result.fingerprint if result else None,
        verdict=result.verdict if result else None,
        reference=((result.controls.reference_set or {}).get("sha256")
                   if result is not None and getattr(result, "controls", None) else None),
    )
    try:
        query = share.encode(run)
    except IdiaInputError as err:
        replies.append(Reply(err.message, kind="error"))
        return state
    replies.append(Reply(say("share_link", url=share.link_markdown(base_url, query), count=len(state.photos)),
                         kind="share"))
    return state


def on_open_link(intent, state, replies, **_):
    """A share link pasted into the chat opens it in this session (as opening the URL would)."""
    state.close()
    turn = open_link(intent.value or "", new_session())
    replies.extend(turn.replies)
    return turn.state
