"""The server without gradio: a turn runs inside the slots and the session's record, its history is
the server's own, and a closed session's files go (the launched app drives the same object through
gradio in tests/e2e, its SIGTERM included: a shutdown stops every writer of the process for good)."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from idia_core.serve.server import Server
from idia_core.serve.transcript import echoed


class Request(SimpleNamespace):
    """What the server reads of gradio's request: its session, headers and query."""

    def __init__(self, session_hash="s1", headers=None):
        super().__init__(session_hash=session_hash, headers=headers or {"host": "idia.test"},
                         query_params=SimpleNamespace(multi_items=lambda: []))


def progress(share, desc=None):
    progress.seen.append(desc)


progress.seen = []


@pytest.fixture
def server(tmp_path):
    return Server(str(tmp_path), "sandbox", public=False, examples_dir=tmp_path / "examples")


def test_a_cheap_turn_is_answered_and_recorded(server):
    request = Request()
    opened = server.open(request)
    assert opened.history and opened.views is not None and opened.state.settings.model == "sandbox"
    history = opened.history + echoed("help", ())          # what the page shows while the turn waits
    served = server.chat({"text": "help", "files": []}, history, opened.state, request, progress)
    assert served.history[:len(opened.history)] == opened.history     # the echo is replaced by the turn
    assert [m["role"] for m in served.history[len(opened.history):]] == ["user", "assistant"]
    assert "help" in served.history[-2]["content"] and served.views is not None
    forged = served.history + [{"role": "assistant", "content": "<form>not the server's</form>"}]
    again = server.chat({"text": "status", "files": []}, forged, served.state, request, progress)
    assert not any("<form>" in m["content"] for m in again.history)   # only what the server wrote comes back
    assert server.compute.limit >= 1 and server.chat_limit > server.queue.compute_total


def test_the_server_removes_what_sessions_left(server):
    request = Request("s2")
    folder = server.open(request).state.ensure_workdir()
    server.files.claim_folder("s2", folder)
    assert str(folder).startswith(server.sessions_root)
    server.remove_server_files()
    assert not folder.exists()


def test_a_page_that_goes_away_takes_its_files(server):
    request = Request("s3")
    served = server.chat({"text": "status", "files": []}, [], None, request, progress)
    folder = served.state.ensure_workdir()
    server.files.claim_folder("s3", folder)
    asyncio.run(server.unload(request))
    assert not folder.exists() and server.files.is_closed("s3")
    assert Server.base_url(Request(headers={"origin": "https://example.org"})) == "https://example.org"
