"""Uploads are temporary: once a session ends (the client disconnects, gradio fires ``unload``), no
photo it uploaded and none of its charts or reports remain on disk; a stateless ``check`` keeps
nothing even while its caller is still connected; and photos never land outside gradio's
temporary folder (not in the app's TMPDIR, not in the text cache)."""
from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import needs_sandbox, open_client, say, text_of, unique_member_photos, wait_until

pytestmark = [needs_sandbox, pytest.mark.timeout(300)]
GONE_WITHIN_S = 30.0


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _unique_photos(folder: Path, tag: int, n: int = 4) -> tuple[str, list[Path]]:
    """The best-learned member's name and photos no other test uploads (``unique_member_photos``)."""
    return unique_member_photos(folder, tag, n, seed=500, prefix="cleanup")


def _files_with(root: Path, hashes: set[str]) -> list[Path]:
    """Every file under ``root`` whose bytes are one of ``hashes``."""
    if not root or not root.exists():
        return []
    found = []
    for folder, _, names in os.walk(root):   # os.walk skips folders deleted while it walks
        for name in names:
            p = Path(folder) / name
            try:
                if _sha(p) in hashes:
                    found.append(p)
            except FileNotFoundError:   # deleted while we looked (the app's cleanup at work)
                continue
    return found


def _session_folders(app) -> set[Path]:
    roots = [app.gradio_temp / "idia-sessions", app.tmpdir]
    return {p for r in roots if r and r.exists() for p in r.glob("idia-session-*")}


def _wait_until(predicate, limit: float = GONE_WITHIN_S) -> bool:
    return wait_until(predicate, limit)


def test_session_files_removed_when_session_closes(launched_app, tmp_path):
    name, photos = _unique_photos(tmp_path, tag=1)
    hashes = {_sha(p) for p in photos}
    before = _session_folders(launched_app)
    c = open_client(launched_app)
    verdict = text_of(say(c, f"Is this {name}?", photos))
    assert name in verdict and "of 21 templates" in verdict, verdict
    report = say(c, "report")
    assert "evidence.json](/gradio_api/file=" in text_of(report), report   # a download link, no file message

    # while the session is open its uploads are on disk (so the scan below can see them) ...
    held = _files_with(launched_app.gradio_temp, hashes)
    assert len(held) == len(photos), held
    ours = _session_folders(launched_app) - before
    assert len(ours) == 1 and any(ours.pop().rglob("*.json")), "the session's folder holds its report"
    ours = _session_folders(launched_app) - before
    # ... and only there: nothing of a photo in the app's TMPDIR or its text cache
    assert _files_with(launched_app.tmpdir, hashes) == []
    assert _files_with(launched_app.gradio_temp.parent / "cache", hashes) == []

    t0 = time.monotonic()
    c.close()   # the heartbeat stops: gradio fires unload for this session
    gone = _wait_until(lambda: not _files_with(launched_app.gradio_temp, hashes)
                       and not any(p.exists() for p in ours))
    print(f"session files gone {time.monotonic() - t0:.1f} s after the client closed")
    assert gone, (_files_with(launched_app.gradio_temp, hashes), [p for p in ours if p.exists()])
    assert launched_app.process.poll() is None


def test_shared_upload_survives_until_its_last_session_closes(launched_app, tmp_path):
    """Two sessions upload the same bytes (one file on disk): the first to close must not delete
    the photo the other still uses; the second closing removes it."""
    name, photos = _unique_photos(tmp_path, tag=2)
    hashes = {_sha(p) for p in photos}
    a, b = open_client(launched_app), open_client(launched_app)
    for c in (a, b):
        assert name in text_of(say(c, f"Is this {name}?", photos))
    a.close()
    time.sleep(3)
    assert len(_files_with(launched_app.gradio_temp, hashes)) == len(photos)
    again = text_of(say(b, "tau 2"))            # b re-runs on the photos it uploaded earlier
    assert "of 21 templates" in again and name in again, again
    b.close()
    assert _wait_until(lambda: not _files_with(launched_app.gradio_temp, hashes))


def test_check_endpoint_keeps_no_upload(launched_app, tmp_path):
    from gradio_client import handle_file

    name, photos = _unique_photos(tmp_path, tag=3)
    hashes = {_sha(p) for p in photos}
    c = open_client(launched_app)
    out = c.predict([handle_file(str(p)) for p in photos], name, {}, api_name="/check")
    assert out["ok"], out
    # the caller is still connected, yet the stateless call has already let go of its photos
    assert _wait_until(lambda: not _files_with(launched_app.gradio_temp, hashes), limit=5)
    c.close()


def test_example_photos_survive_a_closing_session(launched_app, tmp_path):
    """The sandbox examples' cached photos are shared by every visitor: a session that sends them
    (as clicking an example does) and closes must not delete them, while its own upload goes."""
    examples = sorted((launched_app.tmpdir / "idia-examples").rglob("*.png"))[:3]
    assert examples, "the app wrote no example photos"
    example_hashes = {_sha(p) for p in examples}
    cached = _files_with(launched_app.gradio_temp, example_hashes)
    assert len(cached) >= len(examples), cached
    _, own = _unique_photos(tmp_path, tag=4, n=1)
    c = open_client(launched_app)
    say(c, "", examples + own)
    c.close()
    assert _wait_until(lambda: not _files_with(launched_app.gradio_temp, {_sha(own[0])}))
    assert all(p.exists() for p in cached), [p for p in cached if not p.exists()]


def test_notices_on_the_page(launched_app):
    """The page states the privacy rule and the responsible-use notice, in the README's words."""
    import json
    import urllib.request

    from tests.e2e.conftest import ROOT

    with urllib.request.urlopen(launched_app.url + "config", timeout=10) as resp:
        config = json.dumps(json.load(resp), ensure_ascii=False)
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    for phrase in ("consent to check", "not a face-recognition or people-search tool",
                   "statistical evidence about a model's training data, not proof about a person"):
        assert phrase in config and phrase in readme, phrase
    assert "deleted, with the session's charts and reports, when you close the page" in config
