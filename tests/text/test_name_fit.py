"""Names that fit the model, candidates the model can tell apart, namesakes: on the shipped sandbox
CLIP (real open_clip tokenizer and text tower, context length 32) and the tiny test model."""
from __future__ import annotations

import pytest

from idia_core import IdiaInputError, load_model, run_idia
from idia_core.audit.explain import explanation
from idia_core.text.name_fit import fit_pool_to_model, measure_names
from idia_core.text.pool import build_candidate_pool
from idia_core.text.names import name_parts
from idia_core.sandbox.world import load_world, render_attack_photos
from idia_core.text.templates import fill_template, load_templates

GEORGIAN_39 = "ანა-ალექსანდრე ბერიძე-ჯაფარიძე-ხარაიშვილიძე"      # 39 letters
SPANISH_66 = "María de los Ángeles Fernández-Villaverde y Gutiérrez de la Concha"
T21 = load_templates("paper21")


@pytest.fixture(scope="module")
def sandbox():
    return load_model("sandbox", device="cpu")


@pytest.fixture(scope="module")
def world():
    return load_world()


def _photos(world, name, n=10, seed=5):
    person = next(p for p in world.people if p.name == name)
    return render_attack_photos(person, n, seed)


def _really_cut(model, name) -> int:
    """Templates whose prompt open_clip itself cuts: tokenising with a longer context differs."""
    ctx = model.tokenizer.context_length
    prompts = [fill_template(t, name) for t in T21]
    short = model.tokenizer(prompts).numpy()
    long = model.tokenizer(prompts, context_length=ctx + 64).numpy()
    return int(((short != long[:, :ctx]).any(1) | (long[:, ctx:] != 0).any(1)).sum())


@pytest.mark.parametrize("name", [GEORGIAN_39, SPANISH_66])
def test_a_name_the_model_would_cut_is_refused_before_the_check(sandbox, world, name):
    assert sum(ch.isalpha() for ch in name) == 39 or len(name) == 66
    cut = _really_cut(sandbox, name)
    assert cut > 0                                   # the model really would cut it
    with pytest.raises(IdiaInputError) as err:
        run_idia(sandbox, _photos(world, "Rodrigo Albero", 3), name, n_candidates=20)
    assert err.value.code == "name_too_long_for_model"
    msg = err.value.message
    assert name in msg and "32 tokens" in msg and f"{cut} of the 21" in msg and "cut" in msg


def test_cut_candidates_are_dropped_and_reported_and_counts_agree_with_open_clip(sandbox, world):
    long_a = GEORGIAN_39
    long_b = GEORGIAN_39[:-2] + "ია"             # differs only at the end: identical once cut
    fit = measure_names(sandbox, T21, ["Rodrigo Albero", long_a, long_b, SPANISH_66, "Ann Lee"])
    assert list(fit.templates_cut) == [_really_cut(sandbox, n) for n in fit.names]
    result = run_idia(sandbox, _photos(world, "Rodrigo Albero", 4), "Rodrigo Albero",
                      extra_names=[long_a, long_b, SPANISH_66, "Ann Lee"], n_candidates=30)
    assert set(result.too_long_dropped) == {long_a, long_b, SPANISH_66}
    assert "Ann Lee" in result.candidates and not {long_a, long_b, SPANISH_66} & set(result.candidates)
    assert result.to_dict()["too_long_dropped"] == list(result.too_long_dropped)
    assert "would cut" in explanation(result)


def test_a_spelling_that_tokenises_like_the_target_is_one_candidate(sandbox, world):
    """'Karl - Heinrich Mende' beside 'Karl-Heinrich Mende' had identical embeddings and took every
    tied vote (a k=10 member fell to 0 templates); now it is merged into the target and reported."""
    name = "Karl-Heinrich Mende"
    photos = _photos(world, name, 10, seed=0)
    alone = run_idia(sandbox, photos, name, n_candidates=100)
    twin = run_idia(sandbox, photos, name, extra_names=["Karl - Heinrich Mende", "KARL-HEINRICH  MENDE"],
                    n_candidates=100)
    assert "Karl - Heinrich Mende" in twin.indistinct_dropped
    assert twin.candidates.count(name) == 1 and "Karl - Heinrich Mende" not in twin.candidates
    assert twin.correct_templates == alone.correct_templates > 0
    assert twin.member


def test_names_that_differ_only_by_accents_stay_two_candidates(sandbox):
    pool = build_candidate_pool("Zoë Saldaña", ["Zoe Saldana"], n_candidates=10, seed=0)
    assert {"Zoë Saldaña", "Zoe Saldana"} <= set(pool.names)
    fitted = fit_pool_to_model(pool, sandbox, T21)
    assert {"Zoë Saldaña", "Zoe Saldana"} <= set(fitted.names) and not fitted.indistinct_dropped
    # the model really embeds them differently
    emb = sandbox.encode_texts([fill_template(T21[2], "Zoë Saldaña"), fill_template(T21[2], "Zoe Saldana")])
    assert float(emb[0] @ emb[1]) < 0.9999


def test_the_whole_prompt_path_agrees_with_the_per_name_path(tiny_model):
    """A template that glues text to the name forces tokenising whole prompts; both paths must
    report the same cuts and the same identical-token groups."""
    names = ["Karl-Heinrich Mende", "Karl - Heinrich Mende", "Zoë Saldaña", "Zoe Saldana", SPANISH_66 * 2]
    spaced = measure_names(tiny_model, T21, names)
    glued = measure_names(tiny_model, T21 + ("portrait:{0}",), names)
    assert spaced.signatures[0] == spaced.signatures[1] and spaced.signatures[2] != spaced.signatures[3]
    assert glued.signatures[0] == glued.signatures[1] and glued.signatures[2] != glued.signatures[3]
    assert spaced.templates_cut[-1] == 21 and glued.templates_cut[-1] == 22
    assert spaced.templates_cut[:4] == glued.templates_cut[:4] == (0, 0, 0, 0)


def test_the_default_pool_has_no_namesakes_and_the_member_then_wins(sandbox, world):
    """A well-learned member (k=100) lost templates to a distractor with the same surname; the
    default pool now has no distractor sharing a first name or surname with the person or with the
    names added, and a namesake the user adds is kept and named as such when it beats the person."""
    name, namesake = "Éric Lemaître", "Thibault Lemaître"
    assert next(p for p in world.people if p.name == name).k == 100
    big = build_candidate_pool(name, n_candidates=1000, seed=0)
    assert not [n for n in big.names if n != name and name_parts(n) & name_parts(name)]
    photos = _photos(world, name, 10, seed=5)
    free = run_idia(sandbox, photos, name, n_candidates=200)
    split = run_idia(sandbox, photos, name, extra_names=[namesake], n_candidates=200)
    assert namesake in split.candidates                      # the user's own name is kept
    assert not [n for n in split.candidates if n not in (name, namesake) and name_parts(n) & name_parts(name)]
    won_by_namesake = split.majority_names.count(namesake)
    assert won_by_namesake >= 7 and split.correct_templates < free.correct_templates
    assert free.member and free.correct_templates >= 15
    text = explanation(split)
    assert f"{namesake}, a name you added, won {won_by_namesake} of 21" in text and "namesake" in text


def test_a_look_alike_the_user_added_is_called_a_look_alike(sandbox, world):
    """Without its accent the surname still pulls the vote on the shipped model: the explanation
    says the added spelling is a look-alike (not a namesake: it is the same name respelled)."""
    name, other = "Dana Tichá", "Dana Ticha"
    r = run_idia(sandbox, _photos(world, name, 10, seed=5), name, extra_names=[other], n_candidates=50)
    wins = r.majority_names.count(other)
    assert other in r.candidates and wins >= max(1, r.correct_templates)
    text = explanation(r)
    assert f"{other}, a name you added, won {wins} of 21" in text and "look-alike" in text
    assert "a namesake" not in text


# -- a name left out is replaced: the pool keeps its size ---------------------------------------

def test_a_dropped_twin_or_cut_name_is_refilled_from_the_seeded_distractors(sandbox):
    """The replacements are the next names of the pool's own stream: what a pool two names larger
    adds (pools of different sizes share their names), each in the place of a name left out."""
    target, users = "Karl-Heinrich Mende", ["Karl - Heinrich Mende", GEORGIAN_39, "Ann Lee"]
    pool = build_candidate_pool(target, users, n_candidates=100, seed=3)
    larger = build_candidate_pool(target, users, n_candidates=102, seed=3)
    extra = [n for n in larger.names if n not in set(pool.names)]
    assert len(extra) == 2
    fitted = fit_pool_to_model(pool, sandbox, T21)
    assert len(fitted.names) == 100 and fitted.target == target
    assert fitted.indistinct_dropped == ("Karl - Heinrich Mende",) and fitted.too_long_dropped == (GEORGIAN_39,)
    expected = [extra.pop(0) if n in ("Karl - Heinrich Mende", GEORGIAN_39) else n for n in pool.names]
    assert list(fitted.names) == expected and fitted.user_names == ("Ann Lee",)
    assert fit_pool_to_model(pool, sandbox, T21) == fitted                       # deterministic


def test_a_paper_pool_keeps_its_size_too(sandbox):
    pool = build_candidate_pool("Rodrigo Albero", ["Karl - Heinrich Mende", "Karl-Heinrich  Mende"],
                                n_candidates=1000, seed=42, mode="paper")
    fitted = fit_pool_to_model(pool, sandbox, T21)
    assert len(pool.names) == len(fitted.names) == 1000 and fitted.indistinct_dropped
    assert len({n.casefold() for n in fitted.names}) == 1000


def test_an_explicit_candidate_list_is_never_refilled(sandbox):
    """``verify`` re-runs a recorded pool name for name: nothing may be added to it."""
    from idia_core.attack.run import resolve_pool

    pool = resolve_pool("Karl-Heinrich Mende", ["Ann Lee", "Karl - Heinrich Mende", "Bo Ek"], (), 4, 0, "mixed")
    fitted = fit_pool_to_model(pool, sandbox, T21)
    assert fitted.names == ("Ann Lee", "Bo Ek", "Karl-Heinrich Mende")


def test_an_evaluation_pool_keeps_its_size(sandbox):
    from idia_core.text.name_fit import fit_evaluation_pool
    from idia_core.text.pool import distractor_names
    from idia_core.text.names import identity_key

    people = ("Rodrigo Albero", "Dana Tichá")
    pool = people + (GEORGIAN_39, "Karl-Heinrich Mende", "Karl - Heinrich Mende", "Ann Lee")
    names, dropped = fit_evaluation_pool(sandbox, T21, pool, people, seed=4, mode="mixed")
    assert dropped == {"too_long_dropped": [GEORGIAN_39], "indistinct_dropped": ["Karl - Heinrich Mende"]}
    parts = name_parts("Rodrigo Albero") | name_parts("Dana Tichá")
    taken = {identity_key(n) for n in pool}
    stream = [n for n in distractor_names(4, "mixed", 64) if identity_key(n) not in taken and not name_parts(n) & parts]
    assert list(names) == list(people) + [stream[0], "Karl-Heinrich Mende", stream[1], "Ann Lee"]
