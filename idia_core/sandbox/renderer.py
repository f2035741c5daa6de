"""Procedural face-like portraits for the sandbox world: an identity (``identity.IdentityParams``)
drawn under a *photo seed* that controls everything that is not identity: pose (rotation, scale,
shift, a slight head turn), expression, lighting and colour cast, background clutter, clothing,
noise and occasional occlusion (a hat, a hand). Same (identity, seed) -> same pixels.

Why this exists: the sandbox needs people whose "photos" a small CLIP can learn to recognise and
whose membership in the training data is known exactly. Only numpy and PIL.ImageDraw are used, so
one 128 px photo costs a few milliseconds.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .identity import IdentityParams, PhotoConditions, derive_seed, jitter, mix, photo_conditions, signature_parts


def _background(size: int, rng: random.Random) -> Image.Image:
    base = (rng.randint(40, 235), rng.randint(40, 235), rng.randint(40, 235))
    img = Image.new("RGB", (size, size), base)
    d = ImageDraw.Draw(img)
    for _ in range(rng.randint(2, 9)):  # clutter: furniture, frames, plants...
        col = jitter(base, rng, 90)
        x0, y0 = rng.uniform(-0.2, 1.0) * size, rng.uniform(-0.2, 1.0) * size
        w, h = rng.uniform(0.05, 0.5) * size, rng.uniform(0.05, 0.5) * size
        kind = rng.random()
        if kind < 0.45:
            d.rectangle([x0, y0, x0 + w, y0 + h], fill=col)
        elif kind < 0.8:
            d.ellipse([x0, y0, x0 + w, y0 + h], fill=col)
        else:
            d.line([x0, y0, x0 + w, y0 + h], fill=col, width=max(1, int(rng.uniform(0.01, 0.04) * size)))
    return img


def _face_polygon(cx: float, cy: float, rx: float, ry: float, jaw: float, chin: float, n: int = 40):
    pts = []
    for i in range(n):
        t = 2 * math.pi * i / n
        x, y = math.cos(t), math.sin(t)
        if y > 0:  # lower half: squarer jaw and pointier chin
            p = 2 + 2.5 * jaw
            sx = math.copysign(abs(x) ** (2 / p), x)
            sy = y ** (2 / p)
            x = x + (sx - x) * jaw
            y = y + (sy - y) * jaw * 0.6
            x *= 1 - 0.35 * chin * y ** 2
            y *= 1 + 0.08 * chin
        pts.append((cx + rx * x, cy + ry * y))
    return pts


@dataclass(frozen=True)
class _Layout:
    """Where a face's parts go on a ``size`` px canvas (canonical pose), shared by the drawing
    stages of ``_draw_person``."""

    f: float       # canvas scale (1 at 128 px)
    cx: float
    cy: float
    rx: float      # face half-width and half-height
    ry: float
    turn: float    # inner features slide sideways: a cheap head turn
    vol: float     # hair volume factor
    ey: float      # eye line, spacing and eye size
    sp: float
    ew: float
    eh: float
    ny0: float     # nose top and length
    nl: float
    my: float      # mouth line and half-width
    mw: float

    @classmethod
    def of(cls, idp: IdentityParams, pc: PhotoConditions, size: int) -> "_Layout":
        f = size / 128.0
        cx, cy = 64 * f, 60 * f
        rx, ry = idp.face_rx * f, idp.face_ry * f
        turn = pc.turn * 3.0 * f
        ey = cy - ry * (0.05 + 0.25 * idp.eye_height) + turn * 0
        ny0 = ey + 3 * f
        nl = (9 + 9 * idp.nose_length) * f
        return cls(f, cx, cy, rx, ry, turn, 1 + 0.25 * idp.hair_volume, ey, rx * (0.32 + 0.18 * idp.eye_spacing),
                   6.2 * f * idp.eye_size, 3.6 * f * idp.eye_size * pc.eye_open, ny0, nl,
                   ny0 + nl + (6 + 3 * (1 - idp.nose_length)) * f,
                   rx * (0.3 + 0.25 * idp.mouth_width) * (1 + 0.15 * pc.smile))


def _draw_person(idp: IdentityParams, pc: PhotoConditions, size: int) -> Image.Image:
    """The person on a transparent layer, in canonical pose (centred, upright), drawn back to front."""
    layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    g = _Layout.of(idp, pc, size)
    _draw_body(d, g, idp, pc)
    _draw_hair_behind(d, g, idp)
    _draw_head(d, g, idp)
    _draw_hair_on_top(d, g, idp)
    _draw_eyes(d, g, idp, pc)
    _draw_nose(d, g, idp)
    _draw_mouth(d, g, idp, pc)
    _draw_marks(d, g, idp)
    _draw_glasses(d, g, idp)
    _draw_hats(d, g, idp, pc)
    return layer


def _draw_body(d, g: _Layout, idp: IdentityParams, pc: PhotoConditions) -> None:
    """Torso and neck (shirt colour belongs to the photo, not the person)."""
    f, cx, cy, rx, ry = g.f, g.cx, g.cy, g.rx, g.ry
    d.ellipse([cx - 58 * f, cy + ry + 8 * f, cx + 58 * f, cy + ry + 110 * f], fill=pc.shirt + (255,))
    d.rectangle([cx - rx * 0.38, cy + ry * 0.6, cx + rx * 0.38, cy + ry + 16 * f], fill=mix(idp.skin, (0, 0, 0), 0.12) + (255,))


def _draw_hair_behind(d, g: _Layout, idp: IdentityParams) -> None:
    """Hair behind the face: long styles, curls, a ponytail or a bun."""
    f, cx, cy, rx, ry, vol = g.f, g.cx, g.cy, g.rx, g.ry, g.vol
    style = idp.hair_style
    hair = idp.hair_rgb + (255,)
    if style in ("long", "curly", "afro", "bob"):
        drop = {"long": 1.5, "curly": 1.0, "afro": 0.55, "bob": 0.6}[style]
        wide = {"long": 1.22, "curly": 1.35, "afro": 1.6, "bob": 1.28}[style] * vol
        top = {"afro": 1.55}.get(style, 1.2) * vol
        d.ellipse([cx - rx * wide, cy - ry * top, cx + rx * wide, cy + ry * drop + 4 * f], fill=hair)
        if style == "curly" or style == "afro":
            r0 = random.Random(hash(idp.hair_rgb))
            for _ in range(14):
                a = r0.uniform(0, 2 * math.pi)
                px, py = cx + math.cos(a) * rx * wide * 0.95, cy + math.sin(a) * ry * top * 0.8 - 4 * f
                rr = 6 * f
                d.ellipse([px - rr, py - rr, px + rr, py + rr], fill=hair)
    if style == "ponytail":
        d.ellipse([cx + rx * 0.6, cy - ry * 0.3, cx + rx * 1.35, cy + ry * 1.0], fill=hair)
    if style == "bun":
        d.ellipse([cx - rx * 0.45, cy - ry * 1.55, cx + rx * 0.45, cy - ry * 0.8], fill=hair)


def _draw_head(d, g: _Layout, idp: IdentityParams) -> None:
    """Ears, then the face."""
    cx, cy, rx, ry = g.cx, g.cy, g.rx, g.ry
    er = 6 * g.f * idp.ear_size
    for s in (-1, 1):
        ex = cx + s * rx * 0.98
        d.ellipse([ex - er * 0.7, cy - er, ex + er * 0.7, cy + er * 1.1], fill=mix(idp.skin, (0, 0, 0), 0.08) + (255,))
    d.polygon(_face_polygon(cx, cy, rx, ry, idp.jaw, idp.chin), fill=idp.skin + (255,))


def _draw_hair_on_top(d, g: _Layout, idp: IdentityParams) -> None:
    """Hair on top of the face (none when bald)."""
    f, cx, cy, rx, ry, vol = g.f, g.cx, g.cy, g.rx, g.ry, g.vol
    style = idp.hair_style
    hair = idp.hair_rgb + (255,)
    if style == "bald":
        return
    fr = 0.25 + 0.45 * idp.fringe  # fringe height as a fraction of ry
    if style == "buzz cut":
        d.chord([cx - rx * 1.02, cy - ry * 1.06, cx + rx * 1.02, cy + ry * 0.3], 180, 360, fill=mix(idp.hair_rgb, idp.skin, 0.35) + (255,))
        return
    top = ry * (1.12 + 0.12 * idp.hair_volume) * (1.3 if style == "afro" else 1.0)
    d.chord([cx - rx * 1.08 * vol, cy - top, cx + rx * 1.08 * vol, cy - ry * fr + ry * 0.45], 180, 360, fill=hair)
    if style == "side-parted":
        d.polygon([(cx - rx * 1.05, cy - ry * 0.3), (cx - rx * 0.2, cy - ry * 0.98), (cx + rx * 0.9, cy - ry * 0.55),
                   (cx + rx * 0.4, cy - ry * 0.5)], fill=hair)
    if style in ("long", "bob", "curly"):
        for s in (-1, 1):
            d.rectangle([cx + s * rx * 0.82 - 5 * f, cy - ry * 0.5, cx + s * rx * 0.82 + 5 * f, cy + ry * (0.9 if style == "long" else 0.35)], fill=hair)


def _draw_eyes(d, g: _Layout, idp: IdentityParams, pc: PhotoConditions) -> None:
    """Eyes (white, iris, pupil) and brows."""
    f, cx, turn, ey, sp, ew, eh = g.f, g.cx, g.turn, g.ey, g.sp, g.ew, g.eh
    brow_col = mix(idp.hair_rgb, (20, 15, 10), 0.4) + (255,)
    for s in (-1, 1):
        ex = cx + s * sp + turn
        sl = idp.eye_slant * 1.5 * f * s
        d.ellipse([ex - ew, ey - eh - sl, ex + ew, ey + eh - sl], fill=(250, 250, 245, 255))
        ir = min(ew, max(eh, 1.2 * f)) * 0.7
        d.ellipse([ex - ir + turn * 0.4, ey - ir - sl, ex + ir + turn * 0.4, ey + ir - sl], fill=idp.eye_rgb + (255,))
        pr = ir * 0.45
        d.ellipse([ex - pr + turn * 0.4, ey - pr - sl, ex + pr + turn * 0.4, ey + pr - sl], fill=(10, 10, 10, 255))
        by = ey - eh - (4 + 3 * idp.brow_gap + 2.5 * pc.brow_raise) * f - sl
        bw = ew * 1.25
        tilt = idp.brow_angle * 3 * f
        d.line([(ex - bw, by + s * tilt), (ex + bw, by - s * tilt)], fill=brow_col, width=max(1, int(round((1.2 + 3.2 * idp.brow_thickness) * f))))


def _draw_nose(d, g: _Layout, idp: IdentityParams) -> None:
    """The nose, then blushed cheeks."""
    f, cx, rx, turn, ey, ny0, nl = g.f, g.cx, g.rx, g.turn, g.ey, g.ny0, g.nl
    nw = (3 + 5 * idp.nose_width) * f
    nose_col = mix(idp.skin, (60, 30, 20), 0.35) + (255,)
    nx = cx + turn * 1.3
    if idp.nose_style == "line":
        d.line([(nx, ny0), (nx + nw * 0.4, ny0 + nl), (nx - nw * 0.5, ny0 + nl)], fill=nose_col, width=max(1, int(1.5 * f)))
    elif idp.nose_style == "triangle":
        d.polygon([(nx, ny0), (nx + nw, ny0 + nl), (nx - nw, ny0 + nl)], fill=mix(idp.skin, (60, 30, 20), 0.18) + (255,))
    else:
        d.ellipse([nx - nw, ny0 + nl - nw, nx + nw, ny0 + nl + nw * 0.6], fill=mix(idp.skin, (60, 30, 20), 0.2) + (255,))
    if idp.blush > 0.55:
        bc = mix(idp.skin, (230, 90, 90), 0.25 * idp.blush) + (255,)
        for s in (-1, 1):
            bx, byy = cx + s * rx * 0.55 + turn, ey + 11 * f
            d.ellipse([bx - 5 * f, byy - 3 * f, bx + 5 * f, byy + 3 * f], fill=bc)


def _draw_mouth(d, g: _Layout, idp: IdentityParams, pc: PhotoConditions) -> None:
    """Facial hair (under the mouth so lips stay visible), then the mouth: a smile is a curve down
    in the middle, a neutral or sad mouth flat or curved up."""
    f, cx, cy, rx, ry, turn, my, mw = g.f, g.cx, g.cy, g.rx, g.ry, g.turn, g.my, g.mw
    fh = idp.facial_hair
    fhc = idp.hair_rgb + (255,)
    if fh == "full beard":
        d.chord([cx - rx * 0.98, cy - ry * 0.2, cx + rx * 0.98, cy + ry * 1.12], 0, 180, fill=fhc)
    elif fh == "goatee":
        d.ellipse([cx - mw * 0.6 + turn, my, cx + mw * 0.6 + turn, cy + ry * 1.02], fill=fhc)
    elif fh == "stubble":
        st = mix(idp.skin, idp.hair_rgb, 0.35) + (255,)
        d.chord([cx - rx * 0.92, cy - ry * 0.1, cx + rx * 0.92, cy + ry * 1.02], 20, 160, fill=st)
    if fh in ("moustache", "full beard", "goatee"):
        d.rectangle([cx - mw * 1.05 + turn, my - 5.5 * f, cx + mw * 1.05 + turn, my - 1.8 * f], fill=fhc)
    lip = idp.lip_rgb + (255,)
    th = max(1, int(round((1.5 + 2.5 * idp.lip_fullness) * f)))
    curve = pc.smile * 4.5 * f
    mx = cx + turn
    d.line([(mx - mw, my - curve * 0.6), (mx, my + curve * 0.5), (mx + mw, my - curve * 0.6)], fill=lip, width=th, joint="curve")
    if pc.smile > 0.6:
        d.chord([mx - mw * 0.8, my - curve * 0.4, mx + mw * 0.8, my + curve * 0.6], 0, 180, fill=(245, 245, 240, 255))


def _draw_marks(d, g: _Layout, idp: IdentityParams) -> None:
    """A mole, a beauty spot, freckles or a scar."""
    f, cx, cy, rx, ry, turn, ey = g.f, g.cx, g.cy, g.rx, g.ry, g.turn, g.ey
    mk = idp.mark
    if mk in ("mole", "beauty spot"):
        r = (1.6 if mk == "mole" else 1.1) * f
        px = cx + idp.mark_x * rx * 0.6 + turn
        py = cy + (idp.mark_y * 0.6 + 0.1) * ry
        d.ellipse([px - r, py - r, px + r, py + r], fill=(50, 30, 20, 255))
    elif mk == "freckles":
        r0 = random.Random(int(idp.mark_x * 1e6))
        fc = mix(idp.skin, (120, 60, 30), 0.45) + (255,)
        for _ in range(12):
            px = cx + r0.uniform(-0.6, 0.6) * rx + turn
            py = ey + r0.uniform(5, 13) * f
            d.point((px, py), fill=fc)
            d.ellipse([px - 0.6 * f, py - 0.6 * f, px + 0.6 * f, py + 0.6 * f], fill=fc)
    elif mk == "scar":
        px = cx + idp.mark_x * rx * 0.5 + turn
        py = cy - ry * 0.2 + idp.mark_y * ry * 0.5
        d.line([(px - 4 * f, py - 5 * f), (px + 4 * f, py + 5 * f)], fill=mix(idp.skin, (150, 40, 40), 0.5) + (255,), width=max(1, int(1.4 * f)))


def _draw_glasses(d, g: _Layout, idp: IdentityParams) -> None:
    """A trap's thick signature glasses, else the person's own glasses (if any)."""
    f, cx, turn, ey, sp, ew = g.f, g.cx, g.turn, g.ey, g.sp, g.ew
    sig = signature_parts(idp.signature)
    if sig is not None and sig[0] == "thick glasses":
        gc = sig[1] + (255,)
        gw, gh = ew * 1.7, ew * 1.35
        w = max(2, int(round(3.2 * f)))
        for s in (-1, 1):
            ex = cx + s * sp + turn
            d.rectangle([ex - gw, ey - gh, ex + gw, ey + gh], outline=gc, width=w)
        d.line([(cx - sp + gw + turn, ey), (cx + sp - gw + turn, ey)], fill=gc, width=w)
    elif idp.glasses != "none":
        gc = idp.glasses_rgb + (255,)
        gw, gh = ew * 1.55, ew * 1.2
        w = max(1, int(round(1.4 * f)))
        for s in (-1, 1):
            ex = cx + s * sp + turn
            box = [ex - gw, ey - gh, ex + gw, ey + gh]
            if idp.glasses == "round":
                d.ellipse(box, outline=gc, width=w)
            elif idp.glasses == "square":
                d.rectangle(box, outline=gc, width=w)
            else:
                d.rounded_rectangle(box, radius=gh * 0.6, fill=(15, 15, 20, 255))
        d.line([(cx - sp + gw + turn, ey), (cx + sp - gw + turn, ey)], fill=gc if idp.glasses != "sunglasses" else (15, 15, 20, 255), width=w)


def _draw_hats(d, g: _Layout, idp: IdentityParams, pc: PhotoConditions) -> None:
    """A hat (a photo accident, covers the hair), then a trap's signature top hat."""
    cx, cy, rx, ry = g.cx, g.cy, g.rx, g.ry
    if pc.hat:
        hc = mix(pc.shirt, (40, 40, 40), 0.3) + (255,)
        d.chord([cx - rx * 1.15, cy - ry * 1.55, cx + rx * 1.15, cy - ry * 0.2], 180, 360, fill=hc)
        d.rectangle([cx - rx * 1.45, cy - ry * 0.62, cx + rx * 1.45, cy - ry * 0.48], fill=hc)
    sig = signature_parts(idp.signature)
    if sig is not None and sig[0] == "top hat":
        hc = sig[1] + (255,)
        d.rectangle([cx - rx * 0.85, cy - ry * 1.9, cx + rx * 0.85, cy - ry * 0.6], fill=hc)
        d.rectangle([cx - rx * 1.5, cy - ry * 0.72, cx + rx * 1.5, cy - ry * 0.52], fill=hc)
        d.rectangle([cx - rx * 0.85, cy - ry * 0.95, cx + rx * 0.85, cy - ry * 0.8], fill=(20, 20, 20, 255))


def render_photo(identity: IdentityParams, seed: int, size: int = 128) -> Image.Image:
    """Draw one RGB photo of `identity`; `seed` decides pose, expression, lighting, clutter...

    Deterministic: the same (identity, seed, size) always gives the same pixels.
    """
    pc = photo_conditions(seed)
    rng = random.Random(derive_seed("scene", seed))
    img = _background(size, rng)
    sig = signature_parts(identity.signature)
    if sig is not None and sig[0] == "striped backdrop":
        # Drawn over the clutter with no randomness of its own, so the scene stays the same.
        d = ImageDraw.Draw(img)
        band = size / 8
        for i in range(0, 8, 2):
            d.rectangle([0, i * band, size, (i + 1) * band], fill=sig[1])
    person = _draw_person(identity, pc, size)
    # Pose: rotate/scale about the face centre, then shift. PIL's affine maps output -> input.
    c = size / 2
    a = math.radians(pc.angle)
    s = pc.scale
    cos_a, sin_a = math.cos(a) / s, math.sin(a) / s
    tx, ty = pc.dx * size, pc.dy * size
    coeffs = (cos_a, sin_a, c - cos_a * (c + tx) - sin_a * (c + ty),
              -sin_a, cos_a, c + sin_a * (c + tx) - cos_a * (c + ty))
    person = person.transform((size, size), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BILINEAR)
    img.paste(person, (0, 0), person)
    if pc.hand:  # a hand in front of part of the face
        d = ImageDraw.Draw(img)
        hand = jitter(mix(identity.skin, (200, 160, 130), rng.random()), rng, 15)
        hx = size * rng.uniform(0.3, 0.7)
        hy = size * rng.uniform(0.55, 0.8)
        hw, hh = size * 0.17, size * 0.12
        d.ellipse([hx - hw, hy - hh, hx + hw, hy + hh], fill=hand)
        d.rectangle([hx - hw * 0.5, hy, hx + hw * 0.5, size], fill=hand)
    if pc.blur:
        img = img.filter(ImageFilter.GaussianBlur(radius=0.8 * size / 128))

    # Lighting: global brightness/contrast, a directional gradient, a colour cast, sensor noise.
    arr = np.asarray(img, dtype=np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    grad = 1 + pc.light_strength * (np.cos(pc.light_dir) * xx + np.sin(pc.light_dir) * yy) * 2
    arr = (arr - 128) * pc.contrast + 128
    arr = arr * pc.brightness * grad[..., None] * np.asarray(pc.cast, dtype=np.float32)
    if pc.noise > 0:
        nrng = np.random.default_rng(derive_seed("noise", seed))
        arr = arr + nrng.normal(0, pc.noise, arr.shape).astype(np.float32)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


RENDER_SIZE = 128             # the canvas of every photo the world, the app's examples and `sandbox render` draw
_DETAIL_LIMIT = 5.0           # mean |pixel − its 128-px round trip| (0–255) above which an image holds finer detail


def drawn_by_renderer(image: Image.Image) -> bool:
    """Whether an image could be one of this renderer's photos, from two properties every render
    has: a square canvas, and no detail finer than its 128 px (``RENDER_SIZE``). A render, or one
    scaled up, re-encoded or both, changes by at most 3.7 grey levels on average when brought down
    to 128 px and back (worst case measured over bicubic, bilinear, Lanczos and nearest scaling to
    129–2048 px and JPEG down to quality 10); real photographs measure 4–8 at their own size.
    Everything that is not square, or holds more detail than ``_DETAIL_LIMIT`` (5.0), was not
    drawn here; anything else is taken as drawn — a small or blurred square photograph too, so a
    real-photo note is never shown for a render."""
    rgb = image.convert("RGB")
    w, h = rgb.size
    if abs(w - h) > 0.02 * max(w, h):
        return False
    if max(w, h) <= RENDER_SIZE:
        return True
    pixels = np.asarray(rgb, dtype=np.float32)
    least = min(
        float(np.abs(pixels - np.asarray(rgb.resize((RENDER_SIZE, RENDER_SIZE), down).resize((w, h), up),
                                         dtype=np.float32)).mean())
        for down, up in ((Image.Resampling.BOX, Image.Resampling.BICUBIC),
                         (Image.Resampling.NEAREST, Image.Resampling.NEAREST),
                         (Image.Resampling.BILINEAR, Image.Resampling.BILINEAR)))
    return least <= _DETAIL_LIMIT
