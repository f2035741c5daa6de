"""When a check runs: as soon as the session has a name and enough photos and something the check
depends on changed (``run_when_ready``); otherwise the reply says what is still missing. Each
returns the next state and its replies, as the handlers do."""
from __future__ import annotations

from dataclasses import replace

from .. import limits
from ..attack.run import run_idia
from ..errors import IdiaInputError
from ..images import check_photo_count
from . import public
from .replies import Reply, say
from .session import ChatSession
from .verdicts import verdict_reply


def run_when_ready(state: ChatSession, progress, *, explicit: bool) -> tuple[ChatSession, list[Reply]]:
    """Run a check when it has what it needs and something changed. ``explicit``: the user just
    asked for it (named the person), so say what is missing instead of staying quiet."""
    if not state.name:
        if state.photos:
            return replace(state, awaiting_name=True), [Reply(say("ask_name"), kind="info")]
        return state, []
    if len(state.photos) < limits.MIN_PHOTOS or len(state.photos) > limits.MAX_PHOTOS:
        if not state.photos:
            return state, [Reply(say("ask_photos", name=state.name, min=limits.MIN_PHOTOS), kind="info")]
        try:
            check_photo_count(len(state.photos))
        except IdiaInputError as err:
            return state, [Reply(err.message, kind="error")]
        return state, []
    if not state.is_stale and not explicit:
        return state, []
    return run_check(state, progress)


def run_check(state: ChatSession, progress) -> tuple[ChatSession, list[Reply]]:
    """The check of the session as it stands: its verdict, or what was wrong."""
    s = state.settings
    try:
        result = run_idia(s.model, [p.path for p in state.photos], state.name, s, extra_names=tuple(state.added_names),
                          progress=progress, private_cache=state.private_embeddings)
    except IdiaInputError as err:
        return state, [Reply(public.client_message(err), kind="error")]
    state = replace(state, last_result=result, last_run_key=state.run_key())
    return state, [verdict_reply(result, state)]
