"""The pixel budget holds after the model's own preprocessing, whatever the photo's shape or format
(issue 23), and camera photos up to ~100 MP are decoded small while only true bombs are refused
(issue 21). The memory of whole 50-photo checks is measured by bench/photo_memory.py."""
from __future__ import annotations

import struct
import zlib

import pytest
from PIL import Image

from idia_core import IdiaInputError, limits, load_photo


def _transforms():
    """Real open_clip preprocessing at the input sizes CLIP models use (the sandbox's 64 px, 224, 336),
    built by open_clip itself, resize-shorter-side first as the catalogue's models do."""
    from open_clip.transform import PreprocessCfg, image_transform_v2

    return {size: image_transform_v2(PreprocessCfg(size=size, resize_mode="shortest"), is_train=False)
            for size in (64, 224, 336)}


# hostile shapes: (width, height, mode, format, save options, pixel value)
SHAPES = {
    "16x2500000-rgb-png": (16, 2_500_000, "RGB", "PNG", {}, (120, 90, 60)),
    "400000x16-rgb-png": (400_000, 16, "RGB", "PNG", {}, (120, 90, 60)),
    "16x2500000-rgba-png": (16, 2_500_000, "RGBA", "PNG", {}, (120, 90, 60, 100)),
    "2500000x16-16bit-png": (2_500_000, 16, "I;16", "PNG", {}, 30000),
    "2500000x16-float-tiff": (2_500_000, 16, "F", "TIFF", {"compression": "tiff_adobe_deflate"}, 0.4),
    "20000x100-webp": (16_000, 100, "RGB", "WEBP", {"lossless": True}, (120, 90, 60)),
    "100x6000-jpeg": (100, 6000, "RGB", "JPEG", {"quality": 90}, (120, 90, 60)),
}


@pytest.fixture(scope="module")
def hostile_photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    out = {}
    for key, (w, h, mode, fmt, options, value) in SHAPES.items():
        path = folder / f"{key}.{fmt.lower()}"
        Image.new(mode, (w, h), value).save(path, format=fmt, **options)
        out[key] = path
    return out


@pytest.mark.parametrize("key", list(SHAPES))
def test_no_shape_costs_more_than_the_budget_after_the_models_resize(key, hostile_photos):
    """Decoded: at most DECODE_MAX_PIXELS and MAX_ASPECT_RATIO; then the model's resize (shorter side
    to S) makes at most MAX_ASPECT_RATIO × S² pixels, and its tensor is 3 × S × S. Before, a
    16×2,500,000 strip was decoded to 3×468,750 and resized to S × 35,000,000."""
    image = load_photo(hostile_photos[key]).image
    w, h = image.size
    assert image.mode == "RGB"
    assert max(w, h) <= limits.MAX_ASPECT_RATIO * min(w, h), (w, h)
    assert w * h <= limits.DECODE_MAX_PIXELS
    for size, transform in _transforms().items():
        resized = transform.transforms[0](image)
        assert resized.width * resized.height <= limits.MAX_ASPECT_RATIO * size * size * 1.05, (size, resized.size)
        assert tuple(transform(image).shape) == (3, size, size)


def test_the_crop_keeps_the_centre_the_model_looks_at(tmp_path):
    strip = Image.new("RGB", (20, 100_000), (0, 0, 255))
    strip.paste((255, 0, 0), (0, 49_000, 20, 51_000))   # the centre band is red, the rest blue
    path = tmp_path / "strip.png"
    strip.save(path)
    image = load_photo(path).image
    assert image.size == (20, 20 * limits.MAX_ASPECT_RATIO)
    r, g, b = image.getpixel((10, image.height // 2))
    assert r > 200 and b < 50


def test_ordinary_panoramas_keep_their_shape(tmp_path):
    path = tmp_path / "pano.jpg"
    Image.new("RGB", (12_000, 1_000), (10, 120, 200)).save(path, quality=85)
    w, h = load_photo(path).image.size
    assert abs(w / h - 12) < 0.1


def _camera_jpeg(path, width: int, height: int) -> None:
    """A camera-like JPEG: smooth colour and sensor noise, so it weighs what real photos weigh."""
    import numpy as np

    base = Image.fromarray(np.random.default_rng(1).integers(0, 255, (24, 32, 3), dtype=np.uint8))
    noise = Image.effect_noise((width, height), 12).convert("RGB")
    Image.blend(base.resize((width, height), Image.BILINEAR), noise, 0.15).save(path, quality=85)


@pytest.mark.parametrize("width, height", [(9248, 6936), (12000, 9000)])   # 64 MP, 108 MP
def test_large_camera_photos_are_downscaled_not_refused(tmp_path, width, height):
    """Issue 21: a 64 MP JPEG was refused as a "decompression bomb"; a camera photo up to ~100 MP
    is decoded at reduced scale (JPEG draft) to the usual size."""
    path = tmp_path / "camera.jpg"
    _camera_jpeg(path, width, height)
    assert path.stat().st_size <= limits.MAX_FILE_BYTES
    w, h = load_photo(path).image.size
    assert limits.DECODE_SIDE <= min(w, h) and w * h <= limits.DECODE_MAX_PIXELS
    assert abs(w / h - width / height) < 0.02


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")


def test_true_bombs_are_refused_from_the_header(tmp_path):
    beyond_cameras = tmp_path / "huge.png"
    beyond_cameras.write_bytes(_png_header(20_000, 15_000))          # 300 MP: no camera's single shot
    flat = tmp_path / "flat.png"
    Image.new("RGB", (9000, 7000), (5, 5, 5)).save(flat)               # 63 MP in a few hundred kB
    for path in (beyond_cameras, flat):
        with pytest.raises(IdiaInputError) as err:
            load_photo(path)
        assert err.value.code == "photo_bomb" and path.name in err.value.message


def test_formats_decoded_at_full_size_must_fit_the_decoding_budget(tmp_path):
    """Lossless WebP has no reduced-scale decoding and its decoder keeps ~17 bytes a pixel: an
    8000×5000 one (40 MP, ~640 MB to decode) is refused with what to do, before any pixel is
    decoded; a 12 MP one is decoded."""
    big = tmp_path / "big.webp"
    Image.new("RGB", (8000, 5000), (30, 60, 90)).save(big, lossless=True)
    with pytest.raises(IdiaInputError) as err:
        load_photo(big)
    assert err.value.code == "photo_too_many_pixels"
    assert "big.webp" in err.value.message and "JPEG" in err.value.message
    ok = tmp_path / "ok.webp"
    Image.new("RGB", (4000, 3000), (30, 60, 90)).save(ok, lossless=True)
    assert min(load_photo(ok).image.size) >= limits.DECODE_SIDE
