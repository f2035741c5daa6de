"""Exact, fast text encoding for causal CLIP text towers, and batched image encoding.

open_clip pads every prompt to the context length (77) and runs the whole padded sequence. With a
causal attention mask, position i attends only to positions <= i, so the tokens after the pooled
end-of-text position cannot change its output: running only up to the longest real prompt of a
batch gives the same embedding. Prompts are sorted by length so that batches are tight. Towers for
which this does not hold (bidirectional, padding masks, appended CLS tokens, HF towers) use the
stock ``encode_text``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class _TextTower:
    token_embedding: torch.nn.Module
    positional_embedding: torch.Tensor
    transformer: torch.nn.Module
    ln_final: torch.nn.Module
    text_projection: object
    attn_mask: torch.Tensor
    pool_type: str
    eos_id: int | None


def causal_text_tower(model) -> _TextTower | None:
    """The pieces of a causal text tower whose padding can be cut, or None when it cannot."""
    owner = getattr(model, "text", None)
    if owner is None:
        owner = model
        pool_type = getattr(model, "text_pool_type", "argmax")
        eos_id = getattr(model, "text_eos_id", None)
    else:
        if getattr(owner, "cls_emb", None) is not None or getattr(owner, "use_pad_mask", False):
            return None
        pool_type = getattr(owner, "pool_type", "argmax")
        eos_id = getattr(owner, "eos_id", None)
    needed = ("token_embedding", "positional_embedding", "transformer", "ln_final", "attn_mask")
    if not all(hasattr(owner, n) for n in needed):
        return None
    if owner.attn_mask is None or pool_type not in ("argmax", "eos"):
        return None
    if pool_type == "eos" and eos_id is None:
        return None
    return _TextTower(
        token_embedding=owner.token_embedding,
        positional_embedding=owner.positional_embedding,
        transformer=owner.transformer,
        ln_final=owner.ln_final,
        text_projection=getattr(owner, "text_projection", None),
        attn_mask=owner.attn_mask,
        pool_type=pool_type,
        eos_id=eos_id,
    )


def pooled_positions(tokens: torch.Tensor, tower: _TextTower) -> torch.Tensor:
    """Index of the token whose output is the text embedding (the end-of-text token)."""
    if tower.pool_type == "argmax":
        return tokens.argmax(dim=-1)
    return (tokens == tower.eos_id).int().argmax(dim=-1)


@torch.inference_mode()
def encode_tokens_truncated(tower: _TextTower, tokens: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Unit-norm float32 embeddings of tokenised prompts, each batch cut to its longest prompt."""
    device = tower.positional_embedding.device
    pos = pooled_positions(tokens, tower)
    order = torch.argsort(pos, stable=True)
    cast_dtype = tower.transformer.get_cast_dtype() if hasattr(tower.transformer, "get_cast_dtype") else None
    out = None
    for start in range(0, tokens.shape[0], batch_size):
        idx = order[start:start + batch_size]
        length = int(pos[idx].max()) + 1
        tok = tokens[idx, :length].to(device)
        x = tower.token_embedding(tok)
        if cast_dtype is not None:
            x = x.to(cast_dtype)
        x = x + tower.positional_embedding[:length].to(x.dtype)
        x = tower.transformer(x, attn_mask=tower.attn_mask[:length, :length])
        x = tower.ln_final(x)
        x = x[torch.arange(x.shape[0], device=x.device), pos[idx].to(x.device)]
        proj = tower.text_projection
        if proj is not None:
            x = proj(x) if isinstance(proj, torch.nn.Module) else x @ proj
        x = F.normalize(x.float(), dim=-1).cpu()
        if out is None:
            out = torch.empty(tokens.shape[0], x.shape[1], dtype=torch.float32)
        out[idx] = x
    if out is None:
        return torch.empty(0, 0)
    return out


@torch.inference_mode()
def encode_tokens_stock(model, tokens: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """open_clip's own ``encode_text`` on full-length tokens, batched."""
    device = next(model.parameters()).device
    chunks = [
        model.encode_text(tokens[i:i + batch_size].to(device), normalize=True).float().cpu()
        for i in range(0, tokens.shape[0], batch_size)
    ]
    return torch.cat(chunks) if chunks else torch.empty(0, 0)


@torch.inference_mode()
def encode_pixels(model, pixels: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    chunks = [
        model.encode_image(pixels[i:i + batch_size].to(device=device, dtype=dtype), normalize=True).float().cpu()
        for i in range(0, pixels.shape[0], batch_size)
    ]
    return torch.cat(chunks)
