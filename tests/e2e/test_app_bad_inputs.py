"""The bad-input catalogue (``tests/bad_inputs.py``) against the launched app, through gradio_client.

Every case goes to the stateless ``check`` endpoint (the same code and message as the core gives)
and, in the form a person would send it, to the chat: a bad photo dropped in, "name: …", "tau 0",
"use 1000000 names", "model NoSuchNet-7:foo", a pasted list. Each is answered with its specific
message, the server stays up, and the chat session keeps what it had: its settings summary is
unchanged and a plain "check <name>" re-runs on the photos and name given before the bad input,
with the same verdict. Odd-but-valid photos (CMYK, 16-bit, palette+alpha, animated, EXIF-rotated)
are accepted and checked.

The two template cases are core and CLI inputs only: the app offers named template sets, not
template text, so there is nothing to send them through.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from idia_core import IdiaInputError, run_idia
from idia_core import limits
from idia_core.chat.replies import say as chat_text
from tests.bad_inputs import CASES, Case, good_photos
from tests.e2e.conftest import needs_sandbox, open_client, say, text_of

pytestmark = [needs_sandbox, pytest.mark.timeout(600)]
APP_CASES = [c for c in CASES if not c.templates]
PHOTO_FILE_CODES = {"photo_not_image", "photo_truncated", "photo_empty", "photo_bomb"}
NAME = "Jane Doe"


def _core_message(case: Case, folder: Path, model) -> str:
    """What the core says for this case (run in this process on the same inputs)."""
    folder.mkdir(parents=True, exist_ok=True)
    photos = case.photos(folder) if case.photos else good_photos(folder)
    with pytest.raises(IdiaInputError) as err:
        run_idia(case.model or model, photos, case.name, extra_names=case.extra_names, tau=case.tau,
                 n_candidates=case.n_candidates, templates=case.templates)
    assert err.value.code == case.code
    return err.value.message


def _alive(app):
    assert app.process.poll() is None, f"the app died:\n{app.log.read_text()[-3000:]}"


def _k(verdict: str) -> str:
    m = re.search(r"(\d+) of 21 templates", verdict)
    assert m, verdict
    return m.group(1)


# -- the stateless check endpoint: every case, the core's code and message --------------------------
@pytest.mark.parametrize("case", APP_CASES, ids=[c.id for c in APP_CASES])
def test_check_endpoint(case, launched_app, tmp_path, tiny_model):
    from gradio_client import handle_file

    (tmp_path / "in").mkdir()
    photos = case.photos(tmp_path / "in") if case.photos else good_photos(tmp_path / "in")
    options = {"tau": case.tau, "n_candidates": case.n_candidates}
    if case.model:
        options["model"] = case.model
    if case.extra_names:
        options["extra_names"] = list(case.extra_names)
    c = _check_client(launched_app)
    out = c.predict([handle_file(str(p)) for p in photos], case.name, options, api_name="/check")
    _alive(launched_app)
    if case.code is None:
        assert out["ok"], out
        assert out["result"]["n_photos"] == len(photos) and out["result"]["true_name"] == case.name
        if case.extra_names:
            assert set(out["result"]["duplicates_dropped"]) == {"JANE DOE"}   # accents: another name
        return
    assert not out["ok"], out
    assert out["error"]["code"] == case.code, out
    assert out["error"]["message"] == _core_message(case, tmp_path / "core", tiny_model)


_CLIENTS = {}


def _check_client(app):
    """One client for the stateless calls (the endpoint keeps nothing between calls anyway)."""
    if app.url not in _CLIENTS:
        _CLIENTS[app.url] = open_client(app)
    return _CLIENTS[app.url]


# -- the chat: a session with a verdict, then each bad input, then the same session still works --------
@pytest.fixture(scope="module")
def primed(launched_app, tmp_path_factory):
    """A chat session that has a name, 5 photos and a verdict before any bad input arrives."""
    folder = tmp_path_factory.mktemp("primed")
    c = open_client(launched_app)
    verdict = text_of(say(c, f"Is this {NAME}?", good_photos(folder)))
    assert NAME in verdict and "of 21 templates" in verdict, verdict
    status = text_of(say(c, "status"))
    assert "photos: 5" in status and NAME in status, status
    yield c, status, _k(verdict)
    c.close()


def _chat_input(case: Case, folder: Path) -> tuple[str, list]:
    """The message a person would send for this case in a session that already has a verdict."""
    if case.code in PHOTO_FILE_CODES:
        return "", [case.photos(folder)[-1]]        # the bad file alone (the catalogue adds 4 good ones)
    if case.code in ("name_empty", "name_too_long", "name_no_letters", "name_braces", "name_characters"):
        return f"name: {case.name}", []
    if case.code in ("tau_range", "tau_type"):
        return f"tau {case.tau}", []
    if case.code == "pool_size_range":
        return f"use {case.n_candidates} names", []
    if case.code == "model_unknown":
        return f"model {case.model}", []
    if case.code == "too_many_names":
        return "add " + "\n".join(case.extra_names), []
    raise AssertionError(f"no chat form for {case.id}")


STATEFUL_CASES = [c for c in APP_CASES if c.code and c.code not in ("no_photos", "too_few_photos", "too_many_photos")]


@pytest.mark.parametrize("case", STATEFUL_CASES, ids=[c.id for c in STATEFUL_CASES])
def test_chat_bad_input_keeps_the_session(case, primed, launched_app, tmp_path, tiny_model):
    c, status_before, k_before = primed
    (tmp_path / "in").mkdir()
    text, files = _chat_input(case, tmp_path / "in")
    reply = text_of(say(c, text, files))
    _alive(launched_app)
    if case.code == "too_many_names":
        expected = chat_text("names_too_many", total=len(case.extra_names), max=limits.MAX_USER_NAMES)
    else:
        expected = _core_message(case, tmp_path / "core", tiny_model)
    assert expected in reply, (reply, expected)
    assert "Traceback" not in reply and "of 21 templates" not in reply   # nothing ran
    # the session is as it was: same settings, name and photos; a plain re-check needs nothing re-sent
    assert text_of(say(c, "status")) == status_before
    again = text_of(say(c, f"check {NAME}"))
    assert NAME in again and _k(again) == k_before, again


def test_chat_zero_then_photos(launched_app, tmp_path):
    """No photos yet: the chat asks for them, keeps the name, and checks when they arrive."""
    c = open_client(launched_app)
    ask = text_of(say(c, f"Is this {NAME}?"))
    assert ask.startswith(chat_text("ask_photos", name=NAME, min=limits.MIN_PHOTOS)[:20]) and NAME in ask, ask
    verdict = text_of(say(c, "", good_photos(tmp_path)))
    assert NAME in verdict and "of 21 templates" in verdict, verdict
    _alive(launched_app)
    c.close()


def test_chat_one_photo_then_more(launched_app, tmp_path, tiny_model):
    """One photo: the core's too-few-photos message; the photo and the name are kept, so four more
    photos complete the check without re-sending either."""
    case = next(c for c in CASES if c.code == "too_few_photos")
    c = open_client(launched_app)
    first = case.photos(tmp_path)
    reply = text_of(say(c, f"Is this {NAME}?", first))
    assert _core_message(case, tmp_path / "core", tiny_model) in reply, reply
    more = good_photos(tmp_path, 4, seed=8)
    verdict = text_of(say(c, "", more))
    assert "(5 in all)" in verdict and NAME in verdict and "of 21 templates" in verdict, verdict
    _alive(launched_app)
    c.close()


def test_chat_51_photos_capped(launched_app, tmp_path):
    """51 distinct photos in one message: the chat keeps the first 50, says so, and checks those.
    The catalogue's 51 photos are 17 copies of 3: the chat counts photos by content, so only the
    3 distinct ones count and the copies are named and set aside."""
    from idia_core.sandbox.world import load_world, render_attack_photos

    person = load_world().people_with_role("non-member")[0]
    photos = []
    for i, img in enumerate(render_attack_photos(person, limits.MAX_PHOTOS + 1, seed=7)):
        photos.append(tmp_path / f"distinct{i}.png")
        img.save(photos[-1])
    c = open_client(launched_app)
    reply = text_of(say(c, f"Is this {NAME}?", photos))
    assert chat_text("photos_capped", max=limits.MAX_PHOTOS, dropped=1) in reply, reply
    assert "of 21 templates" in reply
    case = next(c for c in CASES if c.code == "too_many_photos")
    (tmp_path / "copies").mkdir()
    copies = case.photos(tmp_path / "copies")
    assert len(copies) == limits.MAX_PHOTOS + 1
    reply = text_of(say(open_client(launched_app), f"Is this {NAME}?", copies))
    assert chat_text("photos_distinct_count", count=3) in reply and "same file as good3_0.jpg" in reply, reply
    assert "of 21 templates" in reply and "over 3 photos" in reply, reply
    _alive(launched_app)
    c.close()


ACCEPTED = [c for c in APP_CASES if c.code is None]


def test_chat_odd_but_valid_inputs(launched_app, tmp_path):
    """CMYK, 16-bit, palette+alpha, animated GIF and EXIF-rotated photos are accepted and checked;
    duplicates by case and accents are dropped with a reply naming them."""
    c = open_client(launched_app)
    for i, case in enumerate(ACCEPTED):
        if case.extra_names:
            reply = text_of(say(c, "add " + ", ".join(case.extra_names)))
            assert chat_text("names_is_target", name="JANE DOE") in reply, reply
            assert "Ann Lee" in reply and "ann lée" in reply and "of 21 templates" in reply, reply
            continue
        folder = tmp_path / str(i)
        folder.mkdir()
        photos = case.photos(folder)
        reply = text_of(say(c, f"Is this {NAME}?", photos))
        assert re.search(rf"(Got {len(photos)} photo\(s\)|New set of photos: {len(photos)} )", reply), (case.id, reply)
        assert "Could not use" not in reply, (case.id, reply)
        assert "of 21 templates" in reply and NAME in reply, (case.id, reply)
    _alive(launched_app)
    c.close()
