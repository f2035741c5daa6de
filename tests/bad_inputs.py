"""The catalogue of bad (and odd-but-valid) inputs, shared by the core, CLI and app tests.

Each case builds its own files in a temp folder and says what a check given it must answer: an
``IdiaInputError`` with a specific code, or (``accepted``) a normal result.
"""
from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from tests.helpers import draw_face_photos


@dataclass
class Case:
    id: str
    code: str | None                       # expected IdiaInputError.code; None = accepted
    photos: Callable[[Path], list] | None = None   # builds the photo files (default: 5 good ones)
    name: str = "Jane Doe"
    extra_names: list = field(default_factory=list)
    tau: object = 1
    n_candidates: object = 40
    templates: list | None = None
    model: str | None = None                # None = the test's tiny model


def good_photos(tmp: Path, n: int = 5, seed: int = 3) -> list[Path]:
    out = []
    for i, img in enumerate(draw_face_photos(n, seed=seed)):
        p = tmp / f"good{seed}_{i}.jpg"
        img.save(p, quality=90)
        out.append(p)
    return out


def _with(tmp: Path, make: Callable[[Path], Path]) -> list[Path]:
    return good_photos(tmp, 4) + [make(tmp)]


def _text_as_jpg(tmp):
    p = tmp / "notes.jpg"
    p.write_text("this is a shopping list, not a photo")
    return p


def _truncated(tmp):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (80, 80, 3), dtype=np.uint8)).save(buf, "JPEG")
    p = tmp / "truncated.jpg"
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    return p


def _empty(tmp):
    p = tmp / "empty.jpg"
    p.write_bytes(b"")
    return p


def _bomb(tmp):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", 60_000, 60_000, 8, 2, 0, 0, 0)
    p = tmp / "bomb.png"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 4096))
                  + chunk(b"IEND", b""))
    return p


def _face(tmp) -> Image.Image:
    return draw_face_photos(1, seed=11)[0]


def _cmyk(tmp):
    p = tmp / "cmyk.jpg"
    _face(tmp).convert("CMYK").save(p)
    return p


def _sixteen_bit(tmp):
    p = tmp / "sixteen.png"
    grey = np.asarray(_face(tmp).convert("L"), dtype=np.uint16) * 257
    Image.fromarray(grey).save(p)
    return p


def _palette_alpha(tmp):
    p = tmp / "palette.png"
    _face(tmp).convert("P").save(p, transparency=0)
    return p


def _animated(tmp):
    p = tmp / "anim.gif"
    frames = draw_face_photos(2, seed=12)
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=100)
    return p


def _exif_rotated(tmp):
    p = tmp / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    _face(tmp).resize((120, 80)).save(p, exif=exif)
    return p


CASES: list[Case] = [
    Case("zero photos", "no_photos", photos=lambda t: []),
    Case("one photo", "too_few_photos", photos=lambda t: good_photos(t, 1)),
    Case("text file named .jpg", "photo_not_image", photos=lambda t: _with(t, _text_as_jpg)),
    Case("truncated JPEG", "photo_truncated", photos=lambda t: _with(t, _truncated)),
    Case("0-byte file", "photo_empty", photos=lambda t: _with(t, _empty)),
    Case("decompression bomb", "photo_bomb", photos=lambda t: _with(t, _bomb)),
    Case("CMYK photo", None, photos=lambda t: _with(t, _cmyk)),
    Case("16-bit photo", None, photos=lambda t: _with(t, _sixteen_bit)),
    Case("palette+alpha photo", None, photos=lambda t: _with(t, _palette_alpha)),
    Case("animated GIF", None, photos=lambda t: _with(t, _animated)),
    Case("EXIF-rotated photo", None, photos=lambda t: _with(t, _exif_rotated)),
    Case("51 photos", "too_many_photos", photos=lambda t: good_photos(t, 3) * 17),
    Case("empty name", "name_empty", name=""),
    Case("2,000-character name", "name_too_long", name="x" * 2000),
    Case("emoji-only name", "name_no_letters", name="😀🎉😀"),
    Case("name with {0}", "name_braces", name="Jane {0}"),
    Case("name with {0.__class__}", "name_braces", name="{0.__class__}"),
    Case("name with %s", "name_characters", name="Jane %s"),
    Case("template without placeholder", "template_no_placeholder", templates=["a photo of someone"]),
    Case("template with two placeholders", "template_many_placeholders", templates=["{0} and {0}"]),
    Case("tau 0", "tau_range", tau=0),
    Case("tau -1", "tau_range", tau=-1),
    Case("tau 22", "tau_range", tau=22),
    Case("tau abc", "tau_type", tau="abc"),
    Case("pool size 0", "pool_size_range", n_candidates=0),
    Case("pool size 10^6", "pool_size_range", n_candidates=10**6),
    Case("unknown model spec", "model_unknown", model="NoSuchNet-7:foo"),
    Case("pasted list of 6,000 names", "too_many_names",
         extra_names=[f"Person {chr(65 + i % 26)}{chr(65 + i // 26 % 26)}{chr(65 + i // 676)}" for i in range(6000)]),
    Case("duplicates by case and accents", None, extra_names=["JANE DOE", "Jané Doe", "Ann Lee", "ann lée"]),
]
