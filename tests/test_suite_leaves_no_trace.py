"""The test suite's own housekeeping (tests/conftest.py, pytest.ini): a run leaves nothing in the
system temp folder but pytest's folders of the tests that failed.

CI installs two ~6 GB stacks on one disk and runs the suite after each; when a run left ~1.2 GB of
caches, a session folder per chat test, an empty folder per gradio_client download and 2.2 GB of
passing tests' ``tmp_path`` behind, the second install died with "No space left on device". Here a
real pytest run, with the suite's conftest and pytest.ini, writes every one of those kinds of file,
and the temp folder it was given is looked at afterwards.
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

INNER = textwrap.dedent('''
    import subprocess, sys, tempfile
    from pathlib import Path

    def test_writes_what_a_suite_writes(tmp_path):
        from gradio_client import utils as client_utils
        from idia_core.attack.settings import IdiaSettings
        from idia_core.chat.session import ChatSession
        from idia_core.text.cache import default_cache

        (tmp_path / "kept-only-if-failed.txt").write_text("x")
        session = ChatSession(IdiaSettings())
        (session.ensure_workdir() / "photos-0.png").write_bytes(b"png")     # never closed
        client_utils.create_tmp_copy_of_file(str(tmp_path / "kept-only-if-failed.txt"))
        tempfile.mkdtemp(prefix="left-")
        subprocess.run([sys.executable, "-c", "import tempfile; tempfile.mkstemp(prefix='child-')"], check=True)
        default_cache()   # the text cache under IDIA_CACHE_DIR

    def test_fails_and_keeps_its_folder(tmp_path):
        (tmp_path / "evidence.txt").write_text("for whoever debugs this")
        assert False
''')


def _files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir())


def test_a_run_leaves_only_the_failed_tests_folders(tmp_path):
    system_temp = tmp_path / "system-temp"
    system_temp.mkdir()
    (tmp_path / "test_inner.py").write_text(INNER)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTEST_DEBUG_TEMPROOT", "GRADIO_TEMP_DIR", "HF_HOME", "HF_HUB_CACHE", "IDIA_CACHE_DIR",
                        "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")}
    env["TMPDIR"] = str(system_temp)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-c", str(ROOT / "pytest.ini"), "--rootdir", str(ROOT),
                          "-p", "tests.conftest", str(tmp_path / "test_inner.py")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert "1 failed, 1 passed" in run.stdout, run.stdout[-3000:] + run.stderr[-3000:]
    left = _files_under(system_temp)
    assert len(left) == 1 and "/test_fails_and_keeps_its" in left[0] and left[0].endswith("/evidence.txt"), left
    assert [p.name.startswith("pytest-of-") for p in system_temp.iterdir()] == [True]
