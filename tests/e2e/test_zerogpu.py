"""The app behind the ZeroGPU emulation (``IDIA_EMULATE_ZEROGPU=1``): every image and new text
embedding runs in a forked worker with ZeroGPU's semantics (pickled arguments and result, nothing the
worker changes reaches the server), and everything else — sessions, files, caches, charts — stays
in the server. Verdicts come out right through /chat and /check, turns that need no new embedding
ask for no GPU (help, why?, share, report, the same check again), compare, settings and share links
work, and a closed session leaves nothing on disk."""
from __future__ import annotations

import re
import time

import pytest

from tests.e2e.conftest import needs_sandbox, open_client, say, serve_app, text_of
from tests.e2e.test_upload_cleanup import _files_with, _session_folders, _sha, _unique_photos, _wait_until

pytestmark = [needs_sandbox, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def emulated_app(tmp_path_factory):
    with serve_app(tmp_path_factory.mktemp("zerogpu"), IDIA_EMULATE_ZEROGPU="1", IDIA_WARMUP="0") as app:
        yield app


def gpu_calls(app) -> int:
    """GPU calls the server has made so far (one log line each)."""
    return len(re.findall(r"^idia: GPU call #\d+", app.log.read_text(), re.M))


def asks_gpu(app, turn) -> tuple[str, int]:
    """(the turn's text, how many GPU calls it made)."""
    before = gpu_calls(app)
    text = turn()
    time.sleep(0.2)   # the log line of a call is written before its result comes back; this is slack
    return text, gpu_calls(app) - before


def test_the_server_runs_behind_the_emulated_boundary(emulated_app):
    log = emulated_app.log.read_text()
    assert "GPU boundary: forked worker (ZeroGPU emulation)" in log
    assert "default model sandbox loaded" in log      # before the server started, as ZeroGPU wants


def test_turns_that_need_no_embedding_ask_for_no_gpu(emulated_app, sandbox_cases):
    case = sandbox_cases["member"]
    c = open_client(emulated_app)
    text, calls = asks_gpu(emulated_app, lambda: text_of(say(c, "help")))
    assert "what I understand" in text and calls == 0
    verdict, calls = asks_gpu(emulated_app, lambda: text_of(say(c, f"Is this {case.name}?", case.photos)))
    assert "very likely saw photos of" in verdict and calls >= 1, (verdict, calls)
    for words in ("why?", "share", "report", "tau 2", "tau 1"):
        text, calls = asks_gpu(emulated_app, lambda: text_of(say(c, words)))
        assert calls == 0, (words, calls, text)
    assert "of 21 templates" in text and case.name in text      # "tau 1": the same check again, cached
    changed, _ = asks_gpu(emulated_app, lambda: text_of(say(c, "use 500 names")))
    assert "500" in changed and "of 21 templates" in changed
    c.close()


def test_check_endpoint_verdicts_behind_the_boundary(emulated_app, sandbox_cases):
    from gradio_client import handle_file

    c = open_client(emulated_app)
    for role, expect in (("member", True), ("non-member", False)):
        case = sandbox_cases[role]
        out = c.predict([handle_file(p) for p in case.photos], case.name, {"tau": 1}, api_name="/check")
        assert out["ok"] and out["result"]["member"] is expect, out
    random = c.predict([handle_file(p) for p in sandbox_cases["member"].photos[:3]], "Jane Doe",
                       {"model": "ViT-B-32:random", "n_candidates": 30}, api_name="/check")
    assert random["ok"] and random["result"]["model"] == "ViT-B-32:random", random
    c.close()


def test_compare_and_share_links_behind_the_boundary(emulated_app, sandbox_cases, tiny_model_dir):
    case = sandbox_cases["member"]
    first = open_client(emulated_app)
    verdict = text_of(say(first, f"Is this {case.name}?", case.photos))
    k = re.search(r"(\d+) of 21 templates", verdict).group(1)
    table, calls = asks_gpu(emulated_app, lambda: text_of(say(first, f"compare models sandbox, local-dir:{tiny_model_dir}")))
    assert "| `sandbox` |" in table and "tiny-model" in table and calls >= 1, (table, calls)
    url = next(w for w in text_of(say(first, "share")).split() if "?idia=" in w)
    second = open_client(emulated_app)
    assert case.name in text_of(say(second, url))
    again = text_of(say(second, "", case.photos))
    assert "**Reproduced**" in again and f"{k} of 21 templates" in again
    first.close()
    second.close()


def test_a_closed_session_leaves_nothing_on_disk(emulated_app, tmp_path):
    name, photos = _unique_photos(tmp_path, tag=31)
    hashes = {_sha(p) for p in photos}
    before = _session_folders(emulated_app)
    c = open_client(emulated_app)
    assert name in text_of(say(c, f"Is this {name}?", photos))
    assert "evidence.json" in text_of(say(c, "report"))
    ours = _session_folders(emulated_app) - before
    assert ours and len(_files_with(emulated_app.gradio_temp, hashes)) == len(photos)
    c.close()
    assert _wait_until(lambda: not _files_with(emulated_app.gradio_temp, hashes) and not any(p.exists() for p in ours))
    assert _files_with(emulated_app.tmpdir, hashes) == []
