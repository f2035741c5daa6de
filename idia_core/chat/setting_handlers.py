"""Handlers of the settings: typed ("tau 3", "use 500 names", "model ViT-B-32:openai"), in words
("make it stricter", "use the paper's settings") and "undo". Each value is read by the core's own
validator (the same messages as the CLI and the API), and a changed setting re-runs the check.
Each handler returns the next state and its replies."""
from __future__ import annotations

from dataclasses import replace

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


def apply_settings(state: ChatSession, new: IdiaSettings) -> ChatSession:
    """The session on new settings, remembering the old ones for "undo" (a bounded history)."""
    if new == state.settings:
        return state
    return replace(state, settings=new, settings_history=(state.settings_history + [state.settings])[-MAX_UNDO:])


MAX_UNDO = 20


def on_undo(intent, state, *, progress, **_):
    if not state.settings_history:
        return state, [Reply(say("undo_nothing"), kind="info")]
    previous = state.settings_history[-1]
    done = Reply(say("undo_done", changes=describe_changes(state.settings, previous)), kind="info")
    state, replies = run_when_ready(replace(state, settings=previous, settings_history=state.settings_history[:-1]),
                                    progress, explicit=False)
    return state, [done] + replies


def on_adjust(intent, state, *, progress, **_):
    step = 1 if intent.value == "+1" else -1
    n_templates = len(load_templates(state.settings.template_set))
    new_tau = state.settings.tau + step
    if not limits.TAU_MIN <= new_tau <= n_templates:
        which = "strictest" if step > 0 else "loosest"
        return state, [Reply(say("adjust_limit", tau=state.settings.tau, which=which, T=n_templates), kind="error")]
    return on_set(Intent("set", value=str(new_tau), setting="tau"), state, progress=progress)


PAPER_SETTINGS = dict(template_set="paper21", name_mode="paper", tau=1, n_candidates=1000)


def on_paper_settings(intent, state, *, progress, **_):
    try:
        new = IdiaSettings.from_raw(PAPER_SETTINGS, public.policy(), base=state.settings)
    except IdiaInputError as err:
        return state, [Reply(err.message, kind="error")]
    if new == state.settings:
        return state, [Reply(say("paper_settings_same"), kind="info")]
    done = Reply(say("paper_settings_done", changes=describe_changes(state.settings, new)), kind="info")
    state, replies = run_when_ready(apply_settings(state, new), progress, explicit=False)
    return state, [done] + replies


def on_set(intent, state, *, progress, **_):
    try:
        new_settings = changed_settings(state.settings, intent.setting, intent.value or "", progress)
    except IdiaInputError as err:
        return state, [Reply(public.client_message(err), kind="error")]
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
    state, replies = run_when_ready(apply_settings(state, new_settings), progress, explicit=False)
    return state, [Reply(text, kind="info")] + replies


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
