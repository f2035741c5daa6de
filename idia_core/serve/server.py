"""The server: one object that owns what a running app shares between its visitors.

``Server`` holds the compute slots, the fair queue's limits, each session's files (uploads, charts,
reports) and history record, the idle reaper, and the shutdown; it runs every turn (a chat message,
a setting, the stateless ``check``) inside them and hands back what the page shows. ``app.py`` builds
the Blocks, gives them to the server (``attach``: the gradio-internals patches of
``gradio_internals``) and launches through it (``launch``: the gates, the queue, SIGTERM).

No gradio import: gradio's objects (the Blocks, a request, a progress callback) are handed in and
used duck-typed. A progress callback is gradio's ``progress(share, desc=…)``; a request has a
``session_hash``, ``headers`` and ``query_params``.
"""
from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import anyio

from .. import config, limits
from ..chat.api import api_check
from ..chat.controller import change_setting, handle_in_order
from ..chat.public import is_public
from ..chat.replies import Reply, Turn, UserMessage, busy_reply, say
from ..chat.session import ChatSession
from ..chat.start import new_session, open_link
from ..chat.views import ResultViews, result_views
from ..zoo.specs import is_sandbox
from . import gates
from .admission import proxy_hops, queue_limits
from .examples import sandbox_examples
from .gradio_internals import (admit_fairly, cached_example_files, drop_session_state, event_function_name,
                               pass_upload_paths, queued_uploads, recorded_uploads, track_uploads)
from .history import HistoryRecord
from .lifecycle import STOPPING, Lifecycle
from .routing import SentKinds, event_kind, needs_compute
from .slots import ComputeSlots, compute_limit, return_free_memory
from .transcript import file_paths, reply_messages, user_messages, without_echo
from .uploads import (IdleSessions, SessionFiles, UploadQuota, arrive_privately, delete_uploads_inside,
                      unclaimed_ttl, upload_limits)

CHEAP_SLOTS = 16   # turns that run no check (help, status, share, ...) beside the compute slots
INTERNAL_ERROR, RESTARTING = say("internal_error"), say("restarting")   # prompts/messages/chat.toml


@dataclass(frozen=True)
class Served:
    """A turn as the page gets it: the chat's history, the session's next state, and the views
    beside the chat (None: only the history changed, as when the page went away meanwhile)."""

    history: list
    state: ChatSession
    views: ResultViews | None


class Server:
    """The app's shared mechanics, given the Blocks (``attach``) instead of reading a global."""

    def __init__(self, upload_root: str, default_model: str, *, public: bool | None = None,
                 examples_dir: str | os.PathLike | None = None):
        self.upload_root, self.default_model = upload_root, default_model
        self.public = is_public() if public is None else public
        self.compute = ComputeSlots(compute_limit())   # checks at once, over the chat and check endpoints
        self.queue = queue_limits(self.public)          # fair queueing: per session, per address, compute apart
        self.hops = proxy_hops()
        self.chat_limit = self.queue.compute_total + CHEAP_SLOTS   # admitted checks never take cheap turns' room
        self.queue_max = self.queue.compute_total + self.queue.cheap_total   # gradio's own cap, behind the fair one
        self.life = Lifecycle()          # a shutdown: no new turn, running ones end or stop, then cleanup
        self.history = HistoryRecord()   # per session, the messages the server wrote (the rest is not shown back)
        self.sent = SentKinds()          # what each browser session just sent: its chat event carries no text
        self.files = SessionFiles(upload_root, protected=self._protected, pending_ttl=unclaimed_ttl(),
                                  queued=lambda: queued_uploads(self.demo))
        self.quota = UploadQuota(upload_limits(self.public), self.files.pending_bytes)
        self.idle = IdleSessions(config.number("IDIA_SESSION_IDLE_S", 1800.0))   # then a session is closed
        self.examples_dir = Path(examples_dir or Path(tempfile.gettempdir()) / "idia-examples")
        # each session's charts and reports live in gradio's temporary folder, served from where they are written
        self.sessions_root = os.path.join(upload_root, "idia-sessions")
        self.demo = None

    # -- the app hands itself over ------------------------------------------------------------------------
    def attach(self, demo, *, file_inputs=(), named_string: type | None = None):
        """Take the built Blocks: every upload is counted from its arrival (so no request deletes one
        another has not claimed yet) and moved to a private path; ``file_inputs`` (``gr.File``
        components) pass upload paths as gradio's ``named_string`` without empty temporary files."""
        self.demo = demo
        track_uploads(demo, self.files.uploaded, arrive_privately(self.upload_root, self._protected))
        for component in file_inputs:
            pass_upload_paths(component, named_string)
        return demo

    def examples(self):
        """Example sandbox people to offer (rendered into ``examples_dir``) when the sandbox is the default."""
        return sandbox_examples(self.examples_dir) if is_sandbox(self.default_model) else []

    def new_session(self) -> ChatSession:
        """A fresh session whose folder goes under ``sessions_root`` (deleted when it closes)."""
        return new_session(workdir_root=self.sessions_root)

    def _protected(self):
        """Files no session may delete: the examples' cached copies, shared by every visitor."""
        return cached_example_files(self.demo) if self.demo is not None else ()

    # -- turns ------------------------------------------------------------------------------------------------
    def note_sent(self, request, text: str, files) -> None:
        """The echo of a message (before it is queued): its kind, for the queue's admission."""
        self.sent.note(getattr(request, "session_hash", None), text, files)

    def chat(self, message, history, state, request, progress) -> Served:
        """One chat message (text + files) in the session. A message that arrives while this session's
        previous turn runs is kept and answered right after it (its history says so)."""
        state = state if isinstance(state, ChatSession) else self.new_session()
        message = message if isinstance(message, dict) else {}
        text, files = str(message.get("text") or "").strip(), file_paths(message.get("files"))
        sid = _session(request)
        token = f"request-{uuid.uuid4().hex}"   # this turn's uploads: kept by the session only if accepted
        self.files.claim(token, files)
        self.files.reopen(sid)
        self.files.claim_folder(sid, state.workdir)
        history = self.history.validated(sid, without_echo(list(history or []), text, files))   # never the client's
        sent = UserMessage(text, files)
        progress(0.0, desc=say("progress_start"))   # words at once, before the core reports its own
        turns = self._run(sid, needs_compute(text, files), progress, "chat turn",
                          lambda report: handle_in_order(sid, sent, state, progress=report,
                                                         base_url=self.base_url(request)),
                          lambda reply: [(sent, Turn(state, [reply]))])
        if not turns:   # kept: the running turn answers it (and its reply replaces this whole history)
            self.files.claim(sid, files)   # held by the session until that turn has used them
            self.files.release(token)
            history += user_messages(text, files) + reply_messages([busy_reply(sent)])
            self.history.note(sid, history)
            return Served(history, state, None)
        for msg, turn in turns:
            history += user_messages(msg.text, msg.files, turn.photo_strip) + reply_messages(turn.replies)
        return self._finish(sid, token, turns[-1][1].state, history)

    def setting(self, fld: str, value, history, state, request, progress) -> Served:
        """A settings control changed: the same validation, reply and re-run as typing it."""
        state = state if isinstance(state, ChatSession) else self.new_session()
        sid = _session(request)
        turn = self._run(sid, True, progress, f"setting {fld}",
                         lambda report: change_setting(state, fld, value, progress=report),
                         lambda reply: Turn(state, [reply]))
        history = self.history.validated(sid, list(history or [])) + reply_messages(turn.replies)
        return self._finish(sid, None, turn.state, history)

    def open(self, request) -> Served:
        """A new browser session: a welcome, or the settings of a share link and a request for photos."""
        query = list(request.query_params.multi_items()) if request is not None else []
        turn = open_link(query, self.new_session())
        history = reply_messages(turn.replies)
        self.history.note(getattr(request, "session_hash", None) or "anonymous", history)
        return Served(history, turn.state, self._views(turn.state))

    def check(self, photos, name: str, options, progress) -> dict:
        """Stateless: photos + name + options → the core's JSON verdict (or an error with its code)."""
        paths = file_paths(photos)
        token = f"request-{uuid.uuid4().hex}"   # nothing is kept: the uploads go when the check returns
        self.files.claim(token, paths)
        try:
            with self.life.turn(), self._slot(True, progress):
                return api_check(paths, name, options, default_model=self.default_model,
                                 progress=self._reporter(progress))
        except STOPPING:
            return {"ok": False, "error": {"code": "internal", "message": RESTARTING}}
        except Exception as exc:   # a bug: the client gets a code, the log gets the detail
            print(f"idia: check failed: {type(exc).__name__}: {exc}")
            return {"ok": False, "error": {"code": "internal", "message": INTERNAL_ERROR.replace("**", "")}}
        finally:
            self.files.release(token)
            return_free_memory()

    def _run(self, sid: str, compute: bool, progress, what: str, work, fallback):
        """``work(report)`` as one turn of ``sid``: counted by the shutdown, the session busy, a compute
        slot held when it may run a check; a shutdown or a bug gives ``fallback(reply)`` instead."""
        try:
            with self.life.turn(), self.idle.busy(sid), self._slot(compute, progress):
                return work(self._reporter(progress))
        except STOPPING:   # nothing of this turn is kept: the cleanup removes its uploads
            return fallback(Reply(RESTARTING, kind="error"))
        except Exception as exc:   # a bug, not a user mistake: log it, tell the visitor nothing internal
            print(f"idia: {what} failed: {type(exc).__name__}: {exc}")
            return fallback(Reply(INTERNAL_ERROR, kind="error"))

    def _slot(self, needed: bool, progress):
        """One of the compute slots while a turn may run a check. Chat events run in their own,
        wider concurrency group, so a turn that runs no check never waits behind checks."""
        def waiting():
            progress(None, desc="Waiting for a free slot (other checks are running)")
        return self.compute.hold(needed, on_wait=waiting)

    def _reporter(self, progress):
        """The core's progress as one line of words (and a share done) under the chat; it stops the
        turn once a shutdown began (``Lifecycle.guard``)."""
        def report(done: int, total: int, message: str):
            progress(done / total if total else None, desc=message)
        return self.life.guard(report)

    def _finish(self, sid: str, token: str | None, state: ChatSession, history: list) -> Served:
        """The history recorded as the server's own, the views drawn (in the turn's thread, into the
        session's folder: before its files are claimed or deleted), then the turn's files kept."""
        self.history.note(sid, history)
        views = self._views(state)
        kept = self._keep_turn_files(sid, token, state)
        return Served(history, state, views if kept else None)   # nobody is there to see the views

    @staticmethod
    def _views(state: ChatSession) -> ResultViews | None:
        try:
            return result_views(state)
        except OSError:   # a shutdown began: no chart is drawn any more (files.WritesStopped)
            return None

    def _keep_turn_files(self, sid: str, token: str | None, state) -> bool:
        """After a turn: the session keeps the uploads it accepted and its folder; the turn's refused
        uploads go now. When the session was closed while the turn ran (the page went away), what the
        turn wrote (charts, reports) is deleted instead of being claimed by a session no one will
        close, and this returns False."""
        if self.files.is_closed(sid):
            if isinstance(state, ChatSession):
                state.close()
            if token is not None:
                self.files.release(token)
            return False
        self.files.claim(sid, [p.path for p in getattr(state, "photos", ())], upload=False)
        self.files.claim_folder(sid, getattr(state, "workdir", None))
        if token is not None:
            self.files.release(token)
        return True

    @staticmethod
    def base_url(request) -> str:
        """The address share links start with: the Space's own, else what the request says."""
        if config.text("SPACE_HOST"):
            return f"https://{config.text('SPACE_HOST')}"
        if request is None:
            return ""
        origin = request.headers.get("origin")
        if origin:
            return origin
        host = request.headers.get("x-forwarded-host") or request.headers.get("host") or ""
        proto = request.headers.get("x-forwarded-proto") or "http"
        return f"{proto}://{host}" if host else ""

    # -- sessions ending ------------------------------------------------------------------------------------
    async def unload(self, request) -> None:
        """The browser (or client) went away: delete the session's uploads, charts and reports, and
        drop its state and per-session config now rather than an hour later (its photos are gone
        anyway, so it could not re-run). Async, so the state is dropped on the event loop, never
        interleaved with gradio's own sweep of expired state."""
        sid = getattr(request, "session_hash", None)
        if not sid:
            return
        drop_session_state(self.demo, sid)
        self.idle.forget(sid)
        self.history.forget(sid)
        await anyio.to_thread.run_sync(self.files.release, sid)
        await anyio.to_thread.run_sync(return_free_memory)

    def _close_idle(self, sid: str) -> None:   # idle longer than IDIA_SESSION_IDLE_S: state, history and files go
        drop_session_state(self.demo, sid)
        self.history.forget(sid)
        self.files.release(sid)

    def _sweep(self) -> None:
        self.files.sweep()   # uploads no request claimed in time
        return_free_memory()

    def event_kind(self, body) -> str:
        """An event joining the queue: compute or cheap (``routing.event_kind``), from its function's name."""
        return event_kind(event_function_name(self.demo, body), getattr(body, "data", None),
                          sent=lambda: self.sent.take(getattr(body, "session_hash", None)))

    # -- serving and shutting down ----------------------------------------------------------------------------
    def launch(self, demo, **launch_kwargs) -> None:
        """Serve ``demo``: the idle reaper, a clean SIGTERM, the fair queue, and the gates in front of
        gradio (``gates``); ``launch_kwargs`` (css, js) go to ``Blocks.launch``. Blocks until stopped."""
        from starlette.middleware import Middleware  # the web framework under gradio: only when serving

        threading.Thread(target=self.idle.reap_forever, args=(self._close_idle, self._sweep),
                         name="idia-idle-sessions", daemon=True).start()
        signal.signal(signal.SIGTERM, self._on_sigterm)
        shutil.rmtree(os.path.join(self.upload_root, "deep_links"), ignore_errors=True)   # an older server's
        demo.queue(default_concurrency_limit=self.compute.limit, max_size=self.queue_max)
        admit_fairly(demo, self.event_kind, self.queue, self.hops, closing=lambda: self.life.closing)
        demo.launch(
            server_name=config.text("GRADIO_SERVER_NAME", default="127.0.0.1"), show_error=False,
            max_file_size=limits.MAX_FILE_BYTES,   # a bigger upload is refused at the door (HTTP 413)
            max_threads=self.chat_limit + self.compute.limit + 16,   # a thread for every turn the queue may run
            app_kwargs={"middleware": [Middleware(gates.UrlLengthLimit), Middleware(gates.DeepLinksClosed),
                                       Middleware(gates.RequestBodyLimit),
                                       Middleware(gates.UploadGate, quota=self.quota, hops=self.hops)]},
            **launch_kwargs)

    def remove_server_files(self) -> None:
        """What this server wrote under gradio's temporary folder and for its examples: every session's
        uploads, charts and reports, uploads not yet claimed, the example photos, and any state file of
        gradio's deep links (turned off: gates.DeepLinksClosed). Called on SIGTERM, after the turns."""
        self.files.release_all()
        shutil.rmtree(self.sessions_root, ignore_errors=True)
        shutil.rmtree(self.examples_dir, ignore_errors=True)
        shutil.rmtree(os.path.join(self.upload_root, "deep_links"), ignore_errors=True)
        delete_uploads_inside(list(recorded_uploads(self.demo)), self.upload_root)

    def _on_sigterm(self, signum, frame) -> None:
        """A clean shutdown: no new turn, running turns end (or stop at their next progress step, within
        lifecycle.GRACE_S), nothing is written any more; then remove what the server wrote and stop as
        Ctrl-C would."""
        t0, running = time.monotonic(), self.life.running()
        ended = self.life.shut_down(self.remove_server_files)
        print(f"idia: shutdown: {running} turn(s) running; {'all ended' if ended else 'abandoned (they write nothing)'} "
              f"after {time.monotonic() - t0:.1f} s; what visitors left is removed", flush=True)
        raise KeyboardInterrupt


def _session(request) -> str:
    return getattr(request, "session_hash", None) or "anonymous"
