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

Downloads go through huggingface_hub and its cache; with no hub reachable, a missing model is a
``ModelUnavailableError`` that names it and says how to get it.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .encoding import causal_text_tower, encode_pixels, encode_tokens_stock, encode_tokens_fast
from .errors import IdiaInputError, ModelUnavailableError

SANDBOX_DIR = Path(__file__).resolve().parent / "sandbox" / "model"
WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.safetensors",
                "open_clip_pytorch_model.bin", "open_clip_pytorch_model.pth")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
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


@dataclass(frozen=True)
class CatalogueEntry:
    spec: str
    label: str
    description: str


CATALOGUE: tuple[CatalogueEntry, ...] = (
    CatalogueEntry("sandbox", "Sandbox CLIP (embedded)",
                   "Small CLIP trained by idia on a synthetic world; works offline, every verdict checkable."),
    CatalogueEntry("ViT-B-32:laion400m_e32", "OpenCLIP ViT-B/32 · LAION-400M",
                   "One of the paper's three LAION-400M models (ViT-B/32, 32 epochs)."),
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
    """Parse a spec string, or raise an IdiaInputError that says what a spec looks like."""
    import open_clip

    if not isinstance(spec, str) or not spec.strip():
        raise IdiaInputError("model_spec_empty", "No model given. Use 'sandbox' or a spec like 'ViT-B-32:openai'.")
    text = spec.strip()
    if text == "sandbox":
        return ModelSpec(text, "sandbox", path=str(SANDBOX_DIR))
    if text.startswith("hf-hub:"):
        repo = text[len("hf-hub:"):].strip().strip("/")
        if repo.count("/") != 1 or not all(repo.split("/")):
            raise IdiaInputError("model_spec_hub", f"'{text}' is not a hub id; write hf-hub:ORG/NAME.")
        return ModelSpec(text, "hf-hub", repo=repo)
    if text.startswith("local-dir:"):
        path = text[len("local-dir:"):].strip()
        if not path:
            raise IdiaInputError("model_spec_dir", "local-dir: needs a folder, e.g. local-dir:./my-model.")
        return ModelSpec(text, "local-dir", path=str(Path(path).expanduser()))
    arch, sep, rest = text.partition(":")
    arch = arch.strip()
    if arch not in open_clip.list_models():
        close = [m for m in open_clip.list_models() if m.lower().startswith(arch.lower()[:5])][:6]
        hint = f" Similar architectures: {', '.join(close)}." if close else ""
        raise IdiaInputError(
            "model_unknown",
            f"Unknown model '{text}'. Use 'sandbox', ARCH:TAG (e.g. ViT-B-32:openai), hf-hub:ORG/NAME or "
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
        return ModelSpec(text, "random", arch=arch)
    if rest in open_clip.list_pretrained_tags_by_model(arch):
        return ModelSpec(text, "pretrained", arch=arch, tag=rest)
    if rest.endswith(_WEIGHT_SUFFIXES):
        return ModelSpec(text, "file", arch=arch, path=str(Path(rest).expanduser()))
    tags = open_clip.list_pretrained_tags_by_model(arch)
    raise IdiaInputError(
        "model_tag_unknown",
        f"'{rest}' is not a known tag for {arch}. Known tags: {', '.join(tags) or 'none'}.",
    )


class IdiaModel:
    """A loaded CLIP model with the two encoders the attack needs (unit-norm float32 outputs)."""

    def __init__(self, spec: ModelSpec, model, preprocess, tokenizer, device: torch.device, fingerprint: str):
        self.spec = spec.text
        self.parsed_spec = spec
        self.model = model
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.device = device
        self.fingerprint = fingerprint
        self.logit_scale = float(model.logit_scale.exp().item()) if hasattr(model, "logit_scale") else 100.0
        self._tower = causal_text_tower(model) if _tokenizer_is_plain(tokenizer) else None
        self.texts_encoded = 0   # prompts actually run through the text tower (cache misses)
        self.images_encoded = 0
        self._lock = threading.Lock()

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


_LOADED: "OrderedDict[tuple[str, str], IdiaModel]" = OrderedDict()
_LOAD_LOCK = threading.Lock()                      # guards _LOADED and _SPEC_LOCKS only, never a load
_SPEC_LOCKS: dict[tuple[str, str], threading.Lock] = {}
MAX_LOADED_MODELS = 4


def load_model(spec: str | ModelSpec, device: str | torch.device | None = None) -> IdiaModel:
    """Load (once per process) the model a spec names. Raises IdiaInputError/ModelUnavailableError.

    A slow load (a download, a large model's hashing) holds only its own spec's lock: other callers
    of other models, or of models already loaded, are served meanwhile."""
    parsed = spec if isinstance(spec, ModelSpec) else parse_spec(spec)
    dev = torch.device(device) if device is not None else default_device()
    key = (parsed.text, str(dev))
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
            model = _load_uncached(parsed, dev)
        with _LOAD_LOCK:
            _LOADED[key] = model
            _LOADED.move_to_end(key)
            while len(_LOADED) > MAX_LOADED_MODELS:
                _LOADED.popitem(last=False)
            _SPEC_LOCKS.pop(key, None)
        return model


def _load_uncached(spec: ModelSpec, device: torch.device) -> IdiaModel:
    import open_clip

    if spec.kind == "random":
        warnings.warn(
            f"Model '{spec.text}' has RANDOM weights: it knows nobody. Use it for tests and benchmarks only.",
            UserWarning, stacklevel=3,
        )
    try:
        name, pretrained = _open_clip_arguments(spec)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)  # ARCH:random is the same model every time
            model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=pretrained)
        tokenizer = open_clip.get_tokenizer(name)
    except IdiaInputError:
        raise
    except Exception as exc:
        raise _unavailable(spec, exc) from exc
    model.eval()
    fingerprint = _fingerprint(spec, model)
    if device.type == "cuda":
        model = model.half()
    model = model.to(device)
    return IdiaModel(spec, model, preprocess, tokenizer, device, fingerprint)


def _open_clip_arguments(spec: ModelSpec) -> tuple[str, str | None]:
    """Resolve a spec to open_clip's (model_name, pretrained), fetching hub files into the cache."""
    if spec.kind == "sandbox":
        if not (SANDBOX_DIR / "open_clip_config.json").is_file():
            raise ModelUnavailableError(
                "model_sandbox_missing",
                "The embedded sandbox model is missing from this checkout. Rebuild it with "
                "`python -m idia_core sandbox build` (CPU, about 10 minutes).",
            )
        return f"local-dir:{SANDBOX_DIR}", None
    if spec.kind == "local-dir":
        folder = Path(spec.path)
        if not (folder / "open_clip_config.json").is_file():
            raise ModelUnavailableError(
                "model_dir_invalid",
                f"'{spec.text}': {folder} has no open_clip_config.json. A local model folder needs that "
                "file and a weights file (open_clip_model.safetensors).",
            )
        if not any(any(folder.glob(f"*{s}")) for s in _WEIGHT_SUFFIXES):
            raise ModelUnavailableError(
                "model_dir_no_weights", f"'{spec.text}': {folder} has a config but no weights file."
            )
        return f"local-dir:{folder.resolve()}", None
    if spec.kind == "hf-hub":
        return f"local-dir:{_fetch_hub_repo(spec)}", None
    if spec.kind == "file":
        if not Path(spec.path).is_file():
            raise ModelUnavailableError("model_file_missing", f"'{spec.text}': no weights file at {spec.path}.")
        return spec.arch, spec.path
    if spec.kind == "pretrained":
        return spec.arch, spec.tag
    return spec.arch, None  # random


def _fetch_hub_repo(spec: ModelSpec) -> Path:
    """Config + weights of an open_clip hub repo, from the local cache or the hub."""
    from huggingface_hub import hf_hub_download

    config = hf_hub_download(spec.repo, "open_clip_config.json")
    folder = Path(config).parent
    last: Exception | None = None
    for filename in WEIGHT_FILES:
        try:
            hf_hub_download(spec.repo, filename)
            return folder
        except Exception as exc:  # try the next conventional name
            last = exc
    raise FileNotFoundError(f"no open_clip weights file in {spec.repo}: {last}")


def _unavailable(spec: ModelSpec, exc: Exception) -> ModelUnavailableError:
    chain = []
    cur: BaseException | None = exc
    while cur is not None and len(chain) < 6:
        chain.append(f"{type(cur).__name__}: {cur}")
        cur = cur.__cause__ or cur.__context__
    detail = " ".join(chain).lower()
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    if any(s in detail for s in ("localentrynotfound", "offline", "connect", "resolve", "failed to download",
                                 "cannot find the requested files", "name or service", "no open_clip weights")):
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


def _fingerprint(spec: ModelSpec, model) -> str:
    """A stable id of the weights: a hash over every tensor (name, shape, float32 bytes)."""
    h = hashlib.blake2b(digest_size=12)
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().to("cpu")
        if t.is_floating_point():
            t = t.float()
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(np.ascontiguousarray(t.numpy()).tobytes())
    return f"{spec.arch or 'clip'}-{h.hexdigest()}"  # the same weights give the same id, whatever the spec


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

