"""The Identity Inference Attack as pure functions on arrays (numpy; no I/O, no model).

Shapes: T templates, P photos, C candidate names, D embedding size, and any leading batch axes
(people, draws) in front. The rule, exactly as in the paper:

1. per photo and template, the predicted name is the argmax over candidates of the cosine
   similarity between the photo's embedding and the filled template's embedding (a tie with the
   true name, within ``TIE_TOLERANCE``, goes to the other name: see ``predict``);
2. per template, the name predicted for the most photos; a tie for the top count means the template
   has no majority (-1) and cannot count as correct;
3. member iff the number of templates whose unique majority is the true name is >= tau.
"""
from __future__ import annotations

import numpy as np

NO_MAJORITY = -1


def cosine_similarities(image_emb: np.ndarray, text_emb: np.ndarray) -> np.ndarray:
    """[P, D] unit-norm photos × [T, C, D] unit-norm prompts → [T, P, C] cosine similarities."""
    image_emb = np.asarray(image_emb, dtype=np.float32)
    text_emb = np.asarray(text_emb, dtype=np.float32)
    return np.einsum("pd,tcd->tpc", image_emb, text_emb, optimize=True)


TIE_TOLERANCE = 1e-5   # cosine similarity; well above float32 rounding of a 512-1024-d dot product


def predict(similarities: np.ndarray, true_index=None, tie_tolerance: float = TIE_TOLERANCE) -> np.ndarray:
    """[..., C] → [...] index of the most similar candidate.

    With ``true_index`` (an int, or an array of the leading batch shape, e.g. [B] for
    [B, T, P, C]): the true name is predicted only when it beats every other name by more than
    ``tie_tolerance``; an exact tie, or a last-bit one that BLAS rounding or the pool order could
    flip, goes to the best other name. So no tie ever counts for the person checked, whatever
    their place in the pool. (The paper's code takes the first index of an exact tie in a shuffled
    pool; this is the conservative reading of it.) Without ``true_index``: the plain argmax, the
    first index on an exact tie.

    >>> sims = np.array([0.30, 0.30, 0.10])          # the true name 0 ties with name 1
    >>> int(predict(sims)), int(predict(sims, 0))    # argmax takes 0; the rule gives the tie away
    (0, 1)
    >>> int(predict(np.array([0.10, 0.30, 0.30]), 2))   # wherever the true name stands in the pool
    1
    >>> int(predict(np.array([0.3000001, 0.30, 0.1]), 0))   # a last-bit lead is a tie too
    1
    >>> int(predict(np.array([0.31, 0.30, 0.1]), 0))
    0
    """
    similarities = np.asarray(similarities)
    if true_index is None:
        return np.argmax(similarities, axis=-1)
    ti = np.asarray(true_index, dtype=np.int64)
    ti = ti.reshape(ti.shape + (1,) * (similarities.ndim - 1 - ti.ndim))
    ti = np.broadcast_to(ti, similarities.shape[:-1])
    if similarities.shape[-1] < 2:
        return ti.copy()
    true_sim = np.take_along_axis(similarities, ti[..., None], axis=-1)[..., 0]
    others = similarities.copy()
    np.put_along_axis(others, ti[..., None], -np.inf, axis=-1)
    best_other = np.argmax(others, axis=-1)
    best_other_sim = np.take_along_axis(others, best_other[..., None], axis=-1)[..., 0]
    return np.where(true_sim > best_other_sim + tie_tolerance, ti, best_other)


def top_two(similarities: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """[..., C] → (best, best similarity, runner-up, runner-up similarity), each [...]: ``best`` is
    ``np.argmax``'s (the first index on an exact tie), the runner-up the best of the other
    columns (again the first on a tie). Enough to apply ``predict``'s tie rule for *any* true
    index afterwards (``predict_from_top_two``), so many people's photos can be scored against
    every name of a shared pool without keeping their [..., C] similarities."""
    sims = np.array(similarities, dtype=np.float32, copy=True)
    best = sims.argmax(axis=-1)
    best_val = np.take_along_axis(sims, best[..., None], axis=-1)[..., 0]
    np.put_along_axis(sims, best[..., None], -np.inf, axis=-1)
    second = sims.argmax(axis=-1)
    second_val = np.take_along_axis(sims, second[..., None], axis=-1)[..., 0]
    return best, best_val, second, second_val


def predict_from_top_two(top, true_index, tie_tolerance: float = TIE_TOLERANCE) -> np.ndarray:
    """``predict(similarities, true_index)`` from ``top_two(similarities)``: the true name only
    when it is the best by more than ``tie_tolerance``, else the best other name. (When the true
    name is not the best, the best is the first index of the maximum and so also the best other
    name.) ``true_index`` broadcasts against the leading shape.

    >>> top = top_two(np.array([[0.30, 0.30, 0.10], [0.10, 0.30, 0.20]]))
    >>> predict_from_top_two(top, 0).tolist(), predict_from_top_two(top, 1).tolist()
    ([1, 1], [0, 1])
    """
    best, _, second, _ = top
    return np.where(given_away(top, true_index, tie_tolerance), second, best)


def given_away(top, true_index, tie_tolerance: float = TIE_TOLERANCE) -> np.ndarray:
    """Where ``predict``'s tie rule gives the prediction away from the true name: it is the best
    (``top_two``) by no more than ``tie_tolerance``. ``true_index`` broadcasts against the leading
    shape.

    >>> given_away(top_two(np.array([[0.30, 0.30, 0.10], [0.50, 0.30, 0.20]])), 0).tolist()
    [True, False]
    """
    best, best_val, _, second_val = top
    ti = np.asarray(true_index)
    ti = ti.reshape(ti.shape + (1,) * (np.ndim(best) - ti.ndim))
    return (best == ti) & (best_val <= second_val + tie_tolerance)


def majority_votes(pred: np.ndarray) -> np.ndarray:
    """[..., T, P] predicted indices → [..., T] the unique most-predicted index, or -1 on a tie.

    For each photo, count how many photos of the same template predicted the same name. The top
    count m is held by a unique name exactly when m positions have count m (that name's own
    photos); more positions at m means two or more names share the top.

    >>> majority_votes(np.array([[4, 4, 7], [4, 7, 9], [4, 7, 7]])).tolist()   # [T=3, P=3]
    [4, -1, 7]
    >>> majority_votes(np.array([[1, 1, 2, 2]])).tolist()     # two names share the top: no majority
    [-1]
    """
    pred = np.asarray(pred)
    if pred.ndim < 2:
        raise ValueError("majority_votes expects an array [..., templates, photos]")
    if pred.shape[-1] == 0:
        raise ValueError("majority_votes needs at least one photo")
    counts = (pred[..., :, None] == pred[..., None, :]).sum(axis=-1)      # [..., T, P]
    top = counts.max(axis=-1)                                              # [..., T]
    unique = (counts == top[..., None]).sum(axis=-1) == top
    winner = np.take_along_axis(pred, counts.argmax(axis=-1)[..., None], axis=-1)[..., 0]
    return np.where(unique, winner, NO_MAJORITY)


def wins_majority(counts: np.ndarray, index: int, axis: int = -1) -> np.ndarray:
    """Whether candidate ``index`` is the unique majority of a vote-count table (candidates along
    ``axis``): its count is strictly above every other candidate's, so a shared top count is no
    majority. The rule of ``majority_votes`` + ``correct_templates`` stated on counts; evaluation
    sums votes over drawn photos and asks this once per template.
    >>> wins_majority(np.array([[3, 2, 1], [3, 3, 1]]), 0).tolist()   # a shared top count wins nothing
    [True, False]
    """
    c = np.moveaxis(np.asarray(counts), axis, 0)
    own = c[index]
    parts = [part.max(axis=0) for part in (c[:index], c[index + 1:]) if part.shape[0]]
    if not parts:
        return np.ones(own.shape, dtype=bool)
    return own > (parts[0] if len(parts) == 1 else np.maximum(parts[0], parts[1]))


def correct_templates(majority: np.ndarray, true_index) -> np.ndarray:
    """[..., T] majorities and the true index ([...] or scalar) → [...] count of correct templates;
    a tied template (-1) never counts.

    >>> int(correct_templates(np.array([4, -1, 4, 7]), 4))
    2
    """
    true_index = np.asarray(true_index)
    return (np.asarray(majority) == true_index[..., None]).sum(axis=-1)


def is_member(n_correct, tau: int) -> np.ndarray:
    """Member iff at least ``tau`` templates picked the true name (the paper: tau = 1).

    >>> bool(is_member(1, tau=1)), bool(is_member(0, tau=1)), bool(is_member(2, tau=3))
    (True, False, False)
    """
    return np.asarray(n_correct) >= tau


def true_name_ranks(similarities: np.ndarray, true_index: int, tie_tolerance: float = TIE_TOLERANCE) -> np.ndarray:
    """[..., C] similarities → [...] rank of the true name (1 = most similar; ties, within
    ``tie_tolerance`` as in ``predict``, count against it)."""
    true_sim = similarities[..., true_index]
    return (similarities >= true_sim[..., None] - tie_tolerance).sum(axis=-1)


def top_k(similarities: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """[..., C] → ([..., k] indices, [..., k] similarities), most similar first."""
    k = min(k, similarities.shape[-1])
    part = np.argpartition(-similarities, k - 1, axis=-1)[..., :k]
    vals = np.take_along_axis(similarities, part, axis=-1)
    order = np.argsort(-vals, axis=-1, kind="stable")
    return np.take_along_axis(part, order, axis=-1), np.take_along_axis(vals, order, axis=-1)


def true_name_probability(similarities: np.ndarray, true_index: int, logit_scale: float) -> float:
    """Mean over queries of the softmax probability (at the model's logit scale) of the true name."""
    logits = similarities.astype(np.float64) * float(logit_scale)
    logits -= logits.max(axis=-1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=-1, keepdims=True)
    return float(probs[..., true_index].mean())


def membership_score(n_correct, true_probability) -> np.ndarray:
    """A continuous score that orders people exactly as the paper's rule does at every tau
    (the integer part is the number of correct templates) and breaks ties within a count by how
    much probability the model puts on the true name. Sweeping a threshold over it gives ROC."""
    return np.asarray(n_correct, dtype=np.float64) + np.clip(np.asarray(true_probability, dtype=np.float64), 0, 0.999999)


def template_wins(majority: np.ndarray, n_candidates: int) -> np.ndarray:
    """[T] majorities → [C] number of templates each candidate won (ties win for nobody)."""
    majority = np.asarray(majority)
    won = majority[majority >= 0]
    return np.bincount(won, minlength=n_candidates)


def pool_rank_p_value(majority: np.ndarray, n_candidates: int, true_index: int) -> float:
    """The pool-rank p: (1 + #{other names that won at least as many templates}) / C.

    A secondary number, kept for the record, **not** a chance: template wins over the pool sum to
    at most T, so whenever the true name wins a template this p is at most T/C (0.021 with the
    paper's 21 templates and 1000 names) — it restates the rule (any pool of 20·T+ names gives
    p <= 0.05 exactly when the rule says member) and its null, "every name is equally likely to
    win", fails for names the model gives to a whole look (the sandbox's look-alike traps win all
    21 templates: p = 0.001, while the verdict is inconclusive). How unlikely a result is by
    chance is what the validity controls measure (``controls.ValidityControls.chance``)."""
    wins = template_wins(majority, n_candidates)
    observed = wins[true_index]
    others = np.delete(wins, true_index)
    return float((1 + np.count_nonzero(others >= observed)) / n_candidates)


name_swap_p_value = pool_rank_p_value   # the name it had before it was recognised as a restatement


def batch_idia(image_emb: np.ndarray, text_emb: np.ndarray, true_index, tau: int = 1) -> dict:
    """The rule for many people at once: [B, P, D] photos, [T, C, D] prompts, [B] true indices.
    Returns predictions [B, T, P], majority [B, T], correct [B], member [B]."""
    image_emb = np.asarray(image_emb, dtype=np.float32)
    text_emb = np.asarray(text_emb, dtype=np.float32)
    sims = np.einsum("bpd,tcd->btpc", image_emb, text_emb, optimize=True)
    pred = predict(sims, np.asarray(true_index))
    majority = majority_votes(pred)
    correct = correct_templates(majority, np.asarray(true_index))
    return {"predictions": pred, "majority": majority, "correct": correct, "member": correct >= tau}
