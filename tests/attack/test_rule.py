"""The paper's rule on hand-made arrays: majority, ties, tau, and the evidence functions."""
import numpy as np
import pytest

from idia_core.attack import rule as attack
from idia_core import majority_votes
from idia_core.attack.rule import batch_idia, cosine_similarities


def _unit(x):
    x = np.asarray(x, dtype=np.float32)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_clear_majority_per_template():
    pred = np.array([[4, 4, 2], [1, 1, 1], [0, 3, 3]])
    assert majority_votes(pred).tolist() == [4, 1, 3]


def test_all_different_is_a_tie():
    assert majority_votes(np.array([[0, 1, 2, 3, 4]])).tolist() == [-1]


def test_single_photo_is_its_own_majority():
    assert majority_votes(np.array([[7], [2]])).tolist() == [7, 2]


def test_two_photos_split_one_one_is_a_tie():
    assert majority_votes(np.array([[5, 9]])).tolist() == [-1]


def test_two_names_tied_at_the_top_with_a_third_below():
    # 2-2-1: names 3 and 4 share the top count -> no majority
    assert majority_votes(np.array([[3, 4, 3, 4, 8]])).tolist() == [-1]
    # 3-2: a unique top
    assert majority_votes(np.array([[3, 4, 3, 4, 3]])).tolist() == [3]


def test_plurality_is_enough_when_unique():
    # 2-1-1-1: the top count is 2, held by one name only
    assert majority_votes(np.array([[6, 1, 6, 2, 3]])).tolist() == [6]


def test_batched_leading_axes_match_row_by_row():
    rng = np.random.default_rng(0)
    pred = rng.integers(0, 4, size=(3, 5, 21, 7))
    batched = majority_votes(pred)
    for idx in np.ndindex(3, 5, 21):
        assert batched[idx] == majority_votes(pred[idx][None])[0]


def test_rejects_no_photos():
    with pytest.raises(ValueError):
        majority_votes(np.zeros((3, 0), dtype=int))


def test_correct_templates_and_tau():
    majority = np.array([2, 2, -1, 0, 2])
    assert attack.correct_templates(majority, 2) == 3
    assert bool(attack.is_member(3, 3)) and not bool(attack.is_member(3, 4))
    # a tie never counts as correct, even for index -1 comparisons
    assert attack.correct_templates(np.array([-1, -1]), 0) == 0


def test_predict_and_ranks_from_similarities():
    sims = np.array([[[0.1, 0.9, 0.3], [0.8, 0.2, 0.1]]])  # T=1, P=2, C=3
    assert attack.predict(sims).tolist() == [[1, 0]]
    assert attack.true_name_ranks(sims, 2).tolist() == [[2, 3]]
    assert attack.true_name_ranks(sims, 1).tolist() == [[1, 2]]


def test_exact_tie_in_similarity_counts_against_the_true_name():
    sims = np.array([[[0.5, 0.5]]])
    assert attack.true_name_ranks(sims, 1).tolist() == [[2]]


def test_top_k_sorted():
    sims = np.array([[[0.1, 0.7, 0.3, 0.9]]])
    idx, vals = attack.top_k(sims, 3)
    assert idx.tolist() == [[[3, 1, 2]]]
    assert np.allclose(vals, [[[0.9, 0.7, 0.3]]])


def test_cosine_similarities_shape_and_values():
    img = np.eye(3, dtype=np.float32)[:2]                    # P=2, D=3
    txt = np.stack([np.eye(3, dtype=np.float32)] * 4)        # T=4, C=3, D=3
    sims = attack.cosine_similarities(img, txt)
    assert sims.shape == (4, 2, 3)
    assert attack.predict(sims)[0].tolist() == [0, 1]


def test_score_orders_like_the_rule_at_every_tau():
    correct = np.array([0, 0, 1, 3, 3, 21])
    prob = np.array([0.9, 0.1, 0.0, 0.5, 0.2, 1.0])
    score = attack.membership_score(correct, prob)
    for tau in range(1, 22):
        assert np.array_equal(score >= tau, correct >= tau)


def test_name_swap_p_value():
    # the true name (0) wins 3 templates; nobody else wins >= 3 -> p = 1/C
    assert attack.name_swap_p_value(np.array([0, 0, 0, 1, -1]), 10, 0) == pytest.approx(0.1)
    # the true name wins nothing: every name reaches 0 wins -> p = 1
    assert attack.name_swap_p_value(np.array([1, 2, -1]), 4, 0) == pytest.approx(1.0)


def test_batch_idia_matches_single_person_path():
    rng = np.random.default_rng(1)
    img = rng.normal(size=(4, 6, 8)).astype(np.float32)
    img /= np.linalg.norm(img, axis=-1, keepdims=True)
    txt = rng.normal(size=(21, 30, 8)).astype(np.float32)
    txt /= np.linalg.norm(txt, axis=-1, keepdims=True)
    true = np.array([0, 5, 7, 29])
    out = attack.batch_idia(img, txt, true, tau=2)
    for b in range(4):
        pred = attack.predict(attack.cosine_similarities(img[b], txt))
        maj = majority_votes(pred)
        assert np.array_equal(out["majority"][b], maj)
        assert out["correct"][b] == attack.correct_templates(maj, true[b])
        assert out["member"][b] == (out["correct"][b] >= 2)


def test_result_rival_count_matches_its_p_value(tiny_model):
    from idia_core import run_idia
    from tests.helpers import draw_face_photos

    r = run_idia(tiny_model, draw_face_photos(4, seed=6), "Jane Doe", n_candidates=30)
    assert r.p_value == pytest.approx((1 + r.rivals_reaching_true_count) / r.n_candidates)


# -- ties never count for the person checked ---------------------------------------------------

def test_exact_and_last_bit_ties_go_to_the_other_name_whatever_the_order():
    from idia_core.attack.rule import TIE_TOLERANCE, predict

    for t_index in (0, 2, 4):
        sims = np.full((3, 5), 0.1, dtype=np.float32)
        sims[:, t_index] = 0.3
        other = (t_index + 1) % 5
        sims[0, other] = 0.3                                   # exact tie
        sims[1, other] = np.nextafter(np.float32(0.3), np.float32(0))   # target ahead by one ulp
        sims[2, other] = 0.3 - 10 * TIE_TOLERANCE              # a real lead for the target
        assert predict(sims, t_index).tolist() == [other, other, t_index]
        assert predict(sims).tolist()[2] == t_index             # plain argmax unchanged


def test_tie_rule_is_order_free_and_the_same_for_batches():
    from idia_core.attack.rule import predict

    rng = np.random.default_rng(0)
    img = _unit(rng.normal(size=(6, 4, 16)))                   # [B, P, D]
    text = _unit(rng.normal(size=(3, 9, 16)))                  # [T, C, D]
    text[:, 8] = text[:, 3]                                    # candidate 3 is the target's twin
    truth = np.full(6, 8)
    res = batch_idia(img, text, truth)
    assert not (res["predictions"] == 8).any() and (res["correct"] == 0).all()
    for b in range(6):                                          # one person at a time: identical
        sims = cosine_similarities(img[b], text)
        assert np.array_equal(predict(sims, 8), res["predictions"][b])
    perm = rng.permutation(9)                                   # any pool order: same verdicts
    res_p = batch_idia(img, text[:, perm], np.full(6, int(np.where(perm == 8)[0][0])))
    assert np.array_equal(res_p["correct"], res["correct"])
    assert np.array_equal(perm[res_p["predictions"]], res["predictions"])


def test_paper_photo_counts_are_the_evaluation_default():
    from idia_core.audit.evaluation import DEFAULT_SIZES

    assert DEFAULT_SIZES == (1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 30)


def test_the_rules_doctests_on_ties_hold():
    """The tie cases in the rule's docstrings (a tie never counts for the true name; a shared top
    count is no majority) are run as doctests."""
    import doctest

    result = doctest.testmod(attack)
    assert result.attempted >= 8 and result.failed == 0
