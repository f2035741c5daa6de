"""The conversation controller, driven turn by turn with a real (tiny, random) open_clip model.

A random model knows nobody, so these tests check the conversation — intents, state across turns,
the reply for each mistake, share links — not the verdict's correctness (the e2e tests do that
with the sandbox model, whose members are known)."""
from __future__ import annotations

from pathlib import Path

import pytest

from idia_core import chat as C
from idia_core.chat import share
from idia_core.chat.commands import parse
from idia_core.chat.session import ChatSession
from idia_core.attack.settings import IdiaSettings
from tests.helpers import draw_face_photos

POOL = 40   # small pools keep the tiny model's first encoding under a second


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    from tests.helpers import make_tiny_model_dir

    return f"local-dir:{make_tiny_model_dir(tmp_path_factory.mktemp('chat-tiny'), seed=2)}"


@pytest.fixture
def photos(tmp_path):
    paths = []
    for i, img in enumerate(draw_face_photos(6, seed=5)):
        path = tmp_path / f"face{i}.png"
        img.save(path)
        paths.append(str(path))
    return paths


@pytest.fixture
def fresh(spec):
    state = ChatSession(settings=IdiaSettings(model=spec, n_candidates=POOL))
    yield state


def send(state, text="", files=(), **kw) -> C.Turn:
    return C.handle(C.UserMessage(text=text, files=tuple(files)), state, **kw)


def texts(turn) -> str:
    return "\n".join(r.text for r in turn.replies)


def checked(state, photos, name="Jane Doe") -> C.Turn:
    turn = send(state, f"Is this {name}?", photos[:5])
    assert turn.state.last_result is not None, texts(turn)
    return turn


# -- intents ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text,kind,value", [
    ("Is this Jane Doe?", "name", "Jane Doe"),
    ("is this jane doe", "name", "jane doe"),
    ("check Jane Doe", "name", "Jane Doe"),
    ("Check: Jane Doe.", "name", "Jane Doe"),
    ("name: Jane Doe", "name", "Jane Doe"),
    ("The name is Jane Doe", "name", "Jane Doe"),
    ("This is Jane Doe", "name", "Jane Doe"),
    ("Are these photos of Jane Doe?", "name", "Jane Doe"),
    ("Does the model know Jane Doe?", "name", "Jane Doe"),
    ("Jane Doe", "name", "Jane Doe"),
    ("tau 3", "set", "3"), ("set tau = 2", "set", "2"), ("threshold to 4", "set", "4"),
    ("use 500 names", "set", "500"), ("pool size 1,000", "set", "1000"), ("200 candidates", "set", "200"),
    ("seed 7", "set", "7"), ("set the seed to 9", "set", "9"),
    ("model ViT-L-14:openai", "set", "ViT-L-14:openai"), ("use sandbox", "set", "sandbox"),
    ("switch to model hf-hub:org/name", "set", "hf-hub:org/name"),
    ("paper templates", "set", "paper21"), ("template set paper21", "set", "paper21"),
    ("paper names", "set", "paper"),
    ("why?", "explain", None), ("Explain", "explain", None), ("why not", "explain", None), ("details", "explain", None),
    ("report", "report", None), ("download the report", "report", None), ("get a report", "report", None),
    ("share", "share", None), ("share link", "share", None), ("give me a link", "share", None),
    ("reset", "reset", None), ("start over", "reset", None),
    ("help", "help", None), ("what can you do?", "help", None), ("?", "help", None),
    ("settings", "status", None), ("clear photos", "clear_photos", None),
    ("", "none", None), ("   ", "none", None),
    ("hello there", "unknown", None), ("what's the weather", "unknown", None), ("42", "unknown", None),
])
def test_intent_phrasings(text, kind, value):
    intent = parse(text)
    assert intent.kind == kind, (text, intent)
    if value is not None:
        assert intent.value == value


def test_setting_field_per_phrasing():
    assert parse("tau 3").setting == "tau"
    assert parse("use 500 names").setting == "n_candidates"
    assert parse("seed 7").setting == "seed"
    assert parse("model ViT-L-14:openai").setting == "model"
    assert parse("paper templates").setting == "template_set"
    assert parse("paper names").setting == "name_mode"


def test_add_remove_and_pasted_lists_parse():
    assert parse("add Jane Dow, Janet Doe").items == ("Jane Dow", "Janet Doe")
    assert parse("add names: Jane Dow; Janet Doe").items == ("Jane Dow", "Janet Doe")
    assert parse("add Jane Dow and Janet Doe").items == ("Jane Dow", "Janet Doe")
    assert parse("add\nJane Dow\nJanet Doe\nJon Doe").items == ("Jane Dow", "Janet Doe", "Jon Doe")
    assert parse("remove Janet Doe").kind == "remove_names"
    assert parse("remove Janet Doe").items == ("Janet Doe",)
    pasted = parse("Jane Dow\nJanet Doe\nJon Doe")
    assert pasted.kind == "add_names" and len(pasted.items) == 3
    assert parse("compare models sandbox, ViT-B-32:openai").items == ("sandbox", "ViT-B-32:openai")
    assert parse("compare sandbox and ViT-B-32:openai").items == ("sandbox", "ViT-B-32:openai")


# -- a whole conversation --------------------------------------------------------------------
def test_photos_then_name_then_settings_carry_over(fresh, photos):
    t1 = send(fresh, "", photos[:4])
    assert "4 photo" in texts(t1) and "Who is it" in texts(t1)
    assert len(t1.state.photos) == 4 and t1.state.last_result is None
    t2 = send(t1.state, "Is this Jane Doe?")
    r = t2.state.last_result
    assert r is not None and r.true_name == "Jane Doe" and r.n_photos == 4 and r.n_candidates == POOL
    verdict = next(x for x in t2.replies if x.kind == "verdict")
    assert verdict.text.startswith("**") and "of 21 templates" in verdict.text
    assert "Median rank of Jane Doe among 40" in verdict.text and "chance" in verdict.text.lower()
    assert "Namesakes" in verdict.text
    assert len(verdict.images) == 1 and all(Path(p).is_file() for p in verdict.images)   # one compact chart
    # a setting changes: the check runs again by itself, with everything else carried over
    t3 = send(t2.state, "tau 3")
    assert "tau is now **3** (was 1)" in texts(t3)
    r3 = t3.state.last_result
    assert r3 is not r and r3.tau == 3 and r3.true_name == "Jane Doe" and r3.n_photos == 4
    t4 = send(t3.state, "add Jane Dow, Janet Doe")
    assert t4.state.last_result.user_names == ("Jane Dow", "Janet Doe")
    assert t4.state.last_result.tau == 3 and t4.state.last_result.n_candidates == POOL
    t5 = send(t4.state, "remove Janet Doe")
    assert t5.state.added_names == ["Jane Dow"] and t5.state.last_result.user_names == ("Jane Dow",)
    t6 = send(t5.state, "use 30 names")
    assert t6.state.last_result.n_candidates == 30
    t7 = send(t6.state, "seed 7")
    assert t7.state.last_result.settings.seed == 7
    # the previous turn's state object was never changed
    assert t1.state.name is None and t2.state.settings.tau == 1 and t3.state.added_names == []
    C.close_session(t7.state)


def test_name_first_then_photos(fresh, photos):
    t1 = send(fresh, "check Jane Doe")
    assert "drop in photos of Jane Doe" in texts(t1) and t1.state.name == "Jane Doe"
    t2 = send(t1.state, "", photos[:5])
    assert t2.state.last_result is not None and t2.state.last_result.n_photos == 5
    # a new upload after a check starts a new set of photos
    t3 = send(t2.state, "", photos[:3])
    assert "New set of photos: 3" in texts(t3) and t3.state.last_result.n_photos == 3


def test_photos_with_text_in_one_message(fresh, photos):
    turn = send(fresh, "name: Jane Doe", photos[:5])
    assert turn.state.last_result is not None and turn.state.last_result.n_photos == 5


def test_unknown_text_gets_short_help_and_keeps_state(fresh, photos):
    base = checked(fresh, photos).state
    turn = send(base, "tell me a joke")
    assert "say **help**" in texts(turn) and turn.state.last_result is base.last_result
    assert turn.state.name == "Jane Doe"
    assert "Candidate names" in texts(send(base, "help"))


def test_explain_report_share_reset(fresh, photos):
    base = checked(fresh, photos).state
    why = texts(send(base, "why?"))
    assert "Per template" in why and why.count("\n- ") == 21
    rep = send(base, "report")
    files = rep.replies[-1].files
    assert files and all(Path(f).is_file() and Path(f).parent.parent == Path(base.workdir) for f in files)
    assert any(f.endswith(".json") for f in files)
    link = send(base, "share", base_url="http://127.0.0.1:7860")
    assert "http://127.0.0.1:7860/?idia=1" in texts(link) and "photo=" in texts(link)
    reset = send(base, "reset")
    assert reset.state.name is None and reset.state.photos == [] and reset.state.last_result is None
    assert not Path(base.workdir).exists()   # reset deleted the session's files


def test_status_shows_the_active_model(fresh, spec):
    assert spec in texts(send(fresh, "settings"))


def test_compare_models_one_table(fresh, photos, spec):
    base = checked(fresh, photos).state
    turn = send(base, f"compare models {spec}, nosuchmodel:xyz")
    table = texts(turn)
    # one row per model that answered; errors below the table, not in a column
    assert table.count("\n| `") == 1 and "Unknown model 'nosuchmodel:xyz'" in table.split("|")[-1]
    assert turn.state.last_result is base.last_result


# -- every mistake: a specific reply, the state kept -----------------------------------------
def _kept(before: ChatSession, after: ChatSession):
    assert after.settings == before.settings
    assert after.name == before.name and after.added_names == before.added_names
    assert [p.sha256 for p in after.photos] == [p.sha256 for p in before.photos]
    assert after.last_result is before.last_result


def test_no_photos_yet(fresh):
    turn = send(fresh, "why?")
    assert "no verdict yet" in texts(turn)
    turn = send(fresh, "Is this Jane Doe?")
    assert "drop in photos" in texts(turn) and turn.state.last_result is None


def test_one_photo(fresh, photos):
    turn = send(fresh, "Is this Jane Doe?", photos[:1])
    assert "Only 1 photo" in texts(turn) and "at least 3" in texts(turn)
    assert turn.state.last_result is None and len(turn.state.photos) == 1


def test_non_image_file(fresh, photos, tmp_path):
    base = checked(fresh, photos).state
    bad = tmp_path / "notes.jpg"
    bad.write_text("this is not a picture")
    turn = send(base, "", [str(bad)])
    assert "notes.jpg" in texts(turn) and "not an image" in texts(turn)
    assert len(turn.replies) == 1 and turn.replies[0].kind == "error"
    _kept(base, turn.state)


@pytest.mark.parametrize("text,expect", [
    ("name: ", "empty"),
    ("check " + "A" * 2000, "2000 characters"),
    ("Is this {0.__class__}?", "curly braces"),
    ("name: 😀😀", "no letters"),
])
def test_bad_names(fresh, photos, text, expect):
    base = checked(fresh, photos).state
    turn = send(base, text)
    assert expect in texts(turn), texts(turn)
    assert all(r.kind == "error" for r in turn.replies)
    _kept(base, turn.state)


@pytest.mark.parametrize("text,expect", [
    ("tau 0", "between 1 and 21"), ("tau 99", "between 1 and 21"), ("tau abc", "whole number"),
    ("use 0 names", "between 2 and 5000"), ("use 1000000 names", "between 2 and 5000"),
    ("seed -1", "seed"), ("templates nosuch", "Unknown template set"),
    ("model nosuchmodel:xyz", "Unknown model"), ("model ViT-B-32:nosuchtag", "not a known tag"),
    ("model local-dir:/nonexistent/folder", "no open_clip_config.json"),
])
def test_bad_settings(fresh, photos, text, expect):
    base = checked(fresh, photos).state
    turn = send(base, text)
    assert expect in texts(turn), texts(turn)
    _kept(base, turn.state)


def test_bad_added_names_are_named(fresh, photos):
    base = checked(fresh, photos).state
    turn = send(base, "add {0}, Janet Doe, janet doe")
    out = texts(turn)
    assert "curly braces" in out and "Added 1 name" in out and "Already in the pool: janet doe" in out
    assert turn.state.added_names == ["Janet Doe"]
    turn = send(base, "remove Nobody Here")
    assert "Not among the names you added" in texts(turn)
    _kept(base, turn.state)


# -- share links -----------------------------------------------------------------------------
def test_share_link_round_trip(fresh, photos, tmp_path):
    base = send(checked(fresh, photos).state, "add Janet Doe").state
    link = texts(send(base, "share"))
    query = link[link.index("?idia=") + 1:].split()[0]
    decoded = share.decode(query)
    assert decoded.settings == base.settings and decoded.name == "Jane Doe"
    assert decoded.added_names == ("Janet Doe",) and len(decoded.photo_hashes) == 5
    assert "face0.png" not in query and "base64" not in query   # hashes only, never photos

    opened = C.open_link(query)
    assert "Drop in the same photos" in texts(opened) and opened.state.settings == base.settings
    assert opened.state.name == "Jane Doe" and opened.state.added_names == ["Janet Doe"]
    same = send(opened.state, "", photos[:5])
    assert "**Reproduced**" in texts(same)
    r0, r1 = base.last_result, same.state.last_result
    assert (r1.member, r1.correct_templates, r1.photo_hashes) == (r0.member, r0.correct_templates, r0.photo_hashes)

    other = tmp_path / "someone-else.png"
    draw_face_photos(1, seed=99)[0].save(other)
    diff = send(C.open_link(query).state, "", photos[:4] + [str(other)])
    out = texts(diff)
    assert "Not the shared check" in out and "someone-else.png" in out and "1 photo(s) from the link" in out


def test_share_link_pasted_into_the_chat(fresh, photos):
    base = checked(fresh, photos).state
    link = texts(send(base, "share", base_url="http://127.0.0.1:7860"))
    url = next(w for w in link.split() if "?idia=" in w)
    assert parse(url).kind == "open_link" and parse("open " + url).kind == "open_link"
    opened = send(fresh, url)
    assert "Drop in the same photos" in texts(opened) and opened.state.settings == base.settings
    assert "**Reproduced**" in texts(send(opened.state, "", photos[:5]))


def test_bad_share_link_starts_fresh():
    turn = C.open_link("idia=1&name=%7B0.__class__%7D&tau=1")
    assert "could not be opened" in texts(turn) and "curly braces" in texts(turn)
    assert turn.state.name is None
    assert "could not be opened" in texts(C.open_link("idia=1&name=Jane+Doe&tau=0"))


# -- the stateless API -----------------------------------------------------------------------
def test_api_check(spec, photos):
    out = C.api_check(photos[:5], "Jane Doe", {"model": spec, "n_candidates": POOL})
    assert out["ok"] and out["result"]["true_name"] == "Jane Doe" and out["result"]["n_photos"] == 5
    bad = C.api_check(photos[:5], "Jane Doe", {"model": spec, "tau": 0})
    assert not bad["ok"] and bad["error"]["code"] == "tau_range"
    assert C.api_check([], "Jane Doe", {"model": spec})["error"]["code"] == "no_photos"
    assert C.api_check(photos[:5], "Jane Doe", {"colour": 1})["error"]["code"] == "option_unknown"


def test_default_model_spec():
    assert C.default_model_spec({}) == "sandbox"
    assert C.default_model_spec({"SPACE_ID": "x/y"}) == C.SPACE_DEFAULT_MODEL
    assert C.default_model_spec({"SPACE_ID": "x/y", "IDIA_MODEL": "ViT-B-32:openai"}) == "ViT-B-32:openai"


def test_settings_panel_changes_go_through_the_same_validation(fresh, photos):
    base = checked(fresh, photos).state
    turn = C.change_setting(base, "tau", 2.0)
    assert turn.state.settings.tau == 2 and turn.state.last_result.tau == 2
    assert "tau is now **2** (was 1)" in texts(turn)
    bad = C.change_setting(base, "n_candidates", 0)
    assert "between 2 and 5000" in texts(bad)
    _kept(base, bad.state)
    bad = C.change_setting(base, "model", "nosuchmodel:xyz")
    assert "Unknown model" in texts(bad)
    _kept(base, bad.state)


def test_session_state_survives_deepcopy_and_closes(fresh, photos):
    """gr.State deep-copies its initial value per session; a session's files go when it closes."""
    import copy

    base = checked(fresh, photos).state
    clone = copy.deepcopy(base)
    assert clone.run_key() == base.run_key() and clone.last_result.correct_templates == base.last_result.correct_templates
    folder = Path(base.workdir)
    assert any(folder.iterdir())
    C.close_session(base)
    assert not folder.exists() and base.workdir is None
    C.close_session(base)   # twice is fine


def test_added_names_that_differ_only_by_accents_are_kept(fresh):
    """The pool keeps names the model can tell apart ("Zoë" and "Zoe" tokenise differently), so the
    chat does too; only the same name in another case is the target or a duplicate."""
    state = send(fresh, "Is this Zoë Saldaña?").state
    turn = send(state, "add Zoe Saldana, ZOË SALDAÑA, Zoe Saldana")
    assert turn.state.added_names == ["Zoe Saldana"], texts(turn)
    assert C.say("names_is_target", name="ZOË SALDAÑA") in texts(turn)
    assert "Already in the pool: Zoe Saldana" in texts(turn)
