"""SessionFiles: a closing session deletes the temporary files only it held, inside the root only."""
from __future__ import annotations

from idia_core.chat.uploads import SessionFiles


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
