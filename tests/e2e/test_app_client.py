"""The launched app driven through its API with gradio_client: the chat endpoint and the stateless
``check`` endpoint on rendered sandbox photos, and a share-link round trip between two sessions."""
from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import STARTUP_LIMIT_S, needs_sandbox

pytestmark = [needs_sandbox, pytest.mark.timeout(600)]


def client(app):
    from gradio_client import Client

    return Client(app.url, verbose=False)


def say(c, text: str = "", files=()):
    """Send one chat message in the client's session; return the assistant messages it added."""
    from gradio_client import handle_file

    out = c.predict({"text": text, "files": [handle_file(f) for f in files]}, [], api_name="/chat")
    history = out[1]
    # the reply's history is this turn's: user message(s) then the assistant's
    return [m for m in history if m["role"] == "assistant"]


def text_of(messages) -> str:
    return "\n".join(part["text"] for m in messages for part in m["content"] if part.get("type") == "text")


def images_of(messages) -> list[str]:
    """The charts in the replies: shown inline in the message's markdown (a file message would get
    gradio's share-to-Hub button), as ``![chart …](/gradio_api/file=<path>)``."""
    import re

    return re.findall(r"!\[chart[^\]]*\]\(/gradio_api/file=([^)\s]+\.png)\)", text_of(messages))


def test_serves_within_30_seconds(launched_app):
    print(f"app.py served after {launched_app.startup_s:.1f} s")
    assert launched_app.startup_s < STARTUP_LIMIT_S, launched_app.startup_s


@pytest.mark.parametrize("role,expect_member", [("member", True), ("non-member", False)])
def test_chat_endpoint_verdicts_with_charts(launched_app, sandbox_cases, role, expect_member):
    case = sandbox_cases[role]
    c = client(launched_app)
    replies = say(c, f"Is this {case.name}?", case.photos)
    text = text_of(replies)
    if expect_member:
        assert "very likely saw" in text or "may have seen" in text, text
    else:
        assert "No sign" in text or "Some sign, but not enough" in text, text
    assert "among 1000 candidate names" in text and "Namesakes" in text
    charts = images_of(replies)
    assert len(charts) == 1, replies   # one compact chart; the full ones are beside the chat
    # the session keeps its state: a follow-up question needs no photos or name
    why = text_of(say(c, "why?"))
    assert why.count("\n- ") == 21 and case.name in why


def test_charts_beside_the_chat_come_as_png_files(launched_app, sandbox_cases):
    """The side charts are files the turn drew, served like any other file: no figure reaches a
    component, where gradio would draw it inside the server's one event loop and hold up every
    visitor's request meanwhile (issue: 16 checks at once timed a file download out)."""
    import httpx
    from gradio_client import Client, handle_file

    case = sandbox_cases["member"]
    c = Client(launched_app.url, verbose=False, download_files=False)
    out = c.predict({"text": f"Is this {case.name}?", "files": [handle_file(f) for f in case.photos]}, [],
                    api_name="/chat")
    # a component update carries its value inside ({"__type__": "update", "value": ...})
    values = [v.get("value") if isinstance(v, dict) and v.get("__type__") == "update" else v for v in out]
    plots = [v for v in values if isinstance(v, dict) and ("plot" in v or v.get("type") in ("matplotlib", "plotly"))]
    assert not plots, plots
    charts = {}
    for value in values:
        if isinstance(value, dict) and str(value.get("path", "")).endswith(".png"):
            charts[re.sub(r"-[0-9a-f]{16}\.png$", "", value["path"].rsplit("/", 1)[-1])] = value
    assert set(charts) == {"top-names", "votes"}, out
    for chart in charts.values():
        body = httpx.get(chart["url"], timeout=60)
        assert body.status_code == 200 and body.content[:8] == b"\x89PNG\r\n\x1a\n", chart
    c.close()


@pytest.mark.parametrize("role,expect_member", [("member", True), ("non-member", False)])
def test_check_endpoint(launched_app, sandbox_cases, role, expect_member):
    from gradio_client import handle_file

    case = sandbox_cases[role]
    out = client(launched_app).predict([handle_file(p) for p in case.photos], case.name, {"tau": 1},
                                       api_name="/check")
    assert out["ok"], out
    r = out["result"]
    assert r["member"] is expect_member and r["true_name"] == case.name and r["n_photos"] == len(case.photos)
    assert r["model"] == "sandbox" and len(r["photo_sha256"]) == len(case.photos)


def test_check_endpoint_on_a_real_architecture(launched_app, sandbox_cases):
    """A ViT-B/32 (random weights: no hub here) answers through the API like any model: the app's
    model path works with the torch of this Python (2.14.1 on 3.11, ZeroGPU's 2.11.0 on 3.12)."""
    from gradio_client import handle_file

    import torch

    out = client(launched_app).predict([handle_file(p) for p in sandbox_cases["member"].photos[:3]], "Jane Doe",
                                       {"model": "ViT-B-32:random", "n_candidates": 30}, api_name="/check")
    assert out["ok"], out
    r = out["result"]
    assert r["model"] == "ViT-B-32:random" and r["n_candidates"] == 30 and r["n_templates"] == 21
    assert r["model_build"]["activation"] == "GELU" and torch.__version__.split("+")[0] in ("2.14.1", "2.11.0")


def test_check_endpoint_bad_input(launched_app, sandbox_cases):
    from gradio_client import handle_file

    case = sandbox_cases["member"]
    c = client(launched_app)
    out = c.predict([handle_file(case.photos[0])], case.name, {}, api_name="/check")
    assert not out["ok"] and out["error"]["code"] == "too_few_photos"
    out = c.predict([handle_file(p) for p in case.photos], "{0.__class__}", {}, api_name="/check")
    assert not out["ok"] and out["error"]["code"] == "name_braces"


def test_share_link_round_trip(launched_app, sandbox_cases):
    case = sandbox_cases["member"]
    first = client(launched_app)
    verdict = text_of(say(first, f"Is this {case.name}?", case.photos))
    k = re.search(r"(\d+) of 21 templates", verdict).group(1)
    link_text = text_of(say(first, "share"))
    url = next(w for w in link_text.split() if "?idia=" in w)
    assert url.startswith(launched_app.url.rstrip("/")) and "photo=" in url and case.photos[0] not in url

    second = client(launched_app)          # a new session opens the link
    opened = text_of(say(second, url))
    assert case.name in opened and "Drop in the same photos" in opened
    again = text_of(say(second, "", case.photos))
    assert "**Reproduced**" in again and f"{k} of 21 templates" in again

    third = client(launched_app)
    say(third, url)
    swapped = list(case.photos[:-1]) + [sandbox_cases["other_member"].photos[0]]
    mismatch = text_of(say(third, "", swapped))
    assert "Not the shared check" in mismatch
    assert "1 photo(s) from the link were not uploaded" in mismatch
    assert "is not one of the link's photos" in mismatch
