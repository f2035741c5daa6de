"""Building a model exactly as it was trained, through open_clip.

Every model is built as its weights were trained: the activation comes from the weights' own
record — open_clip's ``quick_gelu`` flag of a pretrained tag, or the ``model_cfg`` of the repo's or
folder's ``open_clip_config.json`` — never from the bare architecture name (``ViT-B-32`` alone
builds GELU, while its ``openai`` and ``laion400m_*`` weights were trained with QuickGELU).
``build_model`` resolves a spec to files (``_plan``; downloads through ``hub``), builds it strictly
(every spec but ``ARCH:random`` must load a checkpoint, so no parameter keeps its random init),
and records what it built (``fingerprints.ModelBuild``).
"""
from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import open_clip
import torch
from open_clip.transform import PreprocessCfg, image_transform_v2

from .. import config
from ..echo import quoted
from ..errors import IdiaInputError, ModelUnavailableError
from .catalogue import PAPER_SPEC
from .fingerprints import ModelBuild, built_activation, config_digest, fingerprint_of, weights_digest
from .hub import fetch_hub_repo, fetch_tag_weights, unavailable_error
from .model import IdiaModel
from .registry import ModelKey
from .specs import ACTIVATIONS, SANDBOX_DIR, ModelSpec, activation_name, builtin_config, require_packages

_DIR_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth")       # what open_clip reads from a folder
PRECISIONS = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_PRECISION_ALIASES = {"fp32": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16",
                      "float32": "float32", "float16": "float16", "bfloat16": "bfloat16"}


def normalise_precision(precision: str | None, device: torch.device) -> str:
    """``fp16``/``half`` -> ``float16`` etc.; None -> ``IDIA_PRECISION`` if set (an operator's
    choice for a server), else float16 on CUDA and float32 elsewhere."""
    if precision is None:
        precision = config.text("IDIA_PRECISION") or None
    if precision is None:
        return "float16" if device.type == "cuda" else "float32"
    name = _PRECISION_ALIASES.get(str(precision).strip().lower())
    if name is None:
        raise IdiaInputError("model_precision",
                             f"Unknown precision {quoted(precision)}. Use float32, float16 or bfloat16.")
    return name


@dataclass
class _Plan:
    """What open_clip is asked to build: a name (ARCH or local-dir:FOLDER), a weights file or None,
    the activation to build and where the trained one was read."""

    name: str
    weights: str | None
    config_quick_gelu: bool              # what the config alone would build
    trained_quick_gelu: bool | None      # the weights' record; None = no record
    source: str                          # where the trained activation was read
    preprocess: dict = field(default_factory=dict)


def build_model(spec: ModelSpec, device: torch.device, precision: str) -> IdiaModel:
    if spec.kind == "random":
        warnings.warn(
            f"Model {quoted(spec.text)} has RANDOM weights: it knows nobody. Use it for tests and benchmarks only.",
            UserWarning, stacklevel=3,
        )
    try:
        plan = _plan(spec)
        build_quick = (ACTIVATIONS[spec.activation] if spec.activation is not None
                       else plan.trained_quick_gelu if plan.trained_quick_gelu is not None
                       else plan.config_quick_gelu)
        kwargs = {}
        if build_quick != plan.config_quick_gelu:
            kwargs["quick_gelu"] = build_quick   # open_clip applies model kwargs last
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)  # ARCH:random is the same model every time
            model = open_clip.create_model(
                plan.name, pretrained=plan.weights, require_pretrained=spec.kind != "random",
                force_preprocess_cfg=plan.preprocess or None, **kwargs)
        preprocess = image_transform_v2(PreprocessCfg(**model.visual.preprocess_cfg), is_train=False)
        tokenizer = open_clip.get_tokenizer(plan.name)
    except IdiaInputError:
        raise
    except Exception as exc:
        raise unavailable_error(spec, exc) from exc
    model.eval()
    notes = _activation_notes(spec, plan, build_quick)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)   # never hidden: the CLI and logs show it too
    weights = weights_digest(model)
    dtype = PRECISIONS[precision]
    # read on the CPU, before the move: on ZeroGPU a tensor placed on "cuda" outside a GPU function
    # has no values to read (the exponent in the model's own precision, as it computes it)
    logit_scale = float(model.logit_scale.detach().to(dtype).exp().item()) if hasattr(model, "logit_scale") else 100.0
    model = model.to(device=device, dtype=dtype)
    build = ModelBuild(
        weights=weights, config=config_digest(model, tokenizer), activation=built_activation(model),
        trained_activation=None if plan.trained_quick_gelu is None else activation_name(plan.trained_quick_gelu),
        activation_source=plan.source, context_length=int(getattr(model, "context_length", 0) or 0),
        precision=precision, device=device.type, notes=tuple(notes),
    )
    return IdiaModel(spec, model, preprocess, tokenizer, device, fingerprint_of(spec, build), build,
                     logit_scale=logit_scale, key=ModelKey(spec.text, str(device), precision))


def _activation_notes(spec: ModelSpec, plan: _Plan, build_quick: bool) -> list[str]:
    built, trained = activation_name(build_quick), plan.trained_quick_gelu
    if trained is not None and build_quick != trained:
        extra = (" This is the paper's configuration (its notebook built these weights with GELU), for "
                 "reproducing the paper's numbers." if spec.text == PAPER_SPEC else "")
        return [f"{quoted(spec.text)} is built with {built} although its weights were trained with "
                f"{activation_name(trained)} ({plan.source}), as the spec asks: its verdicts are those of a "
                f"model nobody trained.{extra}"]
    if trained is None and spec.kind == "file" and spec.activation is None:
        return [f"{quoted(spec.text)}: a weights file carries no record of its activation; built with {built} as the "
                f"{spec.arch} config says (add +gelu or +quickgelu to the spec to choose)."]
    return []


def _plan(spec: ModelSpec) -> _Plan:
    """Resolve a spec to local files and the activation its weights were trained with."""
    if spec.kind == "sandbox":
        if not (SANDBOX_DIR / "open_clip_config.json").is_file():
            raise ModelUnavailableError(
                "model_sandbox_missing",
                "The embedded sandbox model is missing from this checkout. Rebuild it with "
                "`python -m idia_core sandbox build` (CPU, about 10 minutes).",
            )
        return _folder_plan(SANDBOX_DIR, spec, "the sandbox model's open_clip_config.json")
    if spec.kind == "local-dir":
        folder = Path(spec.path)
        if not (folder / "open_clip_config.json").is_file():
            raise ModelUnavailableError(
                "model_dir_invalid",
                f"{quoted(spec.text)}: {folder} has no open_clip_config.json. A local model folder needs that "
                "file and a weights file (open_clip_model.safetensors).",
            )
        return _folder_plan(folder.resolve(), spec, f"{folder}/open_clip_config.json")
    if spec.kind == "hf-hub":
        return _folder_plan(fetch_hub_repo(spec), spec, f"open_clip_config.json of {spec.repo}")
    config_quick = bool(builtin_config(spec.arch).get("quick_gelu", False))
    if spec.kind == "file":
        if not Path(spec.path).is_file():
            raise ModelUnavailableError("model_file_missing", f"{quoted(spec.text)}: no weights file at {spec.path}.")
        return _Plan(spec.arch, spec.path, config_quick, None, f"the {spec.arch} architecture config")
    if spec.kind == "pretrained":
        tag_cfg = open_clip.get_pretrained_cfg(spec.arch, spec.tag)
        keys = set(asdict(open_clip.transform.PreprocessCfg()))
        preprocess = {k: v for k, v in tag_cfg.items() if k in keys}
        return _Plan(spec.arch, fetch_tag_weights(spec, tag_cfg), config_quick,
                     bool(tag_cfg.get("quick_gelu", False)), f"open_clip's record of {spec.arch}:{spec.tag}",
                     preprocess)
    return _Plan(spec.arch, None, config_quick, None, f"the {spec.arch} architecture config")  # random


def _folder_plan(folder: Path, spec: ModelSpec, source: str) -> _Plan:
    """A folder in open_clip's layout; its config's ``quick_gelu`` is the weights' own record."""
    found = [p for p in folder.iterdir() if p.suffix in _DIR_WEIGHT_SUFFIXES and p.is_file()]
    if not found:
        others = sorted(p.name for p in folder.iterdir() if p.suffix == ".pt")
        hint = (f" open_clip does not read {', '.join(others)} from a folder: save the state dict as "
                "open_clip_model.safetensors (or .bin/.pth), or name the file directly as ARCH:PATH."
                if others else "")
        raise ModelUnavailableError(
            "model_dir_no_weights",
            f"{quoted(spec.text)}: {folder} has a config but no weights file open_clip would load "
            f"(.safetensors, .bin or .pth).{hint}",
        )
    try:
        cfg = json.loads((folder / "open_clip_config.json").read_text(encoding="utf-8"))
        model_cfg = cfg["model_cfg"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelUnavailableError(
            "model_dir_invalid", f"{quoted(spec.text)}: {folder}/open_clip_config.json has no usable model_cfg ({exc})."
        ) from None
    require_packages(source, model_cfg, spec.text)
    quick = bool(model_cfg.get("quick_gelu", False))
    return _Plan(f"local-dir:{folder}", None, quick, quick, source)
