"""Float32 wherever a similarity is computed: what the attack compares is open_clip's own
``encode_text`` to 1e-5 on a whole pool, on a cold cache and on a warm one, and the cache gives back
the exact float32 vector the model produced. The expected values come from the raw open_clip module
(``model.encode_text(tokens, normalize=True)``), never from idia's encoder or cache.
"""
from __future__ import annotations

import hashlib
import sqlite3

import numpy as np
import pytest
import torch

from idia_core import load_model, load_templates
from idia_core.attack import reference as reference_mod
from idia_core.sandbox.world import load_world, render_attack_photos
from idia_core.text.cache import TextEmbeddingCache, prompt_key
from idia_core.text.embeddings import PrivateEmbeddings, candidate_text_embeddings, clear_pool_memo, pool_text_embeddings
from idia_core.text.name_fit import fit_pool_to_model
from idia_core.text.pool import build_candidate_pool
from idia_core.text.templates import fill_template
from tests.helpers import draw_face_photos

T21 = tuple(load_templates("paper21"))


@torch.no_grad()
def stock_pool(model, templates, names) -> np.ndarray:
    """[T, C, D]: the raw open_clip module's ``encode_text`` of every filled prompt (batched)."""
    prompts = [fill_template(t, n) for t in templates for n in names]
    tokens = model.tokenizer(prompts)
    out = torch.cat([model.model.encode_text(tokens[i:i + 512], normalize=True).float()
                     for i in range(0, len(prompts), 512)])
    return out.numpy().reshape(len(templates), len(names), -1)


def sims(image_emb, text_emb) -> np.ndarray:
    return np.einsum("pd,tcd->tpc", image_emb.astype(np.float64), text_emb.astype(np.float64))


@pytest.fixture(scope="module")
def sandbox():
    return load_model("sandbox")


@pytest.fixture(scope="module")
def sandbox_pool(sandbox):
    """The sandbox's 21 templates × 300 names (a member, distractors), fitted to the model."""
    world = load_world()
    person = next(p for p in world.people if p.role == "member" and p.k == 10)
    pool = fit_pool_to_model(build_candidate_pool(person.name, n_candidates=300, seed=5), sandbox, T21)
    photos = sandbox.encode_images(render_attack_photos(person, 6, seed=3)).numpy()
    return pool, photos, stock_pool(sandbox, T21, pool.names)


def test_a_whole_pool_is_stock_encode_text_cold_and_warm(sandbox, sandbox_pool, tmp_path):
    pool, photos, stock = sandbox_pool
    cache = TextEmbeddingCache(tmp_path / "c")
    clear_pool_memo()
    before = sandbox.texts_encoded
    cold = pool_text_embeddings(sandbox, T21, pool.names, cache)
    assert sandbox.texts_encoded - before == len(T21) * len(pool.names)       # nothing came from a cache
    assert cold.dtype == np.float32 and cold.shape == stock.shape
    assert np.abs(cold - stock).max() <= 1e-5
    assert np.abs(sims(photos, cold) - sims(photos, stock)).max() <= 1e-5
    # a new process: empty memory, the same directory — every vector read back from disk
    clear_pool_memo()
    cache.close()
    fresh = TextEmbeddingCache(tmp_path / "c")
    mid = sandbox.texts_encoded
    warm = pool_text_embeddings(sandbox, T21, pool.names, fresh)
    assert sandbox.texts_encoded == mid                                          # a cache hit
    assert np.array_equal(warm, cold) and warm.dtype == np.float32             # the exact float32 bytes
    assert np.abs(sims(photos, warm) - sims(photos, stock)).max() <= 1e-5
    fresh.close()


def test_the_users_own_names_are_exact_too(sandbox, sandbox_pool, tmp_path):
    """A visitor's names go to their private store, not the shared cache: float32 there as well."""
    pool, photos, stock = sandbox_pool
    cache = TextEmbeddingCache(tmp_path / "c")
    clear_pool_memo()
    private = PrivateEmbeddings()
    first = candidate_text_embeddings(sandbox, T21, pool, cache, None, private)
    again = candidate_text_embeddings(sandbox, T21, pool, cache, None, private)      # from the private store
    for emb in (first, again):
        assert np.abs(emb - stock).max() <= 1e-5
        assert np.abs(sims(photos, emb) - sims(photos, stock)).max() <= 1e-5
    assert np.array_equal(first, again)
    assert all(v.dtype == np.float32 for v in private.values())
    cache.close()


def test_a_cache_of_the_old_float16_format_is_never_read(tiny_model, tmp_path):
    """A file the float16 cache wrote (``text-<fingerprint>.sqlite``, 2-byte floats) holds other
    numbers for the same prompts: it must not be read as float32 (nor as anything)."""
    names = ("Jane Doe", "Li Wei", "Ana Silva", "Bo Ek")
    templates = T21[:3]
    prompts = [fill_template(t, n) for t in templates for n in names]
    folder = tmp_path / "c"
    folder.mkdir()
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in tiny_model.fingerprint)
    legacy = sqlite3.connect(folder / f"text-{safe}.sqlite")
    legacy.execute("CREATE TABLE emb (key BLOB PRIMARY KEY, vec BLOB NOT NULL)")
    junk = np.full(2 * tiny_model.embed_dim, 0.5, dtype=np.float16)    # as many bytes as a float32 vector
    legacy.executemany("INSERT INTO emb VALUES (?, ?)", [(prompt_key(p), junk.tobytes()) for p in prompts])
    legacy.commit()
    legacy.close()
    clear_pool_memo()
    cache = TextEmbeddingCache(folder)
    before = tiny_model.texts_encoded
    emb = pool_text_embeddings(tiny_model, templates, names, cache)
    assert tiny_model.texts_encoded - before == len(prompts)
    assert np.abs(emb - stock_pool(tiny_model, templates, names)).max() <= 1e-5
    cache.close()


def test_reference_embeddings_are_the_models_float32(tiny_model, tmp_path, monkeypatch):
    """A reference folder's photos: cached on disk as the exact float32 vectors, read back
    bit for bit; a float16 file of the old format under the old key is never read."""
    monkeypatch.setenv("IDIA_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "ref"
    for i in range(3):
        (root / f"person{i}").mkdir(parents=True)
        for j, im in enumerate(draw_face_photos(3, seed=40 + i)):
            im.save(root / f"person{i}" / f"{j}.png")
    from idia_core.images import load_photo

    expected = np.stack([tiny_model.encode_images([load_photo(p) for p in sorted((root / f"person{i}").iterdir())])
                         .numpy() for i in range(3)])
    hashes = {f"person{i}": tuple(hashlib.sha256(p.read_bytes()).hexdigest()
                                  for p in sorted((root / f"person{i}").iterdir())) for i in range(3)}
    old_key = ("folder", tiny_model.fingerprint, reference_mod.reference_set_hash(hashes), 3)
    old_disk = tmp_path / "cache" / "reference"
    old_disk.mkdir(parents=True)
    np.savez(old_disk / f"{hashlib.sha256(repr(old_key).encode()).hexdigest()[:32]}.npz",
             embeddings=np.zeros_like(expected, dtype=np.float16))
    reference_mod._MEMO.clear()
    cold = reference_mod.folder_reference_set(tiny_model, root, 3)
    assert cold.embeddings.dtype == np.float32 and np.array_equal(cold.embeddings, expected)
    reference_mod._MEMO.clear()
    before = tiny_model.images_encoded
    warm = reference_mod.folder_reference_set(tiny_model, root, 3)
    assert tiny_model.images_encoded == before and np.array_equal(warm.embeddings, expected)
