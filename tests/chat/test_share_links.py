"""Share links carry data, never markup: every field is validated at decode time and anything a
link puts in a reply renders as text (checked with a CommonMark renderer that lets raw HTML through,
as the chat's does)."""
from __future__ import annotations

from urllib.parse import quote, urlencode

import markdown_it
import pytest

from idia_core import chat as C
from idia_core.chat import share
from idia_core.errors import IdiaInputError

FORM = "<form action=//evil><input name=pw><button>Sign in</button></form>"
PHISH = "[Verify your identity](http:evil.example)"
_MD = markdown_it.MarkdownIt("commonmark")


def rendered(turn) -> str:
    return "\n".join(_MD.render(r.text) for r in turn.replies)


def assert_inert(html: str) -> None:
    for tag in ("<form", "<input", "<button", "<a ", "<img", "<script"):
        assert tag not in html, html


@pytest.fixture(autouse=True)
def laptop(monkeypatch):
    for var in ("SPACE_ID", "IDIA_PUBLIC", "IDIA_ALLOW_ANY_MODEL", "IDIA_MODEL"):
        monkeypatch.delenv(var, raising=False)


@pytest.mark.parametrize("field", ["mode", "templates", "tau", "n", "seed", "fp", "v", "photo", "add", "name",
                                   "model", "ctl", "ref"])
@pytest.mark.parametrize("payload", [FORM, PHISH, "<img src=x onerror=alert(1)>"])
def test_markup_in_any_field_is_refused_and_shown_inert(field, payload):
    query = urlencode([("idia", "1"), ("name", "Jane Doe"), (field, payload)])
    turn = C.open_link(query)
    assert "could not be opened" in turn.replies[0].text
    assert turn.state.name is None and turn.state.shared is None
    assert_inert(rendered(turn))


def test_the_issues_form_link_renders_no_form():
    turn = C.open_link(f"idia=1&name=Jane+Doe&mode={quote(FORM)}")
    assert turn.state.shared is None
    assert_inert(rendered(turn))


def test_hub_model_with_a_markdown_link_is_refused():
    with pytest.raises(IdiaInputError) as err:
        share.decode({"idia": "1", "name": "Jane Doe", "model": f"hf-hub:x/{PHISH}"})
    assert err.value.code == "model_spec_format"
    assert_inert(_MD.render(err.value.message))


@pytest.mark.parametrize("pairs,code", [
    ({"fp": "clip-" + "0" * 24 + "<b>"}, "share_field"),
    ({"v": "member-999999"}, "share_field"),
    ({"photo": "ab" * 31}, "share_bad_hash"),
    ({"tau": "1; drop"}, "share_field"),
    ({"n": "1e3", "tau": "1e0"}, None),
    ({"n": "1"}, "pool_size_range"),
    ({"add": "Jane Doe\u0000x"}, "name_characters"),
    ({"mode": "paper"}, None),
    ({"ctl": "certainly"}, "share_field"),
    ({"ctl": "member", "v": "none-0"}, "share_field"),
    ({"ctl": "inconclusive", "v": "member-3"}, None),
    ({"ref": "cd" * 31}, "share_field"),
    ({"ref": "cd" * 33}, "share_field"),
    ({"ref": "CD" * 32}, None),
])
def test_each_field_follows_the_typed_rules(pairs, code):
    query = {"idia": "1", "name": "Jane Doe", **pairs}
    if code is None:
        run = share.decode(query)
        assert run.name == "Jane Doe"
        return
    with pytest.raises(IdiaInputError) as err:
        share.decode(query)
    assert err.value.code == code


def test_counts_and_lengths_are_bounded():
    many = [("idia", "1"), ("name", "Jane Doe")] + [("photo", "a" * 64)] * 51
    with pytest.raises(IdiaInputError) as err:
        share.decode(many)
    assert err.value.code == "share_field"
    with pytest.raises(IdiaInputError) as err:
        share.decode("idia=1&name=Jane+Doe&" + "add=" + "A" * (share.MAX_LINK_CHARS + 10))
    assert err.value.code == "share_too_long"
    with pytest.raises(IdiaInputError) as err:
        share.decode([("idia", "1"), ("name", "Jane Doe"), ("tau", "1"), ("tau", "2")])
    assert err.value.code == "share_field"


def test_a_good_link_round_trips_and_re_shares_the_same():
    from idia_core.chat.session import SharedRun
    from idia_core.attack.settings import IdiaSettings

    run = SharedRun(IdiaSettings(model="sandbox", tau=2, n_candidates=300, seed=7, name_mode="paper"),
                    "Renée O'Brien-Smith", ("John Roe",), ("ab" * 32,), True, 5, "clip-" + "0" * 24)
    assert share.decode(share.encode(run)) == run


def test_public_deployment_refuses_a_linked_model_it_does_not_offer(monkeypatch):
    monkeypatch.setenv("SPACE_ID", "someone/idia")
    monkeypatch.setenv("IDIA_MODEL", "sandbox")
    turn = C.open_link("idia=1&name=Jane+Doe&model=ViT-H-14:random")
    assert turn.state.shared is None and "offers only" in turn.replies[0].text
    assert_inert(rendered(turn))
