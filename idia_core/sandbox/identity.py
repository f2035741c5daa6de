"""Who a sandbox person is: the identity parameters that stay the same across their photos, and
the photo conditions a photo seed decides (pose, expression, lighting, clothing, occlusion).

A person is an ``IdentityParams`` vector (face shape, skin, hair, eyes, brows, nose, mouth, facial
hair, glasses, marks, and for look-alike traps one loud signature); ``renderer`` draws it. Identity
is spread over many features on purpose: two people may share hair colour or skin tone and still
differ in face shape, eyes, brows, nose, mouth and accessories, so a model has to look at the face,
not at one colour code. All randomness comes from seeds (``derive_seed``), so a world seed fixes
every person and every photo.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import random
from dataclasses import dataclass
from typing import Any

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


def signature_parts(signature: str) -> tuple[str, tuple[int, int, int]] | None:
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


def mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))  # type: ignore[return-value]


def jitter(rgb: tuple[int, int, int], rng: random.Random, amount: int) -> tuple[int, int, int]:
    return tuple(max(0, min(255, c + rng.randint(-amount, amount))) for c in rgb)  # type: ignore[return-value]


def random_identity(rng: random.Random, sex: str | None = None) -> IdentityParams:
    """Draw a new identity; all randomness comes from `rng` so a world seed fixes every person."""
    sex = sex or rng.choice(("female", "male"))
    ti = rng.random() * (len(SKIN_TONES) - 1)
    lo = int(ti)
    skin = jitter(mix(SKIN_TONES[lo], SKIN_TONES[min(lo + 1, len(SKIN_TONES) - 1)], ti - lo), rng, 8)
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
        hair_rgb=jitter(HAIR_COLOURS[hair_colour], rng, 14),
        hair_volume=rng.uniform(0.0, 1.0),
        fringe=rng.uniform(0.0, 1.0),
        eye_colour=eye_colour,
        eye_rgb=jitter(EYE_COLOURS[eye_colour], rng, 12),
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
        lip_rgb=jitter(lip_base, rng, 25),
        facial_hair=facial_hair,
        glasses=glasses,
        glasses_rgb=jitter(rng.choice(((20, 20, 20), (120, 60, 20), (40, 40, 140), (150, 20, 30), (190, 190, 190))), rng, 20),
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
