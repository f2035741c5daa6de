import pytest

from idia_core import IdiaInputError, build_candidate_pool, normalize_name, validate_name
from idia_core.text.names import name_key, name_parts, parse_name_list


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


# -- real names in any script; invisible ones refused -------------------------------------------

@pytest.mark.parametrize("name", [
    "山田・太郎",                  # Japanese: katakana middle dot between family and given name
    "ｻﾄｳ･ﾀﾛｳ",                    # halfwidth forms
    "阿卜杜勒·哈米德",             # Chinese transcription with a middle dot
    "Jordi Col·lell",             # Catalan l·l
    "Mehdi Zādeh-Nūri",
    "مهدی\u200cزاده",               # Persian with ZWNJ between letters
    "श्री\u200dमती देवी",            # ZWJ inside Devanagari
    "יצחק ג׳ורג׳",                 # Hebrew geresh
    "צה״ל כהן",                    # Hebrew gershayim
    "Anne\u2011Marie Dupont",      # non-breaking hyphen
    "O’Brien-Smith Jr.",
])
def test_real_names_in_other_scripts_are_accepted(name):
    assert validate_name(name) == normalize_name(name)


@pytest.mark.parametrize("bad, code", [
    ("\u3164", "name_empty"),                   # HANGUL FILLER
    ("\u3164 \u3164", "name_empty"),
    ("\u115f\u1160", "name_empty"),             # choseong + jungseong fillers
    ("\uffa0\uffa0", "name_empty"),             # halfwidth filler
    ("Jane\u3164Doe", "name_characters"),       # a filler posing as a space
    ("\u202eeoD enaJ", "name_characters"),      # bidi override
    ("Jane\u2066 Doe", "name_characters"),      # bidi isolate
    ("Jane\u200bDoe", "name_characters"),       # zero-width space
    ("Jane\x07Doe", "name_characters"),         # control
    ("\u200cJane", "name_characters"),          # a joiner not between letters
    ("Jane \u200d Doe", "name_characters"),
    ("\u200c\u200d", "name_empty"),
    ("·・", "name_no_letters"),
])
def test_invisible_filler_and_control_names_are_refused(bad, code):
    with pytest.raises(IdiaInputError) as err:
        validate_name(bad)
    assert err.value.code == code
    assert "\u3164" not in err.value.message and "\u202e" not in err.value.message


# -- the default pool: namesake-free -----------------------------------------------------------

def test_default_pool_has_no_distractor_sharing_a_first_name_or_surname():
    added = ["Maria Helena Gomes", "Olga Müller"]
    pool = build_candidate_pool("José García", added, n_candidates=2000, seed=3)
    protected = name_parts("José García") | name_parts(added[0]) | name_parts(added[1])
    assert {"jose", "garcia", "maria", "helena", "gomes", "olga", "muller"} <= protected
    distractors = [n for n in pool.names if n not in ("José García", *added)]
    assert len(pool.names) == 2000 and len(distractors) == 1997
    assert not [n for n in distractors if name_parts(n) & protected]
    assert pool.user_names == tuple(added)          # the user's own names are kept as given


def test_a_namesake_the_user_adds_is_kept():
    pool = build_candidate_pool("Ann Lee", ["Bob Lee", "Ann Smith"], n_candidates=50, seed=0)
    assert {"Bob Lee", "Ann Smith"} <= set(pool.names)


# -- the paper's pool --------------------------------------------------------------------------

def test_paper_pool_is_the_papers_construction():
    from idia_core.text.paper import paper_first_names, paper_identities, paper_surnames

    real = paper_identities()
    assert len(real) == 548 and len(set(real)) == 548
    female, male = paper_first_names()
    assert len(female) == len(male) == 1000
    assert len(paper_surnames()) == len(set(paper_surnames())) == 1000  # all the paper used, "Archer" included
    pool = build_candidate_pool("Jane Doe", n_candidates=1000, seed=0, mode="paper")
    names = list(pool.names)
    assert len(names) == 1000 and names.count("Jane Doe") == 1 and pool.target == "Jane Doe"
    assert set(real) <= set(names)                                     # all 548 real identities
    randoms = [n for n in names if n not in set(real) and n != "Jane Doe"]
    assert len(randoms) == 451
    firsts = [n.split(" ", 1)[0] for n in randoms]
    n_f = sum(f in set(female) for f in firsts)
    n_m = sum(f in set(male) for f in firsts)
    assert n_f + n_m >= len(randoms) and abs(n_f - n_m) <= 60            # sex-balanced (some names are both)
    assert all(n.split(" ", 1)[1] in set(paper_surnames()) for n in randoms)
    # shuffled with the seed: the real identities are not a block, and the target is not last
    positions = [names.index(r) for r in real]
    assert max(positions) - min(positions) > 700 and pool.target_index != 999
    again = build_candidate_pool("Jane Doe", n_candidates=1000, seed=0, mode="paper")
    other = build_candidate_pool("Jane Doe", n_candidates=1000, seed=1, mode="paper")
    assert again.names == pool.names and other.names != pool.names and set(real) <= set(other.names)


def test_paper_pool_for_a_real_identity_leaves_them_out_once():
    from idia_core.text.paper import paper_identities

    target = paper_identities()[10]
    pool = build_candidate_pool(target, n_candidates=1000, seed=0, mode="paper")
    assert pool.names.count(target) == 1 and pool.target == target and len(pool.names) == 1000
    assert len(set(paper_identities()) & set(pool.names)) == 548


def test_paper_pool_with_its_own_identities_and_small_sizes():
    world = ["Émile Loiseau", "Dana Tichá", "Rodrigo Albero", "Olivier Masson"]
    pool = build_candidate_pool("Dana Tichá", ["Janet Doe"], n_candidates=100, seed=2, mode="paper",
                                real_identities=world)
    assert len(pool.names) == 100 and set(world) | {"Janet Doe"} <= set(pool.names)
    small = build_candidate_pool("Jane Doe", n_candidates=300, seed=0, mode="paper")
    assert len(small.names) == 300 and len(set(small.names)) == 300   # a seeded sample of the 548


def test_check_in_paper_mode_on_the_sandbox_uses_the_worlds_names():
    from idia_core.attack.run import paper_real_identities, resolve_pool
    from idia_core.sandbox.world import load_world

    world = load_world().names
    assert paper_real_identities("sandbox") == world and paper_real_identities("ViT-B-32:openai") is None
    pool = resolve_pool("Rodrigo Albero", None, (), 1000, 0, "paper", paper_real_identities("sandbox"))
    assert set(world) <= set(pool.names) and len(pool.names) == 1000
