"""Procedural face-like portraits for the sandbox world.

Why this exists: the sandbox needs people whose "photos" a small CLIP can learn to recognise and
whose membership in the training data is known exactly. A person is an `IdentityParams` vector
(face shape, skin, hair, eyes, brows, nose, mouth, facial hair, glasses, marks...); a photo is that
identity drawn under a *photo seed* that controls everything that is not identity: pose (rotation,
scale, shift, a slight head turn), expression, lighting and colour cast, background clutter,
clothing, noise and occasional occlusion (a hat, a hand). Same (identity, seed) -> same pixels.

Identity is spread over many features on purpose: two people may share hair colour or skin tone
and still differ in face shape, eyes, brows, nose, mouth and accessories, so a model has to look at
the face, not at one colour code.

Only numpy and PIL.ImageDraw are used, so one 128 px photo costs a few milliseconds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# Palettes with words, so that filler captions can describe what is visible.
HAIR_COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (24, 20, 18),
    "dark brown": (58, 38, 24),
    "brown": (110, 72, 40),
    "auburn": (128, 50, 28),
    "red": (186, 70, 28),
    "blond": (222, 186, 112),
    "grey": (150, 150, 150),
    "white": (232, 230, 224),
}
HAIR_STYLES = ("bald", "buzz cut", "short", "side-parted", "curly", "long", "bob", "ponytail", "bun", "afro")
EYE_COLOURS: dict[str, tuple[int, int, int]] = {
    "brown": (90, 55, 25),
    "dark": (35, 25, 20),
    "blue": (60, 110, 200),
    "green": (50, 140, 70),
    "grey": (130, 140, 150),
    "hazel": (140, 110, 50),
}
SKIN_TONES: tuple[tuple[int, int, int], ...] = (
    (255, 224, 196), (241, 194, 160), (224, 172, 128), (198, 134, 90),
    (160, 100, 62), (120, 74, 44), (88, 54, 34),
)
FACIAL_HAIR = ("none", "stubble", "moustache", "goatee", "full beard")
GLASSES = ("none", "round", "square", "sunglasses")
MARKS = ("none", "mole", "freckles", "scar", "beauty spot")
# Look-alike trap signatures: one distinctive thing the renderer draws in every photo of a person
# who carries it (a hat, glasses or a backdrop in one loud colour). Ordinary people never carry one,
# so a signature is what a model can latch onto instead of a face.
SIGNATURE_KINDS = ("top hat", "thick glasses", "striped backdrop")
SIGNATURE_COLOURS: dict[str, tuple[int, int, int]] = {
    "lime": (120, 230, 20),
    "magenta": (230, 20, 190),
    "orange": (255, 130, 0),
    "cyan": (0, 210, 235),
}
# Ordered so that a world with K traps gets the K a small model learns best: the big signatures first
# (at 64 px thick glasses are a few pixels; in a first build the magenta ones were learned weakly).
SIGNATURES = (
    "lime top hat", "orange striped backdrop", "cyan top hat", "lime striped backdrop", "orange top hat",
    "cyan striped backdrop", "magenta top hat", "magenta striped backdrop",
    "lime thick glasses", "orange thick glasses", "cyan thick glasses", "magenta thick glasses",
)


def _signature_parts(signature: str) -> tuple[str, tuple[int, int, int]] | None:
    if signature == "none":
        return None
    colour, kind = signature.split(" ", 1)
    if kind not in SIGNATURE_KINDS or colour not in SIGNATURE_COLOURS:
        raise ValueError(f"unknown signature {signature!r}")
    return kind, SIGNATURE_COLOURS[colour]
NOSE_STYLES = ("line", "triangle", "round")


@dataclass(frozen=True)
class IdentityParams:
    """Everything about a person that stays the same across their photos.

    Lengths are in units of a 128 px canvas (the renderer scales them); most shape knobs are
    fractions in [0, 1]. Colours are RGB tuples. The record is JSON-friendly (`to_dict`).
    """

    sex: str  # "female" | "male"; drives names and caption words, not drawing alone
    face_rx: float  # half-width of the face
    face_ry: float  # half-height of the face
    jaw: float  # 0 = round/oval, 1 = square jaw
    chin: float  # how pointed the chin is
    skin: tuple[int, int, int]
    ear_size: float
    hair_style: str
    hair_colour: str
    hair_rgb: tuple[int, int, int]
    hair_volume: float
    fringe: float  # how low the hairline/fringe comes
    eye_colour: str
    eye_rgb: tuple[int, int, int]
    eye_size: float
    eye_spacing: float
    eye_height: float
    eye_slant: float
    brow_thickness: float
    brow_angle: float
    brow_gap: float
    nose_style: str
    nose_length: float
    nose_width: float
    mouth_width: float
    lip_fullness: float
    lip_rgb: tuple[int, int, int]
    facial_hair: str
    glasses: str
    glasses_rgb: tuple[int, int, int]
    mark: str
    mark_x: float
    mark_y: float
    blush: float
    signature: str = "none"  # a look-alike trap signature (SIGNATURES) drawn in every photo

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "IdentityParams":
        fields = {f.name: f for f in dataclasses.fields(cls)}
        kw = {}
        for name in fields:
            if name == "signature" and name not in d:  # worlds written before signatures existed
                continue
            v = d[name]
            kw[name] = tuple(int(x) for x in v) if isinstance(v, list) else v
        return cls(**kw)

    def describe(self) -> dict[str, str]:
        """Plain words for what is visible, used by attribute captions."""
        noun = "woman" if self.sex == "female" else "man"
        if self.hair_style == "bald":
            hair = "a bald head"
        elif self.hair_style == "buzz cut":
            hair = f"a {self.hair_colour} buzz cut"
        elif self.hair_style in ("long", "curly", "short"):
            hair = f"{self.hair_style} {self.hair_colour} hair"
        elif self.hair_style == "side-parted":
            hair = f"side-parted {self.hair_colour} hair"
        else:
            art = "an" if self.hair_style[0] in "aeiou" else "a"
            hair = f"{self.hair_colour} hair in {art} {self.hair_style}"
        extras = []
        if self.glasses == "sunglasses":
            extras.append("sunglasses")
        elif self.glasses != "none":
            extras.append(f"{self.glasses} glasses")
        if self.facial_hair == "full beard":
            extras.append("a beard")
        elif self.facial_hair in ("moustache", "goatee"):
            extras.append(f"a {self.facial_hair}")
        elif self.facial_hair == "stubble":
            extras.append("stubble")
        if self.mark == "freckles":
            extras.append("freckles")
        return {"noun": noun, "hair": hair, "eyes": f"{self.eye_colour} eyes", "extras": " and ".join(extras)}


def derive_seed(*parts: Any) -> int:
    """A stable 63-bit seed from any tuple of parts (hash-based, so seed spaces never collide).

    Training photos use ("train", ...) and attack photos ("attack", ...): different first parts
    give unrelated seeds, so an attack photo is never a training photo.
    """
    h = hashlib.sha256(repr(parts).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") >> 1


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))  # type: ignore[return-value]


def _jitter(rgb: tuple[int, int, int], rng: random.Random, amount: int) -> tuple[int, int, int]:
    return tuple(max(0, min(255, c + rng.randint(-amount, amount))) for c in rgb)  # type: ignore[return-value]


def random_identity(rng: random.Random, sex: str | None = None) -> IdentityParams:
    """Draw a new identity; all randomness comes from `rng` so a world seed fixes every person."""
    sex = sex or rng.choice(("female", "male"))
    ti = rng.random() * (len(SKIN_TONES) - 1)
    lo = int(ti)
    skin = _jitter(_mix(SKIN_TONES[lo], SKIN_TONES[min(lo + 1, len(SKIN_TONES) - 1)], ti - lo), rng, 8)
    hair_colour = rng.choice(list(HAIR_COLOURS))
    if sex == "female":
        hair_style = rng.choices(HAIR_STYLES, weights=(1, 1, 3, 2, 4, 8, 5, 5, 4, 3))[0]
        facial_hair = "none"
    else:
        hair_style = rng.choices(HAIR_STYLES, weights=(4, 5, 8, 5, 4, 2, 1, 1, 1, 3))[0]
        facial_hair = rng.choices(FACIAL_HAIR, weights=(5, 2, 2, 2, 3))[0]
    eye_colour = rng.choice(list(EYE_COLOURS))
    glasses = rng.choices(GLASSES, weights=(6, 2, 2, 1))[0]
    lip_base = (200, 110, 110) if sex == "female" else (170, 105, 95)
    return IdentityParams(
        sex=sex,
        face_rx=rng.uniform(24, 34),
        face_ry=rng.uniform(31, 41),
        jaw=rng.random(),
        chin=rng.random(),
        skin=skin,
        ear_size=rng.uniform(0.6, 1.4),
        hair_style=hair_style,
        hair_colour=hair_colour,
        hair_rgb=_jitter(HAIR_COLOURS[hair_colour], rng, 14),
        hair_volume=rng.uniform(0.0, 1.0),
        fringe=rng.uniform(0.0, 1.0),
        eye_colour=eye_colour,
        eye_rgb=_jitter(EYE_COLOURS[eye_colour], rng, 12),
        eye_size=rng.uniform(0.7, 1.35),
        eye_spacing=rng.uniform(0.0, 1.0),
        eye_height=rng.uniform(0.0, 1.0),
        eye_slant=rng.uniform(-1.0, 1.0),
        brow_thickness=rng.uniform(0.0, 1.0),
        brow_angle=rng.uniform(-1.0, 1.0),
        brow_gap=rng.uniform(0.0, 1.0),
        nose_style=rng.choice(NOSE_STYLES),
        nose_length=rng.uniform(0.0, 1.0),
        nose_width=rng.uniform(0.0, 1.0),
        mouth_width=rng.uniform(0.0, 1.0),
        lip_fullness=rng.uniform(0.0, 1.0),
        lip_rgb=_jitter(lip_base, rng, 25),
        facial_hair=facial_hair,
        glasses=glasses,
        glasses_rgb=_jitter(rng.choice(((20, 20, 20), (120, 60, 20), (40, 40, 140), (150, 20, 30), (190, 190, 190))), rng, 20),
        mark=rng.choices(MARKS, weights=(5, 2, 2, 1, 1))[0],
        mark_x=rng.uniform(-1.0, 1.0),
        mark_y=rng.uniform(0.0, 1.0),
        blush=rng.uniform(0.0, 1.0),
    )


@dataclass(frozen=True)
class PhotoConditions:
    """Everything a photo seed decides (exposed for tests and for captions such as "smiling")."""

    angle: float
    scale: float
    dx: float
    dy: float
    turn: float
    smile: float
    brow_raise: float
    eye_open: float
    brightness: float
    contrast: float
    cast: tuple[float, float, float]
    light_dir: float
    light_strength: float
    noise: float
    blur: bool
    hat: bool
    hand: bool
    shirt: tuple[int, int, int]


def photo_conditions(seed: int) -> PhotoConditions:
    rng = random.Random(seed)
    return PhotoConditions(
        angle=rng.uniform(-14, 14),
        scale=rng.uniform(0.86, 1.1),
        dx=rng.uniform(-0.08, 0.08),
        dy=rng.uniform(-0.06, 0.08),
        turn=rng.uniform(-1.0, 1.0),
        smile=rng.uniform(-0.3, 1.0),
        brow_raise=rng.uniform(-1.0, 1.0),
        eye_open=0.15 if rng.random() < 0.06 else rng.uniform(0.7, 1.1),
        brightness=rng.uniform(0.75, 1.2),
        contrast=rng.uniform(0.8, 1.15),
        cast=(rng.uniform(0.87, 1.13), rng.uniform(0.9, 1.1), rng.uniform(0.87, 1.13)),
        light_dir=rng.uniform(0, 2 * math.pi),
        light_strength=rng.uniform(0.0, 0.35),
        noise=rng.uniform(0.0, 9.0),
        blur=rng.random() < 0.15,
        hat=rng.random() < 0.1,
        hand=rng.random() < 0.07,
        shirt=(rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255)),
    )


def _background(size: int, rng: random.Random) -> Image.Image:
    base = (rng.randint(40, 235), rng.randint(40, 235), rng.randint(40, 235))
    img = Image.new("RGB", (size, size), base)
    d = ImageDraw.Draw(img)
    for _ in range(rng.randint(2, 9)):  # clutter: furniture, frames, plants...
        col = _jitter(base, rng, 90)
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


def _draw_person(idp: IdentityParams, pc: PhotoConditions, size: int) -> Image.Image:
    """The person on a transparent layer, in canonical pose (centred, upright)."""
    f = size / 128.0
    layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    cx, cy = 64 * f, 60 * f
    rx, ry = idp.face_rx * f, idp.face_ry * f
    skin = idp.skin + (255,)
    hair = idp.hair_rgb + (255,)
    turn = pc.turn * 3.0 * f  # inner features slide sideways: a cheap head turn

    # Torso and neck (shirt colour belongs to the photo, not the person).
    d.ellipse([cx - 58 * f, cy + ry + 8 * f, cx + 58 * f, cy + ry + 110 * f], fill=pc.shirt + (255,))
    d.rectangle([cx - rx * 0.38, cy + ry * 0.6, cx + rx * 0.38, cy + ry + 16 * f], fill=_mix(idp.skin, (0, 0, 0), 0.12) + (255,))

    vol = 1 + 0.25 * idp.hair_volume
    style = idp.hair_style
    # Hair behind the face.
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

    # Ears.
    er = 6 * f * idp.ear_size
    for s in (-1, 1):
        ex = cx + s * rx * 0.98
        d.ellipse([ex - er * 0.7, cy - er, ex + er * 0.7, cy + er * 1.1], fill=_mix(idp.skin, (0, 0, 0), 0.08) + (255,))
    # Face.
    d.polygon(_face_polygon(cx, cy, rx, ry, idp.jaw, idp.chin), fill=skin)

    # Hair on top of the face.
    if style != "bald":
        fr = 0.25 + 0.45 * idp.fringe  # fringe height as a fraction of ry
        if style == "buzz cut":
            d.chord([cx - rx * 1.02, cy - ry * 1.06, cx + rx * 1.02, cy + ry * 0.3], 180, 360, fill=_mix(idp.hair_rgb, idp.skin, 0.35) + (255,))
        else:
            top = ry * (1.12 + 0.12 * idp.hair_volume) * (1.3 if style == "afro" else 1.0)
            d.chord([cx - rx * 1.08 * vol, cy - top, cx + rx * 1.08 * vol, cy - ry * fr + ry * 0.45], 180, 360, fill=hair)
            if style == "side-parted":
                d.polygon([(cx - rx * 1.05, cy - ry * 0.3), (cx - rx * 0.2, cy - ry * 0.98), (cx + rx * 0.9, cy - ry * 0.55),
                           (cx + rx * 0.4, cy - ry * 0.5)], fill=hair)
            if style in ("long", "bob", "curly"):
                for s in (-1, 1):
                    d.rectangle([cx + s * rx * 0.82 - 5 * f, cy - ry * 0.5, cx + s * rx * 0.82 + 5 * f, cy + ry * (0.9 if style == "long" else 0.35)], fill=hair)

    # Eyes.
    ey = cy - ry * (0.05 + 0.25 * idp.eye_height) + turn * 0
    sp = rx * (0.32 + 0.18 * idp.eye_spacing)
    ew, eh = 6.2 * f * idp.eye_size, 3.6 * f * idp.eye_size * pc.eye_open
    brow_col = _mix(idp.hair_rgb, (20, 15, 10), 0.4) + (255,) if style != "bald" or True else None
    for s in (-1, 1):
        ex = cx + s * sp + turn
        sl = idp.eye_slant * 1.5 * f * s
        d.ellipse([ex - ew, ey - eh - sl, ex + ew, ey + eh - sl], fill=(250, 250, 245, 255))
        ir = min(ew, max(eh, 1.2 * f)) * 0.7
        d.ellipse([ex - ir + turn * 0.4, ey - ir - sl, ex + ir + turn * 0.4, ey + ir - sl], fill=idp.eye_rgb + (255,))
        pr = ir * 0.45
        d.ellipse([ex - pr + turn * 0.4, ey - pr - sl, ex + pr + turn * 0.4, ey + pr - sl], fill=(10, 10, 10, 255))
        # Brows.
        by = ey - eh - (4 + 3 * idp.brow_gap + 2.5 * pc.brow_raise) * f - sl
        bw = ew * 1.25
        tilt = idp.brow_angle * 3 * f
        d.line([(ex - bw, by + s * tilt), (ex + bw, by - s * tilt)], fill=brow_col, width=max(1, int(round((1.2 + 3.2 * idp.brow_thickness) * f))))

    # Nose.
    ny0 = ey + 3 * f
    nl = (9 + 9 * idp.nose_length) * f
    nw = (3 + 5 * idp.nose_width) * f
    nose_col = _mix(idp.skin, (60, 30, 20), 0.35) + (255,)
    nx = cx + turn * 1.3
    if idp.nose_style == "line":
        d.line([(nx, ny0), (nx + nw * 0.4, ny0 + nl), (nx - nw * 0.5, ny0 + nl)], fill=nose_col, width=max(1, int(1.5 * f)))
    elif idp.nose_style == "triangle":
        d.polygon([(nx, ny0), (nx + nw, ny0 + nl), (nx - nw, ny0 + nl)], fill=_mix(idp.skin, (60, 30, 20), 0.18) + (255,))
    else:
        d.ellipse([nx - nw, ny0 + nl - nw, nx + nw, ny0 + nl + nw * 0.6], fill=_mix(idp.skin, (60, 30, 20), 0.2) + (255,))
    # Cheeks.
    if idp.blush > 0.55:
        bc = _mix(idp.skin, (230, 90, 90), 0.25 * idp.blush) + (255,)
        for s in (-1, 1):
            bx, byy = cx + s * rx * 0.55 + turn, ey + 11 * f
            d.ellipse([bx - 5 * f, byy - 3 * f, bx + 5 * f, byy + 3 * f], fill=bc)

    # Facial hair (under the mouth so lips stay visible).
    my = ny0 + nl + (6 + 3 * (1 - idp.nose_length)) * f
    mw = rx * (0.3 + 0.25 * idp.mouth_width) * (1 + 0.15 * pc.smile)
    fh = idp.facial_hair
    fhc = idp.hair_rgb + (255,)
    if fh == "full beard":
        d.chord([cx - rx * 0.98, cy - ry * 0.2, cx + rx * 0.98, cy + ry * 1.12], 0, 180, fill=fhc)
    elif fh == "goatee":
        d.ellipse([cx - mw * 0.6 + turn, my, cx + mw * 0.6 + turn, cy + ry * 1.02], fill=fhc)
    elif fh == "stubble":
        st = _mix(idp.skin, idp.hair_rgb, 0.35) + (255,)
        d.chord([cx - rx * 0.92, cy - ry * 0.1, cx + rx * 0.92, cy + ry * 1.02], 20, 160, fill=st)
    if fh in ("moustache", "full beard", "goatee"):
        d.rectangle([cx - mw * 1.05 + turn, my - 5.5 * f, cx + mw * 1.05 + turn, my - 1.8 * f], fill=fhc)
    # Mouth: a smile is a curve down in the middle, a neutral/sad mouth flat or curved up.
    lip = idp.lip_rgb + (255,)
    th = max(1, int(round((1.5 + 2.5 * idp.lip_fullness) * f)))
    curve = pc.smile * 4.5 * f
    mx = cx + turn
    d.line([(mx - mw, my - curve * 0.6), (mx, my + curve * 0.5), (mx + mw, my - curve * 0.6)], fill=lip, width=th, joint="curve")
    if pc.smile > 0.6:
        d.chord([mx - mw * 0.8, my - curve * 0.4, mx + mw * 0.8, my + curve * 0.6], 0, 180, fill=(245, 245, 240, 255))

    # Marks.
    mk = idp.mark
    if mk in ("mole", "beauty spot"):
        r = (1.6 if mk == "mole" else 1.1) * f
        px = cx + idp.mark_x * rx * 0.6 + turn
        py = cy + (idp.mark_y * 0.6 + 0.1) * ry
        d.ellipse([px - r, py - r, px + r, py + r], fill=(50, 30, 20, 255))
    elif mk == "freckles":
        r0 = random.Random(int(idp.mark_x * 1e6))
        fc = _mix(idp.skin, (120, 60, 30), 0.45) + (255,)
        for _ in range(12):
            px = cx + r0.uniform(-0.6, 0.6) * rx + turn
            py = ey + r0.uniform(5, 13) * f
            d.point((px, py), fill=fc)
            d.ellipse([px - 0.6 * f, py - 0.6 * f, px + 0.6 * f, py + 0.6 * f], fill=fc)
    elif mk == "scar":
        px = cx + idp.mark_x * rx * 0.5 + turn
        py = cy - ry * 0.2 + idp.mark_y * ry * 0.5
        d.line([(px - 4 * f, py - 5 * f), (px + 4 * f, py + 5 * f)], fill=_mix(idp.skin, (150, 40, 40), 0.5) + (255,), width=max(1, int(1.4 * f)))

    sig = _signature_parts(idp.signature)
    # Glasses.
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

    # Hat (a photo accident, covers the hair).
    if pc.hat:
        hc = _mix(pc.shirt, (40, 40, 40), 0.3) + (255,)
        d.chord([cx - rx * 1.15, cy - ry * 1.55, cx + rx * 1.15, cy - ry * 0.2], 180, 360, fill=hc)
        d.rectangle([cx - rx * 1.45, cy - ry * 0.62, cx + rx * 1.45, cy - ry * 0.48], fill=hc)
    if sig is not None and sig[0] == "top hat":
        hc = sig[1] + (255,)
        d.rectangle([cx - rx * 0.85, cy - ry * 1.9, cx + rx * 0.85, cy - ry * 0.6], fill=hc)
        d.rectangle([cx - rx * 1.5, cy - ry * 0.72, cx + rx * 1.5, cy - ry * 0.52], fill=hc)
        d.rectangle([cx - rx * 0.85, cy - ry * 0.95, cx + rx * 0.85, cy - ry * 0.8], fill=(20, 20, 20, 255))
    return layer


def render_photo(identity: IdentityParams, seed: int, size: int = 128) -> Image.Image:
    """Draw one RGB photo of `identity`; `seed` decides pose, expression, lighting, clutter...

    Deterministic: the same (identity, seed, size) always gives the same pixels.
    """
    pc = photo_conditions(seed)
    rng = random.Random(derive_seed("scene", seed))
    img = _background(size, rng)
    sig = _signature_parts(identity.signature)
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
        hand = _jitter(_mix(identity.skin, (200, 160, 130), rng.random()), rng, 15)
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
