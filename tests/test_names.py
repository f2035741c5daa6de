import pytest

from idia_core import IdiaInputError, build_candidate_pool, normalize_name, validate_name
from idia_core.names import name_key, parse_name_list


def test_normalisation():
    assert normalize_name("  Jane \t  Doe ") == "Jane Doe"
    assert normalize_name("Jose\u0301") == "José"  # NFC


def test_pool_is_deterministic_for_a_seed():
    a = build_candidate_pool("Jane Doe", n_candidates=300, seed=4)
    b = build_candidate_pool("Jane Doe", n_candidates=300, seed=4)
    c = build_candidate_pool("Jane Doe", n_candidates=300, seed=5)
    assert a.names == b.names
    assert a.names != c.names


def test_pool_size_target_once_and_user_names_kept():
    pool = build_candidate_pool("Jane Doe", ["Jane Dow", "Janet Doe"], n_candidates=1000, seed=0)
    assert len(pool.names) == 1000
    keys = [name_key(n) for n in pool.names]
    assert keys.count(name_key("Jane Doe")) == 1
    assert pool.target == "Jane Doe" and pool.names[pool.target_index] == "Jane Doe"
    assert {"Jane Dow", "Janet Doe"} <= set(pool.names)
    assert len(set(keys)) == len(keys)


def test_duplicates_by_case_are_dropped_but_accents_make_another_name():
    # CLIP's tokenizer encodes "Lée" and "Lee" differently: both are candidates the model can tell
    # apart. The same name in other case is a duplicate.
    pool = build_candidate_pool("José Álvarez", ["jose alvarez", "JOSÉ ÁLVAREZ", "Ann Lee", "ANN LEE", "Ann Lée"], 10, seed=0)
    assert [n for n in pool.names if name_key(n) == name_key("ann lee")] == ["Ann Lee", "Ann Lée"]
    assert "jose alvarez" in pool.names
    assert set(pool.duplicates_dropped) == {"JOSÉ ÁLVAREZ", "ANN LEE"}


def test_smaller_pools_share_their_distractors():
    small = build_candidate_pool("Jane Doe", n_candidates=50, seed=0)
    large = build_candidate_pool("Jane Doe", n_candidates=500, seed=0)
    assert set(small.names) - {"Jane Doe"} <= set(large.names)


def test_paper_mode_uses_us_style_names():
    pool = build_candidate_pool("Jane Doe", n_candidates=200, seed=0, mode="paper")
    assert len(pool.names) == 200
    assert all(len(n.split()) >= 2 for n in pool.names)


@pytest.mark.parametrize("bad, code", [
    ("", "name_empty"),
    ("   ", "name_empty"),
    ("x" * 2000, "name_too_long"),
    ("😀😀", "name_no_letters"),
    ("{0.__class__}", "name_braces"),
    ("Ann {0}", "name_braces"),
    ("Ann %s", "name_characters"),
])
def test_bad_names(bad, code):
    with pytest.raises(IdiaInputError) as err:
        validate_name(bad)
    assert err.value.code == code


@pytest.mark.parametrize("size", [0, 1, 10**6, "abc", 2.5])
def test_bad_pool_sizes(size):
    with pytest.raises(IdiaInputError):
        build_candidate_pool("Jane Doe", n_candidates=size)


def test_parse_pasted_list():
    assert parse_name_list("Ann Lee, Bo Li\nCy Young; Di Ng\n\n") == ["Ann Lee", "Bo Li", "Cy Young", "Di Ng"]
