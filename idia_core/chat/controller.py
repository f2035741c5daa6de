"""The conversation controller: (message text + files, session state) → (replies, new state).

No gradio here: the app hands in plain values and renders the ``Reply`` objects it gets back, so
the whole conversation is testable without a browser. Rules the controller keeps:

- every check goes through ``run_idia`` (validation, caches, the attack); nothing is recomputed;
- every mistake a user can make is answered with the core's message and the state as it was;
- a check runs again by itself whenever something it depends on changed (photos, name, names,
  settings) and it has a name and photos, so "tau 3" after a verdict simply gives the new verdict;
- a session's files (charts, reports) live in its own temp folder, deleted when it closes.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from string import Template
from typing import Callable

from .. import explain, limits
from ..errors import IdiaInputError
from ..explain import load_message_file
from ..images import check_photo_count, load_photo
from ..models import CATALOGUE, check_public_spec, load_model
from ..names import name_key, validate_name, validate_pool_size
from ..result import IdiaResult
from ..runner import PrivateEmbeddings, run_idia
from ..settings import IdiaSettings, validate_seed, validate_tau
from ..templates import load_templates, validate_template_set_name
from . import share
from .intents import Intent, parse
from .session import ChatSession, PhotoRef, SharedRun

Progress = Callable[[int, int, str], None]
SPACE_DEFAULT_MODEL = "ViT-B-32:laion400m_e32"   # the paper's smallest LAION-400M model
MAX_COMPARE = 3          # with the session's own model, fits models.MAX_LOADED_MODELS (4)
SETTING_LABELS = {"tau": "tau", "n_candidates": "The pool size", "seed": "The seed", "model": "The model",
                  "template_set": "The template set", "name_mode": "The name mode"}


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

    @property
    def result(self) -> IdiaResult | None:
        return self.state.last_result


# -- texts -----------------------------------------------------------------------------------
def say(key: str, **values) -> str:
    """A reply text from ``prompts/messages/chat.toml`` with its placeholders filled."""
    raw = load_message_file("chat")[key]
    return Template(raw).safe_substitute({k: str(v) for k, v in values.items()})


def model_label(spec: str) -> str:
    for entry in CATALOGUE:
        if entry.spec == spec:
            return entry.label
    return spec


# -- sessions --------------------------------------------------------------------------------
def default_model_spec(environ=None) -> str:
    """``IDIA_MODEL`` if set; on a Hugging Face Space (``SPACE_ID``) a real catalogue model;
    otherwise the embedded sandbox, which works offline."""
    env = os.environ if environ is None else environ
    if env.get("IDIA_MODEL", "").strip():
        return env["IDIA_MODEL"].strip()
    if env.get("SPACE_ID"):
        return SPACE_DEFAULT_MODEL
    return "sandbox"


def local_models_allowed(environ=None) -> bool:
    """Whether visitors may load models from this server's disk: ``IDIA_ALLOW_LOCAL_MODELS`` if set,
    else yes on a laptop and no on a Space (a stranger must not make the server read its files)."""
    env = os.environ if environ is None else environ
    flag = env.get("IDIA_ALLOW_LOCAL_MODELS", "").strip().lower()
    if flag:
        return flag in ("1", "true", "yes")
    return not env.get("SPACE_ID")


def public_model(spec) -> str:
    """A model a visitor asked for (typed, share link, API, compare), checked before anything loads.
    The operator's own default is always allowed."""
    if not isinstance(spec, str):
        raise IdiaInputError("model_spec_type", "A model is named by text, e.g. 'sandbox' or 'ViT-B-32:openai'.")
    if spec.strip() == default_model_spec():
        return spec.strip()
    return check_public_spec(spec, allow_local=local_models_allowed()).text


def public_settings(settings: IdiaSettings) -> IdiaSettings:
    """Settings from outside (a link, the API): a public model and a template set by name only."""
    validate_template_set_name(settings.template_set)
    return replace(settings, model=public_model(settings.model))


def new_session(model: str | None = None) -> ChatSession:
    return ChatSession(settings=IdiaSettings(model=model or default_model_spec()))


def close_session(state: ChatSession | None) -> None:
    """Delete what the session wrote (charts, reports). Safe to call twice."""
    if isinstance(state, ChatSession):
        state.close()


def welcome(state: ChatSession) -> Reply:
    spec = state.settings.model
    return Reply(say("welcome", N=state.settings.n_candidates - 1, model=spec, model_label=model_label(spec)),
                 kind="help")


def open_link(query, state: ChatSession | None = None) -> Turn:
    """Start a session from a share link's query parameters (or a plain welcome without one)."""
    state = state or new_session()
    if not share.is_share_query(query):
        return Turn(state, [welcome(state)])
    try:
        shared = share.decode(query)
        shared = replace(shared, settings=public_settings(shared.settings))
    except IdiaInputError as err:
        return Turn(state, [Reply(say("shared_bad", message=err.message), kind="error"), welcome(state)])
    state = _copy(state)
    state.settings = shared.settings
    state.name = shared.name
    state.added_names = list(shared.added_names)
    state.photos = []
    state.last_result = None
    state.last_run_key = None
    state.shared = shared
    s = shared.settings
    added = f", {len(shared.added_names)} added name(s)" if shared.added_names else ""
    text = say("shared_opened", name=shared.name, model=s.model, model_label=model_label(s.model), tau=s.tau,
               n=s.n_candidates, seed=s.seed, templates=s.template_set, added=added, count=len(shared.photo_hashes))
    return Turn(state, [Reply(text, kind="share")])


# -- the turn --------------------------------------------------------------------------------
def handle(message: UserMessage, state: ChatSession, *, progress: Progress | None = None,
           base_url: str = "") -> Turn:
    """One user message → replies and the next state. Never raises for user mistakes."""
    state = _copy(state)
    replies: list[Reply] = []
    photos_changed = False
    if message.files:
        photos_changed = _accept_photos(state, message.files, replies)
    intent = parse(message.text)
    handler = _HANDLERS.get(intent.kind, _on_unknown)
    if intent.kind == "unknown" and photos_changed:
        handler = _on_none
    state = handler(intent, state, replies, progress=progress, base_url=base_url,
                    photos_changed=photos_changed) or state
    if not replies:
        replies.append(Reply(say("unknown"), kind="help"))
    return Turn(state, replies)


def _copy(state: ChatSession) -> ChatSession:
    """A copy the turn may change; the result (frozen, large arrays) is shared, not copied."""
    return copy.deepcopy(state, {id(state.last_result): state.last_result})   # the live state is never touched


def _accept_photos(state: ChatSession, files, replies: list[Reply]) -> bool:
    """Decode each upload once to check it; keep references to the good ones. A new upload after a
    check of the current photos starts a new set (a new person, or the share-link's photos)."""
    accepted: list[PhotoRef] = []
    lines: list[str] = []
    for path in files:
        label = Path(str(path)).name
        try:
            photo = load_photo(str(path), label=label)
        except IdiaInputError as err:
            lines.append(say("photos_rejected", label=label, reason=err.message))
            continue
        accepted.append(PhotoRef(path=str(path), sha256=photo.sha256, label=label))
    if accepted:
        replace_set = bool(state.photos) and state.last_result is not None and \
            state.last_run_key is not None and state.last_run_key[3] == tuple(p.sha256 for p in state.photos)
        old = len(state.photos)
        base = [] if replace_set else list(state.photos)
        room = limits.MAX_PHOTOS - len(base)
        dropped = max(0, len(accepted) - room)
        state.photos = base + accepted[:room]
        added = len(accepted) - dropped
        head = say("photos_replaced", count=added, old=old) if replace_set else \
            say("photos_added", count=added, total=len(state.photos))
        if dropped:
            lines.append(say("photos_capped", max=limits.MAX_PHOTOS, dropped=dropped))
        lines.insert(0, head)
    replies.append(Reply("\n\n".join(lines), kind="info" if accepted else "error"))
    return bool(accepted)


def _maybe_run(state: ChatSession, replies: list[Reply], progress, *, explicit: bool) -> ChatSession:
    """Run a check when it has what it needs and something changed. ``explicit``: the user just
    asked for it (named the person), so say what is missing instead of staying quiet."""
    if not state.name:
        if state.photos:
            replies.append(Reply(say("ask_name"), kind="info"))
        return state
    if len(state.photos) < limits.MIN_PHOTOS or len(state.photos) > limits.MAX_PHOTOS:
        if not state.photos:
            replies.append(Reply(say("ask_photos", name=state.name, min=limits.MIN_PHOTOS), kind="info"))
        else:
            try:
                check_photo_count(len(state.photos))
            except IdiaInputError as err:
                replies.append(Reply(err.message, kind="error"))
        return state
    if not state.is_stale and not explicit:
        return state
    return _run(state, replies, progress)


def _run(state: ChatSession, replies: list[Reply], progress) -> ChatSession:
    s = state.settings
    try:
        result = run_idia(
            s.model, [p.path for p in state.photos], state.name, extra_names=tuple(state.added_names),
            n_candidates=s.n_candidates, tau=s.tau, seed=s.seed, template_set=s.template_set,
            name_mode=s.name_mode, progress=progress, private_cache=state.private_embeddings,
        )
    except IdiaInputError as err:
        replies.append(Reply(err.message, kind="error"))
        return state
    state.last_result = result
    state.last_run_key = state.run_key()
    replies.append(verdict_reply(result, state))
    return state


# -- verdicts ----------------------------------------------------------------------------------
def verdict_text(result: IdiaResult) -> str:
    """The verdict as markdown: the plain sentence, evidence, chance, caveats (all from explain)."""
    parts = [f"**{explain.verdict_sentence(result)}**", ""]
    parts += [f"- {line}" for line in explain.evidence_lines(result)]
    parts += ["", explain.significance_sentence(result), "", "*Caveats*"]
    parts += [f"- {c}" for c in explain.caveats(result)]
    parts += ["", "Say **why?** for each template's vote, **report** for a download, **share** for a link."]
    return "\n".join(parts)


def verdict_reply(result: IdiaResult, state: ChatSession) -> Reply:
    text = verdict_text(result)
    note = reproduction_note(result, state)
    if note:
        text = note + "\n\n" + text
    return Reply(text, images=tuple(chart_pngs(result, state)), kind="verdict")


def chart_pngs(result: IdiaResult, state: ChatSession) -> list[str]:
    """The result's charts as PNGs in the session's folder (a chat message shows images; a native
    plot inside a chat message breaks gradio 6.31's chat)."""
    from .. import charts

    folder = state.ensure_workdir()
    stamp = f"{result.fingerprint[-8:]}-{abs(hash(state.run_key())) % 10**8:08d}"
    out = []
    for name, fn in (("votes", charts.votes_figure), ("top-names", charts.top_names_figure)):
        path = folder / f"{name}-{stamp}.png"
        if not path.exists():
            charts.save_figure(fn(result), path)
        out.append(str(path))
    return out


def reproduction_note(result: IdiaResult, state: ChatSession) -> str | None:
    """When the session came from a share link: did this run repeat the shared one?"""
    shared = state.shared
    if shared is None:
        return None
    diffs = []
    for fld in ("model", "tau", "n_candidates", "seed", "template_set", "name_mode"):
        now, then = getattr(state.settings, fld), getattr(shared.settings, fld)
        if now != then:
            diffs.append(f"{fld} {now} (link: {then})")
    if name_key(state.name or "") != name_key(shared.name):
        diffs.append(f"name {state.name} (link: {shared.name})")
    if [name_key(n) for n in state.added_names] != [name_key(n) for n in shared.added_names]:
        diffs.append(f"added names ({len(state.added_names)} here, {len(shared.added_names)} in the link)")
    if diffs:
        return say("not_reproduced_settings", details="; ".join(diffs))
    extra, missing = share.photo_mismatch(shared.photo_hashes, [(p.label, p.sha256) for p in state.photos])
    if extra or missing:
        details = [say("photo_not_in_link", label=label, sha=sha[:12]) for label, sha in extra]
        if missing:
            details.append(say("photos_missing_from_link", count=len(missing),
                               list=", ".join(h[:12] + "…" for h in missing[:5])))
        joined = "; ".join(details)
        return say("not_reproduced_photos", details=joined[:1].upper() + joined[1:] + ".")
    if shared.member is not None and (shared.member != result.member or shared.correct_templates != result.correct_templates):
        old = f"{'member' if shared.member else 'no sign'}, {shared.correct_templates} templates"
        new = f"{'member' if result.member else 'no sign'}, {result.correct_templates} templates"
        return say("verdict_differs", old=old, new=new, fp=shared.fingerprint or "?", now=result.fingerprint)
    return say("reproduced", count=len(state.photos), k=result.correct_templates, T=result.n_templates)


# -- intent handlers ---------------------------------------------------------------------------
def _on_none(intent: Intent, state: ChatSession, replies, *, progress, photos_changed, **_):
    if photos_changed:
        return _maybe_run(state, replies, progress, explicit=False)
    if not replies:   # an empty message; a rejected upload has already been answered
        replies.append(Reply(say("unknown"), kind="help"))
    return state


def _on_unknown(intent, state, replies, **_):
    replies.append(Reply(say("unknown"), kind="help"))
    return state


def _on_help(intent, state, replies, **_):
    spec = state.settings.model
    replies.append(Reply(say("help", max_photos=limits.MAX_PHOTOS, model=spec, model_label=model_label(spec)),
                         kind="help"))
    return state


def _on_reset(intent, state, replies, **_):
    state.close()
    fresh = new_session()
    replies.append(Reply(say("reset_done"), kind="info"))
    replies.append(welcome(fresh))
    return fresh


def _on_status(intent, state, replies, **_):
    s = state.settings
    replies.append(Reply(say(
        "settings_summary", model=s.model, model_label=model_label(s.model), tau=s.tau, n=s.n_candidates,
        seed=s.seed, mode=s.name_mode, templates=s.template_set, T=len(load_templates(s.template_set)),
        name=state.name or "not given yet", photos=len(state.photos), added=len(state.added_names),
    ), kind="info"))
    return state


def _on_clear_photos(intent, state, replies, **_):
    if not state.photos:
        replies.append(Reply(say("photos_none_yet"), kind="info"))
        return state
    replies.append(Reply(say("photos_cleared", old=len(state.photos)), kind="info"))
    state.photos = []
    return state


def _on_name(intent, state, replies, *, progress, **_):
    try:
        name = validate_name(intent.value or "")
    except IdiaInputError as err:
        replies.append(Reply(err.message, kind="error"))
        return state
    state.name = name
    state.added_names = [n for n in state.added_names if name_key(n) != name_key(name)]
    return _maybe_run(state, replies, progress, explicit=True)


def _on_add_names(intent, state, replies, *, progress, **_):
    if not intent.items:
        replies.append(Reply(say("names_empty"), kind="error"))
        return state
    keys = {name_key(n) for n in state.added_names}
    target = name_key(state.name) if state.name else None
    added, lines, dupes = [], [], []
    for raw in intent.items:
        try:
            name = validate_name(raw, what="The name")
        except IdiaInputError as err:
            lines.append(say("names_skipped", label=f"'{raw[:40]}'", reason=err.message))
            continue
        key = name_key(name)
        if key == target:
            lines.append(say("names_is_target", name=name))
        elif key in keys:
            dupes.append(name)
        else:
            keys.add(key)
            added.append(name)
    total = len(state.added_names) + len(added)
    if total > limits.MAX_USER_NAMES:
        replies.append(Reply(say("names_too_many", total=total, max=limits.MAX_USER_NAMES), kind="error"))
        return state
    if dupes:
        lines.insert(0, say("names_duplicate", list=_short_list(dupes)))
    if added:
        state.added_names = state.added_names + added
        lines.insert(0, say("names_added", count=len(added), total=total, list=_short_list(added)))
    replies.append(Reply("\n\n".join(lines), kind="info" if added else "error"))
    return _maybe_run(state, replies, progress, explicit=False) if added else state


def _on_remove_names(intent, state, replies, *, progress, **_):
    if not intent.items:
        replies.append(Reply(say("names_empty"), kind="error"))
        return state
    wanted = {name_key(n): n for n in intent.items}
    kept = [n for n in state.added_names if name_key(n) not in wanted]
    removed = [n for n in state.added_names if name_key(n) in wanted]
    found = {name_key(n) for n in removed}
    missing = [n for k, n in wanted.items() if k not in found]
    lines = []
    if removed:
        lines.append(say("names_removed", count=len(removed), list=_short_list(removed)))
    if missing:
        lines.append(say("names_not_found", list=_short_list(missing)))
    replies.append(Reply("\n\n".join(lines), kind="info" if removed else "error"))
    if not removed:
        return state
    state.added_names = kept
    return _maybe_run(state, replies, progress, explicit=False)


def _on_set(intent, state, replies, *, progress, **_):
    try:
        new_settings = _changed_settings(state.settings, intent.setting, intent.value or "", progress)
    except IdiaInputError as err:
        replies.append(Reply(err.message, kind="error"))
        return state
    old_value = getattr(state.settings, intent.setting)
    new_value = getattr(new_settings, intent.setting)
    label = SETTING_LABELS[intent.setting]
    if intent.setting == "model":
        text = say("model_changed", model=new_value, model_label=model_label(new_value))
        if old_value == new_value:
            text = say("setting_same", label=label, new=new_value)
    elif old_value == new_value:
        text = say("setting_same", label=label, new=new_value)
    else:
        text = say("setting_changed", label=label, new=new_value, old=old_value)
    replies.append(Reply(text, kind="info"))
    state.settings = new_settings
    return _maybe_run(state, replies, progress, explicit=False)


def _changed_settings(settings: IdiaSettings, fld: str, value: str, progress) -> IdiaSettings:
    """Validate one setting's new value with the core's validators (same messages as the CLI)."""
    if fld == "tau":
        return replace(settings, tau=validate_tau(value, len(load_templates(settings.template_set))))
    if fld == "n_candidates":
        return replace(settings, n_candidates=validate_pool_size(value))
    if fld == "seed":
        return replace(settings, seed=validate_seed(value))
    if fld == "template_set":
        return replace(settings, template_set=validate_template_set_name(value)).validated()
    if fld == "name_mode":
        return replace(settings, name_mode=value.lower()).validated()
    if fld == "model":
        spec = public_model(value)
        if progress:
            progress(0, 1, say("model_loading", model=spec))
        load_model(spec)   # fail now, with the model's own message, rather than at the next check
        return replace(settings, model=spec)
    raise IdiaInputError("setting_unknown", f"Unknown setting '{fld}'.")


def _on_explain(intent, state, replies, **_):
    result = state.last_result
    if result is None:
        replies.append(Reply(say("need_result"), kind="error"))
        return state
    lines = explain.template_detail_lines(result)
    body = "\n".join([lines[0], ""] + [f"- {ln}" for ln in lines[1:]])
    body += "\n\n" + explain.significance_sentence(result)
    replies.append(Reply(body, kind="explain"))
    return state


def _on_report(intent, state, replies, **_):
    result = state.last_result
    if result is None:
        replies.append(Reply(say("need_result"), kind="error"))
        return state
    folder = state.ensure_workdir() / f"report-{len(list(state.ensure_workdir().glob('report-*'))) + 1}"
    folder.mkdir(parents=True, exist_ok=True)
    files = _write_report(result, folder)
    verdict = "member" if result.member else "no sign"
    replies.append(Reply(say("report_ready", name=result.true_name, verdict=verdict),
                         files=tuple(str(p) for p in files), kind="report"))
    return state


def _write_report(result: IdiaResult, folder: Path) -> list[Path]:
    """The evidence bundle (evidence.json + evidence.html; photos only as SHA-256)."""
    from ..reports import write_evidence_bundle

    written = write_evidence_bundle(result, folder)
    return [Path(p) for p in written.values()]


def _on_share(intent, state, replies, *, base_url="", **_):
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
    )
    try:
        query = share.encode(run)
    except IdiaInputError as err:
        replies.append(Reply(err.message, kind="error"))
        return state
    url = f"{base_url.rstrip('/')}/?{query}" if base_url else f"?{query}"
    replies.append(Reply(say("share_link", url=url, count=len(state.photos)), kind="share"))
    return state


def _on_compare(intent, state, replies, *, progress, **_):
    if not intent.items:
        replies.append(Reply(say("compare_none"), kind="error"))
        return state
    if not state.name or len(state.photos) < limits.MIN_PHOTOS:
        replies.append(Reply(say("compare_need"), kind="error"))
        return state
    specs = list(dict.fromkeys(intent.items))
    notes = []
    if len(specs) > MAX_COMPARE:
        notes.append(say("compare_too_many", max=MAX_COMPARE))
        specs = specs[:MAX_COMPARE]
    s = state.settings
    rows = ["| model | verdict | templates | median rank | chance (p) |", "|---|---|---|---|---|"]
    for spec in specs:
        try:
            spec = public_model(spec)
            r = run_idia(spec, [p.path for p in state.photos], state.name, extra_names=tuple(state.added_names),
                         n_candidates=s.n_candidates, tau=s.tau, seed=s.seed, template_set=s.template_set,
                         name_mode=s.name_mode, progress=progress, private_cache=state.private_embeddings)
        except IdiaInputError as err:
            rows.append(f"| `{spec}` | — | — | — | {err.message} |")
            continue
        verdict = "**member**" if r.member else "no sign"
        rows.append(f"| `{spec}` | {verdict} | {r.correct_templates} of {r.n_templates} | "
                    f"{r.true_name_median_rank:g} of {r.n_candidates} | {r.p_value:.3g} |")
    head = say("compare_header", P=len(state.photos), N=s.n_candidates, seed=s.seed, tau=s.tau)
    replies.append(Reply("\n\n".join(notes + [head, "\n".join(rows)]), kind="compare"))
    return state


def _on_open_link(intent, state, replies, **_):
    """A share link pasted into the chat opens it in this session (as opening the URL would)."""
    state.close()
    turn = open_link(intent.value or "", new_session())
    replies.extend(turn.replies)
    return turn.state


def _short_list(names, k: int = 8) -> str:
    shown = ", ".join(names[:k])
    return shown + (f" and {len(names) - k} more" if len(names) > k else "")


_HANDLERS = {
    "none": _on_none, "unknown": _on_unknown, "help": _on_help, "reset": _on_reset, "status": _on_status,
    "clear_photos": _on_clear_photos, "name": _on_name, "add_names": _on_add_names,
    "remove_names": _on_remove_names, "set": _on_set, "explain": _on_explain, "report": _on_report,
    "share": _on_share, "compare": _on_compare, "open_link": _on_open_link,
}


# -- the stateless API -------------------------------------------------------------------------
API_OPTIONS = ("model", "tau", "n_candidates", "seed", "template_set", "name_mode", "extra_names")


def api_check(files, name: str, options: dict | None = None, *, default_model: str | None = None,
              progress: Progress | None = None) -> dict:
    """Photos + name + options → the core's JSON verdict, or ``{"ok": false, "error": {code,
    message}}``. No session, nothing kept."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(API_OPTIONS))
    try:
        if unknown:
            raise IdiaInputError("option_unknown", f"Unknown option(s): {', '.join(unknown)}. "
                                                   f"Known: {', '.join(API_OPTIONS)}.")
        extra = options.get("extra_names") or ()
        if isinstance(extra, str):
            from ..names import parse_name_list
            extra = parse_name_list(extra)
        if not isinstance(extra, (list, tuple)):
            raise IdiaInputError("option_type", "extra_names must be a list of names or one text of names.")
        defaults = IdiaSettings()
        model = options.get("model") or default_model or default_model_spec()
        result = run_idia(
            model if model == default_model else public_model(model), list(files or []), name,
            extra_names=tuple(extra), n_candidates=options.get("n_candidates", defaults.n_candidates),
            tau=options.get("tau", defaults.tau), seed=options.get("seed", defaults.seed),
            template_set=validate_template_set_name(options.get("template_set", defaults.template_set)),
            name_mode=options.get("name_mode", defaults.name_mode), progress=progress,
            private_cache=PrivateEmbeddings(),
        )
    except IdiaInputError as err:
        return {"ok": False, "error": {"code": err.code, "message": err.message}}
    data = result.to_dict()
    data.pop("timings", None)   # how long encoding took would tell who was checked before
    return {"ok": True, "verdict": explain.verdict_sentence(result), "result": data}


# -- for the settings panel and start-up -------------------------------------------------------
def change_setting(state: ChatSession, fld: str, value, *, progress: Progress | None = None) -> Turn:
    """A settings control changed: the same validation, reply and re-run as typing it."""
    if fld not in SETTING_LABELS:
        raise ValueError(f"unknown settings field {fld!r}")   # a programming error, not a user one
    state = _copy(state)
    replies: list[Reply] = []
    text = "" if value is None else str(value)
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    state = _on_set(Intent("set", value=text, setting=fld), state, replies, progress=progress) or state
    return Turn(state, replies)


def warm_up(spec: str | None = None, settings: IdiaSettings | None = None) -> float:
    """Load the default model and encode its default pool's distractors into the text cache, so
    the first check of a new session is as fast as the next. Returns the seconds it took. The
    encoding yields to visitors, and a check needing the same prompts shares it (``text_jobs``)."""
    from ..warmup import warm_pool

    settings = settings or IdiaSettings(model=spec or default_model_spec())
    return warm_pool(settings.model, settings)
