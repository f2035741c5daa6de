"""The app as a public deployment (IDIA_PUBLIC=1) driven like strangers would: over the REST API
and gradio_client, with a short idle time so REST sessions expire within seconds.

One app for the module (its own temp folders); the last test stops it with SIGTERM and checks that
nothing the server wrote is left."""
from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import (needs_sandbox, open_client, say, serve_app, text_of, unique_member_photos,
                                wait_until, rest_call, file_data)

pytestmark = [needs_sandbox, pytest.mark.timeout(600)]
IDLE_S = 4.0


@pytest.fixture(scope="module")
def public_app(tmp_path_factory):
    with serve_app(tmp_path_factory.mktemp("public-app"), IDIA_PUBLIC="1", IDIA_SESSION_IDLE_S=str(IDLE_S)) as app:
        yield app


def _photos(folder: Path, tag: int, n: int = 3) -> tuple[str, list[Path]]:
    return unique_member_photos(folder, tag, n, seed=900, prefix="public")


def _upload(app, paths) -> list[str]:
    files = [("files", (p.name, p.read_bytes(), "image/png")) for p in paths]
    r = httpx.post(app.url + "gradio_api/upload", files=files, timeout=30)
    r.raise_for_status()
    return r.json()


def _call(app, api: str, data: list, timeout: float = 240) -> list:
    status, out = rest_call(app, api, data, timeout=timeout)
    assert status == 200, out
    return out


def _held(app, hashes: set[str]) -> list[Path]:
    found = []
    for p in app.gradio_temp.rglob("*"):
        try:
            if p.is_file() and hashlib.sha256(p.read_bytes()).hexdigest() in hashes:
                found.append(p)
        except FileNotFoundError:
            continue
    return found


def test_models_not_offered_are_refused_with_the_offer(public_app, tmp_path):
    c = open_client(public_app)
    for spec in ("ViT-H-14:random", "hf-hub:someone/anything"):
        reply = text_of(say(c, f"model {spec}"))
        assert "offers only" in reply and "sandbox" in reply, reply
    name, photos = _photos(tmp_path, 1)
    from gradio_client import handle_file

    out = c.predict([handle_file(str(p)) for p in photos], name, {"model": "ViT-B-32:random"}, api_name="/check")
    assert out["error"]["code"] == "model_not_offered"
    assert c.predict([handle_file(str(p)) for p in photos], name, "[1]", api_name="/check")["error"]["code"] == \
        "option_type"
    c.close()


def test_same_photo_uploaded_by_two_visitors_survives_the_first_check(public_app, tmp_path):
    """B uploads; A uploads the same bytes (same path) and its check finishes first; B's request,
    sent afterwards, still finds its photos (it got photo_missing before)."""
    from gradio_client import handle_file

    name, photos = _photos(tmp_path, 2)
    b_paths = _upload(public_app, photos)
    a = open_client(public_app)
    first = a.predict([handle_file(str(p)) for p in photos], name, {"n_candidates": 50}, api_name="/check")
    assert first["ok"], first
    a.close()
    second = _call(public_app, "check", [[file_data(p) for p in b_paths], name, {"n_candidates": 50}])[0]
    assert second["ok"], second
    assert wait_until(lambda: not _held(public_app, {hashlib.sha256(p.read_bytes()).hexdigest() for p in photos}), 10)
    assert not [p for p in public_app.gradio_temp.rglob("*") if p.is_file() and p.stat().st_size == 0]


def test_rest_api_session_expires_after_idle_time(public_app, tmp_path):
    name, photos = _photos(tmp_path, 3)
    hashes = {hashlib.sha256(p.read_bytes()).hexdigest() for p in photos}
    paths = _upload(public_app, photos)
    out = _call(public_app, "chat", [{"text": f"Is this {name}?", "files": [file_data(p) for p in paths]}, []])
    history = out[1]
    assert any("templates" in json.dumps(m) for m in history), history
    sessions = public_app.gradio_temp / "idia-sessions"
    assert _held(public_app, hashes) and any(sessions.glob("idia-session-*/*.png"))
    t0 = time.monotonic()
    gone = wait_until(lambda: not _held(public_app, hashes) and not any(sessions.glob("idia-session-*")),
                       IDLE_S * 3 + 15)
    print(f"REST session released {time.monotonic() - t0:.1f} s after its last turn (idle limit {IDLE_S} s)")
    assert gone


def test_oversized_upload_and_link_refused_at_the_door(public_app):
    from idia_core import limits

    r = httpx.post(public_app.url + "gradio_api/upload",
                   files=[("files", ("big.png", b"\0" * (limits.MAX_FILE_BYTES + 1), "image/png"))], timeout=60)
    assert r.status_code == 413
    import urllib.error

    for n in (20000, 70000):   # gradio answered a 64 kB link with HTTP 500
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(public_app.url + "?idia=1&name=Jane+Doe&add=" + "A" * n, timeout=30)
        assert err.value.code == 414 and b"too long" in err.value.read()


def test_help_is_answered_while_two_long_checks_run(public_app, tmp_path):
    """Two checks with a new 1000-name pool each (nothing cached) hold both compute slots; a
    'help' from a third visitor is answered before either finishes."""
    from gradio_client import handle_file

    name, photos = _photos(tmp_path, 4)
    done: dict[int, float] = {}

    def long_check(seed: int):
        c = open_client(public_app)
        out = c.predict([handle_file(str(p)) for p in photos], name,
                        {"n_candidates": 1000, "seed": seed}, api_name="/check")
        done[seed] = time.monotonic()
        assert out["ok"], out
        c.close()

    threads = [threading.Thread(target=long_check, args=(seed,)) for seed in (4242, 4343)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    c = open_client(public_app)
    t0 = time.monotonic()
    reply = text_of(say(c, "help"))
    answered = time.monotonic()
    c.close()
    for t in threads:
        t.join(timeout=400)
    print(f"help answered in {answered - t0:.2f} s; the checks finished {[round(d - t0, 1) for d in done.values()]} s "
          "after it was sent")
    assert reply and len(done) == 2
    assert answered < min(done.values()), "help waited for a check"


def test_a_turn_finishing_after_its_page_closed_leaves_nothing(public_app, tmp_path):
    """The visitor leaves while their check encodes a new pool: when the check finishes, its charts
    are deleted rather than kept for a session that is gone, and so are its uploads."""
    from gradio_client import handle_file

    name, photos = _photos(tmp_path, 6)
    hashes = {hashlib.sha256(p.read_bytes()).hexdigest() for p in photos}
    c = open_client(public_app)
    say(c, "seed 31337")
    job = c.submit({"text": f"Is this {name}?", "files": [handle_file(str(p)) for p in photos]}, [],
                   api_name="/chat")
    deadline = time.monotonic() + 120
    seen = []
    while not job.done() and time.monotonic() < deadline and not seen:
        seen += [u.desc for u in (job.status().progress_data or []) if u.desc and u.desc.startswith("Encoding")]
        time.sleep(0.1)
    assert seen and not job.done(), "the check was not caught encoding"
    before = set((public_app.gradio_temp / "idia-sessions").glob("idia-session-*"))
    c.close()   # the page goes away mid-check
    # the turn holds its uploads until it ends: once they are gone, the turn has finished
    assert wait_until(lambda: not _held(public_app, hashes), 240)
    time.sleep(0.5)
    after = set((public_app.gradio_temp / "idia-sessions").glob("idia-session-*"))
    assert after <= before, after - before


def test_sigterm_removes_what_the_server_wrote(public_app, tmp_path):
    name, photos = _photos(tmp_path, 5)
    c = open_client(public_app)
    assert "templates" in text_of(say(c, f"Is this {name}?", photos))   # uploads, charts: on disk now
    _upload(public_app, photos[:1])                                     # and an upload nobody claimed
    public_app.process.terminate()
    public_app.process.wait(timeout=30)
    left = [p for p in public_app.gradio_temp.rglob("*") if p.is_file()]
    left += list(public_app.tmpdir.rglob("idia-*"))
    assert left == [], left
