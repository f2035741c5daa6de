"""The handlers of everyday turns: help, questions, status, why?, report, share, reset, clear
photos, a pasted link, thanks, "who is this?" and a message with photos only. Each takes (intent,
state) and the turn's context as keywords, and returns the next state and its replies; mistakes
are answered, never raised. Which message reaches which handler is ``commands.COMMANDS``."""
from __future__ import annotations

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
from .replies import Reply, model_label, say
from .session import ChatSession, SharedRun
from .start import new_session, open_link, welcome


def on_none(intent, state: ChatSession, *, progress, photos_changed, **_):
    """Photos and no words: a check when it has what it needs (an empty message gets the short
    help from the controller; a rejected upload has been answered already)."""
    if photos_changed:
        return run_when_ready(state, progress, explicit=False)
    return state, []


def on_too_long(intent, state, **_):
    return state, [Reply(say("message_too_long", length=intent.value, max=limits.MAX_MESSAGE_CHARS), kind="error")]


def on_ack(intent, state, **_):
    return state, [Reply(say("ack"), kind="info")]


def on_who_is_this(intent, state, **_):
    return replace(state, awaiting_name=True), [Reply(say("who_is_this"), kind="info")]


def on_question(intent, state, **_):
    s = state.settings
    return state, [Reply(say(f"answer_{intent.value}", T=len(load_templates(s.template_set)), tau=s.tau,
                             N=s.n_candidates, min=limits.MIN_PHOTOS, max=limits.MAX_PHOTOS, M=DEFAULT_M),
                         kind="help")]


def on_help(intent, state, **_):
    spec = state.settings.model
    return state, [Reply(say("help", max_photos=limits.MAX_PHOTOS, model=code(spec, 200), model_label=model_label(spec)),
                         kind="help")]


def on_reset(intent, state, **_):
    state.close()
    fresh = new_session(workdir_root=state.workdir_root)
    return fresh, [Reply(say("reset_done"), kind="info"), welcome(fresh)]


def on_status(intent, state, **_):
    s = state.settings
    return state, [Reply(say(
        "settings_summary", model=code(s.model, 200), model_label=model_label(s.model), tau=s.tau, n=s.n_candidates,
        seed=s.seed, mode=s.name_mode, templates=s.template_set, T=len(load_templates(s.template_set)),
        name=state.name or "not given yet", photos=len(state.photos), added=len(state.added_names),
    ), kind="info")]


def on_clear_photos(intent, state, **_):
    if not state.photos:
        return state, [Reply(say("photos_none_yet"), kind="info")]
    return replace(state, photos=[]), [Reply(say("photos_cleared", old=len(state.photos)), kind="info")]


def on_explain(intent, state, **_):
    result = state.last_result
    if result is None:
        return state, [Reply(say("need_result"), kind="error")]
    lines = explain.template_detail_lines(result)
    body = "\n".join([lines[0], ""] + [f"- {ln}" for ln in lines[1:]])
    body += "\n\n" + explain.significance_sentence(result)
    return state, [Reply(body, kind="explain")]


def on_report(intent, state, **_):
    result = state.last_result
    if result is None:
        return state, [Reply(say("need_result"), kind="error")]
    folder = state.ensure_workdir() / f"report-{len(list(state.ensure_workdir().glob('report-*'))) + 1}"
    folder.mkdir(parents=True, exist_ok=True)
    files = write_report(result, folder)
    return state, [Reply(say("report_ready", name=result.true_name, verdict=result.verdict.word),
                         files=tuple(str(p) for p in files), kind="report")]


def write_report(result: IdiaResult, folder: Path) -> list[Path]:
    """The evidence bundle (evidence.json + evidence.html; photos only as SHA-256)."""
    # no timings: on a shared server they would tell which names other visitors checked (cache hits)
    written = write_evidence_bundle(replace(result, timings={}), folder)
    return [Path(p) for p in written.values()]


def on_share(intent, state, *, base_url="", **_):
    if not state.name:
        return state, [Reply(say("need_name_for_share"), kind="error")]
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
        return state, [Reply(err.message, kind="error")]
    return state, [Reply(say("share_link", url=share.link_markdown(base_url, query), count=len(state.photos)),
                         kind="share")]


def on_open_link(intent, state, **_):
    """A share link pasted into the chat opens it in this session (as opening the URL would)."""
    state.close()
    turn = open_link(intent.value or "", new_session(workdir_root=state.workdir_root))
    return turn.state, list(turn.replies)
