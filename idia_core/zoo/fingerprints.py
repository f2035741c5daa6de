"""What exactly ran, and its fingerprint.

A loaded model carries a ``ModelBuild``: the digest of its weights, the function-changing config as
built (module types, activation, context length, preprocessing, tokenizer) and its precision and
device. Its ``fingerprint`` covers all three, so text caches and reports never mix two builds
(a GELU and a QuickGELU build of one file, or a float16 and a float32 build, differ).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np
import torch
from open_clip.transformer import QuickGELU

from .specs import ModelSpec


@dataclass(frozen=True)
class ModelBuild:
    """What exactly ran: the weights, the function-changing configuration, the precision.

    ``weights`` is a digest of every tensor's float32 values (the same file gives the same digest
    however it is built); ``config`` a digest of the built model's module types, their scalar
    settings (context length, pooling, ...), its image preprocessing and its tokenizer.
    ``activation`` is what the model computes (read off its modules); ``trained_activation`` what
    the weights' record says they were trained with (None where no record exists: ``ARCH:PATH``,
    ``ARCH:random``). ``notes`` are sentences for the user (e.g. an activation mismatch asked for)."""

    weights: str
    config: str
    activation: str
    trained_activation: str | None
    activation_source: str
    context_length: int
    precision: str
    device: str
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for people: ``QuickGELU, context 77, float16 on CUDA``."""
        return f"{self.activation}, context {self.context_length}, {self.precision} on {self.device.upper()}"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["notes"] = list(self.notes)
        return data


# -- fingerprints ------------------------------------------------------------------------------------
def weights_digest(model) -> str:
    """A stable id of the weights: a hash over every tensor (name, shape, float32 bytes)."""
    h = hashlib.blake2b(digest_size=12)
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().to("cpu")
        if t.is_floating_point():
            t = t.float()
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(np.ascontiguousarray(t.numpy()).tobytes())
    return h.hexdigest()


_SCALARS = (bool, int, float, str, type(None))


def config_digest(model, tokenizer) -> str:
    """A hash of what changes the function besides the weights, read off the built model itself (so
    two config files that build the same model agree): every module's type and its scalar settings
    (activation class, eps, context length, pooling, heads, ...), the image preprocessing and the
    tokenizer's type and context length."""
    items = []
    for name, module in model.named_modules():
        settings = {k: v for k, v in sorted(vars(module).items())
                    if not k.startswith("_") and k != "training"
                    and (isinstance(v, _SCALARS) or (isinstance(v, (tuple, list)) and all(isinstance(x, _SCALARS) for x in v)))}
        items.append([name, type(module).__name__, settings])
    visual = getattr(model, "visual", None)
    items.append(["preprocess", getattr(visual, "preprocess_cfg", None)])
    items.append(["tokenizer", type(tokenizer).__name__, getattr(tokenizer, "context_length", None)])
    blob = json.dumps(items, sort_keys=True, default=str).encode()
    return hashlib.blake2b(blob, digest_size=12).hexdigest()


def fingerprint_of(spec: ModelSpec, build: ModelBuild) -> str:
    """``ARCH-<hash>`` over weights + config + precision: the same weights built with another
    activation, context length or precision get another fingerprint (and another text cache)."""
    h = hashlib.blake2b(f"{build.weights}|{build.config}|{build.precision}".encode(), digest_size=12)
    return f"{spec.arch or 'clip'}-{h.hexdigest()}"


def built_activation(model) -> str:
    """The activation the text and image MLPs compute, read off the built modules."""
    names = set()
    for module in model.modules():
        if isinstance(module, QuickGELU):
            names.add("QuickGELU")
        elif isinstance(module, torch.nn.GELU):
            names.add("GELU" if module.approximate == "none" else f"GELU({module.approximate})")
    return "+".join(sorted(names)) or "other"


def describe_difference(recorded: dict | None, observed: dict | None) -> list[str]:
    """What differs between two builds (``ModelBuild.to_dict()``), in words: e.g. ``made in float16
    on CUDA, verified in float32 on CPU``. Empty when nothing recorded differs."""
    if not recorded or not observed:
        return []
    out = []
    if recorded.get("weights") != observed.get("weights"):
        out.append(f"other weights (digest {observed.get('weights')}, recorded {recorded.get('weights')})")
    if recorded.get("activation") != observed.get("activation"):
        out.append(f"built with {recorded.get('activation')} when made, with {observed.get('activation')} now")
    if recorded.get("context_length") != observed.get("context_length"):
        out.append(f"context length {recorded.get('context_length')} when made, {observed.get('context_length')} now")
    if (recorded.get("precision"), recorded.get("device")) != (observed.get("precision"), observed.get("device")):
        out.append(f"made in {recorded.get('precision')} on {str(recorded.get('device')).upper()}, verified in "
                   f"{observed.get('precision')} on {str(observed.get('device')).upper()}")
    if not out and recorded.get("config") != observed.get("config"):
        out.append("another architecture configuration (module settings, preprocessing or tokenizer)")
    return out
