"""One story per verdict (issue 21): on the sandbox, the world's truth line follows the verdict
after the validity controls, for every kind of person the world holds; names typed without their
capitals, accents or "ł" are matched as the model's own tokenizer reads them, in the spelling note
and in the truth line alike; photos the sandbox did not draw get a plain sentence instead.

Real checks on the shipped sandbox model: 10 fresh renders (3 for the member the controls cannot
confirm), a pool of 100 names, the default seed. The expected lines are written out here in full."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import matplotlib
import pytest
from PIL import Image, ImageOps

from idia_core import chat as C
from idia_core.attack.controls import not_run
from idia_core.attack.settings import IdiaSettings
from idia_core.chat.session import ChatSession
from idia_core.chat.verdicts import sandbox_truth_line
from idia_core.sandbox.world import load_world, render_attack_photos
from tests.e2e.conftest import needs_sandbox

pytestmark = needs_sandbox
POOL = 100
FOUND = "the attack found it, and the controls confirm it."
MISS_CONTROLS = ("this is a miss, and the controls say why: the model gives the name to other people's photos as "
                 "well (above), so these photos cannot show that it knows this face.")
CAUGHT = "the paper's rule alone would call it a member; the controls caught it."

# (who, photos, verdict, the truth line)
CASES = {
    "member confirmed": ("Émile Loiseau", 10, "member", f"member, seen 100× in training — {FOUND}"),
    "member inconclusive": ("Rodrigo Albero", 3, "inconclusive", f"member, seen 10× in training — {MISS_CONTROLS}"),
    "member missed": ("Linda Růžičková", 10, "non-member", "member, seen 1× in training — this is a miss."),
    "non-member": ("Olivier Masson", 10, "non-member", "never seen in training — correct."),
    "trap caught": ("Benthe Thorsen", 10, "inconclusive",
                    f"a look-alike trap, never seen in training (its name was, 80× with strangers who share its look) "
                    f"— {CAUGHT}"),
    "face-only": ("Ann Kerr", 10, "non-member",
                  "a face-only control (seen 25×, never face and name together) — correct."),
    "name-only": ("Clive Edwards", 10, "non-member",
                  "a name-only control (seen 25×, never face and name together) — correct."),
}


def photos_of(name: str, n: int, folder: Path) -> list[str]:
    person = load_world().person(name)
    paths = []
    for i, im in enumerate(render_attack_photos(person, n, seed=0)):
        paths.append(str(folder / f"p{person.index}-{n}-{i}.png"))
        im.save(paths[-1])
    return paths


def check(text: str, photos, state=None) -> C.Turn:
    state = state or ChatSession(settings=IdiaSettings(model="sandbox", n_candidates=POOL))
    return C.handle(C.UserMessage(text, tuple(photos)), state)


def verdict_of(turn) -> str:
    return next(r.text for r in turn.replies if r.kind == "verdict")


def truth_of(turn) -> str:
    lines = [ln for ln in verdict_of(turn).splitlines() if ln.startswith("*Sandbox truth:")]
    assert len(lines) == 1, verdict_of(turn)
    return lines[0]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("truth-photos")


@pytest.mark.parametrize("case", list(CASES))
def test_the_truth_line_follows_the_controlled_verdict(case, folder):
    name, n, verdict, line = CASES[case]
    turn = check(f"Is this {name}?", photos_of(name, n, folder))
    result = turn.state.last_result
    assert result.verdict == verdict, (case, result.verdict, result.correct_templates)
    assert truth_of(turn) == f"*Sandbox truth: {line}*"
    text = verdict_of(turn)
    if verdict == "member":   # one line says the controls passed, with the look-alikes' count
        la, npr = result.controls.look_alikes, result.controls.name_prior
        assert (f"Validity controls passed: {la.at_least_observed} of {la.m} look-alikes and "
                f"{npr.at_least_observed} of {npr.m} random people get {name} as often as these photos do") in text
    else:
        assert "Validity controls passed" not in text
    turn.state.close()


def test_a_member_checked_without_controls_says_so(folder):
    turn = check("Is this Émile Loiseau?", photos_of("Émile Loiseau", 10, folder))
    unchecked = replace(turn.state.last_result, controls=not_run("the controls were turned off"))
    assert unchecked.verdict == "member-unchecked"
    assert sandbox_truth_line(unchecked) == ("*Sandbox truth: member, seen 100× in training — the attack found it "
                                             "(the controls did not run).*")
    never = replace(check("Is this Olivier Masson?", photos_of("Olivier Masson", 10, folder)).state.last_result,
                    member=True, controls=not_run("the controls were turned off"))
    assert sandbox_truth_line(never) == ("*Sandbox truth: never seen in training — this is a false alarm (the controls "
                                         "did not run, so nothing caught it).*")
    turn.state.close()


def test_capitals_make_no_difference_and_the_note_says_so(folder):
    """CLIP's tokenizer lower-cases: 'rodrigo albero' is the world's Rodrigo Albero to the model,
    with the same verdict, and nothing warns about a difference the model never sees."""
    photos = photos_of("Rodrigo Albero", 10, folder)
    typed = check("my name is rodrigo albero", photos)
    proper = check("my name is Rodrigo Albero", photos)
    a, b = typed.state.last_result, proper.state.last_result
    assert (a.correct_templates, a.verdict) == (b.correct_templates, b.verdict) == (20, "member")
    out = "\n".join(r.text for r in typed.replies)
    assert ("Note: **rodrigo albero** is the same name to this model as **Rodrigo Albero** (the sandbox world's "
            "spelling): its tokenizer ignores capitals, so the verdict is the same either way.") in out
    assert "different string" not in out
    assert truth_of(typed) == f"*Sandbox truth: member, seen 10× in training — {FOUND}*"
    assert "Note:" not in "\n".join(r.text for r in proper.replies)


@pytest.mark.parametrize("typed,known,what", [
    ("Emile Loiseau", "Émile Loiseau", "accents"),
    ("emile loiseau", "Émile Loiseau", "accents and capitals"),
    ("Cyprian Szalata", "Cyprian Szałata", "letters such as ł or ø"),   # "ł" has no decomposition: no note before
])
def test_a_spelling_the_model_reads_otherwise_is_warned_about_in_note_and_truth(typed, known, what, folder):
    turn = check(f"my name is {typed}", photos_of(known, 10, folder))
    out = "\n".join(r.text for r in turn.replies)
    assert (f"Note: the sandbox world knows **{known}**; you typed **{typed}**, which differs in {what} — this "
            f"model's tokenizer reads that as a different string (other tokens)") in out
    assert f"Say *check {known}* to use the spelling the model knows." in out
    truth = truth_of(turn)
    assert truth.startswith(f"*Sandbox truth: {typed} is not a name of the sandbox's people: its **{known}** "
                            f"(member, seen ") and f"differs in {what}" in truth
    assert "no training caption held the name checked here" in truth
    assert "nothing is known" not in truth
    # the spelling the model knows, typed next, gets no note (it used to recommend the typo back)
    again = check(f"my name is {known}", (), turn.state)
    assert not any(r.text.startswith("Note:") for r in again.replies), [r.text for r in again.replies]
    turn.state.close()


def test_a_name_outside_the_world(folder):
    turn = check("Is this Jane Nobody?", photos_of("Émile Loiseau", 10, folder))
    assert truth_of(turn) == "*Sandbox truth: Jane Nobody is not one of the sandbox's people, so nothing is known about it.*"


def real_photos(folder: Path) -> list[str]:
    """Three pictures of a real person (matplotlib's sample photograph of Grace Hopper): the whole
    photo, mirrored, and her face cropped."""
    hopper = Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").convert("RGB")
    out = []
    for i, im in enumerate((hopper, ImageOps.mirror(hopper), hopper.crop((120, 40, 420, 330)))):
        out.append(str(folder / f"hopper{i}.jpg"))
        im.save(out[-1], quality=90)
    return out


def test_real_photos_on_the_sandbox_get_a_plain_sentence(folder):
    for name in ("Grace Hopper", "Émile Loiseau"):      # a real name, or a world member's: no one of the world
        turn = check(f"Is this {name}?", real_photos(folder))
        assert turn.state.last_result is not None
        truth = truth_of(turn)
        assert re.fullmatch(r"\*Sandbox truth: 3 of these 3 photos were not drawn by the sandbox's renderer .*"
                            r"cannot be in the sandbox world.*say \*\*model ViT-B-32:laion400m_e32\*\*.*\*", truth), truth
        assert "nothing is known" not in truth and "member, seen" not in truth
    mixed = real_photos(folder)[:1] + photos_of("Émile Loiseau", 3, folder)
    assert "1 of these 4 photos were not drawn" in truth_of(check("Is this Émile Loiseau?", mixed))
