"""``evaluate``'s validity controls give an exact tie to the other name, as ``check`` and
``sandbox evaluate`` do; its calibration leaves each non-member out of its own null; a name the
model cannot use is replaced so the pool keeps its size. Expected values are brute force: loops
over every photo, template and name, never the vectorised code under test."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from idia_core.attack import rule
from idia_core.attack.controls import person_centroids
from idia_core.audit.evaluation import person_controls
from idia_core.audit.metrics import leave_one_out_calibration


def brute_prediction(vals, target: int) -> int:
    """The check's rule for one photo and template: the target only when it beats every other name
    by more than the tolerance, else the best other name (the first of an exact tie)."""
    best_other, best_val = None, -np.inf
    for c, v in enumerate(vals):
        if c != target and v > best_val:
            best_other, best_val = c, v
    return target if vals[target] > best_val + rule.TIE_TOLERANCE else best_other


def brute_count(sims_person, target: int, n: int) -> int:
    """Templates whose unique majority over the first n photos is ``target``."""
    won = 0
    for t in range(sims_person.shape[0]):
        votes = Counter(brute_prediction(sims_person[t, p], target) for p in range(n))
        top = max(votes.values())
        leaders = [c for c, k in votes.items() if k == top]
        won += leaders == [target]
    return won


def tied_world(seed: int, people: int = 12, templates: int = 4, photos: int = 5, pool: int = 14):
    """Similarities on a coarse grid ({0, 1/4, …, 1}): exact ties everywhere, between the checked
    name and names before and after it in the pool."""
    rng = np.random.default_rng(seed)
    sims = rng.integers(0, 5, size=(people, templates, photos, pool)).astype(np.float32) / 4
    true_index = rng.permutation(pool)[:people]
    # make the people's own names lead often, with exact ties to a neighbour in pool order
    for i, ti in enumerate(true_index):
        mask = rng.random((templates, photos)) < 0.5
        sims[i][mask, ti] = 1.0
        other = (ti + rng.choice([-1, 1])) % pool
        sims[i][mask & (rng.random((templates, photos)) < 0.5), other] = 1.0
    for j in range(people):        # reference people tied between another person's name and a rival
        i = (j + 1) % people
        mask = rng.random((templates, photos)) < 0.4
        sims[j][mask, true_index[i]] = 1.0
        sims[j][mask, (true_index[i] + 1) % pool] = 1.0
        sims[j][mask, (true_index[i] - 1) % pool] = 1.0
    n_avail = rng.integers(3, photos + 1, size=people)
    labels = np.arange(people) % 3 == 0
    return sims, true_index, n_avail, labels


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_evaluate_controls_give_exact_ties_to_the_other_name(seed):
    sims, true_index, n_avail, labels = tied_world(seed)
    people, templates, photos, _ = sims.shape
    for i in range(people):                           # padding past each person's photos
        sims[i, :, n_avail[i]:] = -np.inf
    top = rule.top_two(sims)
    emb = np.random.default_rng(seed).normal(size=(people, 8)).astype(np.float32)
    correct = np.array([brute_count(sims[i], int(true_index[i]), int(n_avail[i])) for i in range(people)])
    rows = person_controls(top, n_avail, person_centroids(emb[:, None]), true_index, correct, labels, tau=1,
                           seed=seed, m=people)
    checked_ties = 0
    for i, row in enumerate(rows):
        n = int(n_avail[i])
        refs = [j for j in range(people) if not labels[j] and n_avail[j] >= n and j != i]
        if not refs:
            assert not row["ran"]
            continue
        ctl = row["controls"]
        for outcome in (ctl.name_prior, ctl.look_alikes):
            assert sorted(int(r) for r in outcome.reference_ids) == refs
            for r, count in zip(outcome.reference_ids, outcome.counts):
                assert count == brute_count(sims[int(r)], int(true_index[i]), n), (i, r)
        plain = rule.majority_votes(sims[refs][..., :n].argmax(-1))        # the pool-order argmax
        checked_ties += int(((plain == true_index[i]).sum(-1) != np.array(
            [brute_count(sims[r], int(true_index[i]), n) for r in refs])).sum())
    assert checked_ties > 0          # the pool order would have given some of these ties to the name


def test_calibration_leaves_each_non_member_out_of_its_own_null():
    rng = np.random.default_rng(5)
    for _ in range(20):
        correct = rng.integers(0, 6, size=15)
        labels = rng.random(15) < 0.4
        got = leave_one_out_calibration(correct, labels)
        for i in range(15):
            others = [correct[j] for j in range(15) if not labels[j] and j != i]
            if not others:
                assert np.isnan(got[i])
                continue
            expected = (1 + sum(o >= correct[i] for o in others)) / (1 + len(others))
            assert got[i] == pytest.approx(expected)
    # the example: non-members 0, 0, 3 — the one with 3 is not beaten by itself
    assert leave_one_out_calibration([0, 0, 3, 3], [False, False, False, True]).tolist() == \
        pytest.approx([1.0, 1.0, 1 / 3, 2 / 4])


def test_top_two_applies_the_tie_rule_for_any_name():
    """``rule.predict_from_top_two(rule.top_two(s), i)`` is the check's rule for every name i."""
    rng = np.random.default_rng(9)
    sims = (rng.integers(0, 4, size=(3, 5, 7)) / 3).astype(np.float32)
    sims[0, 0, 2] += rule.TIE_TOLERANCE / 2                # a last-bit lead is a tie too
    top = rule.top_two(sims)
    for target in range(7):
        got = rule.predict_from_top_two(top, target)
        want = [[brute_prediction(sims[a, b], target) for b in range(5)] for a in range(3)]
        assert got.tolist() == want
        assert np.array_equal(got, rule.predict(sims, target))
