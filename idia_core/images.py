"""Safe photo decoding with named limits.

Photos come from strangers. Every one is size-checked before reading, its header checked for a
decompression bomb before any pixel is decoded, fully decoded once (so truncation is found here, not
inside the model), turned upright by its EXIF orientation and converted to plain 8-bit RGB.

Pixels are budgeted, not just bytes, and the budget holds after the model's own preprocessing:

- **Bombs** are refused from the header: more than ``limits.MAX_PIXELS`` (250 MP, beyond any
  camera's single shot), or above ``limits.RATIO_CHECK_PIXELS`` a file smaller than one byte per
  ``limits.BOMB_RATIO`` decoded bytes (no photo compresses so well). Camera photos up to that size
  are decoded, small.
- **Decoding memory**: a JPEG is decoded at 1/2, 1/4 or 1/8 scale straight from its compressed data
  (``draft``), so a 100 MP camera JPEG never exists at full size; formats that can only be decoded
  at full size must fit ``limits.DECODE_MAX_BYTES`` while decoded (bytes a pixel as measured for
  Pillow: 4 for RGB and RGBA, 2 for 16-bit grey, 17 for WebP, whose decoder keeps several copies),
  else they are refused with a message saying how to send them (``photo_too_many_pixels``).
- **Aspect ratio**: a photo longer than ``limits.MAX_ASPECT_RATIO`` times its shorter side is cropped
  to its centre. CLIP's preprocessing resizes the *shorter* side to its input size S and then keeps
  the centre square, so the crop removes nothing the model looks at, while an uncropped 16×2,500,000
  strip would be blown up to S × 35,000,000 pixels by that resize (issue 23: 640 MP a photo on the
  sandbox). With the crop, the model's resize makes at most ``MAX_ASPECT_RATIO × S²`` pixels (2 MP
  at 224 px), whatever the file. Refusing instead would fail a whole check for one odd photo.
- **Decoded size**: the shorter side is brought to about ``limits.DECODE_SIDE`` (``reduce``, then
  ``thumbnail``) and at most ``limits.DECODE_MAX_PIXELS`` are kept, so a check holds at most
  ``MAX_PHOTOS × DECODE_MAX_PIXELS`` decoded pixels, whatever the photos claim.

Nothing here writes a photo anywhere; the SHA-256 of the original bytes is what reports keep.
"""
from __future__ import annotations

import hashlib
import io
import mimetypes
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from . import limits
from .echo import capped, shown, visible
from .errors import IdiaInputError

# Pillow's own guard raises only at 2x its limit and warns below; we check explicitly instead.
Image.MAX_IMAGE_PIXELS = None


@dataclass(frozen=True)
class Photo:
    """A decoded photo: RGB pixels, the SHA-256 of the bytes it came from, and a label for
    messages (the file's base name, never its full path)."""

    image: Image.Image = field(repr=False, compare=False)
    sha256: str
    label: str


READ_TYPES = ("image/",)        # the app reads photos only
NEVER_READ = ("image/svg+xml",)  # a vector image (and a script carrier) is not a photo


def not_a_photo_type(name: str) -> str | None:
    """Why a file of this name is never read as a photo ("text/html is not a photo"): its name
    says HTML, SVG, a script, a document, … ; None when the name says an image or nothing (then
    the decoder decides). The public server deletes such uploads on arrival (``serve.uploads``)."""
    kind, _ = mimetypes.guess_type(os.path.basename(str(name)))
    if kind is not None and (kind in NEVER_READ or not kind.startswith(READ_TYPES)):
        return f"{kind} is not a photo"
    return None


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_photo(source, label: str | None = None) -> Photo:
    """Decode one photo from a path, bytes, a file object or a PIL image."""
    if isinstance(source, Photo):
        return source
    if isinstance(source, Image.Image):
        buf = io.BytesIO()
        source.save(buf, format="PNG")
        data = buf.getvalue()
        label = label or "image"
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        label = label or "photo"
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        label = shown_label(label or path.name)
        if not path.is_file():
            why = not_a_photo_type(path.name)   # a type never read may be gone already: say what it is
            if why:
                raise IdiaInputError("photo_not_image", f"{shown(label)}: {why}; give JPEG, PNG or WebP photos.")
            raise IdiaInputError("photo_missing", f"{shown(label)}: no such file.")
        size = path.stat().st_size
        _check_size(size, label)
        data = path.read_bytes()
    elif hasattr(source, "read"):
        data = source.read(limits.MAX_FILE_BYTES + 1)
        label = label or getattr(source, "name", "photo")
    else:
        raise IdiaInputError("photo_type", f"Cannot read a photo from a {type(source).__name__}.")
    label = shown_label(label)
    _check_size(len(data), label)
    return Photo(image=decode_image_bytes(data, label), sha256=sha256_bytes(data), label=label)


MAX_LABEL_CHARS = 120


def shown_label(label) -> str:
    """A file name as every view shows it (gallery captions, messages, reports): no bidi controls or
    other invisible characters (a right-to-left override would turn the caption around), at most
    ``MAX_LABEL_CHARS`` characters. Escaping for markdown is the view's (``messages.fill``)."""
    return capped(visible(label), MAX_LABEL_CHARS) or "photo"


def load_photos(sources, labels=None) -> list[Photo]:
    """Decode a set of photos for one check, enforcing the count limits."""
    items = list(sources or [])
    check_photo_count(len(items), minimum=1)
    labels = list(labels) if labels is not None else [None] * len(items)
    return [load_photo(s, lab) for s, lab in zip(items, labels)]


def check_photo_count(n: int, minimum: int = limits.MIN_PHOTOS) -> None:
    """The photo count of one check: at least ``minimum`` (a majority needs several), at most the limit."""
    if n == 0:
        raise IdiaInputError(
            "no_photos",
            f"No photos yet. Add at least {limits.MIN_PHOTOS} photos of the person (10 or more is best).",
        )
    if n < minimum:
        raise IdiaInputError(
            "too_few_photos",
            f"Only {n} photo{'s' if n != 1 else ''}: the attack takes a majority vote over photos, which "
            f"needs at least {minimum}. Add {minimum - n} more (10 or more is best).",
        )
    if n > limits.MAX_PHOTOS:
        raise IdiaInputError(
            "too_many_photos", f"{n} photos; one check takes at most {limits.MAX_PHOTOS}. Remove some."
        )


def _check_size(n_bytes: int, label: str) -> None:
    if n_bytes == 0:
        raise IdiaInputError("photo_empty", f"{shown(label)} is an empty file (0 bytes); it holds no image.")
    if n_bytes > limits.MAX_FILE_BYTES:
        raise IdiaInputError(
            "photo_too_large",
            f"{shown(label)} is {n_bytes / 2**20:.1f} MB; photos are limited to {limits.MAX_FILE_BYTES // 2**20} MB.",
        )


def decode_image_bytes(data: bytes, label: str = "photo") -> Image.Image:
    """Bytes → upright 8-bit RGB, or an IdiaInputError naming what is wrong with the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise IdiaInputError(
            "photo_not_image", f"{shown(label)} is not an image Pillow can read (its contents are not a picture)."
        ) from None
    except Exception:  # Pillow raises many types on hostile headers
        raise IdiaInputError(
            "photo_corrupt", f"{shown(label)} is truncated or corrupt: it could not be opened as an image."
        ) from None
    _check_bomb(img.size, len(data), label)
    width, height = img.size
    if min(width, height) < limits.MIN_SIDE:
        raise IdiaInputError(
            "photo_too_small", f"{shown(label)} is only {width}×{height} pixels; use photos of at least "
            f"{limits.MIN_SIDE}×{limits.MIN_SIDE}."
        )
    orientation = _orientation(img)
    try:
        if getattr(img, "n_frames", 1) > 1:
            img.seek(0)  # animated: the first frame
        _draft(img, limits.DECODE_SIDE)
    except Exception:
        raise IdiaInputError(
            "photo_truncated", f"{shown(label)} is truncated or corrupt and could not be decoded."
        ) from None
    _check_decode_memory(img, (width, height), label)
    try:
        img.load()
    except Exception:
        raise IdiaInputError(
            "photo_truncated", f"{shown(label)} is truncated or corrupt and could not be decoded."
        ) from None
    img = _shrink(centre_crop(img, limits.MAX_ASPECT_RATIO), limits.DECODE_SIDE, limits.DECODE_MAX_PIXELS)
    method = _TRANSPOSE.get(orientation)
    if method is not None:
        img = img.transpose(method)
    return to_rgb(img)


def _check_bomb(size: tuple[int, int], n_bytes: int, label: str) -> None:
    """Refuse, from the header alone, what no camera makes: more than ``MAX_PIXELS``, or (above
    ``RATIO_CHECK_PIXELS``) a file too small for its pixels: a real photo's noise and detail keep it
    far above one byte per ``BOMB_RATIO`` decoded bytes."""
    width, height = size
    pixels = width * height
    if pixels > limits.MAX_PIXELS:
        raise IdiaInputError(
            "photo_bomb",
            f"{shown(label)} claims {width}×{height} pixels ({pixels / 1e6:.0f} MP); the limit is "
            f"{limits.MAX_PIXELS / 1e6:.0f} MP, beyond any camera. This looks like a decompression bomb and "
            "was not decoded.",
        )
    if pixels > limits.RATIO_CHECK_PIXELS and pixels * 3 > limits.BOMB_RATIO * n_bytes:
        raise IdiaInputError(
            "photo_bomb",
            f"{shown(label)} claims {width}×{height} pixels ({pixels / 1e6:.0f} MP) in only {n_bytes / 1024:.0f} kB; "
            "no photo compresses that well. This looks like a decompression bomb and was not decoded.",
        )


_FORMAT_BYTES_PER_PIXEL = {"WEBP": 17}   # measured peak while decoding (libwebp's canvas and Pillow's copies)


def decode_bytes_per_pixel(img: Image.Image) -> int:
    """Memory a pixel takes while ``img`` is decoded: Pillow keeps 1 byte for 8-bit grey and palette,
    2 for 16-bit grey and 4 for every other mode (RGB is stored as RGBX); some decoders need more."""
    if img.format in _FORMAT_BYTES_PER_PIXEL:
        return _FORMAT_BYTES_PER_PIXEL[img.format]
    if img.mode in ("1", "L", "P"):
        return 1
    return 2 if img.mode.startswith("I;16") else 4


def _check_decode_memory(img: Image.Image, declared: tuple[int, int], label: str) -> None:
    """Refuse a photo whose decoding (at the scale ``_draft`` chose) would take more than
    ``DECODE_MAX_BYTES``: formats without reduced-scale decoding hold every pixel at once."""
    width, height = img.size
    per_pixel = decode_bytes_per_pixel(img)
    need = width * height * per_pixel
    if need <= limits.DECODE_MAX_BYTES:
        return
    fmt = img.format or "this format"
    top_mp = limits.DECODE_MAX_BYTES / per_pixel / 1e6
    raise IdiaInputError(
        "photo_too_many_pixels",
        f"{shown(label)} is {declared[0]}×{declared[1]} pixels in {fmt}, which is decoded at full size: about "
        f"{need / 2**20:.0f} MB, more than the {limits.DECODE_MAX_BYTES // 2**20} MB one photo may take. Save it "
        f"as JPEG (decoded at reduced size, up to {limits.MAX_PIXELS / 1e6:.0f} MP) or scale it to at most "
        f"{top_mp:.0f} MP.",
    )


def centre_crop(img: Image.Image, max_ratio: float) -> Image.Image:
    """``img`` cut to its centre so that its longer side is at most ``max_ratio`` times its shorter
    side (unchanged when it already is). The model's resize-shorter-side-then-centre-square sees
    only this centre, and the crop bounds what that resize makes (module docstring)."""
    width, height = img.size
    short, long = min(width, height), max(width, height)
    keep = int(max_ratio * short)
    if long <= keep:
        return img
    start = (long - keep) // 2
    box = (start, 0, start + keep, height) if width > height else (0, start, width, start + keep)
    return img.crop(box)


_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
              5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_90}   # EXIF orientation → the turn that makes it upright (as ImageOps)


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation tag (1 = upright), read before any reduction drops the metadata; a
    broken EXIF block leaves the photo as stored."""
    try:
        return int(img.getexif().get(0x0112, 1))
    except Exception:
        return 1


def _draft(img: Image.Image, side: int) -> None:
    """JPEG (and a few other formats) can decode at 1/2, 1/4 or 1/8 scale straight from the
    compressed data: ask for the smallest scale whose shorter side still reaches ``side``, so a
    40 MP JPEG never exists in memory at full size."""
    width, height = img.size
    short = min(width, height)
    if short <= side or not hasattr(img, "draft"):
        return
    scale = short / side
    try:
        img.draft(img.mode if img.mode in ("RGB", "L") else None, (int(width / scale), int(height / scale)))
    except Exception:
        pass   # formats without draft decode at full size; _shrink reduces them right after


def _shrink(img: Image.Image, side: int, max_pixels: int) -> Image.Image:
    """Reduce a decoded image so its shorter side is about ``side`` (at least ``side`` when the
    integer factor allows) and it holds at most ``max_pixels``. CLIP looks at ~224 px, so what is
    kept is still well above what the model needs; the full-size pixels are freed at once."""
    width, height = img.size
    factor = min(width, height) // side
    if factor >= 2:
        try:
            img = img.reduce(factor)
        except (ValueError, NotImplementedError):   # modes reduce does not support (e.g. I;16)
            img = img.resize((max(1, width // factor), max(1, height // factor)))
    if img.width * img.height > max_pixels:
        img = img.copy() if img.readonly else img
        img.thumbnail(_fit(img.size, max_pixels))
    return img


def _fit(size: tuple[int, int], max_pixels: int) -> tuple[int, int]:
    width, height = size
    scale = (max_pixels / (width * height)) ** 0.5
    return max(1, int(width * scale)), max(1, int(height * scale))


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode → RGB: alpha composited on white, 16-bit and float scaled, CMYK converted."""
    mode = img.mode
    if mode == "RGB":
        return img.copy() if img.readonly else img
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        if mode.startswith("I;16"):
            lo, hi = 0.0, 65535.0
        scaled = np.zeros_like(arr) if hi <= lo else (arr - lo) / (hi - lo)
        grey = Image.fromarray((scaled * 255.0 + 0.5).clip(0, 255).astype(np.uint8), mode="L")
        return grey.convert("RGB")
    if mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
        mode = img.mode
        if mode == "RGB":
            return img
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")
