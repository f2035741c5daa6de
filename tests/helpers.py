"""Builders for real test inputs: a tiny open_clip model on disk and simple drawn photos."""
from __future__ import annotations

import json
import random
from pathlib import Path

import torch
from PIL import Image, ImageDraw

TINY_MODEL_CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
TINY_PREPROCESS = {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "interpolation": "bicubic",
                   "resize_mode": "shortest"}


def build_open_clip(model_cfg: dict, seed: int):
    """A random-init open_clip model from a config dict (the same class real configs build)."""
    import open_clip

    torch.manual_seed(seed)
    model = open_clip.factory._build_model_from_config(model_cfg) if hasattr(
        open_clip.factory, "_build_model_from_config") else None
    if model is None:
        from open_clip.model import CLIP, CustomTextCLIP

        cls = CustomTextCLIP if model_cfg.get("custom_text") else CLIP
        kwargs = {k: v for k, v in model_cfg.items() if k != "custom_text"}
        model = cls(**kwargs)
    return model.eval()


def save_local_dir(model, model_cfg: dict, folder: Path, *, fp16: bool = False,
                   filename: str = "open_clip_model.safetensors") -> Path:
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "open_clip_config.json").write_text(
        json.dumps({"model_cfg": model_cfg, "preprocess_cfg": TINY_PREPROCESS}), encoding="utf-8")
    state = {k: (v.half() if fp16 and v.is_floating_point() else v).contiguous()
             for k, v in model.state_dict().items()}
    save_file(state, str(folder / filename))
    return folder


def make_tiny_model_dir(folder: Path, seed: int = 0, model_cfg: dict | None = None) -> Path:
    cfg = json.loads(json.dumps(model_cfg or TINY_MODEL_CFG))
    return save_local_dir(build_open_clip(cfg, seed), cfg, folder)


def draw_face_photos(n: int, seed: int = 0, size: int = 96) -> list[Image.Image]:
    """Simple drawn portraits (varied colours and positions) — real RGB images, not arrays."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        bg = tuple(rng.randrange(256) for _ in range(3))
        img = Image.new("RGB", (size, size), bg)
        d = ImageDraw.Draw(img)
        cx, cy = size // 2 + rng.randint(-8, 8), size // 2 + rng.randint(-8, 8)
        skin = (200 + rng.randint(-40, 40), 160 + rng.randint(-40, 40), 130 + rng.randint(-40, 40))
        d.ellipse([cx - 28, cy - 34, cx + 28, cy + 34], fill=skin)
        d.ellipse([cx - 14, cy - 10, cx - 6, cy - 4], fill=(30, 30, 30))
        d.ellipse([cx + 6, cy - 10, cx + 14, cy - 4], fill=(30, 30, 30))
        d.arc([cx - 12, cy + 6, cx + 12, cy + 20], 20, 160, fill=(120, 30, 30), width=3)
        out.append(img)
    return out


def build_hub_cache_entry(cache_dir: Path, repo_id: str, files: dict[str, Path], commit: str = "0" * 40) -> Path:
    """Lay out files exactly as huggingface_hub stores a downloaded snapshot in its cache."""
    import shutil

    repo_folder = Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo_folder / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo_folder / "refs").mkdir(parents=True, exist_ok=True)
    (repo_folder / "refs" / "main").write_text(commit)
    for name, src in files.items():
        shutil.copyfile(src, snapshot / name)
    return snapshot
