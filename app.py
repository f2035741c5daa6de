"""idia — the chat app (Gradio): the Blocks and their events, a gradio demo's shape. Every decision
is made by ``idia_core.chat`` (the agent) and every shared mechanic by ``idia_core.serve`` (the
server: compute slots, sessions' files, fair queueing, shutdown, gradio's internals); this file lays
out the page, turns the server's answers into component values, and hands the app to the server.

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

import threading
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
from gradio.utils import NamedString, get_upload_folder

from idia_core import chat as C
from idia_core import config, echo, limits
from idia_core.attack.settings import FIELD, FIELDS
from idia_core.chat import public
from idia_core.chat import views as C_VIEWS
from idia_core.serve.server import Server
from idia_core.serve.transcript import echoed, file_paths
from idia_core.serve.warmup import warm_up_server
from idia_core.text.templates import available_template_sets
from idia_core.zoo import gpu
from idia_core.zoo.catalogue import CATALOGUE
from idia_core.zoo.load import load_model

# The only GPU work (image and new text embeddings) runs behind this boundary: on a ZeroGPU Space
# each call is a @spaces.GPU worker; with IDIA_EMULATE_ZEROGPU=1 a forked child that behaves like
# one; elsewhere this process. Turns, sessions, files and caches never cross it.
GPU = gpu.install(gpu.boundary_from_environment(spaces))
DEFAULT_MODEL = C.default_model_spec()
# uploads live in gradio's temporary folder only, with each session's charts and reports
SERVER = Server(get_upload_folder(), DEFAULT_MODEL)
RESPONSIBLE_USE = (
    "**Responsible use.** idia is for checking models for your own identity or identities you have "
    "consent to check, and for audits of models. It is not a face-recognition or people-search tool, and "
    "a \"member\" verdict is statistical evidence about a model's training data, not proof about a person."
)
BOX_PLACEHOLDER = f"Drop 3–{limits.MAX_PHOTOS} photos of one person, then ask: Is this Jane Doe?"
N_VIEWS = 13   # what _page returns: one value per component in the layout's ``views``


# -- the server's answers as component values ------------------------------------------------------
def _page(served) -> tuple:
    """Every view of the session (``serve.server.Served``); only the history when there are no views."""
    if served.views is None:
        return (served.history,) + (gr.skip(),) * (N_VIEWS - 1)
    views, s = served.views, served.state.settings
    return (
        served.history, served.state,
        # empty until a check: hidden rather than blank boxes (the summary says what will appear)
        gr.Image(views.top_names, visible=views.top_names is not None),
        gr.Image(views.votes, visible=views.votes is not None),
        gr.Gallery(views.gallery, visible=bool(views.gallery)), views.summary,
        _model_line(s.model), *(getattr(s, f.name) for f in FIELDS),   # the settings controls, in order
    )


def _model_line(spec: str) -> str:
    return f"Active model: **{echo.plain(C.model_label(spec))}** ({echo.code(spec)})"   # a spec may come from a link


# -- event handlers ------------------------------------------------------------------------------
def send(message: dict, history: list, request: gr.Request = None):
    """At once, before the turn is queued: the user's message and a "Checking …" line in the chat; the
    message leaves the box (empty and disabled until the reply) for the outbox ``chat`` reads."""
    message = message or {}
    text, files = (message.get("text") or "").strip(), file_paths(message.get("files"))
    if not text and not files:
        return None, gr.skip(), gr.skip()   # an empty outbox: the last message is never sent again
    SERVER.note_sent(request, text, files)   # for the queue's admission
    return ({"text": text, "files": list(files)}, gr.MultimodalTextbox(value=None, interactive=False),
            list(history or []) + echoed(text, files))


def chat(message: dict, history: list, state, request: gr.Request, progress=gr.Progress()):
    """The chat endpoint: one message (text + files) in the session, replies out. A message that
    arrives while this session's previous turn runs is kept and answered right after it."""
    box = gr.MultimodalTextbox(value=None, interactive=True, placeholder=BOX_PLACEHOLDER)
    return (box,) + _page(SERVER.chat(message, history, state, request, progress))


def command(text: str):
    """A button that says something in the chat (share, report, reset)."""
    def handler(history, state, request: gr.Request, progress=gr.Progress()):
        return chat({"text": text, "files": []}, history, state, request, progress)[1:]
    handler.__name__ = f"say_{text}"
    return handler


def setting(fld: str):
    """A settings control: the same validation, reply and re-run as typing it."""
    def handler(value, history, state, request: gr.Request, progress=gr.Progress()):
        return _page(SERVER.setting(fld, value, history, state, request, progress))
    handler.__name__ = f"set_{fld}"
    return handler


def on_load(request: gr.Request):
    """A new browser session: a welcome, or the settings of a share link and a request for photos."""
    return _page(SERVER.open(request))


def check(photos, name: str, options: dict | None, progress=gr.Progress()):
    """Stateless: photos + name + options → the core's JSON verdict (or an error with its code)."""
    return SERVER.check(photos, name, options, progress)


async def on_unload(request: gr.Request):
    """The browser (or client) went away: its files, state and history go now (``Server.unload``)."""
    await SERVER.unload(request)


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
    return SERVER.attach(demo, file_inputs=[api.photos], named_string=NamedString)   # gradio's internals: there


def _chat_column() -> SimpleNamespace:
    """The chat, the message box, the action buttons and (on the sandbox) example people."""
    examples = SERVER.examples()
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
            controls = dict(   # one per setting (attack.settings.FIELDS), whole numbers at precision 0
                model=gr.Dropdown(catalogue, value=DEFAULT_MODEL, allow_custom_value=public.any_model_allowed(),
                                  label="Model", info=public.model_field_info()),
                tau=gr.Slider(1, 21, value=limits.DEFAULT_TAU, step=1, label="tau (templates that must pick the name)"),
                n_candidates=gr.Number(limits.DEFAULT_POOL, precision=_precision("n_candidates"),
                                       label=public.pool_label()),
                seed=gr.Number(0, precision=_precision("seed"), label="Seed of the distractor names"),
                template_set=gr.Dropdown(list(available_template_sets()), value="paper21", label="Template set"),
                name_mode=gr.Radio(["mixed", "paper"], value="mixed", label="Distractor names"),
            )
    settings = tuple(controls[f.name] for f in FIELDS)
    return SimpleNamespace(summary=summary, top_plot=top_plot, gallery=gallery, votes_plot=votes_plot,
                           settings=settings)


def _precision(name: str) -> int | None:
    return 0 if FIELD[name].whole else None


def _api_inputs() -> SimpleNamespace:
    """The hidden inputs of the stateless ``check`` endpoint."""
    with gr.Group(visible=False):
        return SimpleNamespace(photos=gr.File(file_count="multiple", label="photos"), name=gr.Textbox(label="name"),
                               options=gr.JSON(label="options"), out=gr.JSON(label="result"), button=gr.Button("check"),
                               chat_button=gr.Button("chat"))   # the `chat` endpoint for API clients


def _wire(demo, talk, side, api, state, views) -> None:
    """The events: a message, the buttons, the settings controls, the API, page load and unload."""
    # chat turns share a wide group; those that may compute also take a compute slot; progress: under the chat
    chat_group = dict(concurrency_limit=SERVER.chat_limit, concurrency_id="chat", show_progress_on=[talk.progress])
    # the echo and the box's release are instant: no overlay of their own (one progress line only)
    talk.box.submit(send, [talk.box, talk.chatbot], [talk.outbox, talk.box, talk.chatbot], queue=False,
                    api_name=False, show_progress="hidden", js=FORGET_PICKED_FILES).then(
        None, None, None, js=SCROLL_TO_END).then(
        chat, [talk.outbox, talk.chatbot, state], [talk.box] + views, api_name=False, **chat_group).then(
        lambda: gr.MultimodalTextbox(interactive=True), None, talk.box, queue=False, api_name=False,
        show_progress="hidden", js=SCROLL_TO_REPLY)  # even after an error
    api.chat_button.click(chat, [talk.box, talk.chatbot, state], [talk.box] + views, api_name="chat", **chat_group)
    for text, btn in talk.buttons.items():
        btn.click(command(text), [talk.chatbot, state], views, api_name=False, js=MARK_REPLY_START,
                  **chat_group).then(None, None, None, js=SCROLL_TO_REPLY)
    for comp, f in zip(side.settings, FIELDS):
        (comp.release if isinstance(comp, gr.Slider) else comp.input)(
            setting(f.name), [comp, talk.chatbot, state], views, api_name=False, trigger_mode="always_last",
            js=MARK_REPLY_START, **chat_group).then(None, None, None, js=SCROLL_TO_REPLY)
    api.button.click(check, [api.photos, api.name, api.options], api.out, api_name="check",
                     concurrency_limit=SERVER.compute.limit, concurrency_id="check")
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
    mode = config.text("IDIA_WARMUP", default="1").lower()
    if mode == "0":
        return
    threading.Thread(target=warm_up_server, args=(DEFAULT_MODEL,),
                     kwargs={"others": mode != "default", "encode": not isinstance(GPU, gpu.ZeroGPU)},
                     name="idia-warm-up", daemon=True).start()


demo = build_app()

if __name__ == "__main__":
    _load_default_model()
    _warm_up_in_background()
    SERVER.launch(demo, css=CSS, js=CHAT_JS)
