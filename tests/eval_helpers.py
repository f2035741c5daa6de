"""Helpers for the evaluation, report and chart tests: a tiny real open_clip model saved as a
``local-dir`` (random weights, loads in a second), photo folders, and one real ``IdiaResult``."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TINY_CFG = {
    "model_cfg": {
        "embed_dim": 32,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
        "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    },
    "preprocess_cfg": {
        "mean": [0.48145466, 0.4578275, 0.40821073],
        "std": [0.26862954, 0.26130258, 0.27577711],
        "interpolation": "bicubic",
        "resize_mode": "shortest",
    },
}


def build_tiny_model(folder: Path, seed: int = 0) -> str:
    """Write a random-weight tiny CLIP to ``folder``; returns its ``local-dir:`` spec."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "open_clip_config.json").write_text(json.dumps(TINY_CFG))
    torch.manual_seed(seed)
    model = open_clip.create_model(f"local-dir:{folder}", pretrained=None, load_weights=False) \
        if _supports_load_weights() else _create_from_cfg()
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "open_clip_model.safetensors"))
    return f"local-dir:{folder}"


def _supports_load_weights() -> bool:
    import inspect

    import open_clip

    return "load_weights" in inspect.signature(open_clip.create_model).parameters


def _create_from_cfg():
    from open_clip.model import CLIP

    cfg = TINY_CFG["model_cfg"]
    return CLIP(cfg["embed_dim"], cfg["vision_cfg"], cfg["text_cfg"])


def make_photo(seed: int, size: int = 48) -> Image.Image:
    """A deterministic random picture (each seed different)."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), "RGB")


def write_photos(folder: Path, seeds) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in seeds:
        p = folder / f"photo_{s}.png"
        make_photo(s).save(p)
        paths.append(p)
    return paths


def write_dataset(root: Path, people: dict[str, int], labels: dict[str, tuple[int, int]]) -> tuple[Path, Path]:
    """``people``: name → number of photos; ``labels``: name → (member, occurrences).
    Folders are named after people; returns (dataset dir, labels.csv)."""
    root = Path(root)
    data = root / "data"
    for i, (name, n) in enumerate(people.items()):
        write_photos(data / name, [1000 * (i + 1) + j for j in range(n)])
    lab = root / "labels.csv"
    lines = ["name,member,occurrences"] + [f"{n},{m},{o}" for n, (m, o) in labels.items()]
    lab.write_text("\n".join(lines) + "\n")
    return data, lab
