"""Reference sets: photos of people who are not the target, used only by the validity controls.

* **sandbox**: the world's never-named people (non-members, face-only controls, look-alikes),
  rendered on demand in their own seed space ("reference", ...), never training or attack photos;
* **a folder** (``--reference DIR`` / ``IDIA_REFERENCE_DIR``): one sub-folder of photos per
  person, the same layout as ``evaluate``;
* in evaluation: the dataset's non-members (``idia_core.sandbox.evaluate`` / the pipeline).

Image embeddings are kept per (model fingerprint, reference set hash, photos per person) in memory
and on disk beside the text cache (``IDIA_CACHE_DIR/reference/``, ``.npz``): they hold vectors and
hashes, never photos. A cached vector is the exact float32 the model produced (the controls compare
similarities as the check does); the disk key carries ``CACHE_FORMAT``, so the float16 files of
earlier versions are never read. The sandbox's set of the model as shipped comes with it
(``idia_core/sandbox/model/reference.npz``: the float32 vectors the model produces for the first
10 photos of each never-named person, with the model's fingerprint and the SHA-256 of every render;
``python -m idia_core sandbox reference`` writes it again), so a fresh clone's first check renders
nothing; for any other fingerprint (a rebuilt model, float16 on a GPU) the file is not used. A
set's identity is ``controls.reference_set_hash`` over its photos' SHA-256 — what bundles and
``verify`` carry.
"""
from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import config
from ..errors import IdiaInputError
from ..files import writes_stopped
from ..images import load_photo
from ..memo import BoundedMemo
from ..messages import fill
from ..progress import Progress, RateClock, report
from ..sandbox.identity import derive_seed
from ..sandbox.renderer import render_photo
from ..sandbox.world import MODEL_DIR, NEVER_NAMED_ROLES, load_world, world_of
from ..text.cache import default_cache_dir
from ..text.names import name_key
from .controls import best_over_columns, reference_set_hash

ENV_DIR = "IDIA_REFERENCE_DIR"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
MAX_REFERENCE_PEOPLE = 2000
_MEMO: "BoundedMemo[tuple, ReferenceSet]" = BoundedMemo(6)   # reference sets in use, by model and source
CACHE_FORMAT = "f32"    # part of every disk key: files of another storage format are never read


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


def _usable(cached: dict | None, people_photos: tuple[int, int]) -> bool:
    """A cached file holds float32 embeddings for these people and photo counts (anything else is
    a miss, re-embedded)."""
    return (cached is not None and cached["embeddings"].dtype == np.float32
            and cached["embeddings"].shape[:2] == people_photos)


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


def _pixels_hash(im) -> str:
    return hashlib.sha256(im.tobytes()).hexdigest()


SANDBOX_REFERENCE_PHOTOS = 10  # shipped and rendered at least: a check of fewer photos uses the first n
SHIPPED_FILE = "reference.npz"   # beside the sandbox weights: the never-named people's embeddings
SHIPPED_FORMAT = CACHE_FORMAT    # float32 vectors as the model produced them, SHA-256 digests as bytes
_BUILD_LOCK = threading.Lock()   # one rendering at a time: a second session asking waits and shares it


def sandbox_reference_set(model, n_photos: int, world=None, progress: Progress | None = None) -> ReferenceSet:
    """The sandbox world's never-named people, ``n_photos`` fresh renders each, embedded by
    ``model``. Photo i of a person is always the same render, so a person's photos are rendered
    and embedded once per model (fingerprint) and world, however many a check needs: the set held
    (in memory, on disk, or shipped beside the sandbox weights for the model as shipped) is sliced
    for fewer photos and extended by the missing ones for more — the same set, with the same
    identity, as rendering ``n_photos`` alone. ``progress`` hears of any rendering."""
    n_photos = int(n_photos)
    full = _sandbox_reference_rendered(model, max(n_photos, SANDBOX_REFERENCE_PHOTOS), world, progress)
    if full.photos_per_person == n_photos:
        return full
    return ReferenceSet(full.name, full.ids, full.names, full.embeddings[:, :n_photos],
                        tuple(h[:n_photos] for h in full.photo_hashes), full.fingerprint)


def _world_key(people) -> str:
    return hashlib.sha256(repr([(p.index, p.name, p.identity.to_dict()) for p in people]).encode()).hexdigest()[:16]


def _never_named(world) -> list:
    return [p for p in world.people if p.role in NEVER_NAMED_ROLES]


def _sandbox_reference_rendered(model, n_photos: int, world=None, progress: Progress | None = None) -> ReferenceSet:
    """The held set of at least ``n_photos`` photos per person (it may hold more), extended by
    rendering only the photos it lacks."""
    world = world or load_world()
    people = _never_named(world)
    wkey = _world_key(people)
    key = ("sandbox", model.fingerprint, _device_kind(model), wkey)
    hit = _MEMO.get(key)
    if hit is not None and hit.photos_per_person >= n_photos:
        return hit
    with _BUILD_LOCK:
        held = _MEMO.get(key)
        if held is None:
            held = _sandbox_from_disk(model, key, people, world) or shipped_sandbox_reference(model, world)
        if held is None or held.photos_per_person < n_photos:
            held = _extend(model, world, people, held, n_photos, progress)
            _save_cached(_disk_key(key), embeddings=held.embeddings, hashes=_digests(held.photo_hashes))
        _MEMO.put(key, held)
    return held


def _disk_key(key: tuple) -> str:
    return hashlib.sha256(repr((SHIPPED_FORMAT,) + key).encode()).hexdigest()[:32]


def _sandbox_set(model, world, people, emb: np.ndarray, hashes) -> ReferenceSet:
    return ReferenceSet(f"sandbox never-named people (world seed {world.seed})",
                        tuple(f"sandbox#{p.index}" for p in people), tuple(p.name for p in people),
                        emb, tuple(tuple(row) for row in hashes), model.fingerprint)


def _digests(photo_hashes) -> np.ndarray:
    """[R, N] hex SHA-256 → [R, N, 32] bytes (a quarter of the size of text in a file)."""
    return np.array([[list(bytes.fromhex(h)) for h in row] for row in photo_hashes], dtype=np.uint8)


def _hexes(digests: np.ndarray) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(bytes(d).hex() for d in row) for row in np.asarray(digests, dtype=np.uint8))


def _usable_sandbox(arrays: dict | None, people, dim: int) -> bool:
    """Float32 embeddings [R, N >= 1, D] with [R, N, 32] digests for exactly these people."""
    if arrays is None or "embeddings" not in arrays or "hashes" not in arrays:
        return False
    emb, dig = arrays["embeddings"], arrays["hashes"]
    return (emb.dtype == np.float32 and emb.ndim == 3 and emb.shape[0] == len(people) and emb.shape[1] >= 1
            and emb.shape[2] == dim and dig.dtype == np.uint8 and dig.shape == emb.shape[:2] + (32,))


def _sandbox_from_disk(model, key, people, world) -> ReferenceSet | None:
    cached = _load_cached(_disk_key(key))
    if not _usable_sandbox(cached, people, model.embed_dim):
        return None
    return _sandbox_set(model, world, people, cached["embeddings"], _hexes(cached["hashes"]))


def shipped_reference_path() -> Path:
    return MODEL_DIR / SHIPPED_FILE


def shipped_sandbox_reference(model, world=None, path: Path | None = None) -> ReferenceSet | None:
    """The embeddings shipped beside the sandbox weights (``sandbox reference`` writes them), or
    None when they are not for this model and world: another fingerprint (a rebuilt model, another
    precision), another kind of device (a GPU's float32 kernels round differently from a CPU's),
    another world, another format — or renders that no longer match (the first and the last photo
    are drawn again and their SHA-256 compared), so the renderer or Pillow changing is caught.
    None means the set is rendered and embedded here instead."""
    world = world or load_world()
    people = _never_named(world)
    path = Path(path) if path is not None else shipped_reference_path()
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception:   # a damaged file is just not used
        return None
    meta = tuple(str(arrays.get(k, "")) for k in ("format", "fingerprint", "device", "world"))
    if meta != (SHIPPED_FORMAT, model.fingerprint, _device_kind(model), _world_key(people)) or \
            not _usable_sandbox(arrays, people, model.embed_dim):
        return None
    hashes = _hexes(arrays["hashes"])
    last = arrays["embeddings"].shape[1] - 1
    for j, i in ((0, 0), (len(people) - 1, last)):
        p = people[j]
        if _pixels_hash(render_photo(p.identity, derive_seed("reference", world.seed, p.index, i), 128)) != hashes[j][i]:
            return None
    return _sandbox_set(model, world, people, arrays["embeddings"], hashes)


def write_shipped_sandbox_reference(model, path: Path | None = None, world=None,
                                    n_photos: int = SANDBOX_REFERENCE_PHOTOS, progress: Progress | None = None) -> Path:
    """Render and embed the never-named people's first ``n_photos`` photos with ``model`` (float32,
    as the model produces them) and write them with the model's fingerprint and the world's key
    (``python -m idia_core sandbox reference``). Deterministic: the same model, world and renderer
    give the same file."""
    world = world or load_world()
    people = _never_named(world)
    ref = _extend(model, world, people, None, n_photos, progress)
    path = Path(path) if path is not None else shipped_reference_path()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, embeddings=ref.embeddings, hashes=_digests(ref.photo_hashes),
                        format=np.array(SHIPPED_FORMAT), fingerprint=np.array(model.fingerprint),
                        device=np.array(_device_kind(model)), world=np.array(_world_key(people)))
    tmp.replace(path)
    return path


def _device_kind(model) -> str:
    return str(getattr(getattr(model, "device", None), "type", "cpu"))


def _extend(model, world, people, held: ReferenceSet | None, n_photos: int, progress: Progress | None) -> ReferenceSet:
    """``held`` (or nothing) with photos up to ``n_photos`` per person rendered and embedded."""
    start = held.photos_per_person if held is not None else 0
    emb, hashes = _render_and_embed(model, world, people, start, n_photos, progress)
    if held is not None:
        emb = np.concatenate([held.embeddings, emb], axis=1)
        hashes = [old + new for old, new in zip(held.photo_hashes, hashes)]
    return _sandbox_set(model, world, people, emb, hashes)


def _render_and_embed(model, world, people, start: int, stop: int,
                      progress: Progress | None) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Photos ``start`` … ``stop - 1`` of each person: [R, stop - start, D] float32 embeddings
    (``embed_people``: one person's photos per encoder batch, a few large calls) and their SHA-256,
    with progress as people are drawn."""
    hashes: list[tuple[str, ...]] = []
    clock = RateClock(len(people))
    report(progress, 0, len(people), fill("progress", "reference_photos", people=len(people), photos=stop,
                                          left=clock.left_text(0)))

    def rendered():   # one person at a time: only one call's pixels exist at once
        for j, p in enumerate(people):
            photos = [render_photo(p.identity, derive_seed("reference", world.seed, p.index, i), 128)
                      for i in range(start, stop)]
            hashes.append(tuple(_pixels_hash(im) for im in photos))
            yield photos
            if progress is not None and (j % 20 == 19 or j + 1 == len(people)):
                progress(j + 1, len(people), fill("progress", "reference_photos", people=len(people),
                                                  photos=stop, left=clock.left_text(j + 1)))

    return embed_people(model, rendered()).astype(np.float32, copy=False), hashes


PHOTOS_PER_CALL = 1024   # photos per encoder call: few calls (on ZeroGPU each is a GPU worker), bounded memory


def embed_people(model, photo_lists) -> np.ndarray:
    """[R, N, D] image embeddings of R people's N photos each (``photo_lists`` yields one list per
    person), about ``PHOTOS_PER_CALL`` photos per call of the model, one person's photos per
    encoder batch — the numbers of embedding each person on their own, in a few calls."""
    out, group = [], []

    def flush():
        if group:
            n = len(group[0])
            emb = model.encode_images([ph for photos in group for ph in photos], batch_size=n).numpy()
            out.extend(emb.reshape(len(group), n, -1))
            group.clear()

    for photos in photo_lists:
        group.append(photos)
        if len(group) * len(photos) >= PHOTOS_PER_CALL:
            flush()
    flush()
    return np.stack(out)


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
    hit = _MEMO.get(key)
    if hit is not None:
        return hit
    disk_key = hashlib.sha256(repr((CACHE_FORMAT,) + key).encode()).hexdigest()[:32]
    cached = _load_cached(disk_key)
    if _usable(cached, (len(ids), n_photos)):
        emb = cached["embeddings"]
    else:
        emb = embed_people(model, ([load_photo(p) for p in files[i]] for i in ids))
        emb = emb.astype(np.float32, copy=False)
        _save_cached(disk_key, embeddings=emb)
    ref = ReferenceSet(f"folder {root.name}", ids, ids, emb, tuple(hashes[i] for i in ids), model.fingerprint)
    _MEMO.put(key, ref)
    return ref


_SHARED: "BoundedMemo[tuple, tuple]" = BoundedMemo(4)


def shared_best(ref: "ReferenceSet", text_emb: np.ndarray, columns: np.ndarray, key: tuple):
    """``controls.best_over_columns`` of every reference person over the pool columns every check
    shares (the seeded distractors), memoised per (reference set, model, templates, those names):
    a later check with the same distractors compares only its own few names. Holds similarities of
    distractor prompts only, never anything a user typed."""
    full_key = (ref.fingerprint, ref.sha256, ref.photos_per_person) + key
    return _SHARED.get_or_put(full_key, lambda: best_over_columns(ref.embeddings, np.asarray(text_emb)[:, columns]))


def resolve_reference_set(model, n_photos: int, reference=None,
                          progress: Progress | None = None) -> tuple[ReferenceSet | None, str]:
    """The reference set for a check: ``reference`` (a ReferenceSet, a folder path, or ``"none"``),
    else ``IDIA_REFERENCE_DIR``, else the sandbox's own for the sandbox model. Returns
    (set or None, why none). ``progress`` hears of photos rendered or read for it."""
    if isinstance(reference, ReferenceSet):
        return reference, ""
    if isinstance(reference, str) and reference.strip().lower() == "none":
        return None, "the controls were turned off"
    directory = reference or config.text(ENV_DIR) or None
    if directory:
        report(progress, 0, 0, fill("progress", "reference_folder"))
        return folder_reference_set(model, directory, n_photos), ""
    world = world_of(getattr(model, "spec", None))   # a model whose training world is known: its never-named people
    if world is not None:
        return sandbox_reference_set(model, n_photos, world, progress=progress), ""
    return None, ("no reference set was given (--reference DIR or IDIA_REFERENCE_DIR: one folder of photos "
                  "per person who is not the target)")
