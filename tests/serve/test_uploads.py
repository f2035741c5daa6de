"""SessionFiles: a closing session deletes the temporary files only it held, inside the root only."""
from __future__ import annotations

import time

from idia_core.serve.uploads import SessionFiles


def _file(folder, name, data=b"x"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def test_release_deletes_only_unshared_files_inside_root(tmp_path):
    root = tmp_path / "gradio"
    own = _file(root / "h1", "a.png")
    shared = _file(root / "h2", "b.png")
    outside = _file(tmp_path / "home", "c.png")
    example = _file(root / "h3", "example.png")
    workdir = root / "idia-sessions" / "idia-session-x"
    _file(workdir, "votes.png")
    files = SessionFiles(root, protected=lambda: [str(example)])
    files.claim("A", [str(own), str(shared), str(outside), str(example)])
    files.claim_folder("A", workdir)
    files.claim_folder("A", tmp_path / "home")          # outside the root: ignored
    files.claim("B", [str(shared)])
    deleted = files.release("A")
    assert not own.exists() and not (root / "h1").exists() and not workdir.exists()
    assert shared.exists() and outside.exists() and example.exists() and (tmp_path / "home").is_dir()
    assert sorted(deleted) == sorted([str(own.resolve()), str(workdir.resolve())])
    assert files.release("A") == []                      # twice is harmless
    files.release("B")
    assert not shared.exists() and files.sessions() == []


def _reupload(path, data=b"x"):
    """What gradio does with an upload: write elsewhere, then move it into place (a new inode)."""
    tmp = path.parent.parent / "incoming"
    tmp.write_bytes(data)
    tmp.replace(path)


def test_a_newer_upload_of_a_shared_file_survives_its_first_holder(tmp_path):
    root = tmp_path / "gradio"
    photo = _file(root / "h1", "p.png")
    files = SessionFiles(root)
    files.claim("A", [str(photo)])
    _reupload(photo)            # session B uploads the same bytes; its handler has not run yet
    files.release("A")
    assert photo.exists()       # B will still find it
    files.claim("B", [str(photo)])
    files.release("B")
    assert not photo.exists()


def test_the_last_claimed_version_is_deleted_by_its_last_holder(tmp_path):
    root = tmp_path / "gradio"
    photo = _file(root / "h1", "p.png")
    files = SessionFiles(root)
    files.claim("A", [str(photo)])
    _reupload(photo)
    files.claim("B", [str(photo)])
    files.release("B")          # A still holds it
    assert photo.exists()
    files.release("A")          # nobody does now, and it is the version last claimed
    assert not photo.exists()


# -- ownership counted from upload time, per request and per session -------------------------------
def test_an_unclaimed_upload_of_the_same_photo_survives_another_request(tmp_path):
    """Visitor B uploads the photo A uses (same bytes, same path) before A's request runs; A's request
    claims and finishes first: B's upload, still waiting in the queue, must survive it."""
    from idia_core.serve.uploads import TrackedUploads

    root = tmp_path / "gradio"
    photo = _file(root / "h1", "p.png")
    files = SessionFiles(root)
    record = TrackedUploads([], files.uploaded)
    record.update([str(photo)])        # A's upload
    record.update([str(photo)])        # B's upload of the same bytes
    files.claim("request-A", [str(photo)])
    files.release("request-A")
    assert photo.exists()              # B's upload is still counted
    files.claim("request-B", [str(photo)])
    files.release("request-B")
    assert not photo.exists() and not (root / "h1").exists()


def test_a_session_keeps_what_its_request_accepted(tmp_path):
    root = tmp_path / "gradio"
    good, bad = _file(root / "h1", "good.png"), _file(root / "h2", "bad.png")
    files = SessionFiles(root)
    files.uploaded([str(good), str(bad)])
    files.claim("request-1", [str(good), str(bad)])
    files.claim("S", [str(good)], upload=False)   # the turn accepted one photo
    files.release("request-1")                    # the refused upload goes with its request
    assert good.exists() and not bad.exists()
    assert not files.is_closed("request-1")
    files.release("S")
    assert not good.exists() and files.is_closed("S")
    files.reopen("S")
    assert not files.is_closed("S")


def test_unclaimed_uploads_expire_and_are_swept(tmp_path):
    root = tmp_path / "gradio"
    photo = _file(root / "h1", "p.png")
    files = SessionFiles(root, pending_ttl=0.0)
    files.uploaded([str(photo)])
    assert files.sweep() == [str(photo.resolve())] and not photo.exists()


def test_an_expired_upload_is_swept_whatever_looked_at_it_first(tmp_path):
    """The upload gate asks ``pending_bytes`` on every upload and a closing session ``release``s:
    neither may forget an expired upload that ``sweep`` alone deletes (it stayed on disk till
    shutdown). One still named by a queued event is kept."""
    root = tmp_path / "gradio"
    queued = []
    files = SessionFiles(root, pending_ttl=0.05, queued=lambda: queued)
    gated, released, waiting = (_file(root / f"h{i}", "p.png", b"x" * 10) for i in range(3))
    files.uploaded([str(gated), str(released), str(waiting)], owner="1.2.3.4")
    assert files.pending_bytes("1.2.3.4") == 30
    files.claim("S", [str(released)], upload=False)       # held by a session, its upload not yet claimed
    queued.append(str(waiting))
    time.sleep(0.1)
    assert files.pending_bytes("1.2.3.4") == 0             # expired: no longer charged to the address
    files.release("S")
    assert sorted(files.sweep()) == sorted(str(p.resolve()) for p in (gated,))
    assert not gated.exists() and not released.exists() and waiting.exists()
    queued.clear()                                         # its event ran (and never claimed it)
    assert files.sweep() == [str(waiting.resolve())] and not waiting.exists()


def test_release_all_removes_every_session_and_pending_upload(tmp_path):
    root = tmp_path / "gradio"
    a, b = _file(root / "h1", "a.png"), _file(root / "h2", "b.png")
    work = root / "idia-sessions" / "idia-session-1"
    _file(work, "votes.png")
    files = SessionFiles(root)
    files.uploaded([str(b)])
    files.claim("S", [str(a)])
    files.claim_folder("S", work)
    files.release_all()
    assert not a.exists() and not b.exists() and not work.exists()


def test_idle_sessions():
    import time

    from idia_core.serve.uploads import IdleSessions

    idle = IdleSessions(idle_s=0.05)
    idle.touch("S")
    assert idle.expired() == []
    time.sleep(0.06)
    idle.touch("T")
    assert idle.expired() == ["S"] and idle.expired() == []


def test_a_session_in_a_long_turn_is_not_idle():
    import time

    from idia_core.serve.uploads import IdleSessions

    idle = IdleSessions(idle_s=0.05)
    with idle.busy("S"):
        time.sleep(0.08)
        assert idle.expired() == []
    assert idle.expired() == []
    time.sleep(0.06)
    assert idle.expired() == ["S"]
