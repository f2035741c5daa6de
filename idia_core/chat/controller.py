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
import difflib
import os
import threading
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from string import Template
from typing import Callable

from .. import explain, limits, public
from ..errors import IdiaInputError
from ..explain import load_message_file
from ..images import check_photo_count, load_photo
from ..models import CATALOGUE, check_public_spec, load_model
from ..names import identity_key, name_key, validate_name
from ..result import IdiaResult
from ..runner import PrivateEmbeddings, run_idia
from ..options import API_OPTIONS, validate_check_options  # noqa: F401 (API_OPTIONS: public name)
from ..settings import IdiaSettings, validate_pool, validate_seed, validate_tau
from ..templates import load_templates, validate_template_set_name
from . import share, views
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
    photo_strip: str | None = None   # thumbnails of this message's accepted photos (one PNG)

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
    """A model a visitor asked for (typed, share link, API, compare), checked before anything loads:
    never files on the server's disk (unless allowed), and on a public deployment only what the
    operator offers (``public.check_offered``). The operator's own default is always allowed."""
    if not isinstance(spec, str):
        raise IdiaInputError("model_spec_type", "A model is named by text, e.g. 'sandbox' or 'ViT-B-32:openai'.")
    default = default_model_spec()
    if spec.strip() == default:
        return spec.strip()
    checked = check_public_spec(spec, allow_local=local_models_allowed()).text
    return public.check_offered(checked, default)


def public_settings(settings: IdiaSettings) -> IdiaSettings:
    """Settings from outside (a link, the API): a public model, a template set by name only and a
    pool within this deployment's limit."""
    validate_template_set_name(settings.template_set)
    public.check_pool_limit(settings.n_candidates)
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
    try:   # share.decode's messages show link values as code only; the model gate's are made plain
        shared = share.decode(query)
        try:
            shared = replace(shared, settings=public_settings(shared.settings))
        except IdiaInputError as err:
            raise IdiaInputError(err.code, public.plain(public.client_message(err))) from None
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
    expecting_name, state.awaiting_name = state.awaiting_name, False
    thumbs: list = []
    if message.files:
        photos_changed = _accept_photos(state, message.files, replies, thumbs)
    intent = parse(message.text, expecting_name=expecting_name)
    handler = _HANDLERS.get(intent.kind, _on_unknown)
    if intent.kind == "unknown" and photos_changed:
        handler = _on_none
    state = handler(intent, state, replies, progress=progress, base_url=base_url,
                    photos_changed=photos_changed) or state
    if not replies:
        replies.append(Reply(say("unknown"), kind="help"))
    strip = views.photo_strip(thumbs, state.ensure_workdir()) if thumbs else None
    return Turn(state, replies, photo_strip=str(strip) if strip else None)


class TurnGate:
    """One turn at a time per session; messages that arrive while a turn runs are kept, in order,
    and answered by that turn after its own (so none is lost, and none runs on stale state)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pending: dict[str, deque] = {}

    def begin(self, key: str, message: UserMessage) -> bool:
        """True: run now. False: a turn of this session is running; the message is kept for it."""
        with self._lock:
            if key in self._pending:
                self._pending[key].append(message)
                return False
            self._pending[key] = deque()
            return True

    def next_or_end(self, key: str) -> UserMessage | None:
        """The next kept message, or None (and the session is idle again)."""
        with self._lock:
            queue = self._pending.get(key)
            if queue:
                return queue.popleft()
            self._pending.pop(key, None)
            return None

    def abandon(self, key: str) -> None:
        with self._lock:
            self._pending.pop(key, None)

    def busy(self, key: str) -> bool:
        with self._lock:
            return key in self._pending


TURNS = TurnGate()


def handle_in_order(key: str, message: UserMessage, state: ChatSession, *, gate: TurnGate = TURNS,
                    **kwargs) -> list[tuple[UserMessage, Turn]]:
    """Run this message's turn, then every message the same session (``key``) sent meanwhile, in
    order, each on the state the previous one left. Returns ``[]`` when another turn of the session
    is running: the message is kept and that turn answers it."""
    if not gate.begin(key, message):
        return []
    done: list[tuple[UserMessage, Turn]] = []
    try:
        while message is not None:
            turn = handle(message, state, **kwargs)
            done.append((message, turn))
            state = turn.state
            message = gate.next_or_end(key)
    except BaseException:
        gate.abandon(key)
        raise
    return done


def busy_reply(message: UserMessage) -> Reply:
    text = " ".join((message.text or "").split())
    preview = (text[:60] + "…" if len(text) > 60 else text) or f"{len(message.files)} photo(s)"
    return Reply(say("busy_kept", preview=preview), kind="info")


def _copy(state: ChatSession) -> ChatSession:
    """A copy the turn may change; the result (frozen, large arrays) is shared, not copied."""
    return copy.deepcopy(state, {id(state.last_result): state.last_result})   # the live state is never touched


# Near-duplicate: both perceptual hashes (64 bits each) nearly equal. A photo re-encoded (JPEG q30-90)
# or resized measures pHash 0-4, dHash 0; different sandbox renders of one person pHash 14+, and the
# closest pair of distinct drawn test faces pHash 4, dHash 4 — so both must agree.
MAX_SET_ASIDE_LINES = 5
NEAR_DUPLICATE_PHASH_BITS = 4
NEAR_DUPLICATE_DHASH_BITS = 2


def _accept_photos(state: ChatSession, files, replies: list[Reply], thumbs: list | None = None) -> bool:
    """Decode each upload once to check it; keep references to the good ones. A new upload after a
    check of the current photos starts a new set (a new person, or the share-link's photos).
    Photos are counted by content: an identical file (SHA-256) or the same picture re-encoded or
    resized (perceptual hash) is named and set aside, so the minimum applies to distinct photos."""
    accepted: list[PhotoRef] = []
    lines: list[str] = []
    for path in files:
        label = Path(str(path)).name
        try:
            photo = load_photo(str(path), label=label)
        except IdiaInputError as err:
            lines.append(say("photos_rejected", label=label, reason=err.message))
            continue
        accepted.append(PhotoRef(path=str(path), sha256=photo.sha256, label=label, phash=_perceptual_hash(photo.image)))
        if thumbs is not None:
            thumbs.append(views.thumbnail(photo.image))
    if accepted:
        replace_set = bool(state.photos) and state.last_result is not None and \
            state.last_run_key is not None and state.last_run_key[3] == tuple(p.sha256 for p in state.photos)
        old = len(state.photos)
        base = [] if replace_set else list(state.photos)
        accepted, set_aside = _distinct_photos(base, accepted)
        room = limits.MAX_PHOTOS - len(base)
        dropped = max(0, len(accepted) - room)
        state.photos = base + accepted[:room]
        if thumbs is not None:
            del thumbs[max(room, 0):]
        added = len(accepted) - dropped
        head = say("photos_replaced", count=added, old=old) if replace_set else \
            say("photos_added", count=added, total=len(state.photos))
        if dropped:
            lines.append(say("photos_capped", max=limits.MAX_PHOTOS, dropped=dropped))
        if len(set_aside) > MAX_SET_ASIDE_LINES:   # 17 copies of 3 photos: name a few, count the rest
            set_aside = set_aside[:MAX_SET_ASIDE_LINES] + [
                say("photos_more_set_aside", count=len(set_aside) - MAX_SET_ASIDE_LINES)]
        lines = set_aside + lines
        if set_aside:
            lines.append(say("photos_distinct_count", count=len(state.photos)))
        lines.insert(0, head)
    replies.append(Reply("\n\n".join(lines), kind="info" if accepted else "error"))
    return bool(accepted)


def _perceptual_hash(image) -> str:
    """'<pHash>/<dHash>' (64 bits each, hex, ``imagehash``): (nearly) equal for a photo and its
    re-encoded or resized copy."""
    import imagehash   # scipy behind it: imported on the first upload, not at start-up

    return f"{imagehash.phash(image)}/{imagehash.dhash(image)}"


def _hash_distance(a: str, b: str) -> tuple[int, int] | None:
    """(pHash, dHash) bit distances of two ``_perceptual_hash`` values; None if either is missing."""
    import imagehash

    if not a or not b or "/" not in a or "/" not in b:
        return None
    (pa, da), (pb, db) = a.split("/"), b.split("/")
    return (int(imagehash.hex_to_hash(pa) - imagehash.hex_to_hash(pb)),
            int(imagehash.hex_to_hash(da) - imagehash.hex_to_hash(db)))


def _near_duplicate(a: str, b: str) -> int | None:
    """The pHash distance when ``a`` and ``b`` look like the same photo, else None."""
    d = _hash_distance(a, b)
    if d is not None and d[0] <= NEAR_DUPLICATE_PHASH_BITS and d[1] <= NEAR_DUPLICATE_DHASH_BITS:
        return d[0]
    return None


def _distinct_photos(kept: list[PhotoRef], new: list[PhotoRef]) -> tuple[list[PhotoRef], list[str]]:
    """The new photos that are not copies of a kept one (or of each other), and a line per copy."""
    seen = list(kept)
    out: list[PhotoRef] = []
    notes: list[str] = []
    for ref in new:
        same = next((p for p in seen if p.sha256 == ref.sha256), None)
        if same is not None:
            notes.append(say("photos_duplicate", label=ref.label, first=same.label))
            continue
        near = next(((p, d) for p in seen if (d := _near_duplicate(ref.phash, p.phash)) is not None), None)
        if near is not None:
            notes.append(say("photos_near_duplicate", label=ref.label, first=near[0].label, distance=near[1]))
            continue
        seen.append(ref)
        out.append(ref)
    return out, notes


def _maybe_run(state: ChatSession, replies: list[Reply], progress, *, explicit: bool) -> ChatSession:
    """Run a check when it has what it needs and something changed. ``explicit``: the user just
    asked for it (named the person), so say what is missing instead of staying quiet."""
    if not state.name:
        if state.photos:
            replies.append(Reply(say("ask_name"), kind="info"))
            state.awaiting_name = True
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
        replies.append(Reply(public.client_message(err), kind="error"))
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
    truth = sandbox_truth_line(result)
    if truth:
        text = text.replace("\n\n", "\n\n" + truth + "\n\n", 1)
    note = reproduction_note(result, state)
    if note:
        text = note + "\n\n" + text
    return Reply(text, images=tuple(chart_pngs(result, state)), kind="verdict")


def sandbox_truth_line(result: IdiaResult) -> str | None:
    """On the sandbox model: what the world says about this name (its role and how often it was in
    training) and whether the verdict matches, so a demo visitor sees what the attack can and cannot
    do. None on any other model, whose training data nobody knows."""
    if result.model_spec != "sandbox":
        return None
    from ..sandbox.world import load_world

    try:
        person = _sandbox_world(load_world).person(result.true_name)
    except (KeyError, ValueError, OSError):
        return say("sandbox_truth_unknown", name=result.true_name)
    if person.role == "member":
        key = "sandbox_truth_member_found" if result.member else "sandbox_truth_member_missed"
    elif person.role == "non-member":
        key = "sandbox_truth_never_false_alarm" if result.member else "sandbox_truth_never_correct"
    else:   # controls: the face or the name was in training, never the two together
        key = "sandbox_truth_control_member" if result.member else "sandbox_truth_control_correct"
    return say(key, k=person.k, role=person.role)


_WORLD_CACHE: dict = {}


def _sandbox_world(loader):
    """The shipped world, read once per process (it is a few hundred KB of JSON)."""
    if "world" not in _WORLD_CACHE:
        _WORLD_CACHE["world"] = loader()
    return _WORLD_CACHE["world"]


def chart_pngs(result: IdiaResult, state: ChatSession) -> list[str]:
    """The verdict's one compact chart (``charts.chat_figure``) as a PNG in the session's folder:
    a chat message shows images, and a native plot inside a chat message breaks gradio 6.31's chat.
    The full per-template and closest-names charts are beside the chat and in the report."""
    from .. import charts

    return [views.chart_png(state, result, "verdict", charts.chat_figure)]


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
    if identity_key(state.name or "") != identity_key(shared.name):
        diffs.append(f"name {state.name} (link: {shared.name})")
    if [identity_key(n) for n in state.added_names] != [identity_key(n) for n in shared.added_names]:
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
    now_ref = (result.controls.reference_set or {}).get("sha256") if getattr(result, "controls", None) else None
    if shared.verdict and (shared.verdict != result.verdict or (shared.reference or None) != now_ref):
        old = f"{shared.verdict}, reference set {(shared.reference or 'none')[:12]}"
        new = f"{result.verdict}, reference set {(now_ref or 'none')[:12]}"
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


def _on_too_long(intent, state, replies, **_):
    replies.append(Reply(say("message_too_long", length=intent.value, max=limits.MAX_MESSAGE_CHARS), kind="error"))
    return state


def _on_ack(intent, state, replies, **_):
    replies.append(Reply(say("ack"), kind="info"))
    return state


def _on_who_is_this(intent, state, replies, **_):
    replies.append(Reply(say("who_is_this"), kind="info"))
    state.awaiting_name = True
    return state


def _on_question(intent, state, replies, **_):
    s = state.settings
    replies.append(Reply(say(f"answer_{intent.value}", T=len(load_templates(s.template_set)), tau=s.tau,
                             N=s.n_candidates, min=limits.MIN_PHOTOS, max=limits.MAX_PHOTOS), kind="help"))
    return state


def _describe_changes(old: IdiaSettings, new: IdiaSettings) -> str:
    parts = [f"{SETTING_LABELS[f].replace('The ', '')} {getattr(old, f)} → **{getattr(new, f)}**"
             for f in SETTING_LABELS if getattr(old, f) != getattr(new, f)]
    return "; ".join(parts) or say("changes_none")


def _apply_settings(state: ChatSession, new: IdiaSettings) -> None:
    """Switch to new settings, remembering the old ones for "undo" (a bounded history)."""
    if new != state.settings:
        state.settings_history = (state.settings_history + [state.settings])[-MAX_UNDO:]
        state.settings = new


MAX_UNDO = 20


def _on_undo(intent, state, replies, *, progress, **_):
    if not state.settings_history:
        replies.append(Reply(say("undo_nothing"), kind="info"))
        return state
    previous = state.settings_history[-1]
    replies.append(Reply(say("undo_done", changes=_describe_changes(state.settings, previous)), kind="info"))
    state.settings_history = state.settings_history[:-1]
    state.settings = previous
    return _maybe_run(state, replies, progress, explicit=False)


def _on_adjust(intent, state, replies, *, progress, **_):
    step = 1 if intent.value == "+1" else -1
    n_templates = len(load_templates(state.settings.template_set))
    new_tau = state.settings.tau + step
    if not limits.TAU_MIN <= new_tau <= n_templates:
        which = "strictest" if step > 0 else "loosest"
        replies.append(Reply(say("adjust_limit", tau=state.settings.tau, which=which, T=n_templates), kind="error"))
        return state
    return _on_set(Intent("set", value=str(new_tau), setting="tau"), state, replies, progress=progress)


PAPER_SETTINGS = dict(template_set="paper21", name_mode="paper", tau=1, n_candidates=1000)


def _on_paper_settings(intent, state, replies, *, progress, **_):
    try:
        new = replace(state.settings, **PAPER_SETTINGS).validated()
    except IdiaInputError as err:
        replies.append(Reply(err.message, kind="error"))
        return state
    if new == state.settings:
        replies.append(Reply(say("paper_settings_same"), kind="info"))
        return state
    replies.append(Reply(say("paper_settings_done", changes=_describe_changes(state.settings, new)), kind="info"))
    _apply_settings(state, new)
    return _maybe_run(state, replies, progress, explicit=False)


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
    hint = spelling_hint(name, state)
    if hint:
        replies.append(Reply(hint, kind="info"))
    state.name = name
    state.added_names = [n for n in state.added_names if identity_key(n) != identity_key(name)]
    return _maybe_run(state, replies, progress, explicit=True)


def spelling_hint(name: str, state: ChatSession) -> str | None:
    """When ``name`` differs from a known name only in accents or case ('emile loiseau' vs
    'Émile Loiseau'), say so: to the model they are different strings. Known names: the names
    the user added, the last check's pool and, on the sandbox model, the world's people."""
    key = name_key(name)
    sources = [("spelling_where_added", state.added_names)]
    if state.last_result is not None:
        sources.append(("spelling_where_pool", state.last_result.candidates))
    if state.settings.model == "sandbox":
        sources.append(("spelling_where_sandbox", _sandbox_names()))
    for where, names in sources:
        for known in names:
            if known != name and name_key(known) == key:
                return say("spelling_hint", where=say(where), known=known, typed=name)
    return None


def _sandbox_names() -> tuple[str, ...]:
    global _SANDBOX_NAMES
    if _SANDBOX_NAMES is None:
        try:
            from ..sandbox.world import load_world

            _SANDBOX_NAMES = tuple(load_world().names)
        except (OSError, ValueError, KeyError):   # no world file in this checkout: no hint
            _SANDBOX_NAMES = ()
    return _SANDBOX_NAMES


_SANDBOX_NAMES: tuple[str, ...] | None = None


def _on_add_names(intent, state, replies, *, progress, **_):
    if not intent.items:
        replies.append(Reply(say("names_empty"), kind="error"))
        return state
    # the pool's own identity (case only): names the model can tell apart ("Zoë"/"Zoe") stay apart
    keys = {identity_key(n) for n in state.added_names}
    target = identity_key(state.name) if state.name else None
    added, lines, dupes = [], [], []
    for raw in intent.items:
        try:
            name = validate_name(raw, what="The name")
        except IdiaInputError as err:
            lines.append(say("names_skipped", label=f"'{raw[:40]}'", reason=err.message))
            continue
        key = identity_key(name)
        if key == target:
            lines.append(say("names_is_target", name=name))
        elif key in keys:
            dupes.append(name)
        else:
            keys.add(key)
            added.append(name)
    total = len(state.added_names) + len(added)
    if total > public.max_added_names():
        replies.append(Reply(say("names_too_many", total=total, max=public.max_added_names()), kind="error"))
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
        replies.append(Reply(public.client_message(err), kind="error"))
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
    _apply_settings(state, new_settings)
    return _maybe_run(state, replies, progress, explicit=False)


def _changed_settings(settings: IdiaSettings, fld: str, value: str, progress) -> IdiaSettings:
    """Validate one setting's new value with the core's validators (same messages as the CLI)."""
    if fld == "tau":
        return replace(settings, tau=validate_tau(value, len(load_templates(settings.template_set))))
    if fld == "n_candidates":
        return replace(settings, n_candidates=public.check_pool_limit(validate_pool(value)))
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
    verdict = result.verdict_word
    replies.append(Reply(say("report_ready", name=result.true_name, verdict=verdict),
                         files=tuple(str(p) for p in files), kind="report"))
    return state


def _write_report(result: IdiaResult, folder: Path) -> list[Path]:
    """The evidence bundle (evidence.json + evidence.html; photos only as SHA-256)."""
    from ..reports import write_evidence_bundle

    # no timings: on a shared server they would tell which names other visitors checked (cache hits)
    written = write_evidence_bundle(replace(result, timings={}), folder)
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
        verdict=result.verdict if result else None,
        reference=((result.controls.reference_set or {}).get("sha256")
                   if result is not None and getattr(result, "controls", None) else None),
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
    rows = ["| model | verdict | templates picking the name | median rank | chance (p) |",
            "|---|---|---|---|---|"]
    errors, answered = [], []
    for spec in specs:
        try:
            spec = public_model(spec)
            r = run_idia(spec, [p.path for p in state.photos], state.name, extra_names=tuple(state.added_names),
                         n_candidates=s.n_candidates, tau=s.tau, seed=s.seed, template_set=s.template_set,
                         name_mode=s.name_mode, progress=progress, private_cache=state.private_embeddings)
        except IdiaInputError as err:
            errors.append(say("compare_error", model=_code(spec), message=public.client_message(err)))
            continue
        answered.append((spec, r))
        word = r.verdict_word.replace(" ", "\u00a0")
        verdict = (("✓\u00a0**" + word + "**") if r.verdict == "member" else
                   ("?\u00a0**" + word + "**") if r.member else "✗\u00a0" + word)   # no-break spaces: a cell never
        rows.append(f"| {_code(spec).replace('|', chr(92) + '|')} | {verdict} | "                  # wraps
                    f"{r.correct_templates}\u00a0of\u00a0{r.n_templates} | "
                    f"{r.true_name_median_rank:g}\u00a0of\u00a0{r.n_candidates} | {r.p_value:.3g} |")
    head = say("compare_header", P=len(state.photos), N=s.n_candidates, seed=s.seed, tau=s.tau)
    parts = notes + [head]
    parts += ["\n".join(rows)] if answered else [say("compare_no_answer")]
    if errors:
        parts.append(say("compare_errors_head") + "\n" + "\n".join(f"- {e}" for e in errors))
    images = ()
    if len(answered) > 1:
        images = (_compare_png(answered, state),)
    replies.append(Reply("\n\n".join(parts), images=images, kind="compare"))
    return state


def _code(text: str) -> str:
    """Text shown as inline code, safe whatever it holds (a model spec typed by a visitor)."""
    return public.code(text)


def _compare_png(answered, state: ChatSession) -> str:
    from .. import charts

    folder = state.ensure_workdir()
    stamp = abs(hash((tuple(r.fingerprint for _, r in answered), state.run_key()))) % 10**10
    path = folder / f"compare-{stamp:010d}.png"
    if not path.exists():
        charts.save_figure(charts.compare_figure([(model_label(m), r) for m, r in answered]), path)
    return str(path)


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
    "too_long": _on_too_long, "ack": _on_ack, "who_is_this": _on_who_is_this, "question": _on_question,
    "undo": _on_undo, "adjust": _on_adjust, "paper_settings": _on_paper_settings,
}


# -- the stateless API -------------------------------------------------------------------------
def api_check(files, name: str, options=None, *, default_model: str | None = None,
              progress: Progress | None = None) -> dict:
    """Photos + name + options → the core's JSON verdict, or ``{"ok": false, "error": {code,
    message}}``. ``options``: the JSON value the client sent (see ``idia_core.options``: anything but
    an object of known options is an error). No session, nothing kept."""
    try:
        opts = validate_check_options(options, default_model=default_model or default_model_spec())
        s = opts.settings
        result = run_idia(
            s.model, list(files or []), name, extra_names=opts.extra_names, n_candidates=s.n_candidates,
            tau=s.tau, seed=s.seed, template_set=s.template_set, name_mode=s.name_mode, progress=progress,
            private_cache=PrivateEmbeddings(),
        )
    except IdiaInputError as err:
        return {"ok": False, "error": {"code": err.code, "message": public.client_message(err)}}
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
