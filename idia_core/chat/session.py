"""The state of one chat session: a plain dataclass the app keeps per browser session (``gr.State``).

Nothing here is shared between sessions; the only process-wide things are the core's caches, keyed
by model and prompt. Photos are kept as references (the upload's temporary path, its SHA-256 and a
label), never copied: the pixels are decoded again when a check runs, so a session holds kilobytes,
not megapixels, and nothing of a photo outlives gradio's temporary upload.
"""
from __future__ import annotations

import copy
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..attack.result import IdiaResult
from ..attack.settings import IdiaSettings
from ..files import check_writable
from ..text.embeddings import PrivateEmbeddings

@dataclass(frozen=True)
class PhotoRef:
    """An accepted upload: where gradio put it for this session, its hash and a display label."""

    path: str
    sha256: str
    label: str
    phash: str = ""          # perceptual hashes "pHash/dHash" (hex), to spot the same photo re-encoded or resized
    drawn: bool | None = None    # could be a sandbox render (sandbox.renderer.drawn_by_renderer); None: not measured


@dataclass(frozen=True)
class SharedRun:
    """What a share link carries: the settings, the name, the added names, the photos' hashes and
    (optionally) the verdict it recorded, so a later run can say whether it reproduced it."""

    settings: IdiaSettings
    name: str
    added_names: tuple[str, ...] = ()
    photo_hashes: tuple[str, ...] = ()
    member: bool | None = None
    correct_templates: int | None = None
    fingerprint: str | None = None
    verdict: str | None = None      # the verdict after the validity controls (IdiaResult.verdict)
    reference: str | None = None    # the controls' reference set: SHA-256 of its photos' hashes


@dataclass
class ChatSession:
    settings: IdiaSettings
    name: str | None = None
    added_names: list[str] = field(default_factory=list)
    photos: list[PhotoRef] = field(default_factory=list)
    last_result: IdiaResult | None = None
    last_run_key: tuple | None = None       # what the last result was computed from
    shared: SharedRun | None = None         # set when the session was opened from a share link
    workdir: str | None = None              # per-session temp folder (charts, reports); see close()
    awaiting_name: bool = False             # the last reply asked "Who is it?": a bare reply is the name
    settings_history: list[IdiaSettings] = field(default_factory=list)   # for "undo", newest last
    # prompts of the names this session typed: never in the shared cache (text.embeddings.PrivateEmbeddings)
    private_embeddings: PrivateEmbeddings = field(default_factory=PrivateEmbeddings, repr=False)
    # where its folder is made (None: the system temp folder); a server puts it in gradio's upload
    # folder, so charts and reports are served from where they are written and go with the folder
    workdir_root: str | None = None

    def run_key(self) -> tuple:
        """Everything a check depends on; a new check runs only when this changes."""
        return (self.settings, self.name, tuple(self.added_names), tuple(p.sha256 for p in self.photos))

    @property
    def is_stale(self) -> bool:
        return self.last_run_key != self.run_key()

    def ensure_workdir(self) -> Path:
        """A private temp folder for this session's charts and reports, created on first use
        (``files.WritesStopped`` once the server is shutting down)."""
        if self.workdir is None or not Path(self.workdir).is_dir():
            check_writable()   # a shutdown's cleanup must not be followed by a new folder
            root = self.workdir_root
            if root:
                Path(root).mkdir(parents=True, exist_ok=True)
            self.workdir = tempfile.mkdtemp(prefix="idia-session-", dir=root)
        return Path(self.workdir)

    def close(self) -> None:
        """Delete the session's temp folder (the app calls this when the session ends)."""
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


def copy_state(state: ChatSession) -> ChatSession:
    """A copy a turn may change; the result (frozen, large arrays) is shared, not copied, and the
    live state is never touched."""
    return copy.deepcopy(state, {id(state.last_result): state.last_result})
