"""The server's gates without gradio (issue 23): fair queueing, the client's history, the upload
quota and arrival, the shutdown, and the ASGI gates in front of gradio. The launched app is driven
through them in tests/e2e/test_public_abuse.py."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from idia_core.serve import admission, gates
from idia_core.serve.admission import CHEAP, COMPUTE, QueueLimits, Ticket, client_address, refusal
from idia_core.serve.history import MAX_CHARS, HistoryRecord
from idia_core.serve.lifecycle import Lifecycle, ShuttingDown
from idia_core.serve.routing import SentKinds, event_kind
from idia_core.serve.uploads import UPLOADER, SessionFiles, TrackedUploads, UploadLimits, UploadQuota, arrive_privately
from idia_core.images import not_a_photo_type


# -- fair queueing ---------------------------------------------------------------------------------------
def test_one_address_cannot_take_the_queue():
    limits = QueueLimits(per_session=2, per_address=3, compute_total=5, cheap_per_address=4, cheap_total=6)
    flood = [Ticket(COMPUTE, f"s{i}", "10.0.0.1") for i in range(3)]
    assert "Your address" in refusal(Ticket(COMPUTE, "new", "10.0.0.1"), flood, limits)
    assert refusal(Ticket(COMPUTE, "other", "10.0.0.2"), flood, limits) is None      # another visitor
    assert refusal(Ticket(CHEAP, "s0", "10.0.0.1"), flood, limits) is None          # help is counted apart
    two = [Ticket(COMPUTE, "s", "10.0.0.3")] * 2
    assert "This session" in refusal(Ticket(COMPUTE, "s", "10.0.0.4"), two, limits)
    full = [Ticket(COMPUTE, f"t{i}", f"10.1.0.{i}") for i in range(5)]
    assert "busy" in refusal(Ticket(COMPUTE, "u", "10.2.0.1"), full, limits)
    cheap = [Ticket(CHEAP, f"c{i}", "10.0.0.9") for i in range(4)]
    assert refusal(Ticket(CHEAP, "c9", "10.0.0.9"), cheap, limits) is not None


def test_a_laptop_has_no_per_address_limit_and_a_space_does():
    assert admission.queue_limits(False, {}).per_address is None
    assert admission.queue_limits(True, {}).per_address == 6
    assert admission.queue_limits(True, {"IDIA_QUEUE_PER_ADDRESS": "2"}).per_address == 2


@pytest.mark.parametrize("headers, peer, hops, expected", [
    ({"x-forwarded-for": "6.6.6.6"}, "127.0.0.1", 0, "127.0.0.1"),              # no proxy: a client's claim
    ({"x-forwarded-for": "6.6.6.6, 1.2.3.4"}, "10.0.0.1", 1, "1.2.3.4"),       # the proxy's entry, not the client's
    ([(b"X-Forwarded-For", b"9.9.9.9")], "10.0.0.1", 1, "9.9.9.9"),
    ({}, "10.0.0.1", 1, "10.0.0.1"),
])
def test_the_client_address(headers, peer, hops, expected):
    assert client_address(headers, peer, hops) == expected


@pytest.mark.parametrize("name, data, kind", [
    ("chat", [{"text": "help", "files": []}, []], CHEAP),
    ("chat", [{"text": "status", "files": []}, []], CHEAP),
    ("chat", [{"text": "Is this Jane Doe?", "files": []}, []], COMPUTE),
    ("chat", [{"text": "", "files": [{"path": "/x.png"}]}, []], COMPUTE),
    ("chat", [{"text": 5, "files": []}], COMPUTE), ("chat", "junk", COMPUTE),
    ("say_share", [[], None], CHEAP), ("check", [[], "Jane Doe", {}], COMPUTE), ("set_tau", [3], COMPUTE),
])
def test_which_events_may_compute(name, data, kind):
    assert event_kind(name, data) == kind


def test_a_browser_turn_is_classified_by_what_its_box_sent():
    """The browser's chat event reads its message from the server's outbox (no data of its own):
    its kind is the one ``echo`` noted for that session, taken once; unknown means compute."""
    sent = SentKinds(limit=2)
    sent.note("a", "help")
    sent.note("b", "Is this Jane Doe?")
    assert event_kind("chat", [None, [], None], sent=lambda: sent.take("a")) == CHEAP
    assert event_kind("chat", [None, [], None], sent=lambda: sent.take("a")) == COMPUTE   # taken once
    assert event_kind("chat", [None, [], None], sent=lambda: sent.take("b")) == COMPUTE
    assert event_kind("chat", [None, [], None]) == COMPUTE                                # no outbox known
    sent.note("c", "status"), sent.note("d", "status"), sent.note("e", "status")
    assert sent.take("c") == COMPUTE and sent.take("e") == CHEAP                          # bounded: c forgotten
    sent.note(None, "help")
    assert sent.take(None) == COMPUTE


# -- the client's history ---------------------------------------------------------------------------------
def _text(role, text):
    return {"role": role, "content": [{"type": "text", "text": text}]}


def test_only_what_the_server_wrote_comes_back():
    record = HistoryRecord()
    ours = [{"role": "assistant", "content": "Welcome"}, {"role": "user", "content": "help"},
            {"role": "assistant", "content": "**Help**: drop photos"}]
    record.note("s1", ours)
    sent_back = [_text("assistant", "Welcome"), _text("user", "help"), _text("assistant", "**Help**: drop photos"),
                 _text("assistant", "<form action=//evil.example></form>"), {"role": "system", "content": "x"},
                 {"role": "assistant", "content": [{"type": "file", "file": {"path": "/etc/passwd"}}]}]
    assert record.validated("s1", sent_back) == ours
    assert record.validated("s2", sent_back) == []          # another session's messages are not its own
    record.forget("s1")
    assert record.validated("s1", sent_back) == []
    assert record.validated("s1", "not a list") == []


def test_the_history_sent_back_is_capped():
    record = HistoryRecord(max_messages=10)
    many = [{"role": "user", "content": f"message {i}"} for i in range(30)]
    record.note("s", many)
    kept = record.validated("s", many)
    assert kept == many[-10:]
    long = [{"role": "assistant", "content": "x" * (MAX_CHARS // 2 + 1)} for _ in range(3)]
    record.note("t", long)
    assert len(record.validated("t", long)) == 1


# -- uploads: arrival and quota ---------------------------------------------------------------------------
@pytest.mark.parametrize("name, refused", [("a.svg", True), ("a.html", True), ("a.js", True), ("a.pdf", True),
                                           ("a.txt", True), ("a.png", False), ("a.JPG", False), ("a.webp", False),
                                           ("blob", False), ("a.heic", False)])
def test_types_the_app_never_reads(name, refused):
    assert bool(not_a_photo_type(name)) == refused


def test_uploads_arrive_in_private_folders_and_refused_types_go(tmp_path):
    root = tmp_path / "gradio"
    (root / "abc123").mkdir(parents=True)
    photo, page = root / "abc123" / "p.png", root / "abc123" / "x.html"
    photo.write_bytes(b"png")
    page.write_text("<form>")
    example = root / "ex" / "e.png"
    example.parent.mkdir()
    example.write_bytes(b"example")
    files = SessionFiles(root)
    record = TrackedUploads([], files.uploaded, arrive=arrive_privately(str(root), lambda: [str(example)]))
    listed = [str(photo), str(page), str(example)]
    token = UPLOADER.set("10.0.0.7")
    try:
        record.update(listed)          # as gradio does, with the list it then returns to the client
    finally:
        UPLOADER.reset(token)
    new_photo, gone_page, kept_example = listed
    assert new_photo != str(photo) and os.path.basename(os.path.dirname(new_photo)).startswith("u-")
    assert open(new_photo, "rb").read() == b"png" and not photo.exists() and not (root / "abc123").exists()
    assert not os.path.exists(gone_page) and kept_example == str(example) and example.exists()
    assert files.pending_bytes("10.0.0.7") == 3 + len(b"example")
    assert new_photo in record and gone_page not in record


def test_the_upload_quota_per_address():
    pending = {"a": 0}
    quota = UploadQuota(UploadLimits(pending_bytes=100, window_bytes=250, window_requests=5, window_s=60),
                        lambda who: pending.get(who, 0))
    assert quota.admit("a", 60, now=0) is None
    pending["a"] = 60
    assert "no message or check has used" in quota.admit("a", 60, now=1)      # 120 unclaimed > 100
    assert quota.admit("b", 60, now=1) is None                                # another address
    pending["a"] = 0                                                          # claimed (or expired)
    assert quota.admit("a", 90, now=2) is None and quota.admit("a", 90, now=3) is None
    assert "in 1 minutes" in quota.admit("a", 90, now=4)                      # 330 > 250 in the window
    assert quota.admit("a", 90, now=70) is None                              # the window moved on
    assert not UploadQuota(UploadLimits(None, None, None), lambda w: 0).limited


def test_an_upload_named_by_a_queued_event_outlives_its_first_holder(tmp_path):
    root = tmp_path / "gradio"
    (root / "u-1").mkdir(parents=True)
    photo = root / "u-1" / "p.png"
    photo.write_bytes(b"x")
    queued = []
    files = SessionFiles(root, pending_ttl=60, queued=lambda: queued)
    files.claim("request-1", [str(photo)])
    queued.append(str(photo))          # another event, waiting in the queue, names the same upload
    files.release("request-1")
    assert photo.exists()
    queued.clear()
    assert files.sweep() == [] and photo.exists()   # counted as a fresh upload: its short life starts now


# -- the shutdown --------------------------------------------------------------------------------------------
def test_turns_end_before_the_cleanup_and_nothing_is_written_after():
    """In a child process: the latch that stops writes is for good (a server shuts down once)."""
    code = r'''
import tempfile, threading, time
from pathlib import Path
from idia_core.serve.lifecycle import Lifecycle, ShuttingDown
from idia_core.chat.session import ChatSession
from idia_core.attack.settings import IdiaSettings
from idia_core.files import WritesStopped, atomic_write
life, log = Lifecycle(), []
report = life.guard(lambda *a: log.append(a))
def turn():
    with life.turn():
        try:
            for i in range(100):
                report(i, 100, "step"); time.sleep(0.02)
        except ShuttingDown:
            log.append("stopped")
t = threading.Thread(target=turn); t.start(); time.sleep(0.1)
cleaned = []
assert life.shut_down(lambda: cleaned.append(life.running()), timeout=5)
t.join()
assert "stopped" in log and cleaned == [0]
try:
    with life.turn(): pass
    raise SystemExit("a turn started after the shutdown")
except ShuttingDown: pass
folder = Path(tempfile.mkdtemp())
for write in (lambda: atomic_write(folder / "x.png", b"x"),
              lambda: ChatSession(settings=IdiaSettings(model="sandbox")).ensure_workdir()):
    try:
        write(); raise SystemExit("wrote after the shutdown")
    except WritesStopped: pass
assert list(folder.iterdir()) == []
print("ok")
'''
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]


def test_a_turn_that_outlives_the_grace_is_abandoned():
    life = Lifecycle()
    entered = life.turn()
    entered.__enter__()
    assert not life.wait(0.1) and life.running() == 1
    entered.__exit__(None, None, None)
    assert life.wait(0.1)


# -- the ASGI gates -------------------------------------------------------------------------------------------
def _run(gate, path="/", method="GET", query=b"", headers=(), body=b"", client=("127.0.0.1", 1)):
    """Call an ASGI gate with one request; return (status, body, the scope the app behind it saw)."""
    sent, seen = [], {}

    async def app(scope, receive, send):
        seen["scope"] = scope
        seen["uploader"] = UPLOADER.get()
        message = await receive()
        seen["body"] = message
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"app"})

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": path, "method": method, "query_string": query, "client": client,
             "headers": [(k.lower(), v) for k, v in headers]}
    asyncio.run(gate(app)(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"), seen


def test_deep_links_are_closed():
    status, body, _ = _run(gates.DeepLinksClosed, "/gradio_api/deep_link", query=b"session_hash=abc")
    assert status == 404 and b"turned off" in body
    status, _, seen = _run(gates.DeepLinksClosed, "/", query=b"deep_link=planted&idia=1&name=Jane+Doe")
    assert status == 200 and seen["scope"]["query_string"] == b"idia=1&name=Jane+Doe"


def test_request_bodies_are_bounded():
    gate = lambda app: gates.RequestBodyLimit(app, max_bytes=100)   # noqa: E731
    status, _, _ = _run(gate, "/gradio_api/queue/join", "POST", headers=[(b"content-length", b"101")])
    assert status == 413
    _, _, seen = _run(gate, "/gradio_api/queue/join", "POST", body=b"x" * 101)   # no length: cut in flight
    assert seen["body"]["type"] == "http.disconnect"
    status, _, seen = _run(gate, "/gradio_api/upload", "POST", headers=[(b"content-length", b"10000")])
    assert status == 200                                                     # uploads have their own gate


def test_the_upload_gate_admits_by_address():
    quota = UploadQuota(UploadLimits(pending_bytes=None, window_bytes=150, window_requests=None), lambda w: 0)
    gate = lambda app: gates.UploadGate(app, quota, hops=1)   # noqa: E731
    xff = (b"x-forwarded-for", b"5.5.5.5")
    status, _, seen = _run(gate, "/gradio_api/upload", "POST", headers=[(b"content-length", b"100"), xff])
    assert status == 200 and seen["uploader"] == "5.5.5.5"
    status, body, _ = _run(gate, "/gradio_api/upload", "POST", headers=[(b"content-length", b"100"), xff])
    assert status == 429 and b"uploaded more than" in body
    status, _, _ = _run(gate, "/gradio_api/upload", "POST", headers=[xff])
    assert status == 411
