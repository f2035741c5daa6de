"""Offline, a catalogue or hub model that is not in the local cache is refused before torch is
imported: the CLI runs as its own process on an empty Hugging Face cache, and reports whether
``torch`` or ``open_clip`` was ever imported (the time it takes is in ``bench/cli_offline.py``,
never asserted). The expected message is the one the full load path gives."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from idia_core.errors import ModelUnavailableError
from idia_core.zoo.catalogue import CATALOGUE, catalogue_hub_repo
from tests.helpers import build_hub_cache_entry

ROOT = Path(__file__).resolve().parents[2]
WRAPPER = ("import json, sys\n"
           "from idia_core.cli.main import main\n"
           "rc = main(sys.argv[1:])\n"
           "print(json.dumps({'rc': rc, 'torch': 'torch' in sys.modules, 'open_clip': 'open_clip' in sys.modules}))\n")


def run_cli_watching_imports(hf_home: Path, *args) -> tuple[dict, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", HF_HOME=str(hf_home),
               HF_HUB_CACHE=str(hf_home / "hub"))
    proc = subprocess.run([sys.executable, "-c", WRAPPER, *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def full_path_message(spec: str, empty_cache: Path, monkeypatch) -> str:
    """What loading the model gives on the same empty cache (torch, open_clip and all)."""
    from huggingface_hub import constants

    from idia_core import load_model

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(empty_cache))
    with pytest.raises(ModelUnavailableError) as err:
        load_model(spec)
    assert err.value.code == "model_not_cached"
    return err.value.message


@pytest.mark.parametrize("spec", ["ViT-B-32:laion400m_e32", "ViT-B-32:laion400m_e32+gelu", "ViT-L-14:openai",
                                  "ViT-B-16:openai+quickgelu", "hf-hub:idia-test/not-downloaded"])
def test_a_missing_model_is_refused_without_importing_torch(spec, photo_files, tmp_path, monkeypatch):
    hf_home = tmp_path / "hf"
    (hf_home / "hub").mkdir(parents=True)
    out, stderr = run_cli_watching_imports(hf_home, "check", "--model", spec, "--name", "Jane Doe", *photo_files)
    assert out == {"rc": 2, "torch": False, "open_clip": False}
    assert stderr.strip() == f"error: {full_path_message(spec, hf_home / 'hub', monkeypatch)}"
    fetched, stderr = run_cli_watching_imports(hf_home, "models", "fetch", spec)
    assert fetched == {"rc": 2, "torch": False, "open_clip": False} and "not in the local Hugging Face cache" in stderr


def test_a_cached_hub_model_is_never_refused_early(tiny_model_dir, photo_files, tmp_path):
    """With the files in the cache the check runs as usual (torch and all)."""
    hf_home = tmp_path / "hf"
    build_hub_cache_entry(hf_home / "hub", "idia-test/cached-clip", {
        "open_clip_config.json": tiny_model_dir / "open_clip_config.json",
        "open_clip_model.safetensors": tiny_model_dir / "open_clip_model.safetensors"})
    out, stderr = run_cli_watching_imports(hf_home, "check", "--model", "hf-hub:idia-test/cached-clip", "--name",
                                           "Jane Doe", "--candidates", "20", "--json", *photo_files)
    assert out == {"rc": 0, "torch": True, "open_clip": True}, stderr


def test_a_cached_catalogue_model_passes_the_early_check(tmp_path, monkeypatch):
    from huggingface_hub import constants

    from idia_core.zoo.hub import missing_offline

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert missing_offline("ViT-L-14:laion400m_e32").code == "model_not_cached"
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"not read here")
    build_hub_cache_entry(tmp_path / "hub", "timm/vit_large_patch14_clip_224.laion400m_e32",
                          {"open_clip_model.safetensors": weights})
    assert missing_offline("ViT-L-14:laion400m_e32") is None
    assert missing_offline("ViT-L-14:laion400m_e32+quickgelu") is None
    for spec in ("sandbox", "ViT-B-32:random", "local-dir:/nowhere", "ViT-B-32:laion2b_e16", "hf-hub:bad"):
        assert missing_offline(spec) is None                     # not judged early: the full path decides


def test_catalogue_hub_repos_are_open_clips_registry():
    import open_clip

    for entry in CATALOGUE:
        if entry.spec == "sandbox":
            assert entry.hub_repo == "" and catalogue_hub_repo("sandbox") is None
            continue
        arch, tag = entry.spec.split("+")[0].split(":")
        assert entry.hub_repo == open_clip.get_pretrained_cfg(arch, tag)["hf_hub"].strip("/"), entry.spec
        assert catalogue_hub_repo(entry.spec) == entry.hub_repo
