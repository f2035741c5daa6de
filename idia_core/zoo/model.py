"""A loaded model: the two encoders the attack needs, with unit-norm float32 outputs.

``encode_texts`` tokenises and ``encode_images`` preprocesses here, in the calling process; the
tensor work itself (``gpu.embed_tokens``: the exact fast path of ``encoding`` where the text tower
allows it, open_clip's own ``encode_text`` otherwise; ``gpu.embed_pixels``: the image tower) runs
through the process's GPU boundary (``gpu.current()``): in this process, or on a GPU worker. Both
count what they encode (tests and benchmarks read the counts).
"""
from __future__ import annotations

import threading

import numpy as np
import torch
from open_clip.tokenizer import SimpleTokenizer

from ..images import Photo
from . import gpu, registry
from .encoding import causal_text_tower, encode_tokens_stock
from .fingerprints import ModelBuild
from .registry import ModelKey
from .specs import ModelSpec


class IdiaModel:
    """A loaded CLIP model with the two encoders the attack needs (unit-norm float32 outputs)."""

    def __init__(self, spec: ModelSpec, model, preprocess, tokenizer, device: torch.device, fingerprint: str,
                 build: ModelBuild | None = None, *, logit_scale: float | None = None, key: ModelKey | None = None):
        self.spec = spec.text
        self.parsed_spec = spec
        self.model = model
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.device = device
        self.fingerprint = fingerprint   # weights + function-changing config + precision (see ModelBuild)
        self.build = build
        if logit_scale is None:
            logit_scale = float(model.logit_scale.exp().item()) if hasattr(model, "logit_scale") else 100.0
        self.logit_scale = logit_scale
        self.text_tower = causal_text_tower(model) if _tokenizer_is_plain(tokenizer) else None
        self.texts_encoded = 0   # prompts actually run through the text tower (cache misses)
        self.images_encoded = 0
        self._lock = threading.Lock()
        self.key = key or ModelKey(self.spec, str(device), self.precision)
        registry.remember(self.key, self)   # found by key wherever the GPU boundary runs the work

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
        return self.text_tower is not None

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        return self.tokenizer(list(texts))

    def encode_texts(self, texts: list[str], batch_size: int = 256) -> torch.Tensor:
        """[N] prompts → [N, D] unit-norm float32 embeddings (through the GPU boundary)."""
        if not texts:
            return torch.empty(0, self.embed_dim)
        tokens = self.tokenize(texts).numpy()
        with self._lock:
            self.texts_encoded += len(texts)
        return torch.from_numpy(self._across_boundary(gpu.embed_tokens, tokens, batch_size))

    def encode_texts_stock(self, texts: list[str], batch_size: int = 256) -> torch.Tensor:
        """open_clip's own path, for comparisons and benchmarks."""
        with self._lock:
            return encode_tokens_stock(self.model, self.tokenize(texts), batch_size)

    def encode_images(self, images, batch_size: int = 32) -> torch.Tensor:
        """[N] photos (``Photo`` or PIL images) → [N, D] unit-norm float32 embeddings, preprocessed
        here by the model's own transform, embedded through the GPU boundary."""
        pils = [im.image if isinstance(im, Photo) else im for im in images]
        if not pils:
            return torch.empty(0, self.embed_dim)
        pixels = torch.stack([self.preprocess(im.convert("RGB")) for im in pils]).numpy()
        with self._lock:
            self.images_encoded += len(pils)
        return torch.from_numpy(self._across_boundary(gpu.embed_pixels, pixels, batch_size))

    def _across_boundary(self, fn, array: np.ndarray, batch_size: int) -> np.ndarray:
        boundary = gpu.current()
        if boundary.forks:   # a worker elsewhere: concurrent calls may each get a GPU
            return boundary.run(fn, self.key, array, batch_size)
        with self._lock:     # here: one encoding of this model at a time
            return boundary.run(fn, self.key, array, batch_size)

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
    return isinstance(tokenizer, SimpleTokenizer)


def default_device() -> torch.device:
    """CUDA where this process has it, or where the GPU boundary lends it (ZeroGPU: models are
    placed on "cuda" in the server process, and become real on the GPU inside its workers)."""
    if gpu.current().lends_cuda or torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")
