"""The padding cut must give open_clip's own embeddings (max |diff| <= 1e-5) on real models."""
import json

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
