"""idia — the chat app (Gradio). Layout, event wiring and the glue to gradio only: every decision
is made by ``idia_core.chat`` (gradio-free; ``chat.serving`` holds the server's shared mechanics);
this file turns its replies into chat messages and its views into components.

Run: ``python app.py`` (the embedded sandbox model by default; ``IDIA_MODEL=ViT-B-32:openai`` or any
spec to change it). API: ``chat`` (a message and the session) and ``check`` (stateless: photos,
name, options → the core's JSON verdict).
"""
from __future__ import annotations

from idia_core.forking import prepare_for_forks

prepare_for_forks()   # before numpy and torch load: a process that forks GPU workers runs one thread per pool

try:   # ZeroGPU on Hugging Face Spaces; `spaces` must be imported before torch (it patches torch)
    import spaces
except ImportError:   # pragma: no cover - everywhere but a Space
    spaces = None

import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import gradio as gr

from idia_core import chat as C
from idia_core import echo as markdown, limits   # (app.py has its own echo: the chat's first step)
from idia_core.chat import admission, public, serving
from idia_core.chat import session as chat_session
from idia_core.chat import views as C_VIEWS
from idia_core.chat.examples import sandbox_examples
from idia_core.chat.history import HistoryRecord, message_text
from idia_core.chat.lifecycle import STOPPING, Lifecycle
from idia_core.chat.routing import SentKinds, event_kind, needs_compute
from idia_core.chat.uploads import (IdleSessions, SessionFiles, TrackedUploads, UploadQuota, arrive_privately,
                                    delete_uploads_inside, unclaimed_ttl, upload_limits)
from idia_core.chat.views import result_views
from idia_core.chat.warmup import warm_up_server
from idia_core.text.templates import available_template_sets
from idia_core.zoo import gpu
from idia_core.zoo.catalogue import CATALOGUE
from idia_core.zoo.load import load_model

# The only GPU work (image and new text embeddings) runs behind this boundary: on a ZeroGPU Space
# each call is a @spaces.GPU worker; with IDIA_EMULATE_ZEROGPU=1 a forked child that behaves like
# one; elsewhere this process. Turns, sessions, files and caches never cross it.
GPU = gpu.install(gpu.boundary_from_environment(spaces))
DEFAULT_MODEL = C.default_model_spec()
EXAMPLES_DIR = Path(tempfile.gettempdir()) / "idia-examples"
SETTING_FIELDS = ("model", "tau", "n_candidates", "seed", "template_set", "name_mode")
RESPONSIBLE_USE = (
    "**Responsible use.** idia is for checking models for your own identity or identities you have "
    "consent to check, and for audits of models. It is not a face-recognition or people-search tool, and "
    "a \"member\" verdict is statistical evidence about a model's training data, not proof about a person."
)


COMPUTE_LIMIT = serving.compute_limit()   # checks running at once, over the chat and check endpoints
COMPUTE = serving.ComputeSlots(COMPUTE_LIMIT)
CHEAP_SLOTS = 16                   # turns that run no check (help, status, share, ...) beside them
PUBLIC = public.is_public()
QUEUE = admission.queue_limits(PUBLIC)   # fair queueing: per session, per address, compute apart from cheap
SENT_KINDS = SentKinds()   # what each browser session just sent: its chat event carries no text to classify
CHAT_LIMIT = QUEUE.compute_total + CHEAP_SLOTS   # compute turns admitted never take the cheap turns' room
QUEUE_MAX = QUEUE.compute_total + QUEUE.cheap_total   # gradio's own cap, behind the fair one
PROXY_HOPS = admission.proxy_hops()
SESSION_IDLE_S = float(os.environ.get("IDIA_SESSION_IDLE_S", "1800"))   # then a session is closed
LIFE = Lifecycle()                 # a shutdown: no new turn, running ones end or stop, then cleanup
HISTORY = HistoryRecord()          # per session, the messages the server wrote (the rest is not shown back)


def _compute_slot(needed: bool, progress=None):
    """One of the COMPUTE_LIMIT slots while a turn may run a check. Chat events run in their own,
    wider concurrency group, so a turn that runs no check never waits behind checks."""
    def waiting():
        if progress is not None:
            progress(None, desc="Waiting for a free slot (other checks are running)")
    return COMPUTE.hold(needed, on_wait=waiting)


def _upload_folder() -> str:
    try:
        from gradio.utils import get_upload_folder

        return get_upload_folder()
    except ImportError:  # pragma: no cover - older gradio
        return os.environ.get("GRADIO_TEMP_DIR") or str(Path(tempfile.gettempdir()) / "gradio")


# Uploads live in gradio's temporary folder only, with each session's charts and reports (deleted when it ends).
UPLOAD_ROOT = _upload_folder()
chat_session.set_workdir_root(os.path.join(UPLOAD_ROOT, "idia-sessions"))


def _protected_files():
    """Files no session may delete: the examples' cached copies, shared by every visitor."""
    for block in getattr(globals().get("demo"), "blocks", {}).values():
        yield from getattr(block, "keep_in_cache", ())


SESSION_FILES = SessionFiles(UPLOAD_ROOT, protected=_protected_files, pending_ttl=unclaimed_ttl(),
                             queued=lambda: serving.queued_file_paths(getattr(globals().get("demo"), "_queue", None)))
UPLOAD_QUOTA = UploadQuota(upload_limits(PUBLIC), SESSION_FILES.pending_bytes)
IDLE = IdleSessions(SESSION_IDLE_S)
INTERNAL_ERROR, RESTARTING = C.say("internal_error"), C.say("restarting")   # prompts/messages/chat.toml


# -- glue: controller values ⇄ gradio values ------------------------------------------------------
def _file_url(path: str) -> str:
    """Where the page fetches a file gradio serves (the session's folder is inside its upload folder)."""
    return "/gradio_api/file=" + quote(str(path), safe="/")


def _image_markdown(path: str, alt: str) -> str:
    """An image inside a message's markdown rather than a file message: gradio 6.31 gives every
    file message its own share-to-Hub button, which would upload the picture; the app promises
    photos stay in the session, so pictures in the chat are plain images."""
    return f"![{alt}]({_file_url(path)})"


def _history_messages(replies) -> list[dict]:
    """One assistant message per reply: its text, then its chart inline, then its downloads as plain
    links (a file message would carry gradio's share-to-Hub button too)."""
    out = []
    for r in replies:
        parts = [r.text] + [_image_markdown(p, f"chart {Path(p).stem.split('-')[0]}") for p in r.images]
        if r.files:
            parts.append("Download: " + " · ".join(f"[{Path(p).name}]({_file_url(p)})" for p in r.files))
        out.append({"role": "assistant", "content": "\n\n".join(parts)})
    return out


def _user_messages(text: str, files, strip: str | None = None) -> list[dict]:
    """The user's message: their photos as one thumbnail strip (not a screen per photo), then
    their words."""
    parts = []
    if strip:
        parts.append(_image_markdown(strip, f"{len(files)} photo(s)"))
    elif files:
        parts.append(f"*{len(files)} file(s)*")
    if text:
        parts.append(text)
    return [{"role": "user", "content": "\n\n".join(parts)}] if parts else []


def _file_paths(files) -> tuple[str, ...]:
    return tuple(f if isinstance(f, str) else (f.get("path") if isinstance(f, dict) else getattr(f, "path", str(f)))
                 for f in (files or []))


def _base_url(request: gr.Request | None) -> str:
    if os.environ.get("SPACE_HOST"):
        return f"https://{os.environ['SPACE_HOST']}"
    if request is None:
        return ""
    origin = request.headers.get("origin")
    if origin:
        return origin
    host = request.headers.get("x-forwarded-host") or request.headers.get("host") or ""
    proto = request.headers.get("x-forwarded-proto") or "http"
    return f"{proto}://{host}" if host else ""


def _progress_adapter(progress: gr.Progress):
    """The core's progress as one line of words (and a share done), in the line under the chat; it
    stops the turn once a shutdown began (``Lifecycle.guard``)."""
    def report(done: int, total: int, message: str):
        progress(done / total if total else None, desc=message)
    return LIFE.guard(report)


N_VIEWS = 13   # what _outputs returns: one value per component in the layout's ``views``


def _outputs(state, history, sid: str | None):
    """Every view of the session. Charts are drawn here (in the turn's thread, into the session's
    folder), so call this before the turn's files are claimed or deleted (_keep_turn_files). The
    history sent is recorded as the server's own (``HISTORY``)."""
    HISTORY.note(sid or "anonymous", history)
    try:
        views = result_views(state)
    except OSError:   # a shutdown began: no chart is drawn any more (files.WritesStopped)
        return _history_only(history, None)
    s = state.settings
    return (
        history, state,
        # empty until a check: hidden rather than blank boxes (the summary says what will appear)
        gr.Image(views.top_names, visible=views.top_names is not None),
        gr.Image(views.votes, visible=views.votes is not None),
        gr.Gallery(views.gallery, visible=bool(views.gallery)), views.summary,
        _model_line(s.model), s.model, s.tau, s.n_candidates, s.seed, s.template_set, s.name_mode,
    )


def _history_only(history, sid: str | None):
    """The history and nothing else changed (no chart is drawn)."""
    if sid is not None:
        HISTORY.note(sid, history)
    return (history,) + (gr.skip(),) * (N_VIEWS - 1)


def _model_line(spec: str) -> str:
    return f"Active model: **{markdown.plain(C.model_label(spec))}** ({markdown.code(spec)})"   # a spec may come from a link


# -- event handlers ------------------------------------------------------------------------------
BOX_PLACEHOLDER = f"Drop 3–{limits.MAX_PHOTOS} photos of one person, then ask: Is this Jane Doe?"


def echo(message: dict, history: list, request: gr.Request = None):
    """At once, before the turn is queued: the user's message and a "Checking …" line in the chat; the
    message leaves the box (empty and disabled until the reply) for the outbox ``chat`` reads."""
    message = message or {}
    text, files = (message.get("text") or "").strip(), _file_paths(message.get("files"))
    if not text and not files:
        return None, gr.skip(), gr.skip()   # an empty outbox: the last message is never sent again
    SENT_KINDS.note(getattr(request, "session_hash", None), text, files)   # for the queue's admission
    pending = _user_messages(text, files) + [{"role": "assistant", "content": C.say("echo_working")}]
    history = list(history or [])
    return {"text": text, "files": list(files)}, gr.MultimodalTextbox(value=None, interactive=False), history + pending


def _without_echo(history: list, text: str, files) -> list:
    """The history as it was before ``echo`` added this message and its "Checking …" line."""
    echoed = _user_messages(text, files) + [{"role": "assistant", "content": C.say("echo_working")}]
    tail = history[-len(echoed):]
    if len(tail) == len(echoed) and all(isinstance(m, dict) and m.get("role") == e["role"] and
                                        (message_text(m) or "").strip() == e["content"].strip()
                                        for m, e in zip(tail, echoed)):
        return history[:-len(echoed)]
    return history


def chat(message: dict, history: list, state, request: gr.Request, progress=gr.Progress()):
    """The chat endpoint: one message (text + files) in the session, replies out. A message that
    arrives while this session's previous turn runs is kept and answered right after it."""
    state = state if isinstance(state, C.ChatSession) else C.new_session()
    message = message if isinstance(message, dict) else {}
    text, files = str(message.get("text") or "").strip(), _file_paths(message.get("files"))
    sid = getattr(request, "session_hash", None) or "anonymous"
    token = f"request-{uuid.uuid4().hex}"   # this turn's uploads: kept by the session only if accepted
    SESSION_FILES.claim(token, files)
    SESSION_FILES.reopen(sid)
    SESSION_FILES.claim_folder(sid, state.workdir)
    history = HISTORY.validated(sid, _without_echo(list(history or []), text, files))   # never the client's own
    box = gr.MultimodalTextbox(value=None, interactive=True, placeholder=BOX_PLACEHOLDER)
    sent = C.UserMessage(text, files)
    progress(0.0, desc=C.say("progress_start"))   # words at once, before the core reports its own
    try:
        with LIFE.turn(), IDLE.busy(sid), _compute_slot(needs_compute(text, files), progress):
            turns = C.handle_in_order(sid, sent, state, progress=_progress_adapter(progress),
                                      base_url=_base_url(request))
    except STOPPING:   # nothing of this turn is kept: the cleanup removes its uploads
        turns = [(sent, C.Turn(state, [C.Reply(RESTARTING, kind="error")]))]
    except Exception as exc:   # a bug, not a user mistake: log it, tell the visitor nothing internal
        print(f"idia: chat turn failed: {type(exc).__name__}: {exc}")
        turns = [(sent, C.Turn(state, [C.Reply(INTERNAL_ERROR, kind="error")]))]
    if not turns:   # kept: the running turn answers it (and its reply replaces this whole history)
        SESSION_FILES.claim(sid, files)   # held by the session until that turn has used them
        SESSION_FILES.release(token)
        history += _user_messages(text, files) + _history_messages([C.busy_reply(sent)])
        return (box,) + _history_only(history, sid)
    for msg, turn in turns:
        history += _user_messages(msg.text, msg.files, turn.photo_strip) + _history_messages(turn.replies)
    state = turns[-1][1].state
    outputs = _outputs(state, history, sid)
    if not _keep_turn_files(sid, token, state):
        return (box,) + _history_only(history, sid)   # nobody is there to see the views
    return (box,) + outputs


def _keep_turn_files(sid: str, token: str | None, state) -> bool:
    """After a turn: the session keeps the uploads it accepted and its folder; the turn's refused
    uploads go now. When the session was closed while the turn ran (the page went away), what the
    turn wrote (charts, reports) is deleted instead of being claimed by a session no one will
    close, and this returns False."""
    if SESSION_FILES.is_closed(sid):
        C.close_session(state)
        if token is not None:
            SESSION_FILES.release(token)
        return False
    SESSION_FILES.claim(sid, [p.path for p in getattr(state, "photos", ())], upload=False)
    SESSION_FILES.claim_folder(sid, getattr(state, "workdir", None))
    if token is not None:
        SESSION_FILES.release(token)
    return True


def command(text: str):
    """A button that says something in the chat (share, report, reset)."""
    def handler(history, state, request: gr.Request, progress=gr.Progress()):
        return chat({"text": text, "files": []}, history, state, request, progress)[1:]
    handler.__name__ = f"say_{text}"
    return handler


def setting(fld: str):
    def handler(value, history, state, request: gr.Request, progress=gr.Progress()):
        state = state if isinstance(state, C.ChatSession) else C.new_session()
        sid = getattr(request, "session_hash", None) or "anonymous"
        try:
            with LIFE.turn(), IDLE.busy(sid), _compute_slot(True, progress):
                turn = C.change_setting(state, fld, value, progress=_progress_adapter(progress))
        except STOPPING:
            turn = C.Turn(state, [C.Reply(RESTARTING, kind="error")])
        except Exception as exc:
            print(f"idia: setting {fld} failed: {type(exc).__name__}: {exc}")
            turn = C.Turn(state, [C.Reply(INTERNAL_ERROR, kind="error")])
        history = HISTORY.validated(sid, list(history or [])) + _history_messages(turn.replies)
        outputs = _outputs(turn.state, history, sid)
        return outputs if _keep_turn_files(sid, None, turn.state) else _history_only(history, sid)
    handler.__name__ = f"set_{fld}"
    return handler


async def on_unload(request: gr.Request):
    """The browser (or client) went away: delete the session's uploads, charts and reports, and drop
    its state and per-session config now rather than an hour later (gradio keeps a closed session
    for an hour, and its per-session record until 10,000 newer ones push it out: a memory leak on
    a busy Space; its photos are gone anyway, so it could not re-run). Async, so this runs on the
    event loop, never interleaved with gradio's own sweep of expired state."""
    import anyio

    sid = getattr(request, "session_hash", None)
    if not sid:
        return
    _drop_state(sid)
    IDLE.forget(sid)
    HISTORY.forget(sid)
    await anyio.to_thread.run_sync(SESSION_FILES.release, sid)
    await anyio.to_thread.run_sync(serving.return_free_memory)


def _drop_state(sid: str) -> None:
    holder = getattr(globals().get("demo"), "state_holder", None)
    if holder is not None:
        try:
            holder.delete_state(sid)   # calls the State's delete_callback (close_session)
            with holder.lock:
                holder.session_data.pop(sid, None)
                holder.time_last_used.pop(sid, None)
        except Exception as exc:  # pragma: no cover - gradio internals
            print(f"idia: could not drop the state of a closed session: {type(exc).__name__}")


def _close_idle_session(sid: str) -> None:   # idle longer than SESSION_IDLE_S: state, history and files go
    _drop_state(sid)
    HISTORY.forget(sid)
    SESSION_FILES.release(sid)


def _sweep_unclaimed() -> None:
    SESSION_FILES.sweep()   # uploads no request claimed in time
    serving.return_free_memory()


def _event_kind(body) -> str:
    """An event joining the queue: compute or cheap (``routing.event_kind``), from its function's name."""
    fn = demo.fns.get(getattr(body, "fn_index", None))
    return event_kind(getattr(fn, "name", None) or "", getattr(body, "data", None),
                      sent=lambda: SENT_KINDS.take(getattr(body, "session_hash", None)))


def _remove_server_files() -> None:
    """What this server wrote under gradio's temporary folder and for its examples: every session's
    uploads, charts and reports, uploads not yet claimed, the example photos, and any state file of
    gradio's deep links (turned off: serving.DeepLinksClosed). Called on SIGTERM, after the turns."""
    SESSION_FILES.release_all()
    shutil.rmtree(chat_session.WORKDIR_ROOT, ignore_errors=True)
    shutil.rmtree(EXAMPLES_DIR, ignore_errors=True)
    shutil.rmtree(os.path.join(UPLOAD_ROOT, "deep_links"), ignore_errors=True)
    for record in getattr(globals().get("demo"), "temp_file_sets", ()):
        delete_uploads_inside(list(record), UPLOAD_ROOT)


def _on_sigterm(signum, frame) -> None:
    """A clean shutdown: no new turn, running turns end (or stop at their next progress step, within
    lifecycle.GRACE_S), nothing is written any more; then remove what the server wrote and stop as
    Ctrl-C would."""
    t0, running = time.monotonic(), LIFE.running()
    ended = LIFE.shut_down(_remove_server_files)
    print(f"idia: shutdown: {running} turn(s) running; {'all ended' if ended else 'abandoned (they write nothing)'} "
          f"after {time.monotonic() - t0:.1f} s; what visitors left is removed", flush=True)
    raise KeyboardInterrupt


def on_load(request: gr.Request):
    """A new browser session: a welcome, or the settings of a share link and a request for photos."""
    query = list(request.query_params.multi_items()) if request is not None else []
    turn = C.open_link(query, C.new_session())
    return _outputs(turn.state, _history_messages(turn.replies), getattr(request, "session_hash", None))


def check(photos, name: str, options: dict | None, progress=gr.Progress()):
    """Stateless: photos + name + options → the core's JSON verdict (or an error with its code)."""
    paths = _file_paths(photos)
    token = f"request-{uuid.uuid4().hex}"   # nothing is kept: the uploads go when the check returns
    SESSION_FILES.claim(token, paths)
    try:
        with LIFE.turn(), _compute_slot(True, progress):
            return C.api_check(paths, name, options, default_model=DEFAULT_MODEL,
                               progress=_progress_adapter(progress))
    except STOPPING:
        return {"ok": False, "error": {"code": "internal", "message": RESTARTING}}
    except Exception as exc:   # a bug: the client gets a code, the log gets the detail
        print(f"idia: check failed: {type(exc).__name__}: {exc}")
        return {"ok": False, "error": {"code": "internal", "message": INTERNAL_ERROR.replace("**", "")}}
    finally:
        SESSION_FILES.release(token)
        serving.return_free_memory()


def _no_empty_temp_files(component: gr.File) -> None:
    """gr.File(type="filepath") opens an empty NamedTemporaryFile in gradio's cache for every file
    of every call and never removes it (thousands of 0-byte files after a busy day); this input
    passes the uploaded path itself, which is all gradio's own code returns anyway."""
    from gradio.utils import NamedString

    def process(f):
        return NamedString(f.path)
    component._process_single_file = process


# -- layout ------------------------------------------------------------------------------------------
ASSETS = Path(__file__).resolve().parent / "assets"   # the page's own style and script (scrolling, forgetting files)
CSS = "\n".join((ASSETS / name).read_text(encoding="utf-8") for name in ("app.css", "chat.css"))
CHAT_JS = (ASSETS / "chat.js").read_text(encoding="utf-8")   # loaded once: each event calls one of its functions
MARK_REPLY_START, FORGET_PICKED_FILES = ("(...a) => { idiaMark(); return a; }",
                                        "(...a) => { idiaMark(); idiaForgetFiles(); return a; }")
SCROLL_TO_END, SCROLL_TO_REPLY = "() => { idiaScrollToEnd(); }", "() => { idiaScrollToReply(); }"


def build_app() -> gr.Blocks:
    with gr.Blocks(title="idia — does CLIP know this face?", delete_cache=(1800, 3600)) as demo:
        state = gr.State(None, delete_callback=C.close_session)
        gr.Markdown("## idia — does this CLIP model know this face?", elem_id="title")
        model_line = gr.Markdown(_model_line(DEFAULT_MODEL), elem_id="active-model")
        with gr.Row(elem_id="main-row"):
            talk = _chat_column()
            side = _side_column()
        gr.Markdown("The Identity Inference Attack of *Does CLIP Know My Face?* (Hintersdorf et al., JAIR 2024). "
                    "Photos stay in this session's memory and temporary upload folder and are deleted, with the "
                    "session's charts and reports, when you close the page; reports and links hold only their "
                    "SHA-256 hashes.", elem_id="about")
        gr.Markdown(RESPONSIBLE_USE, elem_id="responsible-use")
        api = _api_inputs()
        views = [talk.chatbot, state, side.top_plot, side.votes_plot, side.gallery, side.summary, model_line,
                 *side.settings]
        assert len(views) == N_VIEWS
        _wire(demo, talk, side, api, state, views)
    # every upload is counted from its arrival, so no request deletes one another has not claimed yet
    tracked = TrackedUploads(demo.upload_file_set, SESSION_FILES.uploaded,
                             arrive=arrive_privately(UPLOAD_ROOT, _protected_files))
    demo.temp_file_sets = [tracked if s is demo.upload_file_set else s for s in demo.temp_file_sets]
    demo.upload_file_set = tracked
    return demo


def _chat_column() -> SimpleNamespace:
    """The chat, the message box, the action buttons and (on the sandbox) example people."""
    examples = sandbox_examples(EXAMPLES_DIR) if DEFAULT_MODEL == "sandbox" else []
    with gr.Column(scale=3, min_width=300):
        chatbot = gr.Chatbot(label="idia", height=560, elem_id="chat", buttons=["copy"], allow_file_downloads=False,
                             autoscroll=False)   # after a turn: the start of its reply (SCROLL_TO_REPLY), not its end
        progress_line = gr.Markdown("", elem_id="progress")   # a check's progress: under the chat, never over it
        box = gr.MultimodalTextbox(placeholder=BOX_PLACEHOLDER, file_types=["image"], file_count="multiple",
                                   show_label=False, elem_id="box")
        outbox = gr.State(None)   # the message the box sent, while its turn waits and runs
        with gr.Row(elem_id="actions"):
            buttons = {text: gr.Button(label, size="sm", min_width=60)
                       for label, text in (("Share link", "share"), ("Report", "report"), ("Why?", "why?"),
                                           ("Reset", "reset"))}
        if examples:
            gr.Examples([e.message for e in examples], inputs=[box],
                        example_labels=[f"{e.name} ({e.label})" for e in examples], label="Sandbox people")
    return SimpleNamespace(chatbot=chatbot, box=box, buttons=buttons, progress=progress_line, outbox=outbox)


def _side_column() -> SimpleNamespace:
    """Beside the chat (under it on a phone): the verdict in one line, the charts, the gallery and
    the settings. Charts come as PNG files drawn in the turn's thread (see idia_core.chat.views)."""
    catalogue = [(f"{e.label} — {e.spec}", e.spec) for e in CATALOGUE]
    if DEFAULT_MODEL not in [spec for _, spec in catalogue]:
        catalogue.insert(0, (DEFAULT_MODEL, DEFAULT_MODEL))
    with gr.Column(scale=2, min_width=300, elem_id="side"):
        summary = gr.Markdown(C_VIEWS.EMPTY_SUMMARY, elem_id="summary")
        top_plot = gr.Image(label="Names closest to the photos", show_label=False, type="filepath", format="png",
                            interactive=False, buttons=["download", "fullscreen"], elem_id="top-names", visible=False)
        gr.Markdown("**What the model saw in each photo**: its top name, ✓ when that is the name "
                    "asked about (✗ when not), how many templates picked it, then the file name.",
                    elem_id="gallery-head")
        gallery = gr.Gallery(label="What the model saw in each photo", show_label=False, columns=3, height="auto",
                             buttons=["fullscreen"], elem_id="gallery", preview=False, allow_preview=True,
                             object_fit="cover", visible=False)
        votes_plot = gr.Image(label="Each template's vote", show_label=False, type="filepath", format="png",
                              interactive=False, buttons=["download", "fullscreen"], elem_id="votes", visible=False)
        with gr.Accordion("Settings (the chat can change them too)", open=False):
            settings = (
                gr.Dropdown(catalogue, value=DEFAULT_MODEL, allow_custom_value=public.any_model_allowed(), label="Model",
                            info=public.model_field_info()),
                gr.Slider(1, 21, value=limits.DEFAULT_TAU, step=1, label="tau (templates that must pick the name)"),
                gr.Number(limits.DEFAULT_POOL, precision=0, label=public.pool_label()),
                gr.Number(0, precision=0, label="Seed of the distractor names"),
                gr.Dropdown(list(available_template_sets()), value="paper21", label="Template set"),
                gr.Radio(["mixed", "paper"], value="mixed", label="Distractor names"),
            )   # in the order of SETTING_FIELDS
    return SimpleNamespace(summary=summary, top_plot=top_plot, gallery=gallery, votes_plot=votes_plot,
                           settings=settings)


def _api_inputs() -> SimpleNamespace:
    """The hidden inputs of the stateless ``check`` endpoint."""
    with gr.Group(visible=False):
        photos = gr.File(file_count="multiple", label="photos")
        _no_empty_temp_files(photos)
        return SimpleNamespace(photos=photos, name=gr.Textbox(label="name"), options=gr.JSON(label="options"),
                               out=gr.JSON(label="result"), button=gr.Button("check"),
                               chat_button=gr.Button("chat"))   # the `chat` endpoint for API clients


def _wire(demo, talk, side, api, state, views) -> None:
    """The events: a message, the buttons, the settings controls, the API, page load and unload."""
    # chat turns share a wide group; those that may compute also take a COMPUTE slot; progress: under the chat
    chat_group = dict(concurrency_limit=CHAT_LIMIT, concurrency_id="chat", show_progress_on=[talk.progress])
    # the echo and the box's release are instant: no overlay of their own (one progress line only)
    talk.box.submit(echo, [talk.box, talk.chatbot], [talk.outbox, talk.box, talk.chatbot], queue=False,
                    api_name=False, show_progress="hidden", js=FORGET_PICKED_FILES).then(
        None, None, None, js=SCROLL_TO_END).then(
        chat, [talk.outbox, talk.chatbot, state], [talk.box] + views, api_name=False, **chat_group).then(
        lambda: gr.MultimodalTextbox(interactive=True), None, talk.box, queue=False, api_name=False,
        show_progress="hidden", js=SCROLL_TO_REPLY)  # even after an error
    api.chat_button.click(chat, [talk.box, talk.chatbot, state], [talk.box] + views, api_name="chat", **chat_group)
    for text, btn in talk.buttons.items():
        btn.click(command(text), [talk.chatbot, state], views, api_name=False, js=MARK_REPLY_START,
                  **chat_group).then(None, None, None, js=SCROLL_TO_REPLY)
    for comp, fld in zip(side.settings, SETTING_FIELDS):
        (comp.release if isinstance(comp, gr.Slider) else comp.input)(
            setting(fld), [comp, talk.chatbot, state], views, api_name=False, trigger_mode="always_last",
            js=MARK_REPLY_START, **chat_group).then(None, None, None, js=SCROLL_TO_REPLY)
    api.button.click(check, [api.photos, api.name, api.options], api.out, api_name="check",
                     concurrency_limit=COMPUTE_LIMIT, concurrency_id="check")
    demo.load(on_load, None, views, api_name=False, queue=False)   # a page load never waits in the queue
    demo.unload(on_unload)


def _load_default_model() -> None:
    """Behind a forking GPU boundary the default model is loaded now, before the server starts, and
    placed on the GPU device as ZeroGPU documents it (its workers are forked from this process and
    find it there); other models load on first use, in this process, outside the GPU functions."""
    print(f"idia: GPU boundary: {GPU.name}", flush=True)
    if not GPU.forks:
        return
    try:
        model = load_model(DEFAULT_MODEL)
        print(f"idia: default model {model.spec} loaded on {model.device}", flush=True)
    except Exception as exc:   # a check of it tells the visitor; the operator reads it here
        print(f"idia: the default model {DEFAULT_MODEL} could not be loaded: {type(exc).__name__}: {exc}", flush=True)


def _warm_up_in_background() -> None:
    """Encode the default model's default pool, then other downloaded catalogue models' pools, in
    the background at low priority: visitors' checks go first (IDIA_WARMUP=0: skip; =default: the
    default model only). On ZeroGPU the models are only loaded: encoding there is a GPU call that
    only a visitor's request can pay for."""
    mode = os.environ.get("IDIA_WARMUP", "1").strip().lower()
    if mode == "0":
        return
    threading.Thread(target=warm_up_server, args=(DEFAULT_MODEL,),
                     kwargs={"others": mode != "default", "encode": not isinstance(GPU, gpu.ZeroGPU)},
                     name="idia-warm-up", daemon=True).start()


demo = build_app()

if __name__ == "__main__":
    from starlette.middleware import Middleware

    _load_default_model()
    _warm_up_in_background()
    threading.Thread(target=IDLE.reap_forever, args=(_close_idle_session, _sweep_unclaimed), name="idia-idle-sessions",
                     daemon=True).start()
    signal.signal(signal.SIGTERM, _on_sigterm)
    shutil.rmtree(os.path.join(UPLOAD_ROOT, "deep_links"), ignore_errors=True)   # an older server's
    demo.queue(default_concurrency_limit=COMPUTE_LIMIT, max_size=QUEUE_MAX)
    admission.install(demo._queue, _event_kind, QUEUE, PROXY_HOPS, closing=lambda: LIFE.closing)
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), show_error=False, css=CSS, js=CHAT_JS,
        max_file_size=limits.MAX_FILE_BYTES,   # a bigger upload is refused at the door (HTTP 413)
        max_threads=CHAT_LIMIT + COMPUTE_LIMIT + 16,   # a thread for every turn the queue may run at once
        app_kwargs={"middleware": [Middleware(serving.UrlLengthLimit), Middleware(serving.DeepLinksClosed),
                                   Middleware(serving.RequestBodyLimit),
                                   Middleware(serving.UploadGate, quota=UPLOAD_QUOTA, hops=PROXY_HOPS)]},
    )
