"""Every value a visitor sends comes back as text: through every way the chat, a share link and the
``check`` API can repeat it, a hostile value is never a link, an image, a form, emphasis or an
autolink, never turns text around (bidi controls) and is never repeated at length (issue 23: a
model named "[Verify](http://…)" was a live link; a 100,000-character model was echoed in full).

Replies are rendered with markdown-it (CommonMark, tables, strikethrough) for what CommonMark makes
of them, and read for GFM's bare autolinks (``http://``, ``www.``, e-mail), which gradio's chat
makes links too."""
from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt
from PIL import Image

from idia_core import chat as C
from idia_core import echo
from idia_core.attack.settings import IdiaSettings
from idia_core.chat.session import ChatSession
from idia_core.chat.views import result_views
from tests.chat.test_controller import POOL, photos, send, spec, texts  # noqa: F401 (fixtures)

PAYLOADS = {
    "link": "[Verify](http://evil.example/login)",
    "image": "![x](http://evil.example/p.png)",
    "form": "<form action=//evil.example><input name=pw></form>",
    "bare-url": "http://evil.example/a",
    "www": "www.evil.example",
    "email": "me@evil.example",
    "angle": "<http://evil.example>",
    "code": "`a` ``b`` ```",
    "emphasis": "**bold** _it_ ~~gone~~",
    "entity": "&lt;img src=x onerror=alert(1)&gt;",
    "bidi": "Jane\u202eeoD",
    "long": "A" * 100_000,
}
MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)


def assert_safe(text: str, what: str) -> None:
    html = MD.render(text)
    for tag in ("<form", "<input", "<img", 'href="http://evil', "<del>gone", "<strong>bold", "<em>it"):
        assert tag not in html, (what, tag, text[:400])
    outside_code = _CODE_SPAN.sub("", text)
    assert not re.search(r"(?<!\\)(?:https?|ftp)://evil", outside_code), (what, text[:400])   # GFM autolinks
    assert not re.search(r"www\.evil", outside_code), (what, text[:400])
    assert not re.search(r"me@evil", outside_code), (what, text[:400])
    assert not set(text) & echo.BIDI_CONTROLS, (what, text[:400])
    assert "A" * 1000 not in text, (what, len(text))


CHAT_FORMS = ["model {}", "tau {}", "seed {}", "use {} names", "templates {}", "mode {}", "Is this {}?",
              "name: {}", "add {}", "remove {}", "compare models sandbox, {}", "{}"]


@pytest.mark.parametrize("key", list(PAYLOADS))
def test_chat_replies_never_echo_a_value_as_markup(key, spec, monkeypatch):
    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.delenv("IDIA_PUBLIC", raising=False)
    state = ChatSession(settings=IdiaSettings(model=spec, n_candidates=POOL))
    for form in CHAT_FORMS:
        message = form.format(PAYLOADS[key])
        turn = send(state, message)
        assert_safe(texts(turn), f"chat {form!r}")
        state = turn.state


@pytest.mark.parametrize("key", list(PAYLOADS))
def test_share_links_never_echo_a_value_as_markup(key):
    for field in ("name", "model", "add", "tau", "n", "seed", "templates", "mode", "photo", "v", "fp", "ctl", "ref"):
        pairs = [("idia", "1"), ("name", "Jane Doe"), (field, PAYLOADS[key])]
        turn = C.open_link(pairs)
        assert_safe(texts(turn), f"link {field}")


@pytest.mark.parametrize("key", list(PAYLOADS))
def test_check_api_never_echoes_a_value_as_markup(key, photos, spec, monkeypatch):
    monkeypatch.delenv("SPACE_ID", raising=False)
    value = PAYLOADS[key]
    calls = [{k: value} for k in ("model", "tau", "n_candidates", "seed", "template_set", "name_mode")]
    calls += [{value[:40]: 1}, {"extra_names": [value]}, {"extra_names": 5}, {"tau": [value]}]
    for options in calls:
        out = C.api_check(photos[:3], "Jane Doe", {**options, "model": options.get("model", spec)})
        if not out["ok"]:
            assert_safe(out["error"]["message"], f"check {list(options)}")
    out = C.api_check(photos[:3], value, {"model": spec})
    if out["ok"]:   # "www.evil.example" is letters and periods: a valid name, shown as text
        assert_safe(out["verdict"], "check verdict")
    else:
        assert out["error"]["code"].startswith("name")
        assert_safe(out["error"]["message"], "check name")


def test_unknown_model_is_text_and_cut(spec):
    """The issue's cases: a markdown link as a model, and a 100,000-character model."""
    state = ChatSession(settings=IdiaSettings(model=spec, n_candidates=POOL))
    reply = texts(send(state, "model [Verify](http://evil.example)"))
    assert "Unknown model" in reply and "<a" not in MD.render(reply)
    reply = texts(send(state, "model " + "A" * 100_000))
    assert len(reply) < 2000


def test_file_names_lose_bidi_controls_everywhere(photos, spec, tmp_path):
    """A right-to-left override in a file name turned gallery captions (and messages) around."""
    odd = tmp_path / "holiday\u202egpj.png"
    Image.open(photos[0]).save(odd)
    state = ChatSession(settings=IdiaSettings(model=spec, n_candidates=POOL))
    turn = send(state, "Is this Jane Doe?", [str(odd)] + photos[1:4])
    assert turn.state.last_result is not None, texts(turn)
    labels = turn.state.last_result.photo_labels
    assert "holidaygpj.png" in labels and not any(set(label) & echo.BIDI_CONTROLS for label in labels)
    captions = [caption for _, caption in result_views(turn.state).gallery]
    assert captions and not any(set(c) & echo.BIDI_CONTROLS for c in captions)
    assert_safe(texts(turn), "chat with a bidi file name")


@pytest.mark.parametrize("value, expected", [
    ("ViT-B-32:laion400m_e32", "ViT-B-32:laion400m_e32"),   # ordinary values read the same
    ("O'Brien-Smith, Jr.", "O'Brien-Smith, Jr."),
    ("[x](http://e.x)", r"\[x\](http\://e.x)"),
    ("_lead and trail_", r"\_lead and trail\_"),
    ("www.e.x", r"www\.e.x"),
    ("a\u202eb\u2066c", "abc"),
])
def test_the_one_helper(value, expected):
    assert echo.shown(value) == expected
    assert echo.quoted(value) == f"'{expected}'"
    assert len(echo.shown("x" * 500)) == echo.DEFAULT_WIDTH
