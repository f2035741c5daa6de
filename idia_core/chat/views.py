"""What the app shows beside the chat (the full charts and a photo gallery) and the compact photo
strip in the user's message, all read from the session and its ``IdiaResult``; the app only hands
them to its components. The charts are the ones the reports draw (``idia_core.audit.charts``).

Every chart reaches the app as a PNG file drawn here, in the turn's worker thread, once per check.
A matplotlib figure handed to a gradio component would be drawn by gradio inside the server's one
event loop (a component update is postprocessed there), and while it draws no visitor's request is
answered: measured with 16 checks at once, a 34 KB file took up to 12 s to serve."""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ..attack.result import IdiaResult
from ..audit import charts
from ..echo import code, shown
from ..files import atomic_write
from .session import ChatSession

EMPTY_SUMMARY = ("*No verdict yet.* After a check, this panel shows the verdict in one line, the names "
                 "closest to the photos, each photo with the name the model gave it (✓ when it is the "
                 "name you asked about) and every template's vote.")
STRIP_TILE = 72         # px: a thumbnail's side in the user's message strip
STRIP_COLUMNS = 6
STRIP_MAX_TILES = 12    # more photos: the first 11 and a "+N" tile


@dataclass(frozen=True)
class ResultViews:
    top_names: str | None = None      # PNG path of charts.top_names_figure, or None before a check
    votes: str | None = None          # PNG path of charts.votes_figure, or None before a check
    gallery: list = field(default_factory=list)   # [(photo path, caption)]
    summary: str = EMPTY_SUMMARY


def empty_views() -> ResultViews:
    return ResultViews()


def photo_caption(result: IdiaResult, photo_index: int) -> str:
    """A gallery caption: the photo's top name (the one most of its templates picked) with ✓ when
    it is the true name or ✗ when not, how many templates picked it, then the file name."""
    (top, count), = result.photo_top_names(photo_index, 1)
    mark = "✓" if top == result.true_name else "✗"
    return f"{top} {mark} · {count} of {result.n_templates} templates · {result.photo_labels[photo_index]}"


def result_digest(result: IdiaResult) -> str:
    """16 hex digits that change with anything a chart of ``result`` shows (the build, the name,
    the photos, the pool, the votes and the similarities), so a chart file is drawn once per check
    and a new check never shows an older one's picture."""
    h = hashlib.sha256()
    for part in (result.fingerprint, result.true_name, str(result.tau), *result.templates, *result.photo_hashes,
                 *result.candidates):
        h.update(part.encode("utf-8", "surrogatepass") + b"\0")
    for arr in (result.predictions, result.majority, result.mean_similarity):
        h.update(arr.tobytes())
    return h.hexdigest()[:16]


def chart_png(state: ChatSession, result: IdiaResult, kind: str, figure) -> str:
    """``figure(result)`` as ``<kind>-<digest>.png`` in the session's folder (deleted with the
    session), drawn only if that file is not there yet; returns its path."""
    path = state.ensure_workdir() / f"{kind}-{result_digest(result)}.png"
    if not path.exists():
        charts.save_figure(figure(result), path)
    return str(path)


def result_views(state: ChatSession) -> ResultViews:
    """The closest names and each template's vote (the report's own charts), and each photo with
    the name its predictions went to most."""
    result: IdiaResult | None = state.last_result
    if result is None:
        return empty_views()
    by_hash = {p.sha256: p.path for p in state.photos}
    gallery = []
    for i, sha in enumerate(result.photo_hashes):
        path = by_hash.get(sha)
        if path is not None:
            gallery.append((path, photo_caption(result, i)))
    verdict = result.verdict_word
    summary = (f"**{shown(result.true_name)}** on {code(result.model_spec, 200)}: {verdict} — {result.correct_templates} of "
               f"{result.n_templates} templates picked the name (tau {result.tau}), {result.n_photos} photos, "
               f"{result.n_candidates} names. Gallery captions: each photo's top name (✓ = the name you "
               f"asked about) and how many of the {result.n_templates} templates picked it.")
    return ResultViews(chart_png(state, result, "top-names", charts.top_names_figure),
                       chart_png(state, result, "votes", charts.votes_figure), gallery, summary)


def thumbnail(img: Image.Image) -> Image.Image:
    """A square ``STRIP_TILE`` px thumbnail (centre crop), made as soon as a photo is decoded so
    that a turn with many uploads never holds their full-size pixels at once."""
    thumb = img.convert("RGB")
    thumb.thumbnail((STRIP_TILE * 2, STRIP_TILE * 2))
    side = min(thumb.size)
    left, top = (thumb.width - side) // 2, (thumb.height - side) // 2
    return thumb.crop((left, top, left + side, top + side)).resize((STRIP_TILE, STRIP_TILE))


def photo_strip(images, folder) -> Path | None:
    """One PNG of square thumbnails (rows of ``STRIP_COLUMNS``) of already decoded photos, written
    in the session's folder, so a message with many photos takes one line or two instead of a
    screen per photo. Past ``STRIP_MAX_TILES`` the last tile says how many more there are.
    ``images``: thumbnails (``thumbnail``) of photos decoded and checked by ``images.load_photo``.
    None when there are none."""
    images = list(images)
    if not images:
        return None
    shown = images if len(images) <= STRIP_MAX_TILES else images[: STRIP_MAX_TILES - 1]
    tiles = len(shown) + (len(images) > STRIP_MAX_TILES)
    cols = min(tiles, STRIP_COLUMNS)
    rows = -(-tiles // STRIP_COLUMNS)
    gap = 4
    sheet = Image.new("RGB", (cols * (STRIP_TILE + gap) - gap, rows * (STRIP_TILE + gap) - gap), "white")
    digest = hashlib.sha256()
    for i, img in enumerate(shown):
        thumb = img if img.size == (STRIP_TILE, STRIP_TILE) else thumbnail(img)
        digest.update(thumb.tobytes())
        sheet.paste(thumb, ((i % STRIP_COLUMNS) * (STRIP_TILE + gap), (i // STRIP_COLUMNS) * (STRIP_TILE + gap)))
    if len(images) > STRIP_MAX_TILES:
        i = len(shown)
        x, y = (i % STRIP_COLUMNS) * (STRIP_TILE + gap), (i // STRIP_COLUMNS) * (STRIP_TILE + gap)
        draw = ImageDraw.Draw(sheet)
        draw.rectangle((x, y, x + STRIP_TILE, y + STRIP_TILE), fill="#e0e0e0")
        text = f"+{len(images) - len(shown)}"
        font = ImageFont.load_default(size=22)
        w = draw.textlength(text, font=font)
        draw.text((x + (STRIP_TILE - w) / 2, y + STRIP_TILE / 2 - 13), text, fill="#333333", font=font)
        digest.update(text.encode())
    path = Path(folder) / f"photos-{digest.hexdigest()[:16]}.png"
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    return atomic_write(path, buf.getvalue())   # refused once a shutdown began (files.stop_writes)
