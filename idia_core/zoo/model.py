"""A loaded model: the two encoders the attack needs, with unit-norm float32 outputs.

``encode_texts`` runs prompts through the exact fast path of ``encoding`` where the text tower
allows it (open_clip's own ``encode_text`` otherwise); ``encode_images`` runs the model's own
preprocessing and image tower. Both count what they encode (tests and benchmarks read the counts).
"""
from __future__ import annotations

import threading

import torch
from open_clip.tokenizer import SimpleTokenizer

from ..images import Photo
from .encoding import causal_text_tower, encode_pixels, encode_tokens_fast, encode_tokens_stock
from .fingerprints import ModelBuild
from .specs import ModelSpec


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
    return isinstance(tokenizer, SimpleTokenizer)


def default_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
