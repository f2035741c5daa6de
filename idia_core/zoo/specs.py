"""Model specs: the strings that name a model, parsed and checked before anything is loaded.

- ``sandbox``                      the embedded demo model (offline, ground truth known)
- ``ARCH:TAG``                     open_clip pretrained tag, e.g. ``ViT-B-32:laion400m_e32``
- ``hf-hub:ORG/NAME``              an open_clip repo on the Hugging Face hub (or its local cache)
- ``local-dir:PATH``               a folder with ``open_clip_config.json`` and weights
- ``ARCH:PATH``                    an open_clip architecture with a weights file
- ``ARCH:random``                  random weights; benchmarks and tests only
- any of these ``+gelu`` / ``+quickgelu``  the same weights built with another activation than the
                                   one they were trained with (e.g. the paper's configuration
                                   ``ViT-B-32:laion400m_e32+gelu``); the result says so

Every spec ends in an open_clip call that reads a config and a weights file — the embedded sandbox
model is an ordinary open_clip ``local-dir`` — so what is tested on the sandbox is what runs on a
real model. open_clip (and torch behind it) is imported only where a spec needs open_clip's
registry (``ARCH:…``), so ``sandbox`` and ``hf-hub:`` specs are read without that start-up cost.
"""
from __future__ import annotations

import importlib.util
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ..echo import quoted
from ..errors import IdiaInputError

SANDBOX = "sandbox"   # the embedded model's spec (and kind)
SANDBOX_DIR = Path(__file__).resolve().parents[1] / "sandbox" / "model"   # the sandbox's own folder


def is_sandbox(spec) -> bool:
    """Whether ``spec`` names the embedded sandbox model (what ``parse_spec`` reads as that kind),
    without parsing anything else: a model object's spec or a spec string."""
    return isinstance(spec, str) and spec.strip() == SANDBOX


_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")   # files an ARCH:PATH spec may name
ACTIVATIONS = {"gelu": False, "quickgelu": True}              # spec suffix -> open_clip quick_gelu


@dataclass(frozen=True)
class ModelSpec:
    """A parsed spec. ``kind`` is one of sandbox, pretrained, hf-hub, local-dir, file, random."""

    text: str
    kind: str
    arch: str | None = None
    tag: str | None = None
    path: str | None = None
    repo: str | None = None
    activation: str | None = None   # "gelu" / "quickgelu" when the spec overrides the trained one


def parse_spec(spec: str) -> ModelSpec:
    """Parse a spec string, or raise an IdiaInputError that says what a spec looks like (or, for an
    architecture that needs packages this install lacks, what to install)."""
    if not isinstance(spec, str) or not spec.strip():
        raise IdiaInputError("model_spec_empty", "No model given. Use 'sandbox' or a spec like 'ViT-B-32:openai'.")
    text = spec.strip()
    body, activation = split_activation(text)
    parsed = _parse_body(body, text)
    if activation is not None:
        if parsed.kind == "sandbox":
            raise IdiaInputError("model_activation_sandbox",
                                 "The sandbox model is always built as it was trained; drop the '+"
                                 f"{activation}'.")
        parsed = ModelSpec(**{**asdict(parsed), "activation": activation})
    if parsed.arch is not None:
        require_packages(parsed.arch, builtin_config(parsed.arch), text)
    return parsed


def split_activation(text: str) -> tuple[str, str | None]:
    """``ViT-B-32:laion400m_e32+gelu`` -> (``ViT-B-32:laion400m_e32``, ``gelu``)."""
    body, plus, suffix = text.rpartition("+")
    if plus and suffix.strip().lower() in ACTIVATIONS and body.strip():
        return body.strip(), suffix.strip().lower()
    return text, None


def _parse_body(text: str, original: str) -> ModelSpec:
    if text == "sandbox":
        return ModelSpec(original, "sandbox", path=str(SANDBOX_DIR))
    if text.startswith("hf-hub:"):
        repo = text[len("hf-hub:"):].strip().strip("/")
        if repo.count("/") != 1 or not all(repo.split("/")):
            raise IdiaInputError("model_spec_hub", f"{quoted(original)} is not a hub id; write hf-hub:ORG/NAME.")
        return ModelSpec(original, "hf-hub", repo=repo)
    if text.startswith("local-dir:"):
        path = text[len("local-dir:"):].strip()
        if not path:
            raise IdiaInputError("model_spec_dir", "local-dir: needs a folder, e.g. local-dir:./my-model.")
        return ModelSpec(original, "local-dir", path=str(Path(path).expanduser()))
    import open_clip  # its registry, for ARCH:… specs only (module docstring)

    arch, sep, rest = text.partition(":")
    arch = arch.strip()
    if arch not in open_clip.list_models():
        close = [m for m in open_clip.list_models() if m.lower().startswith(arch.lower()[:5])][:6]
        hint = f" Similar architectures: {', '.join(close)}." if close else ""
        raise IdiaInputError(
            "model_unknown",
            f"Unknown model {quoted(original)}. Use 'sandbox', ARCH:TAG (e.g. ViT-B-32:openai), hf-hub:ORG/NAME or "
            f"local-dir:PATH.{hint}",
        )
    rest = rest.strip()
    if not sep or not rest:
        tags = open_clip.list_pretrained_tags_by_model(arch)
        raise IdiaInputError(
            "model_tag_missing",
            f"{quoted(arch)} needs weights: write {arch}:TAG. Known tags: {', '.join(tags) or 'none'} "
            f"(or {arch}:random for tests).",
        )
    if rest == "random":
        return ModelSpec(original, "random", arch=arch)
    if rest in open_clip.list_pretrained_tags_by_model(arch):
        return ModelSpec(original, "pretrained", arch=arch, tag=rest)
    if rest.endswith(_WEIGHT_SUFFIXES):
        return ModelSpec(original, "file", arch=arch, path=str(Path(rest).expanduser()))
    tags = open_clip.list_pretrained_tags_by_model(arch)
    raise IdiaInputError(
        "model_tag_unknown",
        f"{quoted(rest)} is not a known tag for {arch}. Known tags: {', '.join(tags) or 'none'}.",
    )


def builtin_config(arch: str) -> dict:
    import open_clip  # its registry; on first use, not at start-up (module docstring)

    return open_clip.get_model_config(arch) or {}


def require_packages(arch_or_source: str, model_cfg: dict, spec_text: str) -> None:
    """Refuse, before any download, a model whose towers or tokenizer need packages not installed
    here (SigLIP and others use Hugging Face ``transformers`` tokenizers or text towers, and
    ``timm`` image towers)."""
    text_cfg = model_cfg.get("text_cfg") or {}
    vision_cfg = model_cfg.get("vision_cfg") or {}
    needs = []
    if text_cfg.get("hf_model_name") or text_cfg.get("hf_tokenizer_name"):
        needs.append("transformers")
        if "sentencepiece" in json.dumps(text_cfg).lower() or "t5" in str(text_cfg.get("hf_tokenizer_name", "")).lower():
            needs.append("sentencepiece")
    if vision_cfg.get("timm_model_name"):
        needs.append("timm")
    missing = [pkg for pkg in needs if importlib.util.find_spec(pkg) is None]
    if missing:
        raise IdiaInputError(
            "model_needs_packages",
            f"{quoted(spec_text)} ({arch_or_source}) needs the Python package(s) {', '.join(missing)}, which this "
            f"install lacks. Install them (`pip install {' '.join(missing)}`) and try again, or choose a "
            "catalogue model (`python -m idia_core models list`).",
        )


def catalogue_activation(spec: str) -> str:
    """The activation a spec builds, from the weights' record, without loading anything:
    ``QuickGELU`` or ``GELU`` (``see open_clip_config.json`` for hub repos and folders)."""
    import open_clip  # its registry; on first use, not at start-up (module docstring)

    parsed = parse_spec(spec)
    if parsed.activation is not None:
        return "QuickGELU" if ACTIVATIONS[parsed.activation] else "GELU"
    if parsed.kind == "pretrained":
        return activation_name(bool(open_clip.get_pretrained_cfg(parsed.arch, parsed.tag).get("quick_gelu", False)))
    if parsed.kind == "sandbox":
        cfg = json.loads((SANDBOX_DIR / "open_clip_config.json").read_text(encoding="utf-8"))["model_cfg"]
        return activation_name(bool(cfg.get("quick_gelu", False)))
    if parsed.kind in ("random", "file"):
        return activation_name(bool(builtin_config(parsed.arch).get("quick_gelu", False)))
    return "as in its open_clip_config.json"


def activation_name(quick_gelu: bool) -> str:
    return "QuickGELU" if quick_gelu else "GELU"


LOCAL_SPEC_KINDS = ("local-dir", "file")


def check_public_spec(spec: str, *, allow_local: bool) -> ModelSpec:
    """A spec a visitor of a shared server may ask for: anything but files on the server's own disk
    (``local-dir:``, ``ARCH:/path``) unless the operator allows them."""
    parsed = parse_spec(spec)
    if parsed.kind in LOCAL_SPEC_KINDS and not allow_local:
        raise IdiaInputError(
            "model_local_refused",
            f"{quoted(parsed.text)} points at files on this server, which visitors cannot load. Use a catalogue "
            "model, ARCH:TAG (e.g. ViT-B-32:openai) or hf-hub:ORG/NAME; or run idia yourself "
            "(local models work there, or set IDIA_ALLOW_LOCAL_MODELS=1).",
        )
    return parsed
