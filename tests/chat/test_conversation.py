"""The conversation as people have it (issue 10), turn by turn with a real tiny open_clip model:
the reply to "Who is it?", the who-is-this refusal, questions, did-you-mean, spelling help,
settings in words with undo, duplicate photos, and a message sent while a check runs."""
from __future__ import annotations

import io
import threading

import pytest
from PIL import Image

from idia_core import limits
from idia_core import chat as C
from idia_core.chat.session import ChatSession
from idia_core.attack.settings import IdiaSettings
from tests.helpers import draw_face_photos

POOL = 40


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    from tests.helpers import make_tiny_model_dir

    return f"local-dir:{make_tiny_model_dir(tmp_path_factory.mktemp('conv-tiny'), seed=3)}"


@pytest.fixture
def photos(tmp_path):
    paths = []
    for i, img in enumerate(draw_face_photos(5, seed=11)):
        path = tmp_path / f"face{i}.png"
        img.save(path)
        paths.append(str(path))
    return paths


@pytest.fixture
def fresh(spec):
    return ChatSession(settings=IdiaSettings(model=spec, n_candidates=POOL))


def send(state, text="", files=(), **kw) -> C.Turn:
    return C.handle(C.UserMessage(text=text, files=tuple(files)), state, **kw)


def texts(turn) -> str:
    return "\n".join(r.text for r in turn.replies)


def test_a_reply_to_who_is_it_is_the_name(fresh, photos):
    asked = send(fresh, "", photos[:4])
    assert "Who is it?" in texts(asked) and asked.state.awaiting_name
    named = send(asked.state, "zendaya")          # one lower-case word: a name only because we asked
    assert named.state.name == "zendaya" and named.state.last_result is not None, texts(named)
    assert named.state.last_result.true_name == "zendaya" and not named.state.awaiting_name
    # without the question, the same word is not taken for a name
    assert send(C.new_session(fresh.settings.model), "zendaya").state.name is None


def test_who_is_this_gets_the_responsible_use_answer(fresh, photos):
    base = send(fresh, "", photos[:4]).state
    for text in ("who is this?", "Who is it?", "can you identify her?"):
        turn = send(base, text)
        out = texts(turn)
        assert "does not identify people" in out and "tell me the name" in out, out
        assert turn.state.name is None and turn.state.last_result is None   # nothing checked as a name
        assert len(turn.state.photos) == 4
    after = send(send(base, "who is this?").state, "Jane Doe")
    assert after.state.last_result is not None and after.state.last_result.true_name == "Jane Doe"


def test_non_names_are_never_checked(fresh, photos):
    base = send(fresh, "", photos[:4]).state
    for text in ("try again with 20 photos", "is it working?", "check again"):
        turn = send(base, text)
        assert turn.state.name is None and turn.state.last_result is None, (text, texts(turn))
        assert not any(r.kind == "error" for r in turn.replies), texts(turn)


def test_duplicates_are_set_aside_and_not_counted(fresh, photos, tmp_path):
    copies = []
    for i in range(3):   # the same file three times, as three uploads
        path = tmp_path / f"copy{i}.png"
        path.write_bytes(open(photos[0], "rb").read())
        copies.append(str(path))
    turn = send(fresh, "Is this Jane Doe?", copies)
    out = texts(turn)
    assert len(turn.state.photos) == 1 and turn.state.last_result is None
    assert "copy1.png" in out and "copy2.png" in out and "same file as copy0.png" in out
    assert "at least 3" in out
    # the same photo re-encoded and resized is flagged too
    buf = io.BytesIO()
    Image.open(photos[1]).convert("RGB").resize((100, 100)).save(buf, "JPEG", quality=70)
    reencoded = tmp_path / "small.jpg"
    reencoded.write_bytes(buf.getvalue())
    turn = send(fresh, "", [photos[1], str(reencoded), photos[2]])
    assert [p.label for p in turn.state.photos] == ["face1.png", "face2.png"]
    assert "small.jpg" in texts(turn) and "re-encoded or resized" in texts(turn)
    # distinct photos all count
    assert len(send(fresh, "", photos).state.photos) == 5


def test_a_message_during_a_check_is_kept_and_answered_after_it(fresh, photos):
    import random
    from dataclasses import replace

    # distractors nobody encoded yet, so the check reports progress (where the test holds it)
    fresh = ChatSession(settings=replace(fresh.settings, seed=random.randrange(10**6, 10**7)))
    gate = C.TurnGate()
    started, release = threading.Event(), threading.Event()

    def slow_progress(done, total, message):
        started.set()
        release.wait(30)

    results = {}

    def first():
        results["first"] = C.handle_in_order("s1", C.UserMessage("Is this Jane Doe?", tuple(photos[:4])), fresh,
                                             gate=gate, progress=slow_progress)

    worker = threading.Thread(target=first)
    worker.start()
    assert started.wait(60)
    assert gate.busy("s1")
    kept = C.handle_in_order("s1", C.UserMessage("tau 2"), fresh, gate=gate)
    assert kept == []                                         # kept, not run on stale state, not lost
    assert C.handle_in_order("s2", C.UserMessage("help"), fresh, gate=gate)   # other sessions are not held
    release.set()
    worker.join(60)
    turns = results["first"]
    assert [m.text for m, _ in turns] == ["Is this Jane Doe?", "tau 2"]
    last = turns[-1][1].state
    assert last.settings.tau == 2 and last.last_result.tau == 2 and last.last_result.true_name == "Jane Doe"
    assert not gate.busy("s1")
    assert "will answer it" in C.busy_reply(C.UserMessage("tau 2")).text


def test_settings_in_words_and_undo(fresh):
    s = fresh
    t = send(s, "set the threshold to 4")
    assert t.state.settings.tau == 4
    t = send(t.state, "make it stricter")
    assert t.state.settings.tau == 5
    t = send(t.state, "make it looser")
    assert t.state.settings.tau == 4
    t = send(t.state, "change the seed to 5")
    assert t.state.settings.seed == 5
    t = send(t.state, "undo")
    assert t.state.settings.seed == 0 and "Undone" in texts(t)
    t = send(t.state, "use the paper's settings")
    st = t.state.settings
    assert (st.template_set, st.name_mode, st.tau, st.n_candidates) == ("paper21", "paper", 1, 1000)
    assert "undo" in texts(t)
    t = send(t.state, "undo")
    assert t.state.settings.tau == 4 and t.state.settings.n_candidates == POOL and t.state.settings.name_mode == "mixed"
    for _ in range(3):
        t = send(t.state, "undo")
    assert t.state.settings == fresh.settings
    assert "Nothing to undo" in texts(send(t.state, "undo"))
    loosest = send(fresh, "make it looser")
    assert "already 1" in texts(loosest) and loosest.state.settings == fresh.settings


@pytest.mark.parametrize("question,expect", [
    ("what is tau?", "threshold"), ("what does p mean?", "luck"), ("how sure are you?", "0.70–0.95"),
    ("how many photos do I need?", f"At least **{limits.MIN_PHOTOS}**"), ("what is the sandbox?", "synthetic"),
    ("what happens to my photos?", "deleted"), ("who made the method?", "arXiv:2209.07341"),
])
def test_questions_are_answered_from_prompts(fresh, question, expect):
    turn = send(fresh, question)
    out = texts(turn)
    assert expect in out and "$" not in out, out
    assert turn.state == fresh or turn.state.settings == fresh.settings


def test_unknown_input_gets_the_closest_command_and_thanks_a_short_ack(fresh):
    assert "Did you mean *tau 3*?" in texts(send(fresh, "tua 3"))
    assert "Did you mean *seed 7*?" in texts(send(fresh, "sed 7"))
    assert "Did you mean *report*?" in texts(send(fresh, "reprot"))
    assert "say **help**" in texts(send(fresh, "tell me a joke"))
    ack = texts(send(fresh, "thanks!"))
    assert "welcome" in ack and len(ack) < 200


def test_spelling_help_for_accents_and_case(fresh, spec):
    t = send(fresh, "add Émile Loiseau")
    t = send(t.state, "check emile loiseau")
    out = texts(t)
    assert "**Émile Loiseau**" in out and "**emile loiseau**" in out and "different string" in out
    assert t.state.name == "emile loiseau"      # what was typed is what is checked, with the warning
    sandbox = ChatSession(settings=IdiaSettings(model="sandbox"))
    out = texts(send(sandbox, "my name is emile loiseau"))
    assert "the sandbox world knows **Émile Loiseau**" in out
    assert "differs only" not in texts(send(sandbox, "my name is Émile Loiseau"))


def test_too_long_message_gets_a_clear_reply_and_keeps_state(fresh):
    base = send(fresh, "check Jane Doe").state
    turn = send(base, "x" * (limits.MAX_MESSAGE_CHARS + 5))
    out = texts(turn)
    assert f"{limits.MAX_MESSAGE_CHARS + 5} characters" in out and str(limits.MAX_MESSAGE_CHARS) in out
    assert turn.state.name == "Jane Doe"
