"""Names that fit the model: each candidate's filled prompts, as the model's own tokenizer sees them.

Two faults are invisible in the embeddings and so must be caught before the attack:

* **Cut names.** A CLIP text tower reads a fixed number of tokens (77 on real models, 32 on the
  sandbox); a longer prompt is cut and the end of the name ignored. Two long names that differ only
  at the end then get identical embeddings, and which one "wins" depends on the pool order. The
  person checked is refused when any of their prompts would be cut; other candidates are dropped
  and reported.
* **Names the model cannot tell apart.** Two names whose prompts tokenise identically in every
  template ("Karl-Heinrich Mende" and "Karl - Heinrich Mende"; case, for a lower-casing tokenizer)
  are one candidate for the model: they share every embedding and split every vote. They are
  merged; the person checked keeps their place and the other spelling is reported.

For open_clip's BPE tokenizer the tokens of a prompt are the tokens of the template's text around
the name plus the tokens of the name (its pre-tokeniser never joins across white space), so each
name is tokenised once, not once per template; a spot check against whole prompts guards that
assumption, and any other tokenizer (or a template that glues text to the name) tokenises whole
prompts.
"""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, replace

import numpy as np
from open_clip.tokenizer import SimpleTokenizer

from ..echo import quoted
from ..errors import IdiaInputError
from .names import identity_key
from .pool import CandidatePool, fill_with_distractors, namesake_parts
from .templates import fill_template

_MEMO_LIMIT = 200_000
_NAME_TOKENS: "weakref.WeakKeyDictionary[object, dict[str, tuple[int, ...]]]" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


@dataclass(frozen=True)
class NameFit:
    """Per name (in the order given): a signature that is equal exactly when two names tokenise
    identically in every template, and the number of templates whose prompt would be cut."""

    names: tuple[str, ...]
    signatures: tuple[bytes, ...]
    templates_cut: tuple[int, ...]
    longest_prompt: tuple[int, ...]      # tokens, start and end tokens included
    context_length: int


def context_length(tokenizer) -> int:
    """Tokens per prompt the text tower reads (the tokenizer pads/cuts to it)."""
    value = getattr(tokenizer, "context_length", None)
    if isinstance(value, int) and value > 0:
        return value
    return int(tokenizer(["a"]).shape[-1])


def measure_names(model, templates, names) -> NameFit:
    """Tokenise every name in every template with ``model.tokenizer`` (see the module docstring)."""
    tokenizer = model.tokenizer
    templates = tuple(templates)
    names = tuple(names)
    ctx = context_length(tokenizer)
    if _bpe_splits_at_spaces(tokenizer, templates, names, ctx):
        return _measure_by_name(tokenizer, templates, names, ctx)
    return _measure_whole_prompts(tokenizer, templates, names, ctx)


def _separable(template: str) -> bool:
    """The name stands alone in the template: white space or the text's end on both sides."""
    left, _, right = template.partition("{0}")
    return "{0}" not in right and (not left or left[-1].isspace()) and (not right or right[0].isspace())


_SPLIT_CHECKED: "weakref.WeakKeyDictionary[object, dict[tuple, bool]]" = weakref.WeakKeyDictionary()
_SPOT_NAMES = ("Karl-Heinrich Mende", "Karl - Heinrich Mende", "Zoë Saldaña", "O’Brien Jr.", "山田・太郎",
               "مهدی\u200cزاده", "María de los Ángeles Fernández-Villaverde y Gutiérrez de la Concha")


def _bpe_splits_at_spaces(tokenizer, templates, names, ctx) -> bool:
    """Whether names can be tokenised alone: open_clip's BPE tokenizer without a reduction, every
    template separating the name by white space, and a spot check of whole prompts agreeing
    (once per tokenizer and template set)."""
    if not isinstance(tokenizer, SimpleTokenizer) or getattr(tokenizer, "reduction_fn", None) is not None:
        return False
    if not all(_separable(t) for t in templates):
        return False
    with _LOCK:
        known = _SPLIT_CHECKED.setdefault(tokenizer, {}).get(templates)
    if known is not None:
        return known
    sample = list(dict.fromkeys(_SPOT_NAMES + tuple(names[:2])))
    whole = _measure_whole_prompts(tokenizer, templates, sample, ctx)
    parts = _measure_by_name(tokenizer, templates, sample, ctx)
    ok = whole.templates_cut == parts.templates_cut and whole.longest_prompt == parts.longest_prompt and all(
        (a == b) == (c == d) for a, c in zip(whole.signatures, parts.signatures)
        for b, d in zip(whole.signatures, parts.signatures))
    with _LOCK:
        _SPLIT_CHECKED.setdefault(tokenizer, {})[templates] = ok
    return ok


def _name_tokens(tokenizer, name: str) -> tuple[int, ...]:
    with _LOCK:
        memo = _NAME_TOKENS.setdefault(tokenizer, {})
        hit = memo.get(name)
    if hit is not None:
        return hit
    ids = tuple(tokenizer.encode(name))
    with _LOCK:
        if len(memo) > _MEMO_LIMIT:
            memo.clear()
        memo[name] = ids
    return ids


def _measure_by_name(tokenizer, templates, names, ctx) -> NameFit:
    overhead = []
    for t in templates:
        left, _, right = t.partition("{0}")
        overhead.append(len(tokenizer.encode(left)) + len(tokenizer.encode(right)) + 2)
    overhead_arr = np.asarray(overhead)
    sigs, cut, longest = [], [], []
    for name in names:
        ids = _name_tokens(tokenizer, name)
        lengths = overhead_arr + len(ids)
        sigs.append(np.asarray(ids, dtype=np.int64).tobytes())
        cut.append(int((lengths > ctx).sum()))
        longest.append(int(lengths.max()) if len(lengths) else 0)
    return NameFit(names, tuple(sigs), tuple(cut), tuple(longest), ctx)


def _measure_whole_prompts(tokenizer, templates, names, ctx) -> NameFit:
    """Any tokenizer: a prompt is cut when tokenising it with a longer context changes its first
    ``ctx`` tokens (the end token forced in) or leaves more than padding after them."""
    extra = 64
    sigs, cut, longest = [], [], []
    pad = np.asarray(tokenizer([""], context_length=ctx + extra))[0, -1]
    for name in names:
        prompts = [fill_template(t, name) for t in templates]
        short = np.asarray(tokenizer(prompts, context_length=ctx))
        long = np.asarray(tokenizer(prompts, context_length=ctx + extra))
        is_cut = (short != long[:, :ctx]).any(axis=1) | (long[:, ctx:] != pad).any(axis=1)
        real = (long != pad).sum(axis=1)
        sigs.append(short.astype(np.int64).tobytes())
        cut.append(int(is_cut.sum()))
        longest.append(int(real.max()) if len(real) else 0)
    return NameFit(tuple(names), tuple(sigs), tuple(cut), tuple(longest), ctx)


def refuse_cut_name(fit: NameFit, index: int, n_templates: int, model_spec: str, *, what: str = "The name") -> None:
    """Raise ``name_too_long_for_model`` when name ``index`` would be cut in any template."""
    k = fit.templates_cut[index]
    if k:
        name = fit.names[index]
        raise IdiaInputError(
            "name_too_long_for_model",
            f"{what} {quoted(name)} is too long for the model {model_spec}: it reads at most "
            f"{fit.context_length} tokens per prompt, and with this name {k} of the {n_templates} "
            f"prompts need up to {fit.longest_prompt[index]}, so the end of the name would be cut off "
            "and ignored. Use a shorter form of the name (e.g. without middle names or second surnames).",
        )


def fit_pool_to_model(pool: CandidatePool, model, templates) -> CandidatePool:
    """The pool as the model can use it: the target refused if cut (``name_too_long_for_model``),
    other names dropped if cut (``too_long_dropped``) or merged into the first candidate (the target
    first of all) that tokenises identically (``indistinct_dropped``). A seeded pool
    (``pool.seeded``) keeps its size: each name left out is replaced, in its place, by the next
    distractor of the pool's own seeded stream that the model can read and tell apart
    (``refill``); an explicit candidate list (``verify`` re-running a recorded pool) never is."""
    templates = tuple(templates)
    fit = measure_names(model, templates, pool.names)
    refuse_cut_name(fit, pool.target_index, len(templates), model.spec)
    taken = {fit.signatures[pool.target_index]}
    slots: list[str | None] = list(pool.names)
    too_long, indistinct = [], []
    for i, name in enumerate(pool.names):
        if i == pool.target_index:
            continue
        if fit.templates_cut[i]:
            too_long.append(name)
            slots[i] = None
        elif fit.signatures[i] in taken:
            indistinct.append(name)
            slots[i] = None
        else:
            taken.add(fit.signatures[i])
    if not too_long and not indistinct:
        return pool
    if pool.seeded:
        avoid = namesake_parts([pool.target, *pool.user_names]) if pool.mode == "mixed" else frozenset()
        slots = refill(slots, pool.names, pool.seed, pool.mode, avoid, model, templates, taken)
    keep = [i for i, n in enumerate(slots) if n is not None]
    if len(keep) < 2:
        raise IdiaInputError(
            "pool_size_range",
            f"After leaving out names the model cannot read in full or cannot tell apart from "
            f"{quoted(pool.target)}, no other candidate is left.",
        )
    names = tuple(slots[i] for i in keep)
    kept = set(names)
    return replace(
        pool,
        names=names,
        target_index=keep.index(pool.target_index),
        user_names=tuple(n for n in pool.user_names if n in kept),
        too_long_dropped=pool.too_long_dropped + tuple(too_long),
        indistinct_dropped=pool.indistinct_dropped + tuple(indistinct),
    )


def refill(slots: list, names, seed: int, mode: str, avoid: frozenset[str], model, templates,
           taken: set[bytes]) -> list:
    """``slots`` (a pool's ``names``, None where one was left out) with every gap filled, in order,
    by the next distractors of the (seed, mode) stream (``pool.fill_with_distractors``: none of
    ``names``, none sharing a part with ``avoid``) that the model reads in full and tells apart
    from every candidate (``taken``: token signatures, updated). Deterministic: the same pool and
    model give the same names. Gaps stay only if the stream runs out."""
    gaps = [i for i, n in enumerate(slots) if n is None]
    seen = {identity_key(n) for n in names}
    while gaps:
        fresh = fill_with_distractors(seen, len(gaps), seed, mode, avoid_parts=avoid)
        if not fresh:
            break
        fit = measure_names(model, templates, fresh)
        for name, cut, sig in zip(fresh, fit.templates_cut, fit.signatures):
            if cut or sig in taken:
                continue
            taken.add(sig)
            slots[gaps.pop(0)] = name
    return slots


def fit_evaluation_pool(model, templates, pool: tuple[str, ...], people: tuple[str, ...], *,
                        seed: int | None = None, mode: str = "mixed") -> tuple[tuple[str, ...], dict]:
    """An evaluation's shared pool fitted to the model: a person whose name would be cut or who
    is indistinguishable from another person is an error (their verdict would mean nothing);
    distractors that are cut or duplicate an earlier candidate's tokens are dropped and, given the
    pool's ``seed`` and ``mode``, replaced in place from its seeded stream (``refill``) so the pool
    keeps its size. Returns (names, {"too_long_dropped": [...], "indistinct_dropped": [...]})."""
    templates = tuple(templates)
    fit = measure_names(model, templates, pool)
    people_set = set(people)
    first_of: dict[bytes, str] = {}
    for i, name in enumerate(pool):
        if name in people_set:
            refuse_cut_name(fit, i, len(templates), model.spec, what="The person")
            other = first_of.get(fit.signatures[i])
            if other is not None and other in people_set:
                raise IdiaInputError(
                    "dataset_indistinct_names",
                    f"The people {quoted(other)} and {quoted(name)} have names that {model.spec} tokenises "
                    "identically; the model cannot tell them apart. Rename one of them.")
            first_of[fit.signatures[i]] = name
    slots: list[str | None] = list(pool)
    too_long, indistinct = [], []
    for i, name in enumerate(pool):
        if name in people_set:
            continue
        if fit.templates_cut[i]:
            too_long.append(name)
            slots[i] = None
        elif fit.signatures[i] in first_of:
            indistinct.append(name)
            slots[i] = None
        else:
            first_of[fit.signatures[i]] = name
    if seed is not None and (too_long or indistinct):
        avoid = namesake_parts(people) if mode == "mixed" else frozenset()
        slots = refill(slots, pool, seed, mode, avoid, model, templates, set(first_of))
    names = tuple(n for n in slots if n is not None)
    return names, {"too_long_dropped": too_long, "indistinct_dropped": indistinct}
