"""Reference sets: photos of people who are not the target, used only by the validity controls.

* **sandbox**: the world's never-named people (non-members, face-only controls, look-alikes),
  rendered on demand in their own seed space ("reference", ...), never training or attack photos;
* **a folder** (``--reference DIR`` / ``IDIA_REFERENCE_DIR``): one sub-folder of photos per
  person, the same layout as ``evaluate``;
* in evaluation: the dataset's non-members (``idia_core.sandbox.evaluate`` / the pipeline).

Image embeddings are kept per (model fingerprint, reference set hash, photos per person) in memory
and on disk beside the text cache (``IDIA_CACHE_DIR/reference/``, float16 ``.npz``): they hold
vectors and hashes, never photos. A set's identity is ``controls.reference_set_hash`` over its
photos' SHA-256 — what bundles and ``verify`` carry.
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import IdiaInputError
from ..files import writes_stopped
from ..images import load_photo
from ..sandbox.identity import derive_seed
from ..sandbox.renderer import render_photo
from ..sandbox.world import NEVER_NAMED_ROLES, load_world
from ..text.cache import default_cache_dir
from ..text.names import name_key
from .controls import best_over_columns, reference_set_hash

ENV_DIR = "IDIA_REFERENCE_DIR"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
MAX_REFERENCE_PEOPLE = 2000
_MEMO: "OrderedDict[tuple, ReferenceSet]" = OrderedDict()
_MEMO_SIZE = 6
_LOCK = threading.Lock()


@dataclass(frozen=True)
class ReferenceSet:
    """Embeddings of reference people for one model: ``embeddings`` [R, N, D] (N photos each),
    ``ids`` [R] (who; never shown with photos), ``names`` [R] (their names, so that a check of one of
    them can leave that person out), ``photo_hashes`` [R][N]."""

    name: str
    ids: tuple[str, ...]
    names: tuple[str, ...]
    embeddings: np.ndarray = field(repr=False)
    photo_hashes: tuple[tuple[str, ...], ...] = field(repr=False)
    fingerprint: str = ""

    @property
    def photos_per_person(self) -> int:
        return int(self.embeddings.shape[1])

    @property
    def sha256(self) -> str:
        return reference_set_hash(dict(zip(self.ids, self.photo_hashes)))

    def identity(self, used: int | None = None) -> dict:
        return {"name": self.name, "sha256": self.sha256, "people": len(self.ids),
                "photos_per_person": self.photos_per_person}

    def without(self, target_name: str, photo_hashes=()) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
        """(embeddings, ids, kept row indices) minus the target (same name, ignoring case/accents)
        and anyone who shares a photo with the check."""
        tkey = name_key(target_name)
        own = set(photo_hashes)
        keep = [i for i, (n, hs) in enumerate(zip(self.names, self.photo_hashes))
                if name_key(n) != tkey and not own.intersection(hs)]
        return self.embeddings[keep], tuple(self.ids[i] for i in keep), np.asarray(keep, dtype=np.int64)


def _disk_dir() -> Path | None:
    base = default_cache_dir()
    return None if base is None else base / "reference"


def _load_cached(key: str) -> dict | None:
    d = _disk_dir()
    if d is None or not (d / f"{key}.npz").is_file():
        return None
    try:
        with np.load(d / f"{key}.npz", allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception:  # a torn or foreign file is just a miss
        return None


def _save_cached(key: str, **arrays) -> None:
    d = _disk_dir()
    if d is None or writes_stopped():   # a shutdown began: nothing more on disk (files.stop_writes)
        return
    try:
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / f"{key}.{os.getpid()}.tmp.npz"
        np.savez(tmp, **arrays)
        tmp.replace(d / f"{key}.npz")
    except OSError:
        pass


def _memo_get(key):
    with _LOCK:
        hit = _MEMO.get(key)
        if hit is not None:
            _MEMO.move_to_end(key)
        return hit


def _memo_put(key, value) -> None:
    with _LOCK:
        _MEMO[key] = value
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)


def _pixels_hash(im) -> str:
    return hashlib.sha256(im.tobytes()).hexdigest()


SANDBOX_REFERENCE_PHOTOS = 10  # rendered once per model: a check of fewer photos uses the first n


def sandbox_reference_set(model, n_photos: int, world=None) -> ReferenceSet:
    """The sandbox world's never-named people, ``n_photos`` fresh renders each, embedded by
    ``model``. Photo i of a person is always the same render, so the set is rendered once with
    ``max(n_photos, SANDBOX_REFERENCE_PHOTOS)`` photos (cached per model fingerprint and world) and
    a check of fewer photos gets the first ``n_photos`` of each — the same set, with the same
    identity, as rendering ``n_photos`` alone."""
    n_photos = int(n_photos)
    full = _sandbox_reference_rendered(model, max(n_photos, SANDBOX_REFERENCE_PHOTOS), world)
    if full.photos_per_person == n_photos:
        return full
    return ReferenceSet(full.name, full.ids, full.names, full.embeddings[:, :n_photos],
                        tuple(h[:n_photos] for h in full.photo_hashes), full.fingerprint)


def _sandbox_reference_rendered(model, n_photos: int, world=None) -> ReferenceSet:
    world = world or load_world()
    people = [p for p in world.people if p.role in NEVER_NAMED_ROLES]
    wkey = hashlib.sha256(repr([(p.index, p.name, p.identity.to_dict()) for p in people]).encode()).hexdigest()[:16]
    key = ("sandbox", model.fingerprint, wkey, int(n_photos))
    hit = _memo_get(key)
    if hit is not None:
        return hit
    disk_key = hashlib.sha256(repr(key).encode()).hexdigest()[:32]
    cached = _load_cached(disk_key)
    ids = tuple(f"sandbox#{p.index}" for p in people)
    names = tuple(p.name for p in people)
    if cached is not None and cached["embeddings"].shape[:2] == (len(people), n_photos):
        emb = cached["embeddings"].astype(np.float32)
        hashes = tuple(tuple(str(h) for h in row) for row in cached["hashes"])
    else:
        embs, hashes_l = [], []
        for p in people:
            photos = [render_photo(p.identity, derive_seed("reference", world.seed, p.index, i), 128)
                      for i in range(n_photos)]
            hashes_l.append(tuple(_pixels_hash(im) for im in photos))
            embs.append(model.encode_images(photos).numpy())
        emb = np.stack(embs).astype(np.float16).astype(np.float32)
        hashes = tuple(hashes_l)
        _save_cached(disk_key, embeddings=emb.astype(np.float16), hashes=np.array(hashes))
    ref = ReferenceSet(f"sandbox never-named people (world seed {world.seed})", ids, names, emb, hashes,
                       model.fingerprint)
    _memo_put(key, ref)
    return ref


def folder_reference_set(model, directory, n_photos: int) -> ReferenceSet:
    """One sub-folder per person (folder name = id and name); people with fewer than ``n_photos``
    photos are left out; the first ``n_photos`` photos (by file name) of each are used."""
    root = Path(directory).expanduser()
    if not root.is_dir():
        raise IdiaInputError("reference_missing", f"The reference folder {root} does not exist.")
    folders = sorted(p for p in root.iterdir() if p.is_dir())[:MAX_REFERENCE_PEOPLE]
    files = {f.name: sorted(x for x in f.iterdir() if x.suffix.lower() in IMAGE_SUFFIXES)[:n_photos] for f in folders}
    files = {k: v for k, v in files.items() if len(v) >= n_photos}
    if not files:
        raise IdiaInputError("reference_empty", f"The reference folder {root} has no sub-folder with at least "
                             f"{n_photos} photos (one sub-folder of photos per person).")
    # Identity from file hashes first (cheap), then embeddings from cache or the model.
    hashes = {k: tuple(hashlib.sha256(p.read_bytes()).hexdigest() for p in v) for k, v in files.items()}
    ids = tuple(sorted(files))
    set_hash = reference_set_hash(hashes)
    key = ("folder", model.fingerprint, set_hash, int(n_photos))
    hit = _memo_get(key)
    if hit is not None:
        return hit
    disk_key = hashlib.sha256(repr(key).encode()).hexdigest()[:32]
    cached = _load_cached(disk_key)
    if cached is not None and cached["embeddings"].shape[:2] == (len(ids), n_photos):
        emb = cached["embeddings"].astype(np.float32)
    else:
        emb = np.stack([model.encode_images([load_photo(p) for p in files[i]]).numpy() for i in ids])
        emb = emb.astype(np.float16).astype(np.float32)
        _save_cached(disk_key, embeddings=emb.astype(np.float16))
    ref = ReferenceSet(f"folder {root.name}", ids, ids, emb, tuple(hashes[i] for i in ids), model.fingerprint)
    _memo_put(key, ref)
    return ref


_SHARED: "OrderedDict[tuple, tuple]" = OrderedDict()


def shared_best(ref: "ReferenceSet", text_emb: np.ndarray, columns: np.ndarray, key: tuple):
    """``controls.best_over_columns`` of every reference person over the pool columns every check
    shares (the seeded distractors), memoised per (reference set, model, templates, those names):
    a later check with the same distractors compares only its own few names. Holds similarities of
    distractor prompts only, never anything a user typed."""
    full_key = (ref.fingerprint, ref.sha256, ref.photos_per_person) + key
    with _LOCK:
        hit = _SHARED.get(full_key)
        if hit is not None:
            _SHARED.move_to_end(full_key)
            return hit
    val, idx = best_over_columns(ref.embeddings, np.asarray(text_emb)[:, columns])
    with _LOCK:
        _SHARED[full_key] = (val, idx)
        while len(_SHARED) > 4:
            _SHARED.popitem(last=False)
    return val, idx


def resolve_reference_set(model, n_photos: int, reference=None) -> tuple[ReferenceSet | None, str]:
    """The reference set for a check: ``reference`` (a ReferenceSet, a folder path, or ``"none"``),
    else ``IDIA_REFERENCE_DIR``, else the sandbox's own for the sandbox model. Returns
    (set or None, why none)."""
    if isinstance(reference, ReferenceSet):
        return reference, ""
    if isinstance(reference, str) and reference.strip().lower() == "none":
        return None, "the controls were turned off"
    directory = reference or os.environ.get(ENV_DIR)
    if directory:
        return folder_reference_set(model, directory, n_photos), ""
    if str(getattr(model, "spec", "")) == "sandbox":
        return sandbox_reference_set(model, n_photos), ""
    return None, ("no reference set was given (--reference DIR or IDIA_REFERENCE_DIR: one folder of photos "
                  "per person who is not the target)")
