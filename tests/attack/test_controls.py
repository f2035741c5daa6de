"""Validity controls (idia_core.attack.controls) on hand-made arrays, their verdict text, the bundle round
trip, and a folder reference set on a real (tiny) open_clip model."""
from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest

from idia_core.attack import controls as C
from idia_core.audit import explain
from idia_core.text.pool import CandidatePool
from idia_core.attack.run import evaluate_embeddings
from idia_core.attack.settings import IdiaSettings

D = 8
T = 3          # templates
NAMES = ("Jane Doe", "Ann Smith", "Bob Stone", "Cleo Park")   # target is index 0


def _unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _text(target_everywhere: bool) -> np.ndarray:
    """[T, C, D] prompts: candidate c points along axis c; with ``target_everywhere`` the target's
    prompts also carry a shared 'look' axis (7) that every face in the test has."""
    emb = np.zeros((T, len(NAMES), D), dtype=np.float32)
    for c in range(len(NAMES)):
        emb[:, c, c] = 1.0
    if target_everywhere:
        emb[:, 0, 7] = 3.0
    return _unit(emb)


def _faces(axis: int, n: int, rng, look: float = 2.0) -> np.ndarray:
    """n photos of one face near ``axis``, all with the shared look (axis 7)."""
    x = rng.normal(0, 0.05, (n, D)).astype(np.float32)
    x[:, axis] += 1.0
    x[:, 7] += look
    return _unit(x)


def _reference(rng, r: int = 60, n: int = 5) -> np.ndarray:
    """r reference people: faces along the other names" axes (1..3)."""
    return np.stack([_faces(1 + (i % 3), n, rng) for i in range(r)])


def test_a_name_that_wins_for_every_face_is_inconclusive():
    rng = np.random.default_rng(0)
    text = _text(target_everywhere=True)
    user = _faces(0, 5, rng)
    ref = _reference(rng)
    observed = int(C.reference_correct_counts(user[None], text, 0)[0])
    assert observed == T
    ctl = C.run_controls(user, ref, text, 0, observed, tau=1, m=20, seed=1)
    assert ctl.ran and ctl.look_alikes.m == 20 and ctl.name_prior.m == 20
    assert ctl.look_alikes.reached_tau == 20 and ctl.name_prior.reached_tau == 20
    assert ctl.look_alikes.chance == pytest.approx(21 / 21)
    assert C.controlled_verdict(True, ctl) == "inconclusive"


def test_a_name_that_wins_only_for_the_target_is_member():
    rng = np.random.default_rng(1)
    text = _text(target_everywhere=False)
    user = _faces(0, 5, rng)
    ref = _reference(rng)
    observed = int(C.reference_correct_counts(user[None], text, 0)[0])
    ctl = C.run_controls(user, ref, text, 0, observed, tau=1, m=20, seed=1)
    assert observed == T and ctl.look_alikes.reached_tau == 0 and ctl.name_prior.reached_tau == 0
    assert ctl.look_alikes.chance == pytest.approx(1 / 21) and ctl.look_alikes.passed
    assert ctl.look_alikes.distribution == [20, 0, 0, 0]
    assert C.controlled_verdict(True, ctl) == "member"
    assert C.controlled_verdict(False, ctl) == "non-member"
    assert C.controlled_verdict(True, C.not_run("no reference set")) == "member-unchecked"


def test_look_alikes_fail_while_random_people_pass():
    """A name tied to a look (axis 6 + the target axis) wins for people with that look only: the
    look-alike control catches it, the name prior alone would not."""
    rng = np.random.default_rng(2)
    text = _text(False)
    text[:, 0, 6] = 2.0
    text = _unit(text)
    user = _unit(_faces(6, 5, rng) + 0.3 * np.eye(D, dtype=np.float32)[0])
    look_alikes = np.stack([_unit(_faces(6, 5, rng) + 0.3 * np.eye(D, dtype=np.float32)[0]) for _ in range(30)])
    others = np.stack([_faces(1 + (i % 3), 5, rng, look=0.0) for i in range(200)])
    ref = np.concatenate([others, look_alikes])
    observed = int(C.reference_correct_counts(user[None], text, 0)[0])
    ctl = C.run_controls(user, ref, text, 0, observed, tau=1, m=25, seed=3)
    assert all(200 <= int(i) < 230 for i in ctl.look_alikes.reference_ids)
    assert ctl.look_alikes.at_least_observed >= 20 and not ctl.look_alikes.passed
    npr = ctl.name_prior   # random people get the name exactly when they happen to have the look
    assert npr.reached_tau == sum(int(i) >= 200 for i in npr.reference_ids) < 5
    # with fewer than 1/alpha - 1 = 19 reference people no control can pass: never a free "member"
    assert not C.run_controls(user, others, text, 0, observed, tau=1, m=18, seed=3).name_prior.passed
    assert C.controlled_verdict(observed >= 1, ctl) == "inconclusive"


def test_look_alike_selection_picks_the_nearest_reference_people():
    cents = _unit(np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0.5, 0.5, 0], [0, 0, 1], [0.99, 0.01, 0]]))
    query = _unit(np.array([[1, 0.02, 0], [1, -0.02, 0]]))
    assert C.nearest_reference(query, cents, 3).tolist() == [0, 5, 1]
    assert C.nearest_reference(query, cents, 10).tolist()[:4] == [0, 5, 1, 3]
    # ties go to the lower index, so the selection is reproducible
    assert C.nearest_reference(query, np.stack([cents[2], cents[2]]), 1).tolist() == [0]
    r = C.random_reference(100, 10, seed=4)
    assert len(set(r.tolist())) == 10 and r.tolist() == C.random_reference(100, 10, seed=4).tolist()


def test_reference_counts_match_the_rule_person_by_person():
    """The vectorised block product gives exactly attack.batch_idia's counts, with ties."""
    from idia_core.attack.rule import batch_idia

    rng = np.random.default_rng(5)
    ref = _unit(rng.normal(size=(37, 4, D)))
    text = _unit(rng.normal(size=(T, 6, D)))
    for target in (0, 3):
        want = batch_idia(ref, text, np.full(37, target))["correct"]
        assert C.reference_correct_counts(ref, text, target).tolist() == want.tolist()
    old = C._CHUNK_ELEMS
    try:
        C._CHUNK_ELEMS = 50   # force one person per block
        assert C.reference_correct_counts(ref, text, 3).tolist() == batch_idia(ref, text, np.full(37, 3))["correct"].tolist()
    finally:
        C._CHUNK_ELEMS = old


def test_reference_counts_never_give_a_tie_to_the_target():
    """The tie rule of attack.predict holds for reference people too: a name whose prompts embed
    exactly like the target's (or within TIE_TOLERANCE) takes the photo, wherever either sits in
    the pool, with and without the shared-column cache; the counts still equal batch_idia's."""
    from idia_core.attack.rule import TIE_TOLERANCE, batch_idia

    rng = np.random.default_rng(8)
    ref = _unit(rng.normal(size=(9, 3, D)))
    text = _unit(rng.normal(size=(T, 5, D)))
    text[:, 4] = _unit(ref[:, :, :].mean(axis=(0, 1)))[None]        # a name every reference face picks
    for twin in (0, 2):
        tied = text.copy()
        tied[:, twin] = tied[:, 4] * (1 + TIE_TOLERANCE / 4)          # within the tolerance
        for target in (twin, 4):
            got = C.reference_correct_counts(ref, tied, target)
            assert got.tolist() == batch_idia(ref, tied, np.full(9, target))["correct"].tolist() == [0] * 9
            for columns in ([1, 3], [1, 3, target]):
                val, idx = C.best_over_columns(ref, tied[:, columns])
                assert C.reference_correct_counts(ref, tied, target, (columns, val, idx)).tolist() == [0] * 9
    assert C.reference_correct_counts(ref, text, 4).tolist() == batch_idia(ref, text, np.full(9, 4))["correct"].tolist()
    assert C.reference_correct_counts(ref, text, 4).sum() > 0     # without the twin the name does win


def test_empirical_chance_and_wilson():
    assert C.empirical_chance(5, [0, 1, 5, 7]) == pytest.approx(3 / 5)
    assert C.empirical_chance(5, []) == 1.0
    lo, hi = C.wilson_95(7, 50)
    assert 0.06 < lo < 0.07 and 0.26 < hi < 0.27
    o = C.ControlOutcome(C.LOOK_ALIKES, (0, 2, 21, 21), ("a", "b", "c", "d"), 21, 1, 21)
    assert o.reached_tau == 3 and o.at_least_observed == 2 and o.chance == pytest.approx(3 / 5)
    assert C.ControlOutcome.from_dict(json.loads(json.dumps(o.to_dict()))) == o


def test_too_few_reference_photos_or_people_means_not_run():
    rng = np.random.default_rng(6)
    text = _text(False)
    user = _faces(0, 5, rng)
    assert not C.run_controls(user, _reference(rng, n=3), text, 0, 3, 1).ran
    assert "fewer than the 5" in C.run_controls(user, _reference(rng, n=3), text, 0, 3, 1).reason
    assert not C.run_controls(user, np.zeros((0, 5, D)), text, 0, 3, 1).ran


# -- the verdict the reader sees --------------------------------------------------------------

def _result(target_everywhere: bool, with_controls: str):
    rng = np.random.default_rng(7)
    text = _text(target_everywhere)
    user = _faces(0, 5, rng)
    pool = CandidatePool(NAMES, 0)
    model = SimpleNamespace(spec="hand-made", fingerprint="hand-made")
    photos = [SimpleNamespace(sha256=f"{i:064x}", label=f"p{i}") for i in range(5)]
    res = evaluate_embeddings(user, text, pool, ("a photo of {0}.",) * T, tau=1, logit_scale=100.0, photos=photos,
                              model=model, settings=IdiaSettings(model="hand-made", n_candidates=4), timings={})
    if with_controls == "run":
        ctl = C.run_controls(user, _reference(rng), text, 0, res.correct_templates, 1, m=20, seed=0,
                             reference_set={"name": "hand-made", "sha256": "ab" * 32, "people": 60,
                                            "photos_per_person": 5})
    else:
        ctl = C.not_run("no reference set was given")
    return dataclasses.replace(res, controls=ctl)


def test_verdict_text_for_each_case():
    inconclusive = _result(True, "run")
    assert inconclusive.member and inconclusive.verdict == "inconclusive"
    first = explain.verdict_sentence(inconclusive)
    assert first.startswith("Inconclusive") and "Jane Doe" in first and "20 of 20" in first

    member = _result(False, "run")
    assert member.verdict == "member"
    text = explain.explanation(member)
    assert explain.verdict_sentence(member).startswith("The model very likely saw")
    assert "Validity controls passed" in text and "0 get 3 or more" in text and "hand-made" in text

    unchecked = _result(False, "none")
    assert unchecked.verdict == "member-unchecked"
    assert "could not be run: no reference set was given" in explain.explanation(unchecked)
    assert unchecked.to_dict()["verdict"] == "member-unchecked"


def test_evidence_bundle_round_trip_keeps_the_controls(tmp_path):
    from idia_core.audit.evidence import evidence_dict

    res = _result(True, "run")
    data = json.loads(json.dumps(evidence_dict(res)))
    assert data["verdict"]["controlled_verdict"] == "inconclusive"
    assert data["reproduce"]["reference_set"]["sha256"] == "ab" * 32 and data["reproduce"]["control_m"] == 20
    back = C.ValidityControls.from_dict(data["verdict"]["controls"])
    assert back == res.controls
    assert data["result"]["controls"]["look_alikes"]["counts"] == list(res.controls.look_alikes.counts)


def test_reference_set_hash_is_order_free_and_content_bound():
    a = C.reference_set_hash({"p1": ["aa", "bb"], "p2": ["cc"]})
    assert a == C.reference_set_hash({"p2": ["cc"], "p1": ["aa", "bb"]})
    assert a != C.reference_set_hash({"p1": ["aa", "bb"], "p2": ["cd"]})


# -- a folder reference set on a real model ---------------------------------------------------

def test_folder_reference_set_on_a_real_model(tmp_path, tiny_model, photo_files):
    from tests.helpers import draw_face_photos

    from idia_core.errors import IdiaInputError
    from idia_core.attack.reference import folder_reference_set
    from idia_core.attack.run import run_idia

    ref_dir = tmp_path / "reference"
    for j, person in enumerate(["Ann Other", "Jane Doe", "Bo Third", "Cy Fourth"]):
        (ref_dir / person).mkdir(parents=True)
        for i, im in enumerate(draw_face_photos(5, seed=100 + j)):
            im.save(ref_dir / person / f"{i}.png")
    (ref_dir / "too few").mkdir()
    draw_face_photos(1, seed=9)[0].save(ref_dir / "too few" / "0.png")

    res = run_idia(tiny_model, photo_files, "Jane Doe", n_candidates=50, reference=str(ref_dir), control_m=10)
    ctl = res.controls
    assert ctl.ran and ctl.reference_set["people"] == 4 and len(ctl.reference_set["sha256"]) == 64
    # the target's own folder and the one with too few photos are left out
    assert sorted(ctl.look_alikes.reference_ids) == ["Ann Other", "Bo Third", "Cy Fourth"]
    again = run_idia(tiny_model, photo_files, "Jane Doe", n_candidates=50, reference=str(ref_dir), control_m=10)
    assert again.controls == ctl
    assert folder_reference_set(tiny_model, ref_dir, 5).sha256 == ctl.reference_set["sha256"]
    off = run_idia(tiny_model, photo_files, "Jane Doe", n_candidates=50)
    assert not off.controls.ran and "IDIA_REFERENCE_DIR" in off.controls.reason
    with pytest.raises(IdiaInputError, match="no sub-folder"):
        run_idia(tiny_model, photo_files, "Jane Doe", n_candidates=50, reference=str(ref_dir / "too few"))


def test_verify_reproduces_the_controls_and_names_a_different_reference_set(tmp_path, tiny_model, photo_files):
    from tests.helpers import draw_face_photos

    from idia_core.audit.verify import verify_evidence
    from idia_core.audit.evidence import write_evidence_bundle
    from idia_core.attack.run import run_idia

    ref_dir = tmp_path / "reference"
    for j in range(25):
        (ref_dir / f"person {j:02d}").mkdir(parents=True)
        for i, im in enumerate(draw_face_photos(5, seed=200 + j, size=48)):
            im.save(ref_dir / f"person {j:02d}" / f"{i}.png")
    res = run_idia(tiny_model, photo_files, "Jane Doe", n_candidates=50, reference=str(ref_dir), control_m=20)
    paths = write_evidence_bundle(res, tmp_path / "bundle")
    assert "Validity controls" in paths["html"].read_text(encoding="utf-8")
    ok = verify_evidence(paths["json"], photo_files, model=tiny_model, reference=str(ref_dir))
    assert ok.reproduced and ok.observed["verdict"] == res.verdict, ok.summary()
    # another reference folder: the verdict may even agree, but the controls are not the recorded ones
    (ref_dir / "person 00" / "0.png").unlink()
    draw_face_photos(1, seed=999, size=48)[0].save(ref_dir / "person 00" / "0.png")
    other = verify_evidence(paths["json"], photo_files, model=tiny_model, reference=str(ref_dir))
    assert not other.reproduced and "reference set differs" in other.summary()
    missing = verify_evidence(paths["json"], photo_files, model=tiny_model)
    assert not missing.reproduced and "--reference" in missing.summary()


def test_share_link_carries_the_controlled_verdict_and_reference_set():
    from idia_core.chat import share
    from idia_core.chat.session import SharedRun

    run = SharedRun(settings=IdiaSettings(), name="Jane Doe", photo_hashes=("ab" * 32,), member=True,
                    correct_templates=5, fingerprint="fp", verdict="inconclusive", reference="cd" * 32)
    back = share.decode(share.encode(run))
    assert (back.verdict, back.reference, back.member) == ("inconclusive", "cd" * 32, True)
    # hand-edited values are refused at decode time like every other link field (the link's error
    # message, the value only as a code span)
    from idia_core.errors import IdiaInputError

    for edited, shown in ((share.encode(run).replace("inconclusive", "certainly"), "`certainly`"),
                          (share.encode(run).replace("cd" * 32, "%3Cscript%3E"), "`<script>`")):
        with pytest.raises(IdiaInputError) as err:
            share.decode(edited)
        assert err.value.code == "share_field" and shown in err.value.message


def test_a_sandbox_reference_set_of_fewer_photos_is_the_first_photos_of_the_rendered_one(tiny_model):
    import hashlib

    from idia_core.attack.reference import SANDBOX_REFERENCE_PHOTOS, sandbox_reference_set
    from idia_core.sandbox.identity import derive_seed
    from idia_core.sandbox.renderer import render_photo
    from idia_core.sandbox.world import generate_world

    world = generate_world(5, n_members_per_k=1, member_ks=(1,), n_non_members=2, n_face_only=1, n_name_only=0,
                           n_fillers=0, n_trap_signatures=1, n_look_alikes_per_signature=1)
    full = sandbox_reference_set(tiny_model, SANDBOX_REFERENCE_PHOTOS, world)
    three = sandbox_reference_set(tiny_model, 3, world)
    assert full.embeddings.shape[:2] == (4, SANDBOX_REFERENCE_PHOTOS)   # 2 non-members, 1 face-only, 1 look-alike
    assert three.embeddings.shape[:2] == (4, 3) and three.ids == full.ids
    np.testing.assert_array_equal(three.embeddings, full.embeddings[:, :3])
    # the identity is that of rendering three photos per person, whoever rendered more first
    people = [p for p in world.people if f"sandbox#{p.index}" in three.ids]
    fresh = {f"sandbox#{p.index}": [hashlib.sha256(render_photo(p.identity, derive_seed("reference", world.seed, p.index, i),
                                                                128).tobytes()).hexdigest() for i in range(3)]
             for p in people}
    assert three.sha256 == C.reference_set_hash(fresh) != full.sha256
    assert sandbox_reference_set(tiny_model, 12, world).embeddings.shape[1] == 12
