"""Significance that carries information: the validity controls' chance leads everywhere (the
explanation, the result's JSON, the evidence bundle, the chat's compare table), the pool-rank p
is a documented secondary number, and nothing says "unlikely by chance" when the controls
disagree. Expected chances are counted here from the reference people's raw counts."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from idia_core import load_model, run_idia
from idia_core.attack import rule
from idia_core.audit import explain
from idia_core.audit.evidence import canonical_json, evidence_dict, evidence_html, write_evidence_bundle
from idia_core.audit.verify import verify_evidence
from idia_core.chat.compare import chance_cell
from idia_core.sandbox.world import load_world, render_attack_photos


@pytest.fixture(scope="module")
def sandbox():
    return load_model("sandbox")


@pytest.fixture(scope="module")
def world():
    return load_world()


def _photos(world, name, n=10):
    return render_attack_photos(next(p for p in world.people if p.name == name), n, seed=0)


def counted_chance(outcome, observed: int) -> float:
    """(1 + #{reference people with >= observed}) / (M + 1), counted from the raw counts."""
    counts = list(outcome.counts)
    return (1 + sum(c >= observed for c in counts)) / (len(counts) + 1)


def test_a_look_alike_trap_is_not_called_unlikely_by_chance(sandbox, world):
    """Benthe Thorsen, a trap (never in training; her name was captioned on 80 strangers sharing her
    look): the rule says member and the pool-rank p is tiny, but the look-alikes get the name as
    often, so the chance is large and the sentence says so."""
    result = run_idia(sandbox, _photos(world, "Benthe Thorsen"), "Benthe Thorsen")
    assert result.member and result.verdict == "inconclusive"
    assert result.pool_rank_p <= 0.05                        # what the old p-value would have called significant
    la, npr = result.controls.look_alikes, result.controls.name_prior
    expected = max(counted_chance(la, result.correct_templates), counted_chance(npr, result.correct_templates))
    assert result.chance == pytest.approx(expected) and result.chance > 0.05
    sentence = explain.significance_sentence(result)
    assert sentence.startswith("Not unlikely by chance") and "unlikely" not in sentence.replace("Not unlikely", "")
    assert f"{la.at_least_observed} get Benthe Thorsen in {result.correct_templates} or more" in sentence
    assert "conservative rather than exact" in sentence and "not exchangeable" in sentence
    text = explain.explanation(result)
    assert "By chance this is unlikely" not in text and "Pool rank, a secondary number" in text
    data = result.to_dict()
    assert data["chance"] == pytest.approx(expected)
    assert data["pool_rank_p"] == data["p_value"] == result.pool_rank_p == result.p_value   # the old key, same number
    bundle = evidence_dict(result)
    assert bundle["version"] == 2 and bundle["verdict"]["chance"] == pytest.approx(expected)
    assert bundle["verdict"]["significance"]["statement"] == sentence
    assert bundle["verdict"]["pool_rank_p"] == bundle["verdict"]["p_value"] == result.pool_rank_p
    html = evidence_html(result, bundle)
    assert "Not unlikely by chance" in html and "By chance this is unlikely" not in html
    assert chance_cell(result) == f"{expected:.3g}"


def test_a_member_beats_both_controls_and_is_unlikely_by_chance(sandbox, world):
    result = run_idia(sandbox, _photos(world, "Émile Loiseau"), "Émile Loiseau")
    assert result.verdict == "member"
    expected = max(counted_chance(result.controls.look_alikes, result.correct_templates),
                   counted_chance(result.controls.name_prior, result.correct_templates))
    assert result.chance == pytest.approx(expected) and result.chance <= 0.05
    assert explain.significance_sentence(result).startswith("By chance this is unlikely")
    assert f"at most {expected:.3g}" in explain.significance_sentence(result)


def test_without_controls_the_chance_is_not_measured(sandbox, world):
    result = run_idia(sandbox, _photos(world, "Émile Loiseau"), "Émile Loiseau", reference="none")
    assert result.member and result.verdict == "member-unchecked" and result.chance is None
    sentence = explain.significance_sentence(result)
    assert sentence.startswith("How unlikely this is by chance is not measured: the controls were turned off")
    assert "unlikely by chance" not in explain.explanation(result).replace("How unlikely this is by chance", "")
    assert result.to_dict()["chance"] is None and evidence_dict(result)["verdict"]["chance"] is None
    assert chance_cell(result).startswith("not measured")


def brute_pool_rank(majority, n_candidates: int, true_index: int) -> float:
    wins = [0] * n_candidates
    for m in majority:
        if m >= 0:
            wins[m] += 1
    rivals = sum(1 for c in range(n_candidates) if c != true_index and wins[c] >= wins[true_index])
    return (1 + rivals) / n_candidates


def test_the_pool_rank_p_only_restates_the_rule():
    """Whenever the true name wins a template, p <= T / C: with 21 templates and 1000 names it is at
    most 0.021 for every member — it cannot tell a member from a trap."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        t, c = 21, int(rng.integers(30, 1200))
        majority = np.where(rng.random(t) < 0.2, -1, rng.integers(0, min(c, 6), t))
        p = rule.pool_rank_p_value(majority, c, 0)
        assert p == pytest.approx(brute_pool_rank(majority, c, 0))
        if (majority == 0).any():
            assert p <= t / c


def test_a_version_1_bundle_still_verifies(tiny_model, photo_files, tmp_path):
    """Bundles written before significance led with the controls (version 1: ``p_value`` and the
    name-swap ``null_hypothesis`` only) are read and verified unchanged."""
    result = run_idia(tiny_model, photo_files, "Jane Doe", n_candidates=25, seed=4)
    data = json.loads(json.dumps(evidence_dict(result)))
    data["version"] = 1
    for key in ("chance", "significance", "pool_rank_p"):
        del data["verdict"][key]
    data["verdict"]["null_hypothesis"] = ("Null hypothesis (name swap): the model never learned this face with "
                                          "this name, ...")
    for key in ("chance", "pool_rank_p"):
        del data["result"][key]
    for controls in (data["verdict"]["controls"], data["result"]["controls"]):
        (controls or {}).pop("chance", None)
    del data["content_sha256"]
    data["content_sha256"] = hashlib.sha256(canonical_json(data)).hexdigest()
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    outcome = verify_evidence(path, photo_files, model=tiny_model)
    assert outcome.reproduced and outcome.content_intact, outcome.summary()
    written = write_evidence_bundle(result, tmp_path / "v2")
    assert verify_evidence(written["json"], photo_files, model=tiny_model).reproduced
