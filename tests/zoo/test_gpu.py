"""The GPU boundary (``idia_core.zoo.gpu``): the heavy tensor work as pure functions of plain data,
run in this process, in a forked child with ZeroGPU's semantics (pickled arguments and result,
nothing the child changes comes back), or as ``@spaces.GPU`` functions; the numbers are the same
wherever they run (to float summation order), and a ZeroGPU refusal reads as a message, not a
stack trace."""
from __future__ import annotations

import os
import types
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from idia_core.errors import IdiaInputError
from idia_core.zoo import gpu
from idia_core.zoo.registry import ModelKey
from tests.helpers import draw_face_photos

STATE = {"touched": 0}


def _touch_and_double(x):
    STATE["touched"] += 1   # module state changed in the worker
    return x * 2, os.getpid()


def _fail(x):
    raise ValueError(f"bad value {x}")


def _die(_):
    os._exit(3)


class _Unpicklable(Exception):
    def __reduce__(self):
        raise TypeError("no pickling")


def _raise_unpicklable(_):
    raise _Unpicklable("odd")


def test_a_forked_call_returns_its_result_and_changes_nothing_here():
    out, pid = gpu.run_forked(_touch_and_double, np.arange(5))
    assert out.tolist() == [0, 2, 4, 6, 8] and pid != os.getpid()
    assert STATE["touched"] == 0    # the worker's change to module state never reaches this process


def _slow_double(x):
    import time

    time.sleep(0.05)
    return x * 2


def test_many_threads_fork_workers_at_once():
    """16 sessions' GPU calls at once, each forking its worker: filelock (≥ 4.3, imported by
    huggingface_hub) refuses an os.fork while another thread's fork is under way ("os.fork is
    unsafe while filelock is changing descriptor ownership"), so forks are taken one at a time;
    the workers still run side by side."""
    pytest.importorskip("filelock")   # its fork hooks are what two forks at once trip over

    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(gpu.run_forked, _slow_double, np.full(3, i)) for i in range(64)]
        results = [f.result(timeout=120) for f in futures]
    assert [r.tolist() for r in results] == [[2 * i] * 3 for i in range(64)]


def test_a_forked_calls_exception_comes_back_as_itself():
    with pytest.raises(ValueError, match="bad value 7"):
        gpu.run_forked(_fail, 7)
    with pytest.raises(RuntimeError, match="odd"):
        gpu.run_forked(_raise_unpicklable, 1)
    with pytest.raises(RuntimeError, match="died"):
        gpu.run_forked(_die, 1)


def test_encoders_give_the_same_numbers_on_every_boundary(tiny_model):
    prompts = ["a photo of Jane Doe", "Jane Doe at an event", "a portrait of Ann Lee"]
    photos = draw_face_photos(4, seed=5)
    before = gpu.current()
    try:
        here = gpu.install(gpu.InProcess())
        text_here, img_here = tiny_model.encode_texts(prompts), tiny_model.encode_images(photos)
        assert here.calls == 2
        forked = gpu.install(gpu.ForkedWorker())
        text_fork, img_fork = tiny_model.encode_texts(prompts), tiny_model.encode_images(photos)
        assert forked.calls == 2
    finally:
        gpu.install(before)
    assert text_here.dtype == text_fork.dtype == torch.float32
    # the same function, summed in another order (the worker runs torch on one thread)
    assert torch.allclose(text_here, text_fork, atol=1e-6) and torch.allclose(img_here, img_fork, atol=1e-6)
    assert torch.allclose(text_here.norm(dim=-1), torch.ones(3))


def test_a_repeat_check_on_cached_embeddings_asks_for_no_gpu(tiny_model_dir, photo_files):
    from idia_core.attack.run import run_idia
    from idia_core.text.cache import TextEmbeddingCache
    from idia_core.text.embeddings import PrivateEmbeddings

    spec = f"local-dir:{tiny_model_dir}"
    store, cache = PrivateEmbeddings(), TextEmbeddingCache(disk=False)
    before = gpu.current()
    try:
        counted = gpu.install(gpu.InProcess())
        first = run_idia(spec, photo_files, "Jane Doe", n_candidates=40, private_cache=store, cache=cache,
                         reference="none")
        asked = counted.calls
        again = run_idia(spec, photo_files, "Jane Doe", n_candidates=40, tau=2, private_cache=store, cache=cache,
                         reference="none")
    finally:
        gpu.install(before)
    assert asked >= 2 and counted.calls == asked    # the photos and the pool: cached, no call
    assert np.array_equal(first.predictions, again.predictions) and again.tau == 2


def test_the_environment_chooses_the_boundary():
    assert isinstance(gpu.boundary_from_environment(None, {}), gpu.InProcess)
    assert isinstance(gpu.boundary_from_environment(None, {"IDIA_EMULATE_ZEROGPU": "1"}), gpu.ForkedWorker)
    on_space = _fake_spaces(zero_gpu=True)
    assert isinstance(gpu.boundary_from_environment(on_space, {}), gpu.ZeroGPU)
    assert isinstance(gpu.boundary_from_environment(_fake_spaces(zero_gpu=False), {}), gpu.InProcess)


def _fake_spaces(zero_gpu: bool, refuse: Exception | None = None):
    """The part of Hugging Face's ``spaces`` package the boundary uses: ``spaces.GPU(duration=f)``
    wraps a function so that each call runs in a worker (here: a forked child, as ZeroGPU does)
    after asking for ``f(*args)`` seconds; ``refuse`` is raised instead, as ZeroGPU refuses."""
    asked = []

    def GPU(duration):
        def wrap(fn):
            def call(*args):
                asked.append((fn.__name__, duration(*args)))
                if refuse is not None:
                    raise refuse
                return gpu.run_forked(fn, *args)
            return call
        return wrap

    return types.SimpleNamespace(GPU=GPU, asked=asked,
                                 config=types.SimpleNamespace(Config=types.SimpleNamespace(zero_gpu=zero_gpu)))


def test_zerogpu_calls_are_sized_from_the_work_and_give_the_same_numbers(tiny_model):
    spaces = _fake_spaces(zero_gpu=True)
    prompts = [f"a photo of Person {i}" for i in range(300)]
    before = gpu.current()
    try:
        reference = tiny_model.encode_texts(prompts)
        boundary = gpu.install(gpu.boundary_from_environment(spaces, {}))
        assert torch.allclose(tiny_model.encode_texts(prompts), reference, atol=1e-6)
        tiny_model.encode_images(draw_face_photos(3, seed=1))
    finally:
        gpu.install(before)
    assert boundary.calls == 2 and [name for name, _ in spaces.asked] == ["embed_tokens", "embed_pixels"]
    assert all(gpu.MIN_GPU_S <= seconds <= gpu.MAX_GPU_S for _, seconds in spaces.asked)
    key = ModelKey("x", "cuda", "float16")
    assert gpu.gpu_seconds(key, np.zeros((100_000, 77))) > gpu.gpu_seconds(key, np.zeros((1000, 77)))
    assert gpu.gpu_seconds(key, np.zeros((10**7, 77))) == gpu.MAX_GPU_S


def test_a_used_up_quota_reads_as_what_to_do(tiny_model):
    from gradio.exceptions import Error as GradioError

    refusal = GradioError("You have exceeded your GPU quota (59s left vs. 60s requested). Please retry in 0:00:56")
    before = gpu.current()
    try:
        gpu.install(gpu.ZeroGPU(_fake_spaces(True, refuse=refusal).GPU))
        with pytest.raises(IdiaInputError) as err:
            tiny_model.encode_texts(["a photo of Jane Doe"])
        assert err.value.code == "gpu_quota" and "0:00:56" in err.value.message
        assert "exceeded" not in err.value.message and "quota" in err.value.message
        gpu.install(gpu.ZeroGPU(_fake_spaces(True, refuse=GradioError("GPU task aborted")).GPU))
        with pytest.raises(IdiaInputError) as err:
            tiny_model.encode_texts(["a photo of Jane Doe"])
        assert err.value.code == "gpu_unavailable"
        gpu.install(gpu.ZeroGPU(_fake_spaces(True, refuse=KeyError("a bug")).GPU))
        with pytest.raises(KeyError):     # a bug stays a bug (the server log shows it)
            tiny_model.encode_texts(["a photo of Jane Doe"])
    finally:
        gpu.install(before)


def test_a_model_stays_findable_while_anyone_holds_it(tiny_model_dir, tmp_path):
    """A model reloaded after it left the kept few is a second object under the same key; when that
    one is dropped, the first (still held by a caller) is still found by the workers."""
    import gc
    import shutil

    from idia_core.zoo import registry
    from idia_core.zoo.load import load_model

    # A folder of its own: no other test's model may share this key (``peek`` would find that one).
    own = shutil.copytree(tiny_model_dir, tmp_path / "own-model")
    first = load_model(f"local-dir:{own}")
    registry.clear()
    second = load_model(f"local-dir:{own}")
    assert second is not first and second.key == first.key
    registry.clear()
    del second
    gc.collect()
    assert registry.peek(first.key) is first
    assert first.encode_texts(["a photo of Jane Doe"]).shape[0] == 1
