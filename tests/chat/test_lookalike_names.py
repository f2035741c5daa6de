"""Look-alike names (issue 23: Cyrillic "Jаne Dое" passed unflagged and two look-alikes could be
added): a name that mixes in letters of another script is flagged, and one pool never holds two
names a reader cannot tell apart — in the chat, in the ``check`` API and from a share link."""
from __future__ import annotations

import pytest

from idia_core import chat as C
from idia_core.attack.settings import IdiaSettings
from idia_core.chat.session import ChatSession
from idia_core.text.lookalike import mixed_script_letters, skeleton
from tests.chat.test_controller import POOL, photos, send, spec, texts  # noqa: F401 (fixtures)

CYRILLIC_JANE = "J\u0430ne D\u043e\u0435"      # а, о, е from Cyrillic
GREEK_PAUL = "\u03a1aul Smith"                  # Greek capital rho


@pytest.mark.parametrize("name, flagged", [
    (CYRILLIC_JANE, {"\u0430", "\u043e", "\u0435"}), (GREEK_PAUL, {"\u03a1"}), ("Sergey Bri\u043f", set()),
    ("Jane Doe", set()), ("Émile Loiseau", set()), ("Иван Петров", set()), ("田中 ハナ", set()),
    ("山田 はなこ", set()), ("김 민준", set()), ("Zoë Ng", set()),
])
def test_mixed_scripts_are_found_in_the_letters_that_imitate(name, flagged):
    """Flagged: a letter of another script that looks like the main script's ("Jаne" with
    Cyrillic а). Not flagged: one script, or scripts written together (Japanese kanji + kana)."""
    assert {ch for ch, _, _ in mixed_script_letters(name)} == flagged


def test_look_alikes_share_a_skeleton_and_different_letters_do_not():
    assert skeleton(CYRILLIC_JANE) == skeleton("Jane Doe") == skeleton("JANE  DOE")
    assert skeleton("Zoë Ng") != skeleton("Zoe Ng") and skeleton("Ana") != skeleton("Ama")


def test_the_chat_flags_a_mixed_script_name(spec):
    state = ChatSession(settings=IdiaSettings(model=spec, n_candidates=POOL))
    reply = texts(send(state, f"Is this {CYRILLIC_JANE}?"))
    assert "mixes scripts" in reply and "Cyrillic" in reply and "Jane Doe" in reply
    assert "mixes scripts" not in texts(send(state, "Is this Jane Doe?"))


def test_the_chat_refuses_a_look_alike_of_a_name_in_the_pool(spec):
    state = send(ChatSession(settings=IdiaSettings(model=spec, n_candidates=POOL)), "Is this Jane Doe?").state
    turn = send(state, f"add {CYRILLIC_JANE}, Janet Doe")
    assert turn.state.added_names == ["Janet Doe"]
    assert "looks like Jane Doe" in texts(turn)
    turn = send(turn.state, f"add J\u0430net Doe")   # a look-alike of an added name
    assert turn.state.added_names == ["Janet Doe"] and "looks like Janet Doe" in texts(turn)


def test_the_check_api_refuses_look_alikes(photos, spec):
    out = C.api_check(photos[:3], "Jane Doe", {"model": spec, "extra_names": [CYRILLIC_JANE]})
    assert out["error"]["code"] == "name_look_alike"
    out = C.api_check(photos[:3], "Jane Doe", {"model": spec, "extra_names": ["Janet Doe", "J\u0430net Doe"]})
    assert out["error"]["code"] == "name_look_alike"
    out = C.api_check(photos[:3], CYRILLIC_JANE, {"model": spec, "n_candidates": POOL})
    assert out["ok"] and "mixes scripts" in " ".join(out["notes"])


def test_a_share_link_with_a_look_alike_name_is_flagged():
    turn = C.open_link([("idia", "1"), ("name", CYRILLIC_JANE)])
    assert "mixes scripts" in texts(turn)
