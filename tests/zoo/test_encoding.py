"""The padding cut must give open_clip's own embeddings (max |diff| <= 1e-5) on real models."""
import json
import warnings

import pytest
import torch

from idia_core import fill_template, load_model, load_templates
from tests.helpers import TINY_MODEL_CFG, make_tiny_model_dir

NAMES = ["Jane Doe", "Maria-José Fernández García", "Li Wei", "Jean-Baptiste Émile Dubois de la Tour",
         "O'Neil", "Anna Karenina Konstantinovna Shcherbatskaya Levin Oblonsky Vronsky Karenina"]


def _prompts():
    return [fill_template(t, n) for t in load_templates("paper21") for n in NAMES]


def _assert_exact(model, prompts):
    assert model.fast_text
    ours = model.encode_texts(prompts, batch_size=16)
    stock = model.encode_texts_stock(prompts, batch_size=16)
    assert ours.shape == stock.shape
    assert torch.allclose(ours.norm(dim=-1), torch.ones(len(prompts)), atol=1e-5)
    assert (ours - stock).abs().max().item() <= 1e-5


def test_tiny_custom_config_is_exact(tiny_model):
    _assert_exact(tiny_model, _prompts())


def test_prompts_longer_than_the_context_are_exact(tiny_model):
    # context_length 32: these are cut by the tokenizer, the end token forced into the last slot
    long = [fill_template("a photo of a person with the name {0}", "Alexander " * k + "Smith") for k in (5, 12, 30)]
    _assert_exact(tiny_model, long)


def test_vit_b_32_random_is_exact():
    with pytest.warns(UserWarning, match="RANDOM"):
        model = load_model("ViT-B-32:random")
    _assert_exact(model, _prompts()[:: 3])


def test_bidirectional_tower_falls_back_to_stock(tmp_path):
    cfg = json.loads(json.dumps(TINY_MODEL_CFG))
    cfg["text_cfg"].update({"no_causal_mask": True, "pool_type": "first"})
    folder = make_tiny_model_dir(tmp_path / "bidir", seed=2, model_cfg=cfg)
    model = load_model(f"local-dir:{folder}")
    assert not model.fast_text
    prompts = _prompts()[:20]
    assert torch.equal(model.encode_texts(prompts), model.encode_texts_stock(prompts))


# -- prefix sharing (issue 14) --------------------------------------------------------------------
from idia_core.zoo.encoding import _radix_segments, causal_text_tower, encode_tokens_prefix_shared, pooled_positions, text_path

SCRIPTS = ["Иван Петров", "Иван Сидоров", "Γιώργος Παπαδόπουλος", "王小明", "王小红", "محمد علي",
           "राहुल शर्मा", "김민준", "สมชาย ใจดี", "Jane Doe", "Jane Smith", "JANE DOE", "Zoë Ångström"]


def _assert_prefix_shared_exact(model, prompts):
    tower = causal_text_tower(model.model)
    assert text_path(tower) == "prefix-shared"
    tokens = model.tokenize(prompts)
    ours = encode_tokens_prefix_shared(tower, tokens, batch_size=16)
    stock = model.encode_texts_stock(prompts, batch_size=16)
    assert ours.shape == stock.shape
    assert (ours - stock).abs().max().item() <= 1e-5
    assert torch.equal(model.encode_texts(prompts, batch_size=16), ours)  # the path checks take


def test_prefix_shared_is_exact_on_the_tiny_config(tiny_model):
    _assert_prefix_shared_exact(tiny_model, _prompts())


def test_prefix_shared_is_exact_on_names_in_many_scripts(tiny_model):
    # shared first names (Иван, 王小, Jane) make deeper trees; 'JANE DOE' tokenises like 'Jane Doe'
    _assert_prefix_shared_exact(tiny_model, [fill_template(t, n) for t in load_templates("paper21") for n in SCRIPTS])


def test_prefix_shared_is_exact_at_the_context_limit(tiny_model):
    # context 32: cut by the tokenizer; several prompts become the same tokens, others share 31
    names = ["Alexander " * k + s for k in (3, 8, 14, 30) for s in ("Smith", "Jones")]
    prompts = [fill_template(t, n) for t in ("{0}", "a photo of a person with the name {0}", "{0} in a suit")
               for n in names]
    assert (tiny_model.tokenize(prompts) != 0).sum(dim=1).max() == 32
    _assert_prefix_shared_exact(tiny_model, prompts)


def test_prefix_shared_is_exact_with_layer_scale(tmp_path):
    cfg = json.loads(json.dumps(TINY_MODEL_CFG))
    cfg["text_cfg"]["ls_init_value"] = 0.5
    model = load_model(f"local-dir:{make_tiny_model_dir(tmp_path / 'ls', seed=4, model_cfg=cfg)}")
    _assert_prefix_shared_exact(model, _prompts())


def test_prefix_shared_is_exact_on_vit_b_32_random():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # random weights: warned about once per process
        model = load_model("ViT-B-32:random")
    templates = ["{0}", "{0} on a photo", "a photo of {0}", "a photo of a person named {0}", "actor {0}"]
    prompts = [fill_template(t, n) for t in templates for n in ["Иван Петров", "Иван Сидоров", "王小明", "Jane Doe"]]
    _assert_prefix_shared_exact(model, prompts)


def test_custom_blocks_fall_back_to_the_length_cut(tmp_path):
    cfg = json.loads(json.dumps(TINY_MODEL_CFG))
    cfg["text_cfg"]["qk_norm"] = True   # open_clip's own Attention: not the block prefix sharing mirrors
    model = load_model(f"local-dir:{make_tiny_model_dir(tmp_path / 'qk', seed=5, model_cfg=cfg)}")
    assert text_path(causal_text_tower(model.model)) == "length-cut"
    _assert_exact(model, _prompts()[:40])


def test_prefix_tree_runs_far_fewer_tokens_than_the_prompts_hold(tiny_model):
    prompts = [fill_template(t, n) for t in load_templates("paper21") for n in SCRIPTS]
    tokens = tiny_model.tokenize(prompts)
    pos = pooled_positions(tokens, causal_text_tower(tiny_model.model))
    seqs = sorted({tuple(r[:p + 1]) for r, p in zip(tokens.tolist(), pos.tolist())})
    segments, ends = _radix_segments(seqs)
    assert len(ends) == len(seqs)
    assert sum(len(s.tokens) for s in segments) < 0.6 * int((pos + 1).sum())


def test_prefix_shared_in_worker_threads_is_exact_and_keeps_the_callers_settings(tiny_model, monkeypatch):
    # each core gets a contiguous share of the sorted prompts and runs it single-threaded; the
    # caller's thread count and grad mode are untouched (both are thread-local in torch)
    import idia_core.zoo.encoding as enc

    monkeypatch.setattr(enc, "_MIN_PER_WORKER", 8)
    names = NAMES + SCRIPTS
    prompts = [fill_template(t, n) for t in load_templates("paper21") for n in names]
    tower = causal_text_tower(tiny_model.model)
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        assert enc._workers(tower, len(prompts)) == 3
        threaded = encode_tokens_prefix_shared(tower, tiny_model.tokenize(prompts))
        assert torch.get_num_threads() == 3 and torch.is_grad_enabled()
        torch.set_num_threads(1)
        single = encode_tokens_prefix_shared(tower, tiny_model.tokenize(prompts))
    finally:
        torch.set_num_threads(before)
    stock = tiny_model.encode_texts_stock(prompts)
    assert (threaded - stock).abs().max().item() <= 1e-5
    assert (threaded - single).abs().max().item() <= 1e-6


def test_an_error_in_a_worker_thread_reaches_the_caller(tiny_model, monkeypatch):
    import idia_core.zoo.encoding as enc

    monkeypatch.setattr(enc, "_MIN_PER_WORKER", 8)
    tower = causal_text_tower(tiny_model.model)
    tokens = tiny_model.tokenize([fill_template(t, n) for t in load_templates("paper21") for n in NAMES])
    tokens[tokens == tokens.max()] = 10 ** 6     # a token id past the vocabulary (every row's end token)
    with pytest.raises(IndexError):
        encode_tokens_prefix_shared(tower, tokens)


def test_equal_parts_are_contiguous_bounded_and_balanced():
    from idia_core.zoo.encoding import equal_parts

    assert equal_parts([], 8) == []
    for total, size in ((1, 8), (8, 8), (9, 8), (17, 8), (21000, 8192), (5, 1)):
        items = list(range(total))
        parts = equal_parts(items, size)
        assert [i for p in parts for i in p] == items                  # in order, nothing lost
        lengths = [len(p) for p in parts]
        assert len(parts) == -(-total // size) and max(lengths) <= size  # as few as allowed
        assert max(lengths) - min(lengths) <= 1, lengths                 # no small last part
