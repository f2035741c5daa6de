"""Train the embedded sandbox CLIP on the sandbox world, on the CPU.

Rebuild the shipped model (deterministic for a seed; about 17–20 minutes on 2 free CPU cores):

    python -m idia_core sandbox build --seed 0 --out idia_core/sandbox/model

Why a model of our own: real CLIP weights cannot be downloaded where the project is built, and
nobody knows exactly who was in their training data. This small open_clip model is trained with
open_clip's own contrastive loss on a world in which we decide who appears k times and who never
does, so every verdict of the attack can be checked against the truth. It is saved in open_clip's
local-dir format (``open_clip_config.json`` + fp16 ``open_clip_model.safetensors``) next to the
``world.json`` manifest, so ``load_model("sandbox")`` goes through the same loading path as any
real model.

Architecture: a small ViT image tower (64 px, patch 8) and a small causal text tower that uses the
stock CLIP tokenizer (vocab 49408, so the attack's prompts tokenise exactly as for real models).
The token embedding table dominates the file size, so the text tower is kept narrow.
"""
from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import open_clip
import torch
from open_clip.loss import ClipLoss
from open_clip.model import CLIP
from PIL import Image
from safetensors.torch import save_file
from tqdm import tqdm

from .renderer import render_photo
from .world import MODEL_DIR, WORLD_FILE, World, WorldSettings, generate_world, training_pairs

IMAGE_SIZE = 64
RENDER_SIZE = 128  # photos are rendered like attack photos and shrunk by the model's preprocessing
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)

MODEL_CFG: dict[str, Any] = {
    "embed_dim": 128,
    "vision_cfg": {"image_size": IMAGE_SIZE, "layers": 4, "width": 128, "head_width": 32, "patch_size": 8, "mlp_ratio": 4.0},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 96, "heads": 3, "layers": 4, "mlp_ratio": 4.0},
}
PREPROCESS_CFG: dict[str, Any] = {
    "size": IMAGE_SIZE, "mode": "RGB", "mean": list(MEAN), "std": list(STD),
    "interpolation": "bicubic", "resize_mode": "shortest", "fill_color": 0,
}


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 16
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.1
    warmup_frac: float = 0.05
    threads: int = 2


def preprocess_batch(images) -> torch.Tensor:
    """PIL photos -> normalised [N,3,64,64]: the same resize the model's open_clip transform does
    (bicubic shortest-side resize + centre crop; our photos are square)."""
    arr = np.stack([np.asarray(im.convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC)) for im in images])
    return _normalise(torch.from_numpy(arr))


def _normalise(u8: torch.Tensor) -> torch.Tensor:
    x = u8.permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std


def _render_all(pairs, progress: bool) -> torch.Tensor:
    out = np.empty((len(pairs), IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    for i, p in enumerate(tqdm(pairs, desc="rendering training photos", disable=not progress, unit="photo")):
        im = render_photo(p.identity, p.photo_seed, RENDER_SIZE)
        out[i] = np.asarray(im.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC))
    return torch.from_numpy(out)


def build_model(seed: int):
    """A freshly initialised sandbox CLIP (open_clip's own CLIP class and init, seeded)."""
    torch.manual_seed(seed)
    return CLIP(**json.loads(json.dumps(MODEL_CFG)))


def train_model(
    world: World,
    seed: int = 0,
    settings: TrainSettings | None = None,
    progress: bool = True,
    max_steps: int | None = None,
    on_step: Callable[[int, float], None] | None = None,
):
    """Train a fresh model on `world`; returns (model, losses). Deterministic for a seed."""
    st = settings or TrainSettings()
    torch.set_num_threads(st.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    random.seed(seed)
    np.random.seed(seed % 2**32)

    pairs = training_pairs(world)
    images = _render_all(pairs, progress)
    tokenizer = open_clip.get_tokenizer("ViT-B-32", context_length=MODEL_CFG["text_cfg"]["context_length"])
    tokens = tokenizer([p.caption for p in pairs])

    model = build_model(seed)
    model.train()
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n and "logit_scale" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n and "logit_scale" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": st.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=st.lr, betas=(0.9, 0.98), eps=1e-6)
    loss_fn = ClipLoss()
    n = len(pairs)
    steps_per_epoch = n // st.batch_size
    total = steps_per_epoch * st.epochs if max_steps is None else max_steps
    warmup = max(1, int(total * st.warmup_frac))

    def lr_at(step: int) -> float:
        if step < warmup:
            return st.lr * (step + 1) / warmup
        return 0.5 * st.lr * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    gen = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    step = 0
    bar = tqdm(total=total, desc="training sandbox CLIP", disable=not progress, unit="step")
    while step < total:
        order = torch.randperm(n, generator=gen)
        for b in range(steps_per_epoch):
            if step >= total:
                break
            idx = order[b * st.batch_size:(b + 1) * st.batch_size]
            x = _normalise(images[idx])
            # cheap augmentation: a random horizontal flip per batch half keeps poses varied
            flip = torch.rand(len(idx), generator=gen) < 0.5
            x[flip] = x[flip].flip(-1)
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            img_f, txt_f, scale = model(x, tokens[idx])
            loss = loss_fn(img_f, txt_f, scale)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, math.log(100))
            losses.append(float(loss.detach()))
            if on_step:
                on_step(step, losses[-1])
            step += 1
            bar.update(1)
            if step % 20 == 0:
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    bar.close()
    model.eval()
    return model, losses


def save_model(model, world: World, out: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write open_clip's local-dir format plus the world manifest."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / "open_clip_model.safetensors"))
    cfg = {"model_cfg": MODEL_CFG, "preprocess_cfg": PREPROCESS_CFG,
           "sandbox": {"world_seed": world.seed, **(extra or {})}}
    (out / "open_clip_config.json").write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    world.save(out / WORLD_FILE)
    return out


def build(seed: int = 0, out: str | Path = MODEL_DIR, world_settings: WorldSettings | None = None,
          settings: TrainSettings | None = None, progress: bool = True) -> dict[str, Any]:
    """Generate the world for `seed`, train, save; returns a small summary."""
    t0 = time.time()
    world = generate_world(seed, world_settings)
    st = settings or TrainSettings()
    model, losses = train_model(world, seed=seed, settings=st, progress=progress)
    wall = time.time() - t0
    summary = {"seed": seed, "train": asdict(st), "pairs": len(training_pairs(world)), "steps": len(losses),
               "final_loss": float(np.mean(losses[-20:])), "wall_seconds": round(wall, 1)}
    save_model(model, world, out, extra=summary)
    return summary
