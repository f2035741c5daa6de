"""idia — the chat app (Gradio). Layout and event wiring only: every decision is made by
``idia_core.chat.controller``; this file turns its replies into chat messages and plots.

Run: ``python app.py`` (the embedded sandbox model by default; ``IDIA_MODEL=ViT-B-32:openai`` or any
spec to change it). API: ``chat`` (a message and the session) and ``check`` (stateless: photos,
name, options → the core's JSON verdict).
"""
from __future__ import annotations

import os
import tempfile
import threading
import uuid
from pathlib import Path

import gradio as gr

from idia_core import limits
from idia_core.chat import controller as C
from idia_core.chat import session as chat_session
from idia_core.chat.examples import sandbox_examples
from idia_core.chat.uploads import SessionFiles
from idia_core.chat.views import result_views
from idia_core.models import CATALOGUE
from idia_core.templates import available_template_sets

try:  # ZeroGPU on Hugging Face Spaces; a no-op everywhere else
    import spaces

    gpu = spaces.GPU
except ImportError:  # pragma: no cover - depends on the host
    def gpu(fn):
        return fn

DEFAULT_MODEL = C.default_model_spec()
EXAMPLES_DIR = Path(tempfile.gettempdir()) / "idia-examples"
SETTING_FIELDS = ("model", "tau", "n_candidates", "seed", "template_set", "name_mode")
RESPONSIBLE_USE = (
    "**Responsible use.** idia is for checking models for your own identity or identities you have "
    "consent to check, and for audits of models. It is not a face-recognition or people-search tool, and "
    "a \"member\" verdict is statistical evidence about a model's training data, not proof about a person."
)


def _compute_limit() -> int:
    """Checks running at once: a GPU batches well; on CPU each check already uses every core, but
    two at a time keep one long encoding from holding up every other session."""
    if os.environ.get("IDIA_CONCURRENCY", "").strip().isdigit():
        return max(1, int(os.environ["IDIA_CONCURRENCY"]))
    try:
        import torch

        if torch.cuda.is_available():
            return 8
    except Exception:  # pragma: no cover - torch is a hard dependency
        pass
    return 2


COMPUTE_LIMIT = _compute_limit()   # shared by the chat and check endpoints (one concurrency group)
QUEUE_MAX = 64                     # waiting events beyond this are refused with "queue full"


def _upload_folder() -> str:
    try:
        from gradio.utils import get_upload_folder

        return get_upload_folder()
    except ImportError:  # pragma: no cover - older gradio
        return os.environ.get("GRADIO_TEMP_DIR") or str(Path(tempfile.gettempdir()) / "gradio")


# Uploads live in gradio's temporary folder only; a session's charts and reports are written there
# too (served without a second copy), and everything a session held is deleted when it ends.
UPLOAD_ROOT = _upload_folder()
chat_session.WORKDIR_ROOT = os.path.join(UPLOAD_ROOT, "idia-sessions")


def _protected_files():
    """Files no session may delete: the examples' cached copies, shared by every visitor."""
    for block in getattr(globals().get("demo"), "blocks", {}).values():
        yield from getattr(block, "keep_in_cache", ())


SESSION_FILES = SessionFiles(UPLOAD_ROOT, protected=_protected_files)


def _libc_malloc_trim():
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):   # not glibc: nothing to do
        return None


_MALLOC_TRIM = _libc_malloc_trim()


def _return_free_memory() -> None:
    """Hand freed heap pages back to the OS. Each check allocates and frees tens of MB (pool
    embeddings, similarities) from many worker threads; glibc keeps such memory in its arenas, so
    without this a busy server's RSS creeps up by fragmentation though nothing is leaked."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


# -- glue: controller values ⇄ gradio values ------------------------------------------------------
def _history_messages(replies) -> list[dict]:
    """One assistant message per reply: its text, then its charts and downloads in the same bubble."""
    out = []
    for r in replies:
        parts = [r.text] + [{"path": p, "alt_text": "chart"} for p in r.images] + [{"path": p} for p in r.files]
        out.append({"role": "assistant", "content": parts if len(parts) > 1 else r.text})
    return out


def _user_messages(text: str, files) -> list[dict]:
    parts = [{"path": f} for f in files] + ([text] if text else [])
    return [{"role": "user", "content": parts if len(parts) > 1 else parts[0]}] if parts else []


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
    def report(done: int, total: int, message: str):
        progress((done, total) if total else None, desc=message)
    return report


def _outputs(state, history):
    views = result_views(state)
    s = state.settings
    return (
        history, state, views.top_names, views.votes, views.gallery, views.summary or "*No verdict yet.*",
        _model_line(s.model), s.model, s.tau, s.n_candidates, s.seed, s.template_set, s.name_mode,
    )


def _model_line(spec: str) -> str:
    return f"Active model: **{C.model_label(spec)}** (`{spec}`)"


# -- event handlers ------------------------------------------------------------------------------
@gpu
def chat(message: dict, history: list, state, request: gr.Request, progress=gr.Progress()):
    """The chat endpoint: one message (text + files) in the session, replies out."""
    state = state if isinstance(state, C.ChatSession) else C.new_session()
    message = message or {}
    text, files = (message.get("text") or "").strip(), _file_paths(message.get("files"))
    sid = getattr(request, "session_hash", None) or "anonymous"
    SESSION_FILES.claim(sid, files)
    SESSION_FILES.claim_folder(sid, state.workdir)
    turn = C.handle(C.UserMessage(text, files), state, progress=_progress_adapter(progress),
                    base_url=_base_url(request))
    SESSION_FILES.claim_folder(sid, turn.state.workdir)
    history = list(history or []) + _user_messages(text, files) + _history_messages(turn.replies)
    return (gr.MultimodalTextbox(value=None),) + _outputs(turn.state, history)


def command(text: str):
    """A button that says something in the chat (share, report, reset)."""
    def handler(history, state, request: gr.Request, progress=gr.Progress()):
        return chat({"text": text, "files": []}, history, state, request, progress)[1:]
    handler.__name__ = f"say_{text}"
    return handler


def setting(fld: str):
    @gpu   # a changed setting re-runs the check (or loads a model)
    def handler(value, history, state, progress=gr.Progress()):
        state = state if isinstance(state, C.ChatSession) else C.new_session()
        turn = C.change_setting(state, fld, value, progress=_progress_adapter(progress))
        return _outputs(turn.state, list(history or []) + _history_messages(turn.replies))
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
    holder = getattr(globals().get("demo"), "state_holder", None)
    if holder is not None:
        try:
            holder.delete_state(sid)   # calls the State's delete_callback (close_session)
            with holder.lock:
                holder.session_data.pop(sid, None)
                holder.time_last_used.pop(sid, None)
        except Exception as exc:  # pragma: no cover - gradio internals
            print(f"idia: could not drop the state of a closed session: {exc}")
    await anyio.to_thread.run_sync(SESSION_FILES.release, sid)
    await anyio.to_thread.run_sync(_return_free_memory)


def on_load(request: gr.Request):
    """A new browser session: a welcome, or the settings of a share link and a request for photos."""
    query = list(request.query_params.multi_items()) if request is not None else []
    turn = C.open_link(query, C.new_session())
    return _outputs(turn.state, _history_messages(turn.replies))


@gpu
def check(photos, name: str, options: dict | None, progress=gr.Progress()):
    """Stateless: photos + name + options → the core's JSON verdict (or an error with its code)."""
    paths = _file_paths(photos)
    token = f"check-{uuid.uuid4().hex}"   # nothing is kept: the uploads go when the check returns
    SESSION_FILES.claim(token, paths)
    try:
        return C.api_check(paths, name, options if isinstance(options, dict) else None,
                           default_model=DEFAULT_MODEL, progress=_progress_adapter(progress))
    finally:
        SESSION_FILES.release(token)
        _return_free_memory()


# -- layout ------------------------------------------------------------------------------------------
def build_app() -> gr.Blocks:
    examples = sandbox_examples(EXAMPLES_DIR) if DEFAULT_MODEL == "sandbox" else []
    catalogue = [(f"{e.label} — {e.spec}", e.spec) for e in CATALOGUE]
    if DEFAULT_MODEL not in [spec for _, spec in catalogue]:
        catalogue.insert(0, (DEFAULT_MODEL, DEFAULT_MODEL))
    with gr.Blocks(title="idia — does CLIP know this face?", delete_cache=(1800, 3600)) as demo:
        state = gr.State(None, delete_callback=C.close_session)
        gr.Markdown("## idia — does this CLIP model know this face?\n"
                    "The Identity Inference Attack of *Does CLIP Know My Face?* (Hintersdorf et al., JAIR 2024). "
                    "Photos stay in this session's memory and temporary upload folder and are deleted, with the "
                    "session's charts and reports, when you close the page; reports and links hold only their "
                    "SHA-256 hashes.")
        gr.Markdown(RESPONSIBLE_USE, elem_id="responsible-use")
        model_line = gr.Markdown(_model_line(DEFAULT_MODEL), elem_id="active-model")
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="idia", height=620, elem_id="chat", buttons=["copy"])
                box = gr.MultimodalTextbox(
                    placeholder=f"Drop 3–{limits.MAX_PHOTOS} photos of one person, then ask: Is this Jane Doe?",
                    file_types=["image"], file_count="multiple", show_label=False, elem_id="box",
                )
                with gr.Row():
                    share_btn = gr.Button("Share link", size="sm")
                    report_btn = gr.Button("Report", size="sm")
                    why_btn = gr.Button("Why?", size="sm")
                    reset_btn = gr.Button("Reset", size="sm")
                if examples:
                    gr.Examples([e.message for e in examples], inputs=[box],
                                example_labels=[f"{e.name} ({e.label})" for e in examples], label="Sandbox people")
            with gr.Column(scale=2):
                with gr.Accordion("Settings (the chat can change them too)", open=False):
                    model_dd = gr.Dropdown(catalogue, value=DEFAULT_MODEL, allow_custom_value=True, label="Model",
                                           info="A catalogue model or any spec (ARCH:TAG, hf-hub:ORG/NAME, local-dir:PATH)")
                    tau_in = gr.Slider(1, 21, value=limits.DEFAULT_TAU, step=1, label="tau (templates that must pick the name)")
                    pool_in = gr.Number(limits.DEFAULT_POOL, precision=0, label=f"Candidate names ({limits.MIN_POOL}–{limits.MAX_POOL})")
                    seed_in = gr.Number(0, precision=0, label="Seed of the distractor names")
                    tset_in = gr.Dropdown(list(available_template_sets()), value="paper21", label="Template set")
                    mode_in = gr.Radio(["mixed", "paper"], value="mixed", label="Distractor names")
                summary = gr.Markdown("*No verdict yet.*")
                top_plot = gr.BarPlot(None, x="name", y="similarity", color="kind",
                                      color_map={"true name": "#2e7d32", "other": "#90a4ae"}, sort="-y",
                                      title="Top names by mean similarity", height=300, x_label_angle=-40)
                votes_plot = gr.BarPlot(None, x="template", y="votes", color="kind",
                                        color_map={"picked the name": "#2e7d32", "did not": "#c62828"},
                                        title="Photos voting for the name, per template", height=300,
                                        x_label_angle=-60, sort="x")
                gallery = gr.Gallery(label="Photos and their top names", columns=4, height=240)
        with gr.Group(visible=False):
            api_photos = gr.File(file_count="multiple", label="photos")
            api_name = gr.Textbox(label="name")
            api_options = gr.JSON(label="options")
            api_out = gr.JSON(label="result")
            api_btn = gr.Button("check")

        views = [chatbot, state, top_plot, votes_plot, gallery, summary, model_line,
                 model_dd, tau_in, pool_in, seed_in, tset_in, mode_in]
        box.submit(chat, [box, chatbot, state], [box] + views, api_name="chat",
                   concurrency_limit=COMPUTE_LIMIT, concurrency_id="compute")
        for btn, text in ((share_btn, "share"), (report_btn, "report"), (why_btn, "why?"), (reset_btn, "reset")):
            btn.click(command(text), [chatbot, state], views, api_name=False,
                      concurrency_limit=COMPUTE_LIMIT, concurrency_id="compute")
        for comp, fld in zip((model_dd, tau_in, pool_in, seed_in, tset_in, mode_in), SETTING_FIELDS):
            (comp.release if isinstance(comp, gr.Slider) else comp.input)(
                setting(fld), [comp, chatbot, state], views, api_name=False, trigger_mode="always_last",
                concurrency_limit=COMPUTE_LIMIT, concurrency_id="compute")
        api_btn.click(check, [api_photos, api_name, api_options], api_out, api_name="check",
                      concurrency_limit=COMPUTE_LIMIT, concurrency_id="compute")
        demo.load(on_load, None, views, api_name=False)
        demo.unload(on_unload)
    return demo


def _warm_up_in_background() -> None:
    """Encode the default model's default pool, then other downloaded catalogue models' pools, in
    the background at low priority: visitors' checks go first (IDIA_WARMUP=0: skip; =default: the
    default model only)."""
    mode = os.environ.get("IDIA_WARMUP", "1").strip().lower()
    if mode == "0":
        return
    from idia_core.warmup import warm_up_server

    threading.Thread(target=warm_up_server, args=(DEFAULT_MODEL,), kwargs={"others": mode != "default"},
                     name="idia-warm-up", daemon=True).start()


demo = build_app()

if __name__ == "__main__":
    _warm_up_in_background()
    demo.queue(default_concurrency_limit=COMPUTE_LIMIT, max_size=QUEUE_MAX).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), show_error=True,
    )
