"""Text as a model's tokenizer reads it: the token ids of a name, and CLIP's own BPE tokenizer for
when a model cannot be loaded (every catalogue model uses it)."""
from __future__ import annotations

import numpy as np
from open_clip.tokenizer import SimpleTokenizer


def token_ids(tokenizer, name: str) -> tuple[int, ...]:
    """The name's token ids as the model reads them (open_clip's BPE without padding; any other
    tokenizer: its whole padded row)."""
    if isinstance(tokenizer, SimpleTokenizer) and getattr(tokenizer, "reduction_fn", None) is None:
        return tuple(tokenizer.encode(name))
    return tuple(int(t) for t in np.asarray(tokenizer([name]))[0])


_CLIP: list[SimpleTokenizer] = []


def clip_tokenizer() -> SimpleTokenizer:
    """CLIP's BPE tokenizer, made once per process."""
    if not _CLIP:
        _CLIP.append(SimpleTokenizer())
    return _CLIP[0]
