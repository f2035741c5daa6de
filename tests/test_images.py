"""Safe decoding: every odd but valid photo becomes upright RGB; every bad file is refused by name."""
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from idia_core import IdiaInputError, load_photo, load_photos


def _save(img, path, **kw):
    img.save(path, **kw)
    return path


def test_cmyk_16bit_palette_alpha_grey_become_rgb(tmp_path):
    rgb = Image.new("RGB", (40, 30), (200, 40, 10))
    paths = [
        _save(rgb.convert("CMYK"), tmp_path / "cmyk.jpg"),
        _save(Image.fromarray((np.arange(40 * 30).reshape(30, 40) * 50).astype(np.uint16)), tmp_path / "g16.png"),
        _save(rgb.convert("P"), tmp_path / "pal.png", transparency=0),
        _save(rgb.convert("LA"), tmp_path / "la.png"),
        _save(rgb.convert("L"), tmp_path / "grey.jpg"),
        _save(Image.new("RGBA", (40, 30), (0, 0, 0, 0)), tmp_path / "clear.png"),
    ]
    for p in paths:
        photo = load_photo(p)
        assert photo.image.mode == "RGB" and photo.image.size == (40, 30), p.name
        assert len(photo.sha256) == 64
    # a fully transparent photo shows the white background, not black
    assert load_photo(paths[-1]).image.getpixel((0, 0)) == (255, 255, 255)
    # 16-bit values are scaled, not clipped to white
    arr = np.asarray(load_photo(paths[1]).image)
    assert arr.min() < arr.max() < 255 or arr.max() == 255 and arr.min() < 200


def test_animated_gif_uses_first_frame(tmp_path):
    frames = [Image.new("RGB", (32, 32), c) for c in [(255, 0, 0), (0, 0, 255)]]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    r, g, b = load_photo(path).image.getpixel((5, 5))
    assert r > 200 and b < 50


def test_exif_rotation_is_applied(tmp_path):
    img = Image.new("RGB", (60, 20), (0, 255, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    path = tmp_path / "rot.jpg"
    img.save(path, exif=exif)
    assert load_photo(path).image.size == (20, 60)


def test_hash_is_of_the_file_bytes(tmp_path):
    import hashlib

    path = _save(Image.new("RGB", (32, 32)), tmp_path / "a.png")
    assert load_photo(path).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def _png_header_only(width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("make, code", [
    (lambda p: p.write_text("hello, I am not an image"), "photo_not_image"),
    (lambda p: p.write_bytes(b""), "photo_empty"),
    (lambda p: p.write_bytes(_png_header_only(50_000, 50_000)), "photo_bomb"),
    (lambda p: p.write_bytes(_jpeg_bytes()[: len(_jpeg_bytes()) // 2]), "photo_truncated"),
    (lambda p: _save(Image.new("RGB", (8, 8)), p, format="PNG"), "photo_too_small"),
])
def test_bad_files_refused_by_name(tmp_path, make, code):
    path = tmp_path / "upload.jpg"
    make(path)
    with pytest.raises(IdiaInputError) as err:
        load_photo(path)
    assert err.value.code == code
    assert "upload.jpg" in err.value.message


@pytest.mark.parametrize("name, code", [
    ("names.txt", "photo_not_image"), ("page.html", "photo_not_image"), ("logo.svg", "photo_not_image"),
    ("notes.pdf", "photo_not_image"), ("face.png", "photo_missing"), ("face", "photo_missing"),
])
def test_a_missing_file_whose_name_says_it_is_no_photo_is_called_so(tmp_path, name, code):
    """A public server deletes uploads it never reads as they arrive: a check that names one
    then says what the file was, not that it is missing."""
    with pytest.raises(IdiaInputError) as err:
        load_photo(tmp_path / name)
    assert err.value.code == code
    assert name in err.value.message
    assert ("is not a photo" in err.value.message) == (code == "photo_not_image")


def _jpeg_bytes():
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def test_photo_counts(tmp_path):
    with pytest.raises(IdiaInputError) as err:
        load_photos([])
    assert err.value.code == "no_photos"
    path = _save(Image.new("RGB", (32, 32)), tmp_path / "a.png")
    with pytest.raises(IdiaInputError) as err:
        load_photos([path] * 51)
    assert err.value.code == "too_many_photos"


# -- pixels are budgeted: photos are decoded to what the model needs --------------------------------
from idia_core import limits


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_big_photo_is_decoded_small_but_above_model_size(tmp_path, fmt):
    """A 24 MP photo of a few kB comes back with a shorter side between DECODE_SIDE and 2×, never at
    full size; its hash is still that of the file's bytes."""
    img = Image.new("RGB", (6000, 4000), (10, 200, 30))
    img.paste((250, 0, 0), (0, 0, 3000, 4000))   # left half red: the content survives the reduction
    path = _save(img, tmp_path / f"big.{fmt}")
    photo = load_photo(path)
    w, h = photo.image.size
    assert limits.DECODE_SIDE <= min(w, h) < 2 * limits.DECODE_SIDE and w * h <= limits.DECODE_MAX_PIXELS
    assert abs(w / h - 1.5) < 0.02
    r, g, _ = photo.image.getpixel((w // 4, h // 2))
    assert r > 200 and g < 40
    import hashlib
    assert photo.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_panorama_is_capped_in_pixels(tmp_path):
    path = _save(Image.new("L", (20000, 600), 128), tmp_path / "pano.png")
    w, h = load_photo(path).image.size
    assert w * h <= limits.DECODE_MAX_PIXELS and abs(w / h - 20000 / 600) < 1


def test_exif_rotation_survives_reduction(tmp_path):
    img = Image.new("RGB", (3000, 1200), (0, 255, 0))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rot-big.jpg"
    img.save(path, exif=exif)
    w, h = load_photo(path).image.size
    assert h > w and min(w, h) >= limits.DECODE_SIDE


def test_small_photo_kept_as_is(tmp_path):
    path = _save(Image.new("RGB", (700, 500), (1, 2, 3)), tmp_path / "small.png")
    assert load_photo(path).image.size == (700, 500)


def test_corrupt_photo_message_has_no_library_text(tmp_path):
    good = io.BytesIO()
    Image.new("RGB", (200, 200), (9, 9, 9)).save(good, format="PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(good.getvalue()[:120])
    with pytest.raises(IdiaInputError) as err:
        load_photo(path)
    assert "cut.png" in err.value.message and "(" not in err.value.message
