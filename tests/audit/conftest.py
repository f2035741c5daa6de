"""Shared inputs of the audit tests: a people folder of real sandbox renders, a tiny second model,
the settings every audit test runs with, and the local engine's table (the reference the Ray
engine must reproduce)."""
from __future__ import annotations

import contextlib
import csv
import os
from pathlib import Path

import pytest

from idia_core.audit.people_models import run_audit
from idia_core.audit.results import AuditSettings
from idia_core.sandbox.world import load_world, render_attack_photos
from tests.helpers import make_tiny_model_dir

PHOTOS = 4
CANDIDATES = 60
# what a row says of a check (the rest are timings, processes and paths)
VERDICT_COLUMNS = ["person", "folder", "model", "fingerprint", "status", "error_code", "n_photos", "correct_templates",
                   "member", "verdict", "chance", "pool_rank_p", "controls_ran", "look_alikes_m", "look_alikes_reached",
                   "look_alikes_at_least_observed", "look_alikes_chance", "name_prior_m", "name_prior_reached",
                   "name_prior_at_least_observed", "name_prior_chance", "reference_set_sha256", "n_candidates",
                   "photo_set_sha256", "occurrences", "settings_sha256"]


def audit_picks(world):
    """A member seen 100 times, one seen 50 times, a non-member and a look-alike trap."""
    members = [p for p in world.people if p.role == "member"]
    return ([next(p for p in members if p.k == 100), next(p for p in members if p.k == 50)]
            + [next(p for p in world.people if p.role == role) for role in ("non-member", "trap")])


@pytest.fixture(scope="session")
def audit_people(tmp_path_factory):
    """PEOPLE_DIR: one folder of fresh sandbox attack photos per person (folder names mapped to the
    names by names.csv), labels.csv with each person's training-caption count."""
    root = tmp_path_factory.mktemp("audit-people")
    picks = audit_picks(load_world())
    for p in picks:
        folder = root / f"person_{p.index:03d}"
        folder.mkdir()
        for i, im in enumerate(render_attack_photos(p, PHOTOS, seed=0)):
            im.save(folder / f"{i:02d}.png")
    with open(root / "names.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["folder", "name"])
        w.writerows([f"person_{p.index:03d}", p.name] for p in picks)
    with open(root / "labels.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["name", "occurrences"])
        w.writerows([p.name, p.k if p.role == "member" else 0] for p in picks)
    return root


@pytest.fixture(scope="session")
def tiny_spec(tmp_path_factory):
    return f"local-dir:{make_tiny_model_dir(tmp_path_factory.mktemp('audit-tiny'), seed=7)}"


@pytest.fixture(scope="session")
def audit_settings():
    return AuditSettings(n_candidates=CANDIDATES)


@pytest.fixture(scope="session")
def local_audit(audit_people, tiny_spec, audit_settings, tmp_path_factory):
    """The whole audit in one local run: the reference table."""
    return run_audit(audit_people, ["sandbox", tiny_spec], tmp_path_factory.mktemp("audit-local") / "out",
                     audit_settings)


def comparable(table):
    """The verdict columns in a fixed order, numbers as float64 (a column with empty cells in one
    table and none in another is the same column)."""
    out = table[VERDICT_COLUMNS].sort_values(["folder", "model"]).reset_index(drop=True)
    numeric = [c for c in VERDICT_COLUMNS if out[c].dtype.kind in "iuf"]
    return out.astype({c: "float64" for c in numeric})


@contextlib.contextmanager
def ray_leaves_no_trace():
    """Ray ≥ 2.59 turns on token auth: it sets RAY_AUTH_MODE=token in this process and writes
    ~/.ray/auth_token. Give both back as they were, whatever the test did."""
    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_ADDRESS")}
    home = Path.home() / ".ray"
    had_dir, had_token = home.exists(), (home / "auth_token").exists()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if not had_token:
            (home / "auth_token").unlink(missing_ok=True)
        if not had_dir and home.is_dir() and not any(home.iterdir()):
            home.rmdir()
