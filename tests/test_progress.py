"""Progress that tells the truth (issue 21): one check reports its steps in words, its share of the
whole only grows, and it never reaches the whole before the check returns."""
from __future__ import annotations

import random
import re
import time

import pytest

from idia_core.progress import CAP, SCALE, Steps, format_seconds
from tests.e2e.conftest import needs_sandbox


def test_steps_share_grows_and_stays_below_the_whole():
    seen = []
    steps = Steps(lambda d, t, m: seen.append((d, t, m)), [("a", 0.05), ("b", 0.05), ("c", 0.2)])
    a = steps.step("a")
    for i in range(5):
        a(i, 4, f"a {i}")            # a step may report its own "all done" …
        time.sleep(0.005)
    steps.say("b", "b begins")
    time.sleep(0.02)
    steps.step("c", per_unit=0.01)(0, 10, "c begins")
    steps.step("c")(10, 10, "c done")
    shares = [d for d, _, _ in seen]
    assert all(t == SCALE for _, t, _ in seen)
    assert shares == sorted(shares)                           # never goes back
    assert max(shares) <= CAP * SCALE < SCALE                 # … the job's share never does
    assert [m for _, _, m in seen][-2:] == ["c begins", "c done"]
    assert Steps(None, [("a", 1.0)]).step("a") is None       # nobody listens: nothing to call


def test_a_long_unknown_step_does_not_jump_to_the_end():
    seen = []
    steps = Steps(lambda d, t, m: seen.append(d), [("text", 0.0), ("photos", 1.0), ("controls", 1.0)])
    steps.step("text", per_unit=0.01)(0, 1000, "encoding")     # about 10 s of names ahead
    assert seen[-1] < 0.05 * SCALE


@needs_sandbox
def test_a_cold_check_reports_each_step_in_words_and_never_the_whole(tmp_path, monkeypatch):
    from idia_core import run_idia
    from idia_core.sandbox.world import load_world, render_attack_photos

    monkeypatch.setenv("IDIA_CACHE_DIR", str(tmp_path / "cache"))
    person = load_world().person("Rodrigo Albero")
    seen = []
    result = run_idia("sandbox", render_attack_photos(person, 10, seed=2), person.name, n_candidates=200,
                      seed=random.randrange(10**6, 10**7), progress=lambda d, t, m: seen.append((d, t, m)))
    assert result.controls.ran
    shares = [d for d, _, _ in seen]
    assert shares and shares == sorted(shares) and all(d < t for d, t, _ in seen), seen
    words = [m for _, _, m in seen]
    first = {w.split(" — ")[0].split(" (")[0] for w in words}
    # names no earlier check encoded (a few, the target's say, may be in this process's cache)
    encoding = [int(m.group(1)) for w in first if (m := re.fullmatch(r"Encoding (\d+) names for this model", w))]
    assert encoding and 190 <= encoding[0] <= 200, first
    assert "Comparing 10 photos with 200 names in 21 templates" in first, first
    assert "Checking 50 look-alikes and 50 random people" in first, first
    order = [next(i for i, w in enumerate(words) if w.startswith(p)) for p in ("Encoding", "Comparing", "Checking")]
    assert order == sorted(order)


@pytest.mark.parametrize("seconds,text", [(4.2, "5 s"), (41, "45 s"), (150, "2.5 min"), (600, "10 min")])
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text
