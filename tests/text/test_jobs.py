"""One encoding for concurrent identical pools, warm-ups that yield to visitors, progress in words."""
import threading
import time

import numpy as np

from idia_core import TextEmbeddingCache, build_candidate_pool, load_templates
from idia_core.text import jobs as text_jobs
from idia_core.text.embeddings import clear_pool_memo, pool_text_embeddings


def _pool(n: int, seed: int):
    return tuple(build_candidate_pool("Jane Doe", n_candidates=n, seed=seed).names)


def test_two_sessions_asking_for_one_new_pool_encode_it_once(tiny_model, tmp_path):
    templates = tuple(load_templates("paper21"))
    names = _pool(300, seed=101)
    cache = TextEmbeddingCache(tmp_path / "cache")
    clear_pool_memo()
    before = tiny_model.texts_encoded
    start = threading.Barrier(2)
    out, messages = {}, []

    def session(key):
        start.wait()
        out[key] = pool_text_embeddings(tiny_model, templates, names, cache,
                                        progress=lambda d, t, m: messages.append(m))

    threads = [threading.Thread(target=session, args=(k,)) for k in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert tiny_model.texts_encoded - before == len(templates) * len(names)  # not twice that
    np.testing.assert_array_equal(out["a"], out["b"])
    assert out["a"].shape[:2] == (len(templates), len(names))
    assert any(m.startswith(f"Encoding {len(names)} names for this model") for m in messages)
    assert not text_jobs._INFLIGHT
    cache.close()


def test_a_waiter_encodes_what_a_failed_owner_never_delivered(tiny_model, tmp_path):
    templates = ("a photo of {0}",)
    names = _pool(60, seed=102)
    prompts = [t.format(n) for t in templates for n in names]
    batch = text_jobs._Batch(prompts)
    for p in prompts:
        text_jobs._INFLIGHT[(tiny_model.fingerprint, p)] = batch
    cache = TextEmbeddingCache(tmp_path / "cache")
    clear_pool_memo()
    result = {}
    waiter = threading.Thread(target=lambda: result.update(emb=pool_text_embeddings(tiny_model, templates, names, cache)))
    waiter.start()
    time.sleep(0.2)
    assert waiter.is_alive()                       # it waits for the owner instead of encoding twice
    text_jobs._finish(batch, tiny_model.fingerprint, None)   # the owner failed
    waiter.join(timeout=60)
    expected = tiny_model.encode_texts_stock(prompts).numpy()          # float32, as the model gives it
    assert np.abs(result["emb"][0] - expected).max() <= 1e-5
    cache.close()


def test_a_background_warm_up_waits_while_a_visitor_encodes(tiny_model, tmp_path):
    templates = ("a cool photo of {0}",)
    names = _pool(40, seed=103)
    cache = TextEmbeddingCache(tmp_path / "cache")
    clear_pool_memo()
    before = tiny_model.texts_encoded
    with text_jobs._foreground():                  # a visitor's check is encoding
        warm = threading.Thread(target=pool_text_embeddings,
                                args=(tiny_model, templates, names, cache), kwargs={"background": True})
        warm.start()
        time.sleep(0.3)
        assert tiny_model.texts_encoded == before  # the warm-up has not taken the CPU
    warm.join(timeout=60)
    assert tiny_model.texts_encoded - before == len(names)
    cache.close()


def test_progress_text_gives_names_and_a_rounded_estimate():
    assert text_jobs.progress_text(1000, 38.2) == "Encoding 1000 names for this model — about 40 s left"
    assert text_jobs.progress_text(1000, None).startswith("Encoding 1000 names for this model — measuring")
    assert "about 2 min left" in text_jobs.progress_text(5, 118)
    assert "finishing" in text_jobs.progress_text(5, 1.0)
    assert "another check" in text_jobs.progress_text(5, 30, shared=True)
    assert [text_jobs.format_seconds(s) for s in (4.2, 41, 150, 600, 4000)] == ["5 s", "45 s", "2.5 min",
                                                                               "10 min", "1 h 7 min"]


def test_a_warm_up_leaves_the_default_pool_encoded(tiny_model, tiny_model_dir, tmp_path, monkeypatch):
    from idia_core.text import cache as cache_mod
    from idia_core.attack.settings import IdiaSettings
    from idia_core.serve.warmup import warm_pool, weights_on_disk

    monkeypatch.setenv("IDIA_CACHE_DIR", str(tmp_path / "cache"))
    cache_mod.reset_default_cache()
    clear_pool_memo()
    settings = IdiaSettings(model=f"local-dir:{tiny_model_dir}", n_candidates=30, seed=104)
    warm_pool(settings.model, settings)
    clear_pool_memo()
    before = tiny_model.texts_encoded
    pool = build_candidate_pool("Someone Else", n_candidates=30, seed=104)
    pool_text_embeddings(tiny_model, tuple(load_templates(settings.template_set)), pool.names[:pool.target_index])
    assert tiny_model.texts_encoded == before      # the visitor's distractors were all warmed
    cache_mod.reset_default_cache()
    assert weights_on_disk("sandbox")
    empty = tmp_path / "empty-hub"
    empty.mkdir()
    assert not weights_on_disk("ViT-B-32:laion400m_e32", cache_dir=empty)   # nothing downloaded there


def test_chunks_are_a_small_first_one_then_equal_parts_in_order():
    # the first call is small (its rate gives the estimate early); the rest are as large as allowed
    # and equal, because a small last call would run small, slow batches
    from idia_core.text.jobs import CHUNK, FIRST_CHUNK, _chunks

    for total in (0, 5, FIRST_CHUNK, FIRST_CHUNK + 1, 21000, 3 * CHUNK + FIRST_CHUNK + 7):
        items = list(range(total))
        chunks = _chunks(items, FIRST_CHUNK, CHUNK)
        assert [i for c in chunks for i in c] == items and all(chunks)
        assert len(chunks[0]) == min(total, FIRST_CHUNK) if chunks else total == 0
        rest = [len(c) for c in chunks[1:]]
        assert all(n <= CHUNK for n in rest) and (not rest or max(rest) - min(rest) <= 1)
        assert len(rest) == -(-max(0, total - FIRST_CHUNK) // CHUNK)
