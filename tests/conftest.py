"""Test environment: never reach a hub, never touch the user's caches, leave nothing behind.

These variables are read by huggingface_hub and gradio_client at import time, so they are set here,
before any test module imports them.

Everything this run writes to "the temp folder" lands in one folder that goes when the run ends
(``pytest_unconfigure``): the text and Hugging Face caches, the folders of sessions the chat tests
open, gradio_client's downloads (an empty ``<40 hex>`` folder per downloaded file, and the file
under ``GRADIO_TEMP_DIR``), a local Ray's session folders, and whatever a subprocess writes through
``TMPDIR``. A full run used to leave ~1.2 GB and ~1000 folders in /tmp, and CI, which installs two
6 GB stacks on one disk, ran out of space. pytest's own ``tmp_path`` folders stay where pytest puts
them, and only a failed test's are kept (``tmp_path_retention_policy`` in pytest.ini).
"""
import os
import shutil
import tempfile

os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", tempfile.gettempdir())   # before tempfile moves
_ROOT = tempfile.mkdtemp(prefix="idia-tests-")
_OWNER = os.getpid()    # forked workers inherit this module; only the run that made _ROOT removes it
# short: a local Ray puts its sockets under $TMPDIR/ray/session_<date>_<pid>/sockets (≤ 107 bytes)
_TMP = os.path.join(_ROOT, "t")
os.mkdir(_TMP)
os.environ["TMPDIR"] = _TMP
tempfile.tempdir = _TMP
os.environ.setdefault("GRADIO_TEMP_DIR", os.path.join(_ROOT, "gradio"))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HOME", os.path.join(_ROOT, "hf"))
os.environ["HF_HUB_CACHE"] = os.path.join(os.environ["HF_HOME"], "hub")
os.environ.setdefault("IDIA_CACHE_DIR", os.path.join(_ROOT, "idia-cache"))
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest  # noqa: E402

from tests.helpers import TINY_MODEL_CFG, make_tiny_model_dir, draw_face_photos  # noqa: E402,F401


def pytest_unconfigure(config):
    if os.getpid() == _OWNER:
        shutil.rmtree(_ROOT, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A real open_clip model (tiny custom config, random weights) saved in local-dir format."""
    return make_tiny_model_dir(tmp_path_factory.mktemp("tiny-model"), seed=1)


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    from idia_core import load_model

    return load_model(f"local-dir:{tiny_model_dir}")


@pytest.fixture
def photo_files(tmp_path):
    """Five real image files on disk (drawn portraits), as a user would upload them."""
    paths = []
    for i, img in enumerate(draw_face_photos(5, seed=3)):
        path = tmp_path / f"photo{i}.jpg"
        img.save(path, quality=92)
        paths.append(path)
    return paths
