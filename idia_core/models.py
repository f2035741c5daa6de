"""The model zoo: model specs, a curated catalogue, and loading through open_clip.

Every spec ends in an open_clip call that reads a config and a weights file — the embedded sandbox
model is an ordinary open_clip ``local-dir`` — so what is tested on the sandbox is what runs on a
real model. Specs:

- ``sandbox``                      the embedded demo model (offline, ground truth known)
- ``ARCH:TAG``                     open_clip pretrained tag, e.g. ``ViT-B-32:laion400m_e32``
- ``hf-hub:ORG/NAME``              an open_clip repo on the Hugging Face hub (or its local cache)
- ``local-dir:PATH``               a folder with ``open_clip_config.json`` and weights
- ``ARCH:PATH``                    an open_clip architecture with a weights file
- ``ARCH:random``                  random weights; benchmarks and tests only
- any of these ``+gelu`` / ``+quickgelu``  the same weights built with another activation than the
                                   one they were trained with (e.g. the paper's configuration
                                   ``ViT-B-32:laion400m_e32+gelu``); the result says so

Every model is built as its weights were trained: the activation comes from the weights' own
record — open_clip's ``quick_gelu`` flag of a pretrained tag, or the ``model_cfg`` of the repo's or
folder's ``open_clip_config.json`` — never from the bare architecture name (``ViT-B-32`` alone
builds GELU, while its ``openai`` and ``laion400m_*`` weights were trained with QuickGELU).

A loaded model carries a ``ModelBuild``: the digest of its weights, the function-changing config as
built (module types, activation, context length, preprocessing, tokenizer) and its precision and
device. Its ``fingerprint`` covers all three, so text caches and reports never mix two builds.

Downloads go through huggingface_hub and its cache. Before any download one quick reachability
probe of the hub runs (remembered for a few minutes); with no hub reachable, or ``HF_HUB_OFFLINE``
set, only the local cache is read, and a missing model is a ``ModelUnavailableError`` at once that
names it and says how to get it.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import threading
import time
import warnings
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import torch

from .encoding import causal_text_tower, encode_pixels, encode_tokens_stock, encode_tokens_fast
from .errors import IdiaInputError, ModelUnavailableError

SANDBOX_DIR = Path(__file__).resolve().parent / "sandbox" / "model"
WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.safetensors",
                "open_clip_pytorch_model.bin", "open_clip_pytorch_model.pth")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")   # files an ARCH:PATH spec may name
_DIR_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth")       # what open_clip reads from a folder
ACTIVATIONS = {"gelu": False, "quickgelu": True}              # spec suffix -> open_clip quick_gelu
PRECISIONS = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_PRECISION_ALIASES = {"fp32": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16",
                      "float32": "float32", "float16": "float16", "bfloat16": "bfloat16"}
log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class CatalogueEntry:
    spec: str
    label: str
    description: str

    @property
    def activation(self) -> str:
        """The activation this entry builds (from open_clip's record of the tag, or its override)."""
        return catalogue_activation(self.spec)


PAPER_SPEC = "ViT-B-32:laion400m_e32+gelu"
CATALOGUE: tuple[CatalogueEntry, ...] = (
    CatalogueEntry("sandbox", "Sandbox CLIP (embedded)",
                   "Small CLIP trained by idia on a synthetic world; works offline, every verdict checkable."),
    CatalogueEntry("ViT-B-32:laion400m_e32", "OpenCLIP ViT-B/32 · LAION-400M",
                   "One of the paper's three LAION-400M models (ViT-B/32, 32 epochs), built as trained "
                   "(QuickGELU)."),
    CatalogueEntry(PAPER_SPEC, "ViT-B/32 · LAION-400M · the paper's configuration (GELU)",
                   "The same weights built with GELU, as the paper's notebook built them (open_clip of "
                   "2023 ignored the tag's QuickGELU): for reproducing the paper's numbers, not the "
                   "model as trained."),
    CatalogueEntry("ViT-B-16:laion400m_e32", "OpenCLIP ViT-B/16 · LAION-400M",
                   "The paper's LAION-400M ViT-B/16."),
    CatalogueEntry("ViT-L-14:laion400m_e32", "OpenCLIP ViT-L/14 · LAION-400M",
                   "The paper's LAION-400M ViT-L/14, its largest model."),
    CatalogueEntry("ViT-B-32:openai", "OpenAI CLIP ViT-B/32",
                   "OpenAI's original CLIP, trained on a private 400M-pair dataset."),
    CatalogueEntry("ViT-B-16:openai", "OpenAI CLIP ViT-B/16", "OpenAI's CLIP ViT-B/16."),
    CatalogueEntry("ViT-L-14:openai", "OpenAI CLIP ViT-L/14", "OpenAI's CLIP ViT-L/14."),
    CatalogueEntry("ViT-B-32:laion2b_s34b_b79k", "OpenCLIP ViT-B/32 · LAION-2B",
                   "ViT-B/32 trained on the English LAION-2B subset (34B samples seen)."),
    CatalogueEntry("ViT-L-14:laion2b_s32b_b82k", "OpenCLIP ViT-L/14 · LAION-2B",
                   "ViT-L/14 trained on the English LAION-2B subset (32B samples seen)."),
)


def parse_spec(spec: str) -> ModelSpec:
    """Parse a spec string, or raise an IdiaInputError that says what a spec looks like (or, for an
    architecture that needs packages this install lacks, what to install)."""
    if not isinstance(spec, str) or not spec.strip():
        raise IdiaInputError("model_spec_empty", "No model given. Use 'sandbox' or a spec like 'ViT-B-32:openai'.")
    text = spec.strip()
    body, activation = _split_activation(text)
    parsed = _parse_body(body, text)
    if activation is not None:
        if parsed.kind == "sandbox":
            raise IdiaInputError("model_activation_sandbox",
                                 "The sandbox model is always built as it was trained; drop the '+"
                                 f"{activation}'.")
        parsed = ModelSpec(**{**asdict(parsed), "activation": activation})
    if parsed.arch is not None:
        _require_packages(parsed.arch, _builtin_config(parsed.arch), text)
    return parsed


def _split_activation(text: str) -> tuple[str, str | None]:
    """``ViT-B-32:laion400m_e32+gelu`` -> (``ViT-B-32:laion400m_e32``, ``gelu``)."""
    body, plus, suffix = text.rpartition("+")
    if plus and suffix.strip().lower() in ACTIVATIONS and body.strip():
        return body.strip(), suffix.strip().lower()
    return text, None


def _parse_body(text: str, original: str) -> ModelSpec:
    import open_clip

    if text == "sandbox":
        return ModelSpec(original, "sandbox", path=str(SANDBOX_DIR))
    if text.startswith("hf-hub:"):
        repo = text[len("hf-hub:"):].strip().strip("/")
        if repo.count("/") != 1 or not all(repo.split("/")):
            raise IdiaInputError("model_spec_hub", f"'{original}' is not a hub id; write hf-hub:ORG/NAME.")
        return ModelSpec(original, "hf-hub", repo=repo)
    if text.startswith("local-dir:"):
        path = text[len("local-dir:"):].strip()
        if not path:
            raise IdiaInputError("model_spec_dir", "local-dir: needs a folder, e.g. local-dir:./my-model.")
        return ModelSpec(original, "local-dir", path=str(Path(path).expanduser()))
    arch, sep, rest = text.partition(":")
    arch = arch.strip()
    if arch not in open_clip.list_models():
        close = [m for m in open_clip.list_models() if m.lower().startswith(arch.lower()[:5])][:6]
        hint = f" Similar architectures: {', '.join(close)}." if close else ""
        raise IdiaInputError(
            "model_unknown",
            f"Unknown model '{original}'. Use 'sandbox', ARCH:TAG (e.g. ViT-B-32:openai), hf-hub:ORG/NAME or "
            f"local-dir:PATH.{hint}",
        )
    rest = rest.strip()
    if not sep or not rest:
        tags = open_clip.list_pretrained_tags_by_model(arch)
        raise IdiaInputError(
            "model_tag_missing",
            f"'{arch}' needs weights: write {arch}:TAG. Known tags: {', '.join(tags) or 'none'} "
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
        f"'{rest}' is not a known tag for {arch}. Known tags: {', '.join(tags) or 'none'}.",
    )


def _builtin_config(arch: str) -> dict:
    import open_clip

    return open_clip.get_model_config(arch) or {}


def _require_packages(arch_or_source: str, model_cfg: dict, spec_text: str) -> None:
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
            f"'{spec_text}' ({arch_or_source}) needs the Python package(s) {', '.join(missing)}, which this "
            f"install lacks. Install them (`pip install {' '.join(missing)}`) and try again, or choose a "
            "catalogue model (`python -m idia_core models list`).",
        )


def catalogue_activation(spec: str) -> str:
    """The activation a spec builds, from the weights' record, without loading anything:
    ``QuickGELU`` or ``GELU`` (``see open_clip_config.json`` for hub repos and folders)."""
    import open_clip

    parsed = parse_spec(spec)
    if parsed.activation is not None:
        return "QuickGELU" if ACTIVATIONS[parsed.activation] else "GELU"
    if parsed.kind == "pretrained":
        return _activation_name(bool(open_clip.get_pretrained_cfg(parsed.arch, parsed.tag).get("quick_gelu", False)))
    if parsed.kind == "sandbox":
        cfg = json.loads((SANDBOX_DIR / "open_clip_config.json").read_text(encoding="utf-8"))["model_cfg"]
        return _activation_name(bool(cfg.get("quick_gelu", False)))
    if parsed.kind in ("random", "file"):
        return _activation_name(bool(_builtin_config(parsed.arch).get("quick_gelu", False)))
    return "as in its open_clip_config.json"


def _activation_name(quick_gelu: bool) -> str:
    return "QuickGELU" if quick_gelu else "GELU"


def normalise_precision(precision: str | None, device: torch.device) -> str:
    """``fp16``/``half`` -> ``float16`` etc.; None -> float16 on CUDA, float32 elsewhere."""
    if precision is None:
        return "float16" if device.type == "cuda" else "float32"
    name = _PRECISION_ALIASES.get(str(precision).strip().lower())
    if name is None:
        raise IdiaInputError("model_precision",
                             f"Unknown precision '{precision}'. Use float32, float16 or bfloat16.")
    return name


class IdiaModel:
    """A loaded CLIP model with the two encoders the attack needs (unit-norm float32 outputs)."""

    def __init__(self, spec: ModelSpec, model, preprocess, tokenizer, device: torch.device, fingerprint: str,
                 build: ModelBuild | None = None):
        self.spec = spec.text
        self.parsed_spec = spec
        self.model = model
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.device = device
        self.fingerprint = fingerprint   # weights + function-changing config + precision (see ModelBuild)
        self.build = build
        self.logit_scale = float(model.logit_scale.exp().item()) if hasattr(model, "logit_scale") else 100.0
        self._tower = causal_text_tower(model) if _tokenizer_is_plain(tokenizer) else None
        self.texts_encoded = 0   # prompts actually run through the text tower (cache misses)
        self.images_encoded = 0
        self._lock = threading.Lock()

    @property
    def precision(self) -> str:
        return self.build.precision if self.build else str(next(self.model.parameters()).dtype).replace("torch.", "")

    @property
    def weights_only_fingerprint(self) -> str | None:
        """The fingerprint idia recorded before builds were fingerprinted (weights only), for
        verifying older evidence bundles."""
        return f"{self.parsed_spec.arch or 'clip'}-{self.build.weights}" if self.build else None

    @property
    def notes(self) -> tuple[str, ...]:
        """Sentences the result must carry (e.g. an activation other than the trained one)."""
        return self.build.notes if self.build else ()

    @property
    def fast_text(self) -> bool:
        """Whether prompts are encoded with the exact padding cut (see ``encoding``)."""
        return self._tower is not None

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        return self.tokenizer(list(texts))

    def encode_texts(self, texts: list[str], batch_size: int = 256) -> torch.Tensor:
        if not texts:
            return torch.empty(0, self.embed_dim)
        tokens = self.tokenize(texts)
        with self._lock:
            self.texts_encoded += len(texts)
            if self._tower is not None:
                return encode_tokens_fast(self._tower, tokens, batch_size)
            return encode_tokens_stock(self.model, tokens, batch_size)

    def encode_texts_stock(self, texts: list[str], batch_size: int = 256) -> torch.Tensor:
        """open_clip's own path, for comparisons and benchmarks."""
        with self._lock:
            return encode_tokens_stock(self.model, self.tokenize(texts), batch_size)

    def encode_images(self, images, batch_size: int = 32) -> torch.Tensor:
        from .images import Photo

        pils = [im.image if isinstance(im, Photo) else im for im in images]
        if not pils:
            return torch.empty(0, self.embed_dim)
        pixels = torch.stack([self.preprocess(im.convert("RGB")) for im in pils])
        with self._lock:
            self.images_encoded += len(pils)
            return encode_pixels(self.model, pixels, batch_size)

    @property
    def embed_dim(self) -> int:
        proj = getattr(self.model, "text_projection", None)
        if proj is None and hasattr(self.model, "text"):
            proj = getattr(self.model.text, "text_projection", None)
        if isinstance(proj, torch.nn.Linear):
            return proj.out_features
        if isinstance(proj, torch.Tensor):
            return proj.shape[1]
        return int(getattr(self.model, "embed_dim", 0) or 0)

    def __repr__(self) -> str:
        return f"IdiaModel(spec={self.spec!r}, fingerprint={self.fingerprint!r}, device={self.device})"


def _tokenizer_is_plain(tokenizer) -> bool:
    """True for open_clip's BPE tokenizer, whose end-of-text token has the highest id."""
    from open_clip.tokenizer import SimpleTokenizer

    return isinstance(tokenizer, SimpleTokenizer)


def default_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


_LOADED: "OrderedDict[tuple[str, str, str], IdiaModel]" = OrderedDict()
_LOAD_LOCK = threading.Lock()                      # guards _LOADED and _SPEC_LOCKS only, never a load
_SPEC_LOCKS: dict[tuple[str, str, str], threading.Lock] = {}
MAX_LOADED_MODELS = 4


def load_model(spec: str | ModelSpec, device: str | torch.device | None = None,
               precision: str | None = None) -> IdiaModel:
    """Load (once per process) the model a spec names, built as its weights were trained, in
    ``precision`` (float32/float16/bfloat16; default float16 on CUDA, float32 elsewhere).
    Raises IdiaInputError/ModelUnavailableError: ``model_not_cached`` (offline and not in the cache,
    within a second or two), ``model_dir_no_weights`` (no weights file open_clip would read: every
    spec but ``ARCH:random`` must load a checkpoint, strictly, so no parameter keeps its random
    init), ``model_load_failed`` (e.g. a parameter missing from the file), ``model_needs_packages``.

    A slow load (a download, a large model's hashing) holds only its own spec's lock: other callers
    of other models, or of models already loaded, are served meanwhile."""
    parsed = spec if isinstance(spec, ModelSpec) else parse_spec(spec)
    dev = torch.device(device) if device is not None else default_device()
    prec = normalise_precision(precision, dev)
    key = (parsed.text, str(dev), prec)
    with _LOAD_LOCK:
        model = _LOADED.get(key)
        if model is not None:
            _LOADED.move_to_end(key)
            return model
        spec_lock = _SPEC_LOCKS.setdefault(key, threading.Lock())
    with spec_lock:  # one load per spec; a second caller waits for it instead of loading again
        with _LOAD_LOCK:
            model = _LOADED.get(key)
        if model is None:
            model = _load_uncached(parsed, dev, prec)
        with _LOAD_LOCK:
            _LOADED[key] = model
            _LOADED.move_to_end(key)
            while len(_LOADED) > MAX_LOADED_MODELS:
                _LOADED.popitem(last=False)
            _SPEC_LOCKS.pop(key, None)
        return model


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


def _load_uncached(spec: ModelSpec, device: torch.device, precision: str) -> IdiaModel:
    import open_clip
    from open_clip.transform import PreprocessCfg, image_transform_v2

    if spec.kind == "random":
        warnings.warn(
            f"Model '{spec.text}' has RANDOM weights: it knows nobody. Use it for tests and benchmarks only.",
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
        raise _unavailable(spec, exc) from exc
    model.eval()
    notes = _activation_notes(spec, plan, build_quick)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)   # never hidden: the CLI and logs show it too
    weights = _weights_digest(model)
    dtype = PRECISIONS[precision]
    model = model.to(device=device, dtype=dtype)
    build = ModelBuild(
        weights=weights, config=_config_digest(model, tokenizer), activation=_built_activation(model),
        trained_activation=None if plan.trained_quick_gelu is None else _activation_name(plan.trained_quick_gelu),
        activation_source=plan.source, context_length=int(getattr(model, "context_length", 0) or 0),
        precision=precision, device=device.type, notes=tuple(notes),
    )
    return IdiaModel(spec, model, preprocess, tokenizer, device, fingerprint_of(spec, build), build)


def _activation_notes(spec: ModelSpec, plan: _Plan, build_quick: bool) -> list[str]:
    built, trained = _activation_name(build_quick), plan.trained_quick_gelu
    if trained is not None and build_quick != trained:
        extra = (" This is the paper's configuration (its notebook built these weights with GELU), for "
                 "reproducing the paper's numbers." if spec.text == PAPER_SPEC else "")
        return [f"'{spec.text}' is built with {built} although its weights were trained with "
                f"{_activation_name(trained)} ({plan.source}), as the spec asks: its verdicts are those of a "
                f"model nobody trained.{extra}"]
    if trained is None and spec.kind == "file" and spec.activation is None:
        return [f"'{spec.text}': a weights file carries no record of its activation; built with {built} as the "
                f"{spec.arch} config says (add +gelu or +quickgelu to the spec to choose)."]
    return []


def _plan(spec: ModelSpec) -> _Plan:
    """Resolve a spec to local files and the activation its weights were trained with."""
    import open_clip

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
                f"'{spec.text}': {folder} has no open_clip_config.json. A local model folder needs that "
                "file and a weights file (open_clip_model.safetensors).",
            )
        return _folder_plan(folder.resolve(), spec, f"{folder}/open_clip_config.json")
    if spec.kind == "hf-hub":
        return _folder_plan(_fetch_hub_repo(spec), spec, f"open_clip_config.json of {spec.repo}")
    config_quick = bool(_builtin_config(spec.arch).get("quick_gelu", False))
    if spec.kind == "file":
        if not Path(spec.path).is_file():
            raise ModelUnavailableError("model_file_missing", f"'{spec.text}': no weights file at {spec.path}.")
        return _Plan(spec.arch, spec.path, config_quick, None, f"the {spec.arch} architecture config")
    if spec.kind == "pretrained":
        tag_cfg = open_clip.get_pretrained_cfg(spec.arch, spec.tag)
        keys = set(asdict(open_clip.transform.PreprocessCfg()))
        preprocess = {k: v for k, v in tag_cfg.items() if k in keys}
        return _Plan(spec.arch, _fetch_tag_weights(spec, tag_cfg), config_quick,
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
            f"'{spec.text}': {folder} has a config but no weights file open_clip would load "
            f"(.safetensors, .bin or .pth).{hint}",
        )
    try:
        cfg = json.loads((folder / "open_clip_config.json").read_text(encoding="utf-8"))
        model_cfg = cfg["model_cfg"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelUnavailableError(
            "model_dir_invalid", f"'{spec.text}': {folder}/open_clip_config.json has no usable model_cfg ({exc})."
        ) from None
    _require_packages(source, model_cfg, spec.text)
    quick = bool(model_cfg.get("quick_gelu", False))
    return _Plan(f"local-dir:{folder}", None, quick, quick, source)


# -- the hub: one quick reachability probe, then the cache only when it fails ----------------------
PROBE_TIMEOUT_S = 1.0
PROBE_TTL_S = 300.0
_probe_memo: dict[str, tuple[float, bool]] = {}
_probe_lock = threading.Lock()


def hub_offline() -> bool:
    """True when only the local cache may be read: ``HF_HUB_OFFLINE`` is set, or the hub's endpoint
    did not answer a quick probe (at most ``PROBE_TIMEOUT_S``; remembered ``PROBE_TTL_S``)."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return True
    return not endpoint_reachable(constants.ENDPOINT)


def endpoint_reachable(url: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to ``url``'s host opens within ``timeout`` seconds (DNS included:
    the probe runs in a daemon thread, so a hanging resolver cannot hold the caller)."""
    import socket

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    proxy = os.environ.get("HTTPS_PROXY" if parts.scheme == "https" else "HTTP_PROXY") or \
        os.environ.get("https_proxy" if parts.scheme == "https" else "http_proxy")
    if proxy:  # the hub is reached through the proxy: probe that
        pp = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = pp.hostname or host, pp.port or 80
    key = f"{host}:{port}"
    now = time.monotonic()
    with _probe_lock:
        memo = _probe_memo.get(key)
        if memo is not None and now - memo[0] < PROBE_TTL_S:
            return memo[1]
    result = {"ok": False}

    def probe():
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result["ok"] = True
        except OSError:
            pass

    worker = threading.Thread(target=probe, daemon=True, name="idia-hub-probe")
    worker.start()
    worker.join(timeout)
    ok = bool(result["ok"]) and not worker.is_alive()
    with _probe_lock:
        _probe_memo[key] = (time.monotonic(), ok)
    return ok


def _hub_file(repo: str, filename: str) -> str:
    from huggingface_hub import hf_hub_download

    return hf_hub_download(repo, filename, local_files_only=hub_offline())


def _fetch_hub_repo(spec: ModelSpec) -> Path:
    """Config + weights of an open_clip hub repo, from the local cache or the hub."""
    config = _hub_file(spec.repo, "open_clip_config.json")
    folder = Path(config).parent
    last: Exception | None = None
    for filename in WEIGHT_FILES:
        try:
            _hub_file(spec.repo, filename)
            return folder
        except Exception as exc:  # try the next conventional name
            last = exc
    raise FileNotFoundError(f"no open_clip weights file in {spec.repo}: {last}")


def _fetch_tag_weights(spec: ModelSpec, tag_cfg: dict) -> str:
    """The local weights file of a pretrained tag, found the way open_clip finds it (hub repo first,
    safetensors before pickles; else the tag's URL into open_clip's cache) but without waiting on an
    unreachable network."""
    from open_clip import pretrained as ocp

    hub = tag_cfg.get("hf_hub", "")
    if hub:
        repo, filename = os.path.split(hub)
        candidates = list(ocp._get_safe_alternatives(filename or ocp.HF_WEIGHTS_NAME)) + [filename or ocp.HF_WEIGHTS_NAME]
        last: Exception | None = None
        for name in candidates:
            try:
                return _hub_file(repo, name)
            except Exception as exc:
                last = exc
        raise FileNotFoundError(f"no weights for {spec.text} in {repo}: {last}")
    url = tag_cfg.get("url", "")
    if not url:
        raise FileNotFoundError(f"open_clip records no source for {spec.text}")
    cached = Path(os.path.expanduser("~/.cache/clip")) / os.path.basename(url)
    if cached.is_file():
        return str(cached)
    if not endpoint_reachable(url):
        raise FileNotFoundError(f"{spec.text} is not cached and {urlsplit(url).hostname} could not be reached (offline)")
    return ocp.download_pretrained_from_url(url)


def _unavailable(spec: ModelSpec, exc: Exception) -> ModelUnavailableError:
    chain = []
    cur: BaseException | None = exc
    while cur is not None and len(chain) < 6:
        chain.append(f"{type(cur).__name__}: {cur}")
        cur = cur.__cause__ or cur.__context__
    detail = " ".join(chain).lower()
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    if "required pretrained weights" in detail:
        return ModelUnavailableError(
            "model_dir_no_weights",
            f"'{spec.text}': open_clip found no weights to load, so it would have run a random model. "
            "Give a folder with open_clip_model.safetensors (or .bin/.pth), or a weights file ARCH:PATH.",
        )
    if any(s in detail for s in ("localentrynotfound", "offline", "connect", "resolve", "failed to download",
                                 "cannot find the requested files", "name or service", "no open_clip weights",
                                 "not cached", "no weights for")):
        where = "offline mode is on (HF_HUB_OFFLINE=1)" if offline else "no model hub could be reached"
        return ModelUnavailableError(
            "model_not_cached",
            f"The model '{spec.text}' is not in the local Hugging Face cache and {where}. On a machine with "
            f"internet access, load it once (e.g. `python -m idia_core models fetch {spec.text}`) and copy its "
            "Hugging Face cache folder here (or point HF_HOME at it). The embedded 'sandbox' model always "
            "works offline.",
        )
    return ModelUnavailableError(
        "model_load_failed", f"The model '{spec.text}' could not be loaded: {chain[0] if chain else exc}."
    )


# -- fingerprints ------------------------------------------------------------------------------------
def _weights_digest(model) -> str:
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


def _config_digest(model, tokenizer) -> str:
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


def _built_activation(model) -> str:
    """The activation the text and image MLPs compute, read off the built modules."""
    from open_clip.transformer import QuickGELU

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


LOCAL_SPEC_KINDS = ("local-dir", "file")


def check_public_spec(spec: str, *, allow_local: bool) -> ModelSpec:
    """A spec a visitor of a shared server may ask for: anything but files on the server's own disk
    (``local-dir:``, ``ARCH:/path``) unless the operator allows them."""
    parsed = parse_spec(spec)
    if parsed.kind in LOCAL_SPEC_KINDS and not allow_local:
        raise IdiaInputError(
            "model_local_refused",
            f"'{parsed.text}' points at files on this server, which visitors cannot load. Use a catalogue "
            "model, ARCH:TAG (e.g. ViT-B-32:openai) or hf-hub:ORG/NAME; or run idia yourself "
            "(local models work there, or set IDIA_ALLOW_LOCAL_MODELS=1).",
        )
    return parsed

