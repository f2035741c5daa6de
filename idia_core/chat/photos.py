"""A message's photos taken in: each upload decoded once to check it (``images.load_photo``),
kept as a reference (path, SHA-256, perceptual hash), never as pixels. Photos are counted by
content: the same file (SHA-256) or the same picture re-encoded or resized (perceptual hash) is
named and set aside, so the minimum applies to distinct photos."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from .. import limits
from ..errors import IdiaInputError
from ..images import load_photo
from ..sandbox.renderer import drawn_by_renderer
from . import views
from .replies import Reply, say
from .session import ChatSession, PhotoRef

# Near-duplicate: both perceptual hashes (64 bits each) nearly equal. A photo re-encoded (JPEG q30-90)
# or resized measures pHash 0-4, dHash 0; different sandbox renders of one person pHash 14+, and the
# closest pair of distinct drawn test faces pHash 4, dHash 4 — so both must agree.
MAX_SET_ASIDE_LINES = 5
NEAR_DUPLICATE_PHASH_BITS = 4
NEAR_DUPLICATE_DHASH_BITS = 2


@dataclass(frozen=True)
class Taken:
    """A message's photos taken in: the next state, the reply, the thumbnails of the photos kept
    (for the message's photo strip) and whether any photo was accepted."""

    state: ChatSession
    reply: Reply
    thumbs: list
    accepted: bool


def accept_photos(state: ChatSession, files) -> Taken:
    """Decode each upload once to check it; keep references to the good ones. A new upload after a
    check of the current photos starts a new set (a new person, or the share-link's photos).
    Photos are counted by content: an identical file (SHA-256) or the same picture re-encoded or
    resized (perceptual hash) is named and set aside, so the minimum applies to distinct photos."""
    accepted: list[PhotoRef] = []
    lines: list[str] = []
    thumbs: list = []
    for path in files:
        label = Path(str(path)).name
        try:
            photo = load_photo(str(path), label=label)
        except IdiaInputError as err:
            lines.append(say("photos_rejected", label=label, reason=err.message))
            continue
        accepted.append(PhotoRef(path=str(path), sha256=photo.sha256, label=label, phash=_perceptual_hash(photo.image),
                                 drawn=drawn_by_renderer(photo.image)))
        thumbs.append(views.thumbnail(photo.image))
    if accepted:
        replace_set = bool(state.photos) and state.last_result is not None and \
            state.last_run_key is not None and state.last_run_key[3] == tuple(p.sha256 for p in state.photos)
        old = len(state.photos)
        base = [] if replace_set else list(state.photos)
        accepted, set_aside = _distinct_photos(base, accepted)
        room = limits.MAX_PHOTOS - len(base)
        dropped = max(0, len(accepted) - room)
        state = replace(state, photos=base + accepted[:room])
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
    return Taken(state, Reply("\n\n".join(lines), kind="info" if accepted else "error"), thumbs, bool(accepted))


def _perceptual_hash(image) -> str:
    """'<pHash>/<dHash>' (64 bits each, hex, ``imagehash``): (nearly) equal for a photo and its
    re-encoded or resized copy."""
    import imagehash  # scipy behind it: imported on the first upload, not at start-up

    return f"{imagehash.phash(image)}/{imagehash.dhash(image)}"


def _hash_distance(a: str, b: str) -> tuple[int, int] | None:
    """(pHash, dHash) bit distances of two ``_perceptual_hash`` values; None if either is missing."""
    import imagehash  # see _perceptual_hash

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
