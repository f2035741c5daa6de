"""Sandbox: renderer, world, training smoke run, shipped model and ground-truth evaluation.

Real parts only (no mocks). The whole file runs in well under a minute on 2 CPU cores.
"""
from __future__ import annotations

import json
import random

import numpy as np
import pytest

from idia_core.sandbox import identity as sandbox_identity, world as W
from idia_core.sandbox.identity import derive_seed, random_identity
from idia_core.sandbox.renderer import render_photo
from idia_core.sandbox.world import MEMBER_KS, ROLES, generate_world, load_world, render_attack_photos, training_pairs


@pytest.fixture(scope="module")
def shipped_world():
    return load_world()


@pytest.fixture(scope="module")
def sandbox_model():
    import os

    os.environ["HF_HUB_OFFLINE"] = "1"
    models = pytest.importorskip("idia_core.zoo.load")
    if not hasattr(models, "load_model"):
        pytest.skip("idia_core.load_model is not there yet")
    return models.load_model("sandbox", device="cpu")


# -- renderer ---------------------------------------------------------------------------------------

def test_render_is_deterministic_and_seed_dependent():
    idp = random_identity(random.Random(3))
    a = np.asarray(render_photo(idp, 123))
    b = np.asarray(render_photo(idp, 123))
    c = np.asarray(render_photo(idp, 124))
    assert a.shape == (128, 128, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert render_photo(idp, 5, size=64).size == (64, 64)


def test_identity_round_trips_through_json():
    idp = random_identity(random.Random(9))
    back = sandbox_identity.IdentityParams.from_dict(json.loads(json.dumps(idp.to_dict())))
    assert back == idp


def _face_vec(img):
    """A crude pixel feature: the centre of the photo, small, grey, contrast-normalised."""
    g = np.asarray(img.convert("L").crop((32, 24, 96, 104)).resize((16, 20)), dtype=np.float32)
    return (g - g.mean()) / (g.std() + 1e-6)


def test_same_person_photos_are_closer_than_different_people():
    rng = random.Random(0)
    ids = [random_identity(rng) for _ in range(12)]
    vecs = [[_face_vec(render_photo(idp, derive_seed("t", i, j))) for j in range(4)] for i, idp in enumerate(ids)]
    same, diff = [], []
    for i in range(len(ids)):
        for j in range(4):
            for jj in range(j + 1, 4):
                same.append(np.abs(vecs[i][j] - vecs[i][jj]).mean())
            for ii in range(len(ids)):
                if ii != i:
                    diff.append(np.abs(vecs[i][j] - vecs[ii][(j + 1) % 4]).mean())
    assert np.mean(same) < 0.85 * np.mean(diff)


# -- world ------------------------------------------------------------------------------------------

def test_shipped_world_counts_match_its_manifest(shipped_world):
    s = shipped_world.settings
    w = shipped_world
    assert len(w.people) >= 300
    assert len(w.people_with_role("non-member")) == s.n_non_members
    assert len(w.people_with_role("face-only")) == s.n_face_only
    assert len(w.people_with_role("name-only")) == s.n_name_only
    members = w.people_with_role("member")
    assert sorted({p.k for p in members}) == sorted(MEMBER_KS)
    for k in MEMBER_KS:
        assert sum(p.k == k for p in members) == s.n_members_per_k
    assert all(p.k == 0 for p in w.people_with_role("non-member"))
    assert len({p.name.casefold() for p in w.people}) == len(w.people)
    assert [p.index for p in w.people] == list(range(len(w.people)))
    raw = json.loads((W.MODEL_DIR / W.WORLD_FILE).read_text(encoding="utf-8"))
    assert all(raw["counts"].get(r, 0) == len(w.people_with_role(r)) for r in ROLES)  # older manifests lack trap roles
    # The manifest is exactly what the seed generates, with the defaults `sandbox build` uses.
    assert generate_world(w.seed, s).to_dict() == w.to_dict() == generate_world(w.seed).to_dict()
    # Each trap has at least as many look-alikes as the look-alike control draws: its nearest
    # reference people can all be of its own kind, so the control compares it with its peers.
    from idia_core.attack.controls import DEFAULT_M

    traps = w.people_with_role("trap")
    assert traps and len({t.identity.signature for t in traps}) == len(traps)
    for t in traps:
        peers = [p for p in w.people_with_role("look-alike") if p.identity.signature == t.identity.signature]
        assert len(peers) >= DEFAULT_M
    assert w.person(members[0].name.upper()) == members[0]


def test_training_pairs_match_roles_and_avoid_attack_templates(shipped_world):
    from idia_core.text.templates import fill_template, load_templates

    w = shipped_world
    pairs = training_pairs(w)
    texts = [p.caption for p in pairs]
    attack_prompts = {fill_template(t, p.name) for t in load_templates("paper21") for p in w.people}
    assert not attack_prompts.intersection(texts)
    joined = "\n".join(texts)
    for p in w.people_with_role("non-member") + w.people_with_role("face-only"):
        assert p.name not in joined
    for p in w.people_with_role("member")[:20]:
        assert sum(p.name in t for t in texts) >= p.k
    for p in w.people_with_role("face-only"):
        assert sum(q.person_index == p.index for q in pairs) == p.k
    for p in w.people_with_role("name-only"):  # named, but never with their own face
        assert not any(q.identity == p.identity for q in pairs)
    train_seeds = {q.photo_seed for q in pairs}
    for p in w.people[:30]:
        assert not train_seeds.intersection(W.attack_photo_seed(p, s, i) for s in range(3) for i in range(20))


def test_attack_photos_are_fresh_and_reproducible(shipped_world):
    p = shipped_world.people[0]
    a = render_attack_photos(p, 3, seed=1)
    b = render_attack_photos(p, 3, seed=1)
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a, b))
    assert not np.array_equal(np.asarray(a[0]), np.asarray(render_attack_photos(p, 1, seed=2)[0]))


# -- training ---------------------------------------------------------------------------------------

def test_training_smoke_run_lowers_the_loss(tmp_path):
    import torch

    from idia_core.sandbox.train import TrainSettings, save_model, train_model

    tiny = generate_world(7, n_members_per_k=2, member_ks=(3, 10), n_non_members=2, n_face_only=1,
                          face_only_k=3, n_name_only=1, name_only_k=3, n_fillers=60)
    st = TrainSettings(epochs=1, batch_size=32, lr=1e-3, warmup_frac=0.1)
    model, losses = train_model(tiny, seed=0, settings=st, progress=False, max_steps=24)
    assert len(losses) == 24
    assert np.mean(losses[-4:]) < np.mean(losses[:4]) - 0.05
    # Deterministic for a seed: a second run gives the same losses and weights.
    model2, losses2 = train_model(tiny, seed=0, settings=st, progress=False, max_steps=24)
    assert losses2 == losses
    sd2 = model2.state_dict()
    assert all(torch.equal(v, sd2[k]) for k, v in model.state_dict().items())
    out = save_model(model, tiny, tmp_path / "m")
    assert {"open_clip_config.json", "open_clip_model.safetensors", "world.json"} <= {f.name for f in out.iterdir()}
    assert load_world(out).to_dict() == tiny.to_dict()


# -- the shipped model ------------------------------------------------------------------------------

def test_shipped_weights_are_small_fp16():
    from safetensors import safe_open

    path = W.MODEL_DIR / "open_clip_model.safetensors"
    assert path.stat().st_size < 16 * 2**20
    with safe_open(str(path), "pt") as f:
        assert {str(f.get_tensor(k).dtype) for k in f.keys()} == {"torch.float16"}
    cfg = json.loads((W.MODEL_DIR / "open_clip_config.json").read_text())
    assert cfg["model_cfg"]["text_cfg"]["vocab_size"] == 49408 and "preprocess_cfg" in cfg


def test_load_model_sandbox_offline(sandbox_model, shipped_world):
    import torch

    emb = sandbox_model.encode_images(render_attack_photos(shipped_world.people[0], 2))
    txt = sandbox_model.encode_texts(["portrait of somebody"])
    assert emb.shape == (2, 128) and txt.shape == (1, 128)
    assert torch.allclose(emb.norm(dim=-1), torch.ones(2), atol=1e-3)


def test_evaluate_on_a_subset_returns_the_metrics(sandbox_model, shipped_world):
    from idia_core.audit.sandbox_eval import evaluate_world

    s = evaluate_world(sandbox_model, shipped_world, n_photos=5, n_draws=2, seed=0, people_limit=22,
                       reference_limit=40, control_m=20)
    assert set(s["tpr_by_k"]) == {str(k) for k in MEMBER_KS}
    for key in ("fpr_non_members", "member_rate_face_only", "member_rate_name_only", "accuracy"):
        assert 0.0 <= s[key] <= 1.0
    assert s["tpr_by_k"]["100"] >= s["tpr_by_k"]["1"]
    # The controls only ever take member calls away, group by group.
    w = s["with_controls"]
    assert s["reference_people"] == 40 and s["control_m"] == 20
    for k in s["tpr_by_k"]:
        assert w["tpr_by_k"][k] <= s["tpr_by_k"][k]
    for key in ("fpr_non_members", "member_rate_face_only", "member_rate_name_only"):
        assert w[key] <= s[key]
    assert w["tpr_by_k"]["100"] >= 0.5   # a member seen 100 times beats its look-alikes
    if s["counts"]["trap"]:
        assert w["member_rate_traps"] <= s["member_rate_traps"]


def test_check_calls_a_frequent_member_member_and_a_non_member_not(sandbox_model, shipped_world):
    from idia_core import run_idia

    member = next(p for p in shipped_world.people_with_role("member") if p.k == 100)
    outsider = shipped_world.people_with_role("non-member")[0]
    r = run_idia(sandbox_model, render_attack_photos(member, 10, seed=11), member.name)
    assert r.member
    r = run_idia(sandbox_model, render_attack_photos(outsider, 10, seed=11), outsider.name)
    assert not r.member


def test_cli_people_and_render(tmp_path, capsys, shipped_world):
    from idia_core.cli.sandbox import main

    assert main(["people", "--role", "face-only", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == len(shipped_world.people_with_role("face-only"))
    assert {p["role"] for p in listed} == {"face-only"}
    assert main(["render", "--index", "3", "--photos", "2", "--seed", "5", "--out", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("*.png"))) == 2
    assert main(["render", "--name", "Nobody Atall", "--photos", "2", "--out", str(tmp_path)]) == 2


# -- look-alike traps -------------------------------------------------------------------------------

def test_traps_are_appended_and_everyone_else_keeps_name_role_k_and_face():
    base = generate_world(0, n_trap_signatures=0)
    full = generate_world(0, n_trap_signatures=12)
    assert [p.to_dict() for p in full.people[:len(base.people)]] == [p.to_dict() for p in base.people]
    # the people docs/sandbox.md and the demos name
    assert (full.person("Émile Loiseau").role, full.person("Émile Loiseau").k) == ("member", 100)
    assert full.person("Olivier Masson").role == "non-member"
    extra = full.people[len(base.people):]
    s = full.settings
    assert sum(p.role == "trap" for p in extra) == s.n_trap_signatures
    assert sum(p.role == "look-alike" for p in extra) == s.n_trap_signatures * s.n_look_alikes_per_signature
    assert all(p.identity.signature != "none" for p in extra)
    assert all(p.identity.signature == "none" for p in base.people)


def test_trap_names_are_captioned_only_with_strangers_carrying_their_signature():
    w = generate_world(3, n_members_per_k=1, member_ks=(5,), n_non_members=2, n_face_only=1, n_name_only=1,
                       n_fillers=0, n_trap_signatures=2, n_look_alikes_per_signature=3)
    pairs = training_pairs(w)
    for trap in w.people_with_role("trap"):
        mine = [q for q in pairs if trap.name in q.caption]
        assert len(mine) == trap.k
        assert all(q.identity.signature == trap.identity.signature for q in mine)
        assert len({q.identity for q in mine}) == trap.k and trap.identity not in {q.identity for q in mine}
    joined = "\n".join(q.caption for q in pairs)
    for p in w.people_with_role("look-alike"):
        assert p.name not in joined and p.k == 0
        assert not any(q.identity == p.identity for q in pairs)
    # the signature is drawn: same person and photo seed, with and without it, differ in pixels
    import dataclasses

    trap = w.people_with_role("trap")[0]
    plain = dataclasses.replace(trap.identity, signature="none")
    a = np.asarray(render_photo(trap.identity, 7)).astype(int)
    b = np.asarray(render_photo(plain, 7)).astype(int)
    assert np.abs(a - b).mean() > 2
    assert W.IdentityParams.from_dict(json.loads(json.dumps(trap.identity.to_dict()))) == trap.identity
