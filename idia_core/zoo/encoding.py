"""Exact, fast text encoding for causal CLIP text towers, and batched image encoding.

Two exact shortcuts, both giving open_clip's own ``encode_text(normalize=True)`` to float rounding:
the length cut (below) and, on top of it for open_clip's plain blocks, prefix sharing (further
down). ``encode_tokens_fast`` picks the best one a tower allows.

open_clip pads every prompt to the context length (77) and runs the whole padded sequence. With a
causal attention mask, position i attends only to positions <= i, so the tokens after the pooled
end-of-text position cannot change its output: running only up to the longest real prompt of a
batch gives the same embedding. Prompts are sorted by length so that batches are tight. Towers for
which this does not hold (bidirectional, padding masks, appended CLS tokens, HF towers) use the
stock ``encode_text``.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from open_clip.transformer import ResidualAttentionBlock, Transformer


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


# -- prefix sharing -------------------------------------------------------------------------------
# In a causal tower a token's hidden state in every block depends only on the tokens up to it. All
# prompts of a template share the tokens before the name, and the templates that start with the
# name share ``<start> name`` across templates. So the prompts' token sequences (each up to its
# pooled end token) are put in a radix tree; each tree segment is run through the blocks once,
# attending over the keys/values its ancestors left in every block (kept while their children
# run), then over its own tokens with the causal mask. Only the segments that end a prompt are
# pooled. The arithmetic is the stock block's (ln_1, packed in-projection, scaled dot-product
# attention with the default 1/sqrt(head_dim) scale, out-projection, layer scales, ln_2, MLP), so
# results equal stock ``encode_text`` up to float summation order (max |diff| ~1e-7 in float32).

_SHARED_CHUNK = 8192  # distinct prompts per tree: bounds the keys/values held at once
_SHARED_ROWS = 1024   # segments per batch: few large matrix products (short segments, many rows)


def prefix_sharing_supported(tower: _TextTower | None) -> bool:
    """Whether every block of the tower is open_clip's plain ``ResidualAttentionBlock`` (packed
    ``nn.MultiheadAttention``, no cross-attention), whose forward ``_block_forward`` mirrors."""
    if tower is None:
        return False
    if type(tower.transformer) is not Transformer:
        return False
    for blk in tower.transformer.resblocks:
        if type(blk) is not ResidualAttentionBlock or hasattr(blk, "ln_1_kv"):
            return False
        mha = blk.attn
        if (not isinstance(mha, torch.nn.MultiheadAttention) or not mha._qkv_same_embed_dim
                or mha.bias_k is not None or mha.add_zero_attn or mha.in_proj_weight is None):
            return False
    return True


def _block_forward(blk, x, keys_values, mask, last_rows=None):
    """One ``ResidualAttentionBlock`` on a batch of equally long segments ``x`` [B, L, D].

    ``keys_values`` [B, 2, H, P+L, hd] holds the keys and values of the tokens before each segment
    in its first P positions (None: no tokens before); the block writes the segment's own after
    them. With ``last_rows`` (the final block) only the last token of those rows goes on: the
    tokens before it are needed only as keys and values. Returns (x, k, v): x [B, L, D] (with
    ``last_rows``: [len(last_rows), 1, D]) and the segment's own keys and values [B, H, L, hd]."""
    mha = blk.attn
    b, length, d = x.shape
    heads = mha.num_heads
    qkv = F.linear(blk.ln_1(x), mha.in_proj_weight, mha.in_proj_bias)
    q, k, v = qkv.view(b, length, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
    if keys_values is not None:
        keys_values[:, 0, :, -length:] = k
        keys_values[:, 1, :, -length:] = v
        keys, values = keys_values[:, 0], keys_values[:, 1]
    else:
        keys, values = k, v
    if last_rows is not None:
        if not len(last_rows):
            return x[:0, -1:], k, v
        q, keys, values = q[last_rows, :, -1:], keys[last_rows], values[last_rows]
        x = x[last_rows, -1:]
        mask = mask[..., -1:, :]
        if mask.shape[0] > 1:
            mask = mask[last_rows]
    o = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
    o = o.transpose(1, 2).reshape(x.shape)
    x = x + blk.ls_1(F.linear(o, mha.out_proj.weight, mha.out_proj.bias))
    x = x + blk.ls_2(blk.mlp(blk.ln_2(x)))
    return x, k, v


@dataclass
class _Segment:
    parent: int          # index of the parent segment, -1 at the root
    start: int           # position of the first token
    tokens: list[int]
    level: int           # number of ancestors
    has_children: bool = False


def _radix_segments(seqs: list[tuple[int, ...]]) -> tuple[list[_Segment], list[int]]:
    """The radix tree of token sequences: its segments and, per sequence, the segment it ends in."""
    children: list[dict[int, int]] = [{}]
    is_end = [False]
    end_node = []
    for seq in seqs:
        node = 0
        for tok in seq:
            nxt = children[node].get(tok)
            if nxt is None:
                nxt = len(children)
                children[node][tok] = nxt
                children.append({})
                is_end.append(False)
            node = nxt
        is_end[node] = True
        end_node.append(node)
    segments: list[_Segment] = []
    seg_of_node: dict[int, int] = {}
    stack = [(0, -1, 0, 0)]  # (trie node ending a segment, that segment, depth, level below it)
    while stack:
        node, seg, depth, level = stack.pop()
        for tok, child in children[node].items():
            toks = [tok]
            while not is_end[child] and len(children[child]) == 1:
                (tok2, child2), = children[child].items()
                toks.append(tok2)
                child = child2
            sid = len(segments)
            segments.append(_Segment(seg, depth, toks, level))
            if seg >= 0:
                segments[seg].has_children = True
            seg_of_node[child] = sid
            stack.append((child, sid, depth + len(toks), level + 1))
    return segments, [seg_of_node[n] for n in end_node]


@torch.inference_mode()
def encode_tokens_prefix_shared(tower: _TextTower, tokens: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Unit-norm float32 embeddings [N, D] of tokenised prompts [N, context], each distinct token
    prefix run once (see above). Requires ``prefix_sharing_supported(tower)``."""
    pos = pooled_positions(tokens, tower).tolist()
    rows = tokens.tolist()
    seq_index: dict[tuple[int, ...], int] = {}
    which = []
    for row, p in zip(rows, pos):
        which.append(seq_index.setdefault(tuple(row[:p + 1]), len(seq_index)))
    seqs = sorted(seq_index, key=lambda s: s)  # neighbours share prefixes: chunks keep the sharing
    if not seqs:
        return torch.empty(0, 0)
    workers = _workers(tower, len(seqs))
    if workers == 1:
        vecs = _encode_in_chunks(tower, seqs, batch_size)
    else:
        vecs = torch.cat(_in_threads(lambda part: _encode_in_chunks(tower, part, batch_size),
                                     equal_parts(seqs, -(-len(seqs) // workers))))
    order = torch.tensor([seq_index[s] for s in seqs], dtype=torch.long)
    unique = torch.empty_like(vecs)
    unique[order] = vecs
    return unique[torch.tensor(which, dtype=torch.long)]


# On a CPU, one thread per core, each running its own share of the prompts single-threaded, beats
# every op split over the cores: the segments are small, so an op split over cores spends part of
# its time in hand-offs (1.02-1.14x on a shared 2-core machine, calls of 4096 prompts). The shares
# are contiguous in sorted order, so prefix sharing is lost only where they meet. Results are the
# same numbers either way.
_MIN_PER_WORKER = 512


def _workers(tower: _TextTower, n: int) -> int:
    if tower.positional_embedding.device.type != "cpu":
        return 1
    return max(1, min(torch.get_num_threads(), n // _MIN_PER_WORKER))


def _in_threads(fn, parts: list) -> list:
    """``[fn(p) for p in parts]``, each in its own thread with one torch thread (thread-local in
    torch), in inference mode (also thread-local)."""
    results: list = [None] * len(parts)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            torch.set_num_threads(1)
            with torch.inference_mode():
                results[i] = fn(parts[i])
        except BaseException as exc:  # re-raised in the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), name=f"idia-encode-{i}") for i in range(len(parts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def equal_parts(items: list, max_size: int) -> list[list]:
    """``items`` in order, cut into as few contiguous parts of at most ``max_size`` as there can be,
    their sizes differing by at most one (a small last part would run small, slow batches)."""
    parts = -(-len(items) // max_size)
    if not parts:
        return []
    bounds = [len(items) * i // parts for i in range(parts + 1)]
    return [items[a:b] for a, b in zip(bounds, bounds[1:])]


def _encode_in_chunks(tower: _TextTower, seqs: list[tuple[int, ...]], batch_size: int) -> torch.Tensor:
    """Trees of at most ``_SHARED_CHUNK`` sequences, all about equally large."""
    return torch.cat([_encode_sequences(tower, part, batch_size) for part in equal_parts(seqs, _SHARED_CHUNK)])


def _encode_sequences(tower: _TextTower, seqs: list[tuple[int, ...]], batch_size: int) -> torch.Tensor:
    segments, end_of = _radix_segments(seqs)
    device = tower.positional_embedding.device
    cast_dtype = tower.transformer.get_cast_dtype()
    blocks = list(tower.transformer.resblocks)
    context = tower.positional_embedding.shape[0]
    pooled: dict[int, torch.Tensor] = {}
    kv: dict[int, torch.Tensor] = {}          # segment -> [layers, 2, H, end, hd] of all its tokens
    levels: dict[int, list[int]] = {}
    for sid, seg in enumerate(segments):
        levels.setdefault(seg.level, []).append(sid)
    pooled_ids = set(end_of)
    for level in sorted(levels):
        ids = sorted(levels[level], key=lambda i: (len(segments[i].tokens), segments[i].start))
        for batch in _length_batches(ids, segments, max(batch_size, _SHARED_ROWS)):
            _run_segments(tower, blocks, [segments[i] for i in batch], batch, kv, pooled, pooled_ids,
                          device, cast_dtype, context)
        for sid in [s for s in kv if segments[s].level < level]:
            del kv[sid]  # every child of the previous level has run
    vecs = torch.stack([pooled[s] for s in end_of])
    return vecs


def _length_batches(ids: list[int], segments: list[_Segment], batch_size: int):
    """Batches of up to ``batch_size`` segments of one length (the ids come sorted by length):
    no padding, so every per-token product runs on real tokens only."""
    start = 0
    while start < len(ids):
        length = len(segments[ids[start]].tokens)
        stop = start
        while stop < len(ids) and stop - start < batch_size and len(segments[ids[stop]].tokens) == length:
            stop += 1
        yield ids[start:stop]
        start = stop


def _index_of(values: list[int], items: list[int]) -> list[int]:
    where = {v: i for i, v in enumerate(values)}
    return [where[i] for i in items]


def _run_segments(tower, blocks, segs, ids, kv, pooled, pooled_ids, device, cast_dtype, context) -> None:
    n = len(segs)
    length = len(segs[0].tokens)
    prefix = max(s.start for s in segs)
    tok = torch.tensor([s.tokens for s in segs], dtype=torch.long, device=device)
    starts = torch.tensor([s.start for s in segs], device=device)
    positions = torch.clamp(starts.unsqueeze(1) + torch.arange(length, device=device), max=context - 1)
    x = tower.token_embedding(tok).to(cast_dtype)
    x = x + tower.positional_embedding.to(cast_dtype)[positions]
    mask = torch.full((length, length), float("-inf"), dtype=x.dtype, device=device).triu_(1)
    parent_kv = row_parent = None
    if prefix:
        # every distinct parent's keys/values of all blocks once, padded to this batch's prefix and
        # own length; each block then gathers one [B, 2, H, P+L, hd] buffer (no concatenation)
        parents = list(dict.fromkeys(s.parent for s in segs))
        row_parent = torch.tensor(_index_of(parents, [s.parent for s in segs]), device=device)
        first = kv[parents[0]]
        parent_kv = x.new_zeros(len(parents), len(blocks), 2, first.shape[2], prefix + length, first.shape[4])
        for u, pid in enumerate(parents):
            par = kv[pid]
            parent_kv[u, :, :, :, :par.shape[3]] = par
        causal = mask
        mask = x.new_zeros(1 if bool((starts == prefix).all()) else n, 1, length, prefix + length)
        if mask.shape[0] > 1:  # rows whose parent is shorter than the longest: its padding is no key
            no_key = torch.arange(prefix, device=device).unsqueeze(0) >= starts.unsqueeze(1)
            mask[:, :, :, :prefix].masked_fill_(no_key[:, None, None, :], float("-inf"))
        mask[:, :, :, prefix:] = causal
    keep = [r for r, s in enumerate(segs) if s.has_children]
    ends = [r for r, i in enumerate(ids) if i in pooled_ids]
    last_rows = torch.tensor(ends, dtype=torch.long, device=device)
    own_k, own_v = [], []
    for layer, blk in enumerate(blocks):
        keys_values = parent_kv[:, layer].index_select(0, row_parent) if prefix else None
        final = layer == len(blocks) - 1
        x, k, v = _block_forward(blk, x, keys_values, mask, last_rows if final else None)
        if keep:
            own_k.append(k[keep])
            own_v.append(v[keep])
    if keep:
        own = torch.stack([torch.stack(own_k, 1), torch.stack(own_v, 1)], 2)  # [kept, layers, 2, H, L, hd]
        for j, r in enumerate(keep):
            s = segs[r]
            kv[ids[r]] = torch.cat([kv[s.parent], own[j]], dim=3) if s.start else own[j]
    if ends:
        h = tower.ln_final(x.reshape(len(ends), -1))
        proj = tower.text_projection
        if proj is not None:
            h = proj(h) if isinstance(proj, torch.nn.Module) else h @ proj
        h = F.normalize(h.float(), dim=-1).cpu()
        for j, r in enumerate(ends):
            pooled[ids[r]] = h[j]


def encode_tokens_fast(tower: _TextTower, tokens: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """The fastest exact path the tower allows: prefix sharing, else the length cut."""
    if prefix_sharing_supported(tower):
        return encode_tokens_prefix_shared(tower, tokens, batch_size)
    return encode_tokens_truncated(tower, tokens, batch_size)


def text_path(tower: _TextTower | None) -> str:
    """Which exact path encodes prompts: ``prefix-shared``, ``length-cut`` or ``stock``."""
    if tower is None:
        return "stock"
    return "prefix-shared" if prefix_sharing_supported(tower) else "length-cut"


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
