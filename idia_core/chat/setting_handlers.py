"""Handlers of the settings: typed ("tau 3", "use 500 names", "model ViT-B-32:openai"), in words
("make it stricter", "use the paper's settings") and "undo". Each value is read by the core's own
validator (the same messages as the CLI and the API), and a changed setting re-runs the check."""
from __future__ import annotations

from .. import limits
from ..attack.settings import FIELD, FIELDS, IdiaSettings
from ..echo import code
from ..errors import IdiaInputError
from ..text.templates import load_templates
from ..zoo.load import load_model
from . import public
from .flow import run_when_ready
from .intents import Intent
from .replies import Reply, model_label, say
from .session import ChatSession

def describe_changes(old: IdiaSettings, new: IdiaSettings) -> str:
    parts = [f"{f.label.replace('The ', '')} {getattr(old, f.name)} → **{getattr(new, f.name)}**"
             for f in FIELDS if getattr(old, f.name) != getattr(new, f.name)]
    return "; ".join(parts) or say("changes_none")


def apply_settings(state: ChatSession, new: IdiaSettings) -> None:
    """Switch to new settings, remembering the old ones for "undo" (a bounded history)."""
    if new != state.settings:
        state.settings_history = (state.settings_history + [state.settings])[-MAX_UNDO:]
        state.settings = new


MAX_UNDO = 20


def on_undo(intent, state, replies, *, progress, **_):
    if not state.settings_history:
        replies.append(Reply(say("undo_nothing"), kind="info"))
        return state
    previous = state.settings_history[-1]
    replies.append(Reply(say("undo_done", changes=describe_changes(state.settings, previous)), kind="info"))
    state.settings_history = state.settings_history[:-1]
    state.settings = previous
    return run_when_ready(state, replies, progress, explicit=False)


def on_adjust(intent, state, replies, *, progress, **_):
    step = 1 if intent.value == "+1" else -1
    n_templates = len(load_templates(state.settings.template_set))
    new_tau = state.settings.tau + step
    if not limits.TAU_MIN <= new_tau <= n_templates:
        which = "strictest" if step > 0 else "loosest"
        replies.append(Reply(say("adjust_limit", tau=state.settings.tau, which=which, T=n_templates), kind="error"))
        return state
    return on_set(Intent("set", value=str(new_tau), setting="tau"), state, replies, progress=progress)


PAPER_SETTINGS = dict(template_set="paper21", name_mode="paper", tau=1, n_candidates=1000)


def on_paper_settings(intent, state, replies, *, progress, **_):
    try:
        new = IdiaSettings.from_raw(PAPER_SETTINGS, public.policy(), base=state.settings)
    except IdiaInputError as err:
        replies.append(Reply(err.message, kind="error"))
        return state
    if new == state.settings:
        replies.append(Reply(say("paper_settings_same"), kind="info"))
        return state
    replies.append(Reply(say("paper_settings_done", changes=describe_changes(state.settings, new)), kind="info"))
    apply_settings(state, new)
    return run_when_ready(state, replies, progress, explicit=False)


def on_set(intent, state, replies, *, progress, **_):
    try:
        new_settings = changed_settings(state.settings, intent.setting, intent.value or "", progress)
    except IdiaInputError as err:
        replies.append(Reply(public.client_message(err), kind="error"))
        return state
    old_value = getattr(state.settings, intent.setting)
    new_value = getattr(new_settings, intent.setting)
    label = FIELD[intent.setting].label
    if intent.setting == "model":
        text = say("model_changed", model=code(new_value, 200), model_label=model_label(new_value))
        if old_value == new_value:
            text = say("setting_same", label=label, new=new_value)
    elif old_value == new_value:
        text = say("setting_same", label=label, new=new_value)
    else:
        text = say("setting_changed", label=label, new=new_value, old=old_value)
    replies.append(Reply(text, kind="info"))
    apply_settings(state, new_settings)
    return run_when_ready(state, replies, progress, explicit=False)


def changed_settings(settings: IdiaSettings, fld: str, value: str, progress) -> IdiaSettings:
    """One setting's new value, read like every setting from outside (``IdiaSettings.from_raw``
    under this deployment's ``public.policy``: the same messages as the CLI and the API). A new
    model is loaded now, so it fails with its own message rather than at the next check."""
    new = IdiaSettings.from_raw({fld: value}, public.policy(), base=settings)
    if fld == "model":
        if progress:
            progress(0, 1, say("model_loading", model=new.model))
        load_model(new.model)
    return new
