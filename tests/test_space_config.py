"""The Space's configuration as Hugging Face reads it (README front matter, requirements.txt): a
Python and torch that ZeroGPU supports, and every catalogue model's weights preloaded at build time
under the file name idia loads first."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
ZEROGPU_PYTHONS = ("3.12", "3.10")                           # 3.12.12 or 3.10.13 (2026)
ZEROGPU_TORCH = ("2.8.0", "2.9.1", "2.10.0", "2.11.0")


def front_matter() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("---\n")[1]


def pins(python: str) -> dict[str, str]:
    out = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate({"python_version": python}):
            assert req.name not in out, f"{req.name} pinned twice for Python {python}"
            out[req.name] = str(req.specifier).removeprefix("==")
    return out


def test_the_space_runs_a_python_and_torch_zerogpu_supports():
    python = re.search(r'^python_version: "([\d.]+)"', front_matter(), re.M).group(1)
    assert python in ZEROGPU_PYTHONS
    space = pins(python)
    assert space["torch"] in ZEROGPU_TORCH and space["torchvision"] == "0.26.0"
    assert re.search(r"^suggested_hardware: zero-", front_matter(), re.M)


@pytest.mark.parametrize("python, torch", [("3.11", "2.14.1"), ("3.12", "2.11.0")])
def test_one_requirements_file_pins_both_worlds(python, torch):
    here = pins(python)
    assert here["torch"] == torch and "open_clip_torch" in here and "gradio" in here
    assert Marker('python_version >= "3.12"').evaluate({"python_version": "3.12"})


def test_every_catalogue_model_is_preloaded_under_the_name_idia_loads():
    import open_clip

    from idia_core.zoo.catalogue import CATALOGUE
    from idia_core.zoo.specs import parse_spec

    block = front_matter().split("preload_from_hub:\n")[1].split("\nmodels:")[0]
    preloaded = dict(line.strip()[2:].split(" ", 1) for line in block.splitlines() if line.strip().startswith("- "))
    for entry in CATALOGUE:
        spec = parse_spec(entry.spec)
        if spec.kind != "pretrained":
            continue
        repo = open_clip.get_pretrained_cfg(spec.arch, spec.tag)["hf_hub"].strip("/")
        assert preloaded.get(repo) == open_clip.pretrained.HF_WEIGHTS_NAME, (entry.spec, repo)
