"""How a session starts: a fresh session with the deployment's default model and a welcome, or
the settings of a share link (validated like typed input) and a request for the photos."""
from __future__ import annotations

from dataclasses import replace

from ..attack.settings import IdiaSettings
from ..echo import code, plain
from ..errors import IdiaInputError
from . import public, share
from .name_handlers import mixed_script_note
from .public import default_model_spec, public_settings
from .replies import Reply, Turn, model_label, say
from .session import ChatSession, copy_state


def new_session(model: str | None = None, *, workdir_root: str | None = None) -> ChatSession:
    """A fresh session on ``model`` (default: the deployment's); its folder will be made under
    ``workdir_root`` (default: the system temp folder)."""
    return ChatSession(settings=IdiaSettings(model=model or default_model_spec()), workdir_root=workdir_root)


def close_session(state: ChatSession | None) -> None:
    """Delete what the session wrote (charts, reports). Safe to call twice."""
    if isinstance(state, ChatSession):
        state.close()


def welcome(state: ChatSession) -> Reply:
    spec = state.settings.model
    return Reply(say("welcome", N=state.settings.n_candidates - 1, model=code(spec, 200), model_label=model_label(spec)),
                 kind="help")


def open_link(query, state: ChatSession | None = None) -> Turn:
    """Start a session from a share link's query parameters (or a plain welcome without one)."""
    state = state or new_session()
    if not share.is_share_query(query):
        return Turn(state, [welcome(state)])
    try:   # share.decode's messages show link values as code only; the model gate's are made plain
        shared = share.decode(query)
        try:
            shared = replace(shared, settings=public_settings(shared.settings))
        except IdiaInputError as err:
            raise IdiaInputError(err.code, plain(public.client_message(err))) from None
    except IdiaInputError as err:
        return Turn(state, [Reply(say("shared_bad", message=err.message), kind="error"), welcome(state)])
    state = copy_state(state)
    state.settings = shared.settings
    state.name = shared.name
    state.added_names = list(shared.added_names)
    state.photos = []
    state.last_result = None
    state.last_run_key = None
    state.shared = shared
    s = shared.settings
    added = f", {len(shared.added_names)} added name(s)" if shared.added_names else ""
    text = say("shared_opened", name=shared.name, model=code(s.model, 200), model_label=model_label(s.model), tau=s.tau,
               n=s.n_candidates, seed=s.seed, templates=s.template_set, added=added, count=len(shared.photo_hashes))
    note = mixed_script_note(shared.name)   # a link may carry a look-alike of someone's name
    return Turn(state, [Reply(text, kind="share")] + ([Reply(note, kind="info")] if note else []))
