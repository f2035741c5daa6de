"""The persistent text cache: a second run over the same pool encodes nothing."""
import threading

import numpy as np

from idia_core import run_idia
from idia_core.text.cache import TextEmbeddingCache
from idia_core.text.embeddings import clear_pool_memo
from tests.helpers import draw_face_photos


def test_second_run_encodes_nothing(tiny_model, tmp_path):
    photos = draw_face_photos(4, seed=1)
    cache = TextEmbeddingCache(tmp_path / "c")
    clear_pool_memo()
    before = tiny_model.texts_encoded
    first = run_idia(tiny_model, photos, "Jane Doe", n_candidates=40, cache=cache)
    encoded_first = tiny_model.texts_encoded - before
    assert encoded_first == 21 * 40
    # a new process would start with an empty memory: a fresh cache object on the same directory
    clear_pool_memo()
    cache.close()
    fresh = TextEmbeddingCache(tmp_path / "c")
    mid = tiny_model.texts_encoded
    second = run_idia(tiny_model, photos, "Jane Doe", n_candidates=40, cache=fresh)
    assert tiny_model.texts_encoded - mid == 0
    assert np.array_equal(first.predictions, second.predictions)
    assert first.correct_templates == second.correct_templates
    # a new target in the same pool only costs its own 21 prompts
    clear_pool_memo()
    mid = tiny_model.texts_encoded
    run_idia(tiny_model, photos, "John Roe", n_candidates=40, cache=fresh)
    assert tiny_model.texts_encoded - mid == 21


def test_cache_stores_hashes_not_names(tiny_model, tmp_path):
    cache = TextEmbeddingCache(tmp_path / "c")
    clear_pool_memo()
    run_idia(tiny_model, draw_face_photos(3, seed=2), "Zebedee Quux", n_candidates=10, cache=cache)
    cache.close()
    for f in (tmp_path / "c").iterdir():
        assert b"Zebedee" not in f.read_bytes()


def test_concurrent_readers_and_writer(tmp_path):
    writer = TextEmbeddingCache(tmp_path / "c")
    prompts = [f"a photo of person {i}" for i in range(300)]
    vecs = np.random.default_rng(0).normal(size=(300, 16)).astype(np.float16)
    writer.put_many("fp", prompts[:150], vecs[:150])
    errors = []

    def read():
        try:
            reader = TextEmbeddingCache(tmp_path / "c")
            for _ in range(20):
                found, missing = reader.get_many("fp", prompts[:150])
                assert not missing
                assert np.array_equal(np.stack(found), vecs[:150])
                reader.clear_memory()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    writer.put_many("fp", prompts[150:], vecs[150:])
    for t in threads:
        t.join()
    assert not errors


def test_directory_is_bounded(tmp_path):
    cache = TextEmbeddingCache(tmp_path / "c", max_mb=0.3)
    rng = np.random.default_rng(0)
    for model in range(4):
        prompts = [f"m{model} prompt {i}" for i in range(400)]
        cache.put_many(f"model{model}", prompts, rng.normal(size=(400, 128)).astype(np.float16))
    assert cache.disk_bytes() <= 0.3 * 2**20 + 200_000  # sqlite pages and WAL round up
    # the newest model survives
    cache.clear_memory()
    _, missing = cache.get_many("model3", ["m3 prompt 0"])
    assert not missing


def test_disk_cache_can_be_turned_off(monkeypatch, tmp_path):
    from idia_core.text.cache import default_cache_dir

    monkeypatch.setenv("IDIA_CACHE_DIR", "none")
    assert default_cache_dir() is None


def test_two_builds_of_one_weights_file_never_share_cached_embeddings(tiny_model_dir, tmp_path):
    """GELU and QuickGELU builds (and float16) of the same weights: each encodes its own prompts."""
    from idia_core import load_model
    from idia_core.text.embeddings import pool_text_embeddings

    cache = TextEmbeddingCache(tmp_path / "builds")
    templates, names = ("a photo of {0}.", "{0}"), ("Jane Doe", "Li Wei", "Ana Silva")
    builds = [load_model(f"local-dir:{tiny_model_dir}"), load_model(f"local-dir:{tiny_model_dir}+quickgelu"),
              load_model(f"local-dir:{tiny_model_dir}", precision="float16")]
    assert len({b.fingerprint for b in builds}) == 3
    embeddings = []
    for model in builds:
        clear_pool_memo()
        before = model.texts_encoded
        embeddings.append(pool_text_embeddings(model, templates, names, cache))
        assert model.texts_encoded - before == len(templates) * len(names)   # nothing served from another build
    assert np.abs(embeddings[0] - embeddings[1]).max() > 1e-3
    clear_pool_memo()
    before = builds[1].texts_encoded
    again = pool_text_embeddings(builds[1], templates, names, cache)
    assert builds[1].texts_encoded == before and np.array_equal(again, embeddings[1])


def test_the_cache_lives_where_idia_cache_dir_says_and_nowhere_assumed(monkeypatch, tmp_path):
    """Spaces no longer have a persistent /data: a Space's cache goes to the Storage Bucket its
    operator mounts and names in IDIA_CACHE_DIR, else to the user's cache folder; /data is never
    assumed, even when a folder of that name exists and SPACE_ID is set."""
    from idia_core.text import cache as cache_mod

    monkeypatch.setenv("SPACE_ID", "someone/idia")
    monkeypatch.setenv("IDIA_CACHE_DIR", str(tmp_path / "bucket" / "idia-cache"))
    assert cache_mod.default_cache_dir() == tmp_path / "bucket" / "idia-cache"
    monkeypatch.setenv("IDIA_CACHE_DIR", "none")
    assert cache_mod.default_cache_dir() is None
    monkeypatch.delenv("IDIA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_mod.default_cache_dir() == tmp_path / "xdg" / "idia"
