"""Test environment: never reach a hub, never touch the user's caches.

These variables are read by huggingface_hub at import time, so they are set here, before any test
module imports it.
"""
import os
import tempfile

_ROOT = tempfile.mkdtemp(prefix="idia-tests-")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HOME", os.path.join(_ROOT, "hf"))
os.environ["HF_HUB_CACHE"] = os.path.join(os.environ["HF_HOME"], "hub")
os.environ.setdefault("IDIA_CACHE_DIR", os.path.join(_ROOT, "idia-cache"))
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest  # noqa: E402

from tests.helpers import TINY_MODEL_CFG, make_tiny_model_dir, draw_face_photos  # noqa: E402,F401


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
