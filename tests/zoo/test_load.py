"""Model specs and loading: hub ids and pretrained tags from a Hugging Face cache built here,
offline (HF_HUB_OFFLINE=1 is set in conftest), through the same open_clip code path."""
import json
import os
from pathlib import Path

import pytest
import torch

from idia_core import IdiaInputError, ModelUnavailableError, load_model, parse_spec
from idia_core.zoo.catalogue import CATALOGUE
from tests.helpers import TINY_MODEL_CFG, build_hub_cache_entry, build_open_clip, draw_face_photos, save_local_dir

HUB_CACHE = Path(os.environ["HF_HUB_CACHE"])


def _embeddings(model):
    imgs = draw_face_photos(3, seed=9)
    return model.encode_images(imgs), model.encode_texts(["a photo of Jane Doe", "Li Wei"])




def test_hf_hub_spec_loads_from_the_local_cache(tmp_path):
    cfg = json.loads(json.dumps(TINY_MODEL_CFG))
    clip = build_open_clip(cfg, seed=11)
    saved = save_local_dir(clip, cfg, tmp_path / "saved")
    build_hub_cache_entry(HUB_CACHE, "idia-test/tiny-clip", {
        "open_clip_config.json": saved / "open_clip_config.json",
        "open_clip_model.safetensors": saved / "open_clip_model.safetensors",
    })
    hub = load_model("hf-hub:idia-test/tiny-clip")
    local = load_model(f"local-dir:{saved}")
    assert hub.fingerprint == local.fingerprint
    hi, ht = _embeddings(hub)
    li, lt = _embeddings(local)
    assert torch.allclose(hi, li) and torch.allclose(ht, lt)
    # and they are the saved model's own embeddings (not a fresh random init)
    tokens = hub.tokenize(["a photo of Jane Doe", "Li Wei"])
    with torch.no_grad():
        direct = clip.encode_text(tokens, normalize=True)
    assert (direct - ht).abs().max() <= 1e-5


def test_pretrained_tag_loads_from_the_local_cache(tmp_path):
    import open_clip

    arch, tag = "ViT-B-32", "laion2b_s34b_b79k"
    repo = open_clip.get_pretrained_cfg(arch, tag)["hf_hub"].strip("/")
    torch.manual_seed(5)
    clip = open_clip.create_model(arch, pretrained=None).eval()
    weights = tmp_path / "open_clip_model.safetensors"
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in clip.state_dict().items()}, str(weights))
    build_hub_cache_entry(HUB_CACHE, repo, {"open_clip_model.safetensors": weights})
    model = load_model(f"{arch}:{tag}")
    tokens = model.tokenize(["a photo of Jane Doe"])
    with torch.no_grad():
        direct = clip.encode_text(tokens, normalize=True)
    assert (model.encode_texts(["a photo of Jane Doe"]) - direct).abs().max() <= 1e-5
    assert model.fingerprint.startswith("ViT-B-32-")


def test_weights_a_space_preloaded_are_used_before_anything_is_fetched(tmp_path, monkeypatch):
    """A Space's build preloads each catalogue tag's ``open_clip_pytorch_model.bin`` (README front
    matter). Online, open_clip would fetch the safetensors alternative first; idia takes what the
    cache already holds and asks the hub for nothing."""
    import open_clip

    from idia_core.zoo import hub

    arch, tag = "ViT-B-32", "laion400m_e32"
    repo = open_clip.get_pretrained_cfg(arch, tag)["hf_hub"].strip("/")
    torch.manual_seed(6)
    clip = open_clip.create_model(arch, pretrained=None, quick_gelu=True).eval()
    weights = tmp_path / "open_clip_pytorch_model.bin"
    torch.save(clip.state_dict(), weights)
    build_hub_cache_entry(HUB_CACHE, repo, {"open_clip_pytorch_model.bin": weights})

    def no_download(*args, **kwargs):
        raise AssertionError(f"asked the hub for {args}")

    monkeypatch.setattr(hub, "hub_offline", lambda: False)     # as on a Space: the hub answers
    monkeypatch.setattr(hub, "hf_hub_download", no_download)
    model = load_model(f"{arch}:{tag}")
    tokens = model.tokenize(["a photo of Jane Doe"])
    with torch.no_grad():
        direct = clip.encode_text(tokens, normalize=True)
    assert (model.encode_texts(["a photo of Jane Doe"]) - direct).abs().max() <= 1e-5


def test_missing_hub_model_says_how_to_get_it_without_waiting():
    import time

    start = time.perf_counter()
    with pytest.raises(ModelUnavailableError) as err:
        load_model("hf-hub:idia-test/not-downloaded")
    assert err.value.code == "model_not_cached"
    assert "hf-hub:idia-test/not-downloaded" in err.value.message and "sandbox" in err.value.message
    assert time.perf_counter() - start < 10


def test_missing_pretrained_tag_is_unavailable():
    with pytest.raises(ModelUnavailableError) as err:
        load_model("ViT-B-16:openai")
    assert "ViT-B-16:openai" in err.value.message


@pytest.mark.parametrize("spec, code", [
    ("", "model_spec_empty"),
    ("NotAModel-99:openai", "model_unknown"),
    ("ViT-B-32", "model_tag_missing"),
    ("ViT-B-32:no_such_tag", "model_tag_unknown"),
    ("hf-hub:onlyname", "model_spec_hub"),
])
def test_bad_specs(spec, code):
    with pytest.raises(IdiaInputError) as err:
        parse_spec(spec)
    assert err.value.code == code


def test_local_dir_without_weights(tmp_path):
    (tmp_path / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_MODEL_CFG}))
    with pytest.raises(ModelUnavailableError) as err:
        load_model(f"local-dir:{tmp_path}")
    assert err.value.code == "model_dir_no_weights"


def test_fingerprint_is_stable_and_tracks_weights(tmp_path, tiny_model_dir):
    from idia_core.zoo import registry

    a = load_model(f"local-dir:{tiny_model_dir}").fingerprint
    registry.clear()
    assert load_model(f"local-dir:{tiny_model_dir}").fingerprint == a
    cfg = json.loads(json.dumps(TINY_MODEL_CFG))
    other = save_local_dir(build_open_clip(cfg, seed=99), cfg, tmp_path / "other")
    assert load_model(f"local-dir:{other}").fingerprint != a


def test_catalogue_has_the_papers_models_and_sandbox():
    specs = {e.spec for e in CATALOGUE}
    assert {"sandbox", "ViT-B-32:laion400m_e32", "ViT-B-16:laion400m_e32", "ViT-L-14:laion400m_e32",
            "ViT-B-32:openai", "ViT-L-14:openai"} <= specs
    for e in CATALOGUE:
        parse_spec(e.spec)
        assert e.description
