"""Models built as their weights were trained, and fingerprints of the model as run.

Every case loads real open_clip models from Hugging Face caches built here (random weights saved
under the real repo names open_clip resolves the tags to), offline (HF_HUB_OFFLINE=1 in conftest)
— except the offline-speed test, which runs a fresh process *without* HF_HUB_OFFLINE."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from idia_core import IdiaInputError, ModelUnavailableError, load_model, parse_spec
from idia_core.zoo.catalogue import CATALOGUE, PAPER_SPEC
from idia_core.zoo.specs import catalogue_activation
from tests.helpers import TINY_MODEL_CFG, build_open_clip, draw_face_photos, save_local_dir

HUB_CACHE = Path(os.environ["HF_HUB_CACHE"])
ROOT = Path(__file__).resolve().parents[2]


def activations(model) -> set[str]:
    """The activation modules the built model really contains (not what we record about it)."""
    from open_clip.transformer import QuickGELU

    found = set()
    for m in model.model.modules():
        if isinstance(m, QuickGELU):
            found.add("QuickGELU")
        elif isinstance(m, torch.nn.GELU):
            found.add("GELU")
    return found


def link_hub_snapshot(repo_id: str, files: dict[str, Path]) -> Path:
    """huggingface_hub's cache layout (refs/main -> snapshot), files symlinked, not copied."""
    folder = HUB_CACHE / ("models--" + repo_id.replace("/", "--"))
    snapshot = folder / "snapshots" / ("1" * 40)
    snapshot.mkdir(parents=True, exist_ok=True)
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text("1" * 40)
    for name, src in files.items():
        target = snapshot / name
        if not target.exists():
            target.symlink_to(src)
    return snapshot


def tiny_repo(tmp_path: Path, repo_id: str, *, quick_gelu: bool | None, seed: int = 3) -> Path:
    cfg = json.loads(json.dumps(TINY_MODEL_CFG))
    if quick_gelu is not None:
        cfg["quick_gelu"] = quick_gelu
    saved = save_local_dir(build_open_clip(cfg, seed=seed), cfg, tmp_path / repo_id.replace("/", "_"))
    link_hub_snapshot(repo_id, {"open_clip_config.json": saved / "open_clip_config.json",
                                "open_clip_model.safetensors": saved / "open_clip_model.safetensors"})
    return saved


@pytest.fixture(scope="module")
def vit_b32_weights(tmp_path_factory):
    """One random ViT-B-32 state dict (fp16 on disk), under the real repos of two tags: laion400m_e32
    (trained with QuickGELU) and laion2b_e16 (GELU)."""
    import open_clip
    from safetensors.torch import save_file

    torch.manual_seed(5)
    clip = open_clip.create_model("ViT-B-32", pretrained=None).eval()
    path = tmp_path_factory.mktemp("vitb32") / "open_clip_model.safetensors"
    save_file({k: v.half().contiguous() for k, v in clip.state_dict().items()}, str(path))
    for tag in ("laion400m_e32", "laion2b_e16"):
        repo = open_clip.get_pretrained_cfg("ViT-B-32", tag)["hf_hub"].strip("/")
        link_hub_snapshot(repo, {"open_clip_model.safetensors": path})
    return path


def test_quickgelu_tag_builds_quickgelu_and_the_papers_configuration_builds_gelu(vit_b32_weights):
    import open_clip

    assert open_clip.get_pretrained_cfg("ViT-B-32", "laion400m_e32")["quick_gelu"] is True
    with pytest.warns(UserWarning, match="GELU although its weights were trained with QuickGELU"):
        paper = load_model(PAPER_SPEC)
    trained = load_model("ViT-B-32:laion400m_e32")
    assert activations(trained) == {"QuickGELU"} and trained.build.activation == "QuickGELU"
    assert trained.build.trained_activation == "QuickGELU" and not trained.notes
    tag_cfg = open_clip.get_pretrained_cfg("ViT-B-32", "laion400m_e32")   # the tag's preprocessing too
    pp = trained.model.visual.preprocess_cfg
    assert tuple(pp["mean"]) == tuple(tag_cfg["mean"]) and pp["interpolation"] == tag_cfg["interpolation"]
    assert activations(paper) == {"GELU"} and paper.build.activation == "GELU"
    assert any("paper's configuration" in n for n in paper.notes)
    # one weights file, two builds: two fingerprints (and so two text caches)
    assert paper.build.weights == trained.build.weights
    assert paper.fingerprint != trained.fingerprint
    text = ["a photo of Jane Doe"]
    assert (paper.encode_texts(text) - trained.encode_texts(text)).abs().max() > 1e-3


def test_gelu_tag_builds_gelu(vit_b32_weights):
    model = load_model("ViT-B-32:laion2b_e16")
    assert activations(model) == {"GELU"} and model.build.trained_activation == "GELU" and not model.notes


@pytest.mark.parametrize("quick_gelu, expected", [(True, "QuickGELU"), (False, "GELU"), (None, "GELU")])
def test_hub_repo_builds_the_activation_of_its_config(tmp_path, quick_gelu, expected):
    repo = f"idia-test/tiny-act-{quick_gelu}"
    saved = tiny_repo(tmp_path, repo, quick_gelu=quick_gelu)
    hub = load_model(f"hf-hub:{repo}")
    assert activations(hub) == {expected} and hub.build.activation == expected and not hub.notes
    assert load_model(f"local-dir:{saved}").fingerprint == hub.fingerprint   # same files, same build


def test_asked_for_mismatch_is_stated_in_the_result(tmp_path):
    from idia_core.audit import explain
    from idia_core.attack.run import run_idia

    repo = "idia-test/tiny-quick"
    tiny_repo(tmp_path, repo, quick_gelu=True, seed=4)
    with pytest.warns(UserWarning, match="QuickGELU"):
        gelu = load_model(f"hf-hub:{repo}+gelu")
    quick = load_model(f"hf-hub:{repo}")
    assert activations(gelu) == {"GELU"} and activations(quick) == {"QuickGELU"}
    assert gelu.fingerprint != quick.fingerprint and gelu.build.weights == quick.build.weights
    names = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"]
    result = run_idia(gelu, draw_face_photos(3, seed=2), "Ada Lovelace", candidates=names)
    assert result.model_build["activation"] == "GELU" and result.model_build["trained_activation"] == "QuickGELU"
    text = explain.explanation(result)
    assert "built with GELU although its weights were trained with QuickGELU" in text
    assert result.to_dict()["model_build"]["notes"] == list(gelu.notes)
    plain = run_idia(quick, draw_face_photos(3, seed=2), "Ada Lovelace", candidates=names)
    assert "although its weights were trained" not in explain.explanation(plain)


def test_precision_is_part_of_the_fingerprint(tiny_model_dir):
    f32 = load_model(f"local-dir:{tiny_model_dir}", precision="float32")
    f16 = load_model(f"local-dir:{tiny_model_dir}", precision="fp16")
    assert f16.build.precision == "float16" and next(f16.model.parameters()).dtype == torch.float16
    assert f16.build.weights == f32.build.weights and f16.fingerprint != f32.fingerprint
    assert f16.encode_texts(["a photo of Li Wei"]).dtype == torch.float32   # outputs stay float32
    with pytest.raises(IdiaInputError) as err:
        load_model(f"local-dir:{tiny_model_dir}", precision="float8")
    assert err.value.code == "model_precision"


def test_context_length_changes_the_fingerprint(tmp_path):
    a_cfg = json.loads(json.dumps(TINY_MODEL_CFG))
    b_cfg = json.loads(json.dumps(TINY_MODEL_CFG))
    b_cfg["text_cfg"]["context_length"] = 16
    a = load_model(f"local-dir:{save_local_dir(build_open_clip(a_cfg, 8), a_cfg, tmp_path / 'a')}")
    b = load_model(f"local-dir:{save_local_dir(build_open_clip(b_cfg, 8), b_cfg, tmp_path / 'b')}")
    assert (a.build.context_length, b.build.context_length) == (32, 16)
    assert a.fingerprint != b.fingerprint


@pytest.mark.parametrize("filename", ["open_clip_model.pt", "model.pt"])
def test_pt_only_folder_is_an_error_not_a_random_model(tmp_path, filename):
    cfg = json.loads(json.dumps(TINY_MODEL_CFG))
    folder = tmp_path / "pt-only"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg}))
    torch.save(build_open_clip(cfg, seed=2).state_dict(), folder / filename)
    with pytest.raises(ModelUnavailableError) as err:
        load_model(f"local-dir:{folder}")
    assert err.value.code == "model_dir_no_weights" and filename in err.value.message


def test_weights_missing_a_parameter_are_refused_not_half_loaded(tmp_path):
    cfg = json.loads(json.dumps(TINY_MODEL_CFG))
    folder = save_local_dir(build_open_clip(cfg, seed=6), cfg, tmp_path / "full")
    from safetensors.torch import load_file, save_file

    state = load_file(str(folder / "open_clip_model.safetensors"))
    state.pop("text_projection")
    (folder / "open_clip_model.safetensors").unlink()
    save_file(state, str(folder / "open_clip_model.safetensors"))
    with pytest.raises(ModelUnavailableError) as err:
        load_model(f"local-dir:{folder}")
    assert err.value.code == "model_load_failed" and "text_projection" in err.value.message


def test_models_needing_other_packages_are_refused_before_any_download(tmp_path):
    """SigLIP's tokenizer comes from ``transformers``: refused when the spec is read; a hub repo or
    folder whose config names a Hugging Face tokenizer, as soon as its config is read."""
    import importlib.util

    spec = "ViT-B-16-SigLIP:webli"
    cfg = json.loads(json.dumps(TINY_MODEL_CFG))
    folder = save_local_dir(build_open_clip(cfg, seed=2), cfg, tmp_path / "hf-tok")
    with_tokenizer = dict(cfg, text_cfg=dict(cfg["text_cfg"], hf_tokenizer_name="timm/ViT-B-16-SigLIP"))
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": with_tokenizer}))
    if importlib.util.find_spec("transformers") is None:
        for make in (lambda: parse_spec(spec), lambda: load_model(f"local-dir:{folder}")):
            with pytest.raises(IdiaInputError) as err:
                make()
            assert err.value.code == "model_needs_packages" and "pip install transformers" in err.value.message
    else:
        assert parse_spec(spec).kind == "pretrained"


def test_catalogue_builds_every_model_as_trained():
    import open_clip

    for entry in CATALOGUE:
        parsed = parse_spec(entry.spec)
        if parsed.kind == "pretrained" and parsed.activation is None:
            trained = open_clip.get_pretrained_cfg(parsed.arch, parsed.tag).get("quick_gelu", False)
            assert entry.activation == ("QuickGELU" if trained else "GELU"), entry.spec
    assert catalogue_activation("ViT-B-32:openai") == "QuickGELU"
    assert catalogue_activation("ViT-B-16:laion400m_e32") == "GELU"
    paper = [e for e in CATALOGUE if e.spec == PAPER_SPEC]
    assert paper and paper[0].activation == "GELU" and "paper" in paper[0].label.lower()


OFFLINE_SCRIPT = textwrap.dedent("""
    import json, sys, time
    import open_clip, huggingface_hub  # imports are not waiting: time only the answer itself
    from idia_core.errors import ModelUnavailableError
    from idia_core.zoo.load import load_model
    out = []
    for spec in sys.argv[1:]:
        t = time.perf_counter()
        try:
            load_model(spec)
            out.append([spec, "loaded", time.perf_counter() - t, ""])
        except ModelUnavailableError as e:
            out.append([spec, e.code, time.perf_counter() - t, e.message])
    print(json.dumps(out))
""")


# A hub that cannot be reached in two ways: a name no DNS resolves, an address that drops packets
# (the probe's connect must time out, not hang). Never the real hub: a CI machine with internet
# access must not download here.
@pytest.mark.parametrize("endpoint", ["https://hub.idia-test.invalid", "http://10.255.255.1:81"])
def test_missing_model_fails_within_two_seconds_without_hf_hub_offline(tmp_path, endpoint):
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_HUB_CACHE=str(tmp_path / "hf" / "hub"), HF_ENDPOINT=endpoint)
    specs = ["ViT-B-16:openai", "hf-hub:idia-test/not-downloaded", "ViT-B-32:laion400m_e32"]
    proc = subprocess.run([sys.executable, "-c", OFFLINE_SCRIPT, *specs], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(proc.stdout.strip().splitlines()[-1])
    for spec, code, seconds, message in rows:
        assert code == "model_not_cached", (spec, code, message)
        assert spec in message and "models fetch" in message and "sandbox" in message
        assert seconds <= 2.0, (spec, seconds)
