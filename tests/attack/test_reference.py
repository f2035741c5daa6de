"""The sandbox's reference people ready before the first check (issue 21): their float32
embeddings ship beside the sandbox weights, equal what the model produces, are refused for any
other model, device, world or renderer, and a check of a new photo count draws only the photos no
earlier check drew."""
from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest
import torch

from idia_core.attack import reference as R
from idia_core.sandbox.identity import derive_seed
from idia_core.sandbox.renderer import render_photo
from idia_core.sandbox.world import generate_world, load_world
from idia_core.zoo.load import load_model
from tests.e2e.conftest import needs_sandbox


@pytest.fixture(scope="module")
def sandbox():
    return load_model("sandbox", device="cpu", precision="float32")


@pytest.fixture(autouse=True)
def empty_memo(tmp_path, monkeypatch):
    """No set held in memory and an empty disk cache: what a fresh clone's first check finds."""
    monkeypatch.setenv("IDIA_CACHE_DIR", str(tmp_path / "cache"))
    R._MEMO.clear()
    yield
    R._MEMO.clear()


@needs_sandbox
def test_a_fresh_clones_first_check_draws_no_reference_person(sandbox):
    before = sandbox.images_encoded
    ref = R.sandbox_reference_set(sandbox, 10)
    assert sandbox.images_encoded == before                    # nothing rendered or embedded
    assert ref.embeddings.shape == (440, 10, 128) and ref.embeddings.dtype == np.float32
    three = R.sandbox_reference_set(sandbox, 3)
    assert sandbox.images_encoded == before and three.embeddings.shape[1] == 3


@needs_sandbox
def test_the_shipped_vectors_are_what_the_model_produces(sandbox):
    """Expected values from the renderer and the model directly (not from idia's cache): the first,
    a middle and the last never-named person, their 10 photos hashed and embedded here."""
    world = load_world()
    shipped = R.shipped_sandbox_reference(sandbox, world)
    assert shipped is not None, "reference.npz does not match the shipped model: run `sandbox reference`"
    people = [p for p in world.people if p.role in ("non-member", "face-only", "look-alike")]
    for row in (0, 217, len(people) - 1):
        p = people[row]
        photos = [render_photo(p.identity, derive_seed("reference", world.seed, p.index, i), 128) for i in range(10)]
        assert shipped.photo_hashes[row] == tuple(hashlib.sha256(im.tobytes()).hexdigest() for im in photos)
        with torch.no_grad():
            fresh = sandbox.model.encode_image(torch.stack([sandbox.preprocess(im.convert("RGB")) for im in photos]),
                                               normalize=True)
        # bit for bit on the machine that wrote the file; another CPU's float32 kernels may round
        # the last bits differently, never more
        np.testing.assert_allclose(shipped.embeddings[row], fresh.numpy(), rtol=0, atol=1e-6)
        assert shipped.ids[row] == f"sandbox#{p.index}" and shipped.names[row] == p.name


@needs_sandbox
def test_the_shipped_file_is_refused_for_another_model_device_world_or_renderer(sandbox, tiny_model, tmp_path):
    world = load_world()
    assert R.shipped_sandbox_reference(tiny_model, world) is None            # another fingerprint
    with np.load(R.shipped_reference_path()) as z:
        arrays = {k: z[k] for k in z.files}

    def variant(**changes) -> R.ReferenceSet | None:
        path = tmp_path / "variant.npz"
        np.savez(path, **{**arrays, **changes})
        return R.shipped_sandbox_reference(sandbox, world, path)

    assert variant() is not None
    assert variant(fingerprint=np.array("clip-0000")) is None               # a rebuilt or float16 model
    assert variant(device=np.array("cuda")) is None                         # a GPU's own rounding
    assert variant(world=np.array("0" * 16)) is None                        # another world
    assert variant(format=np.array("f16")) is None
    assert variant(embeddings=arrays["embeddings"].astype(np.float16)) is None
    drawn = arrays["hashes"].copy()
    drawn[-1, -1, 0] ^= 1                                                   # the renderer draws otherwise
    assert variant(hashes=drawn) is None
    assert R.shipped_sandbox_reference(sandbox, world, tmp_path / "none.npz") is None
    small = generate_world(5, n_members_per_k=1, member_ks=(1,), n_non_members=2, n_face_only=1, n_name_only=0,
                           n_fillers=0, n_trap_signatures=1, n_look_alikes_per_signature=1)
    assert R.shipped_sandbox_reference(sandbox, small) is None


def test_a_new_photo_count_draws_only_the_photos_it_lacks(tiny_model):
    world = generate_world(5, n_members_per_k=1, member_ks=(1,), n_non_members=2, n_face_only=1, n_name_only=0,
                           n_fillers=0, n_trap_signatures=1, n_look_alikes_per_signature=1)
    people = 4                     # 2 non-members, 1 face-only, 1 look-alike
    count = tiny_model.images_encoded
    ten = R.sandbox_reference_set(tiny_model, 10, world)
    assert tiny_model.images_encoded - count == people * 10
    steps = []
    count = tiny_model.images_encoded
    twelve = R.sandbox_reference_set(tiny_model, 12, world, progress=lambda d, t, m: steps.append(m))
    assert tiny_model.images_encoded - count == people * 2                 # photos 10 and 11 only
    assert steps and all("reference people" in m for m in steps)
    count = tiny_model.images_encoded
    eleven = R.sandbox_reference_set(tiny_model, 11, world)
    assert tiny_model.images_encoded == count                              # a slice of the twelve
    np.testing.assert_array_equal(twelve.embeddings[:, :10], ten.embeddings)
    np.testing.assert_array_equal(eleven.embeddings, twelve.embeddings[:, :11])
    # the same set, with the same identity, as drawing eleven photos from nothing
    R._MEMO.clear()
    shutil.rmtree(R._disk_dir(), ignore_errors=True)
    alone = R.sandbox_reference_set(tiny_model, 11, world)
    assert alone.sha256 == eleven.sha256 and alone.photo_hashes == eleven.photo_hashes
    np.testing.assert_allclose(alone.embeddings, eleven.embeddings, rtol=0, atol=1e-6)
    # a later process finds the twelve on disk and draws nothing for any count up to it
    R._MEMO.clear()
    R.sandbox_reference_set(tiny_model, 12, world)
    count = tiny_model.images_encoded
    R._MEMO.clear()
    assert R.sandbox_reference_set(tiny_model, 12, world).photos_per_person == 12
    assert tiny_model.images_encoded == count
