"""Telling the sandbox's own drawings from photographs (issue 21): a real photo checked against the
synthetic world gets a plain sentence, so the test must never take a render for a photograph —
however it was scaled or re-encoded — and should know a photograph when it sees one."""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import pytest
from PIL import Image

from idia_core.sandbox.renderer import drawn_by_renderer
from idia_core.sandbox.world import load_world, render_attack_photos
from tests.e2e.conftest import needs_sandbox

R = Image.Resampling


def _jpeg(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


@needs_sandbox
@pytest.mark.parametrize("side,resample,quality", [
    (128, None, None), (128, None, 20), (200, R.BICUBIC, 70), (256, R.NEAREST, None), (300, R.BILINEAR, 50),
    (512, R.LANCZOS, 85), (1000, R.BICUBIC, 30), (64, R.BOX, None),
])
def test_a_render_scaled_or_reencoded_is_still_drawn(side, resample, quality):
    world = load_world()
    for person in world.people[::97]:
        for im in render_attack_photos(person, 2, seed=7):
            im = im if resample is None else im.resize((side, side), resample)
            im = im if quality is None else _jpeg(im, quality)
            assert drawn_by_renderer(im), (person.name, side, resample, quality)


def test_photographs_are_not_drawn():
    photo = Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").convert("RGB")
    assert not drawn_by_renderer(photo)                                  # 512 × 600: not square
    square = photo.crop((0, 44, 512, 556))
    for side in (512, 400, 300):
        assert not drawn_by_renderer(square.resize((side, side), R.LANCZOS)), side
    assert not drawn_by_renderer(_jpeg(square, 60))
    # a photograph shrunk to the canvas holds no finer detail: taken as drawn (no note rather than a wrong one)
    assert drawn_by_renderer(square.resize((128, 128), R.LANCZOS))
