"""Start-up warm-up: encode default pools before visitors ask, never in a visitor's way.

At start-up a server warms the default model's default pool, then the other catalogue models whose
weights are already on this machine (nothing is downloaded for a warm-up). Every warm-up encodes in
the background (``text_jobs``: one small chunk at a time, only while no visitor is encoding, at the
lowest thread priority), so a visitor's check never waits behind a warm-up of another model, and a
visitor asking for a pool being warmed shares that work instead of repeating it. With the text
cache on persistent storage (a Storage Bucket named by ``IDIA_CACHE_DIR`` on a Space) the next
start finds everything encoded. On ZeroGPU the warm-up only loads the models: encoding there
needs a GPU call, which only a visitor's request can pay for (and a GPU encodes a pool in
seconds anyway).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import open_clip
from huggingface_hub import try_to_load_from_cache

from ..attack.settings import IdiaSettings
from ..text.embeddings import pool_text_embeddings
from ..text.jobs import lower_thread_priority, wait_for_no_visitor
from ..text.pool import build_candidate_pool
from ..text.templates import load_templates
from ..zoo.catalogue import CATALOGUE
from ..zoo.load import load_model
from ..zoo.specs import parse_spec
from ..chat.public import default_model_spec


@dataclass(frozen=True)
class WarmUpResult:
    spec: str
    seconds: float
    error: str | None = None


def weights_on_disk(spec: str, cache_dir=None) -> bool:
    """Whether a catalogue spec's weights are already in the local Hugging Face cache (``cache_dir``,
    default the hub's own) or the model is embedded; never touches the network."""
    try:
        parsed = parse_spec(spec)
    except Exception:
        return False
    if parsed.kind in ("sandbox", "random"):
        return True
    if parsed.kind != "pretrained":
        return False
    try:
        hub = (open_clip.get_pretrained_cfg(parsed.arch, parsed.tag) or {}).get("hf_hub", "")
    except Exception:
        return False
    if not hub:
        return False
    parts = hub.strip("/").split("/")
    repo = "/".join(parts[:2])
    names = [parts[2]] if len(parts) > 2 else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
    for name in names:
        found = try_to_load_from_cache(repo, name, cache_dir=cache_dir)
        if isinstance(found, str):
            return True
    return False


def warm_pool(spec: str, settings=None, *, encode: bool = True) -> float:
    """Load one model and (``encode``) encode its default pool's distractors into the shared text
    cache, in the background (yielding to visitors). Returns the seconds it took."""
    t0 = time.perf_counter()
    s = settings or IdiaSettings(model=spec)
    wait_for_no_visitor()   # loading a model is heavy too: not while a visitor's check encodes
    model = load_model(spec)
    if not encode:
        return time.perf_counter() - t0
    pool = build_candidate_pool("Warm Up", (), s.n_candidates, s.seed, s.name_mode)
    # the distractors only: a session's own names never enter the shared cache
    pool_text_embeddings(model, load_templates(s.template_set), pool.names[:pool.target_index], background=True)
    return time.perf_counter() - t0


def warm_up_server(default_spec: str, *, others: bool = True, encode: bool = True, log=print) -> list[WarmUpResult]:
    """The default model first, then (``others``) the catalogue models already downloaded; with
    ``encode`` false (ZeroGPU) the models are loaded only. Meant for a daemon thread; lowers that
    thread's priority first. Errors are logged, never raised."""
    lower_thread_priority()
    specs = [default_spec]
    if others:
        specs += [e.spec for e in CATALOGUE if e.spec != default_spec and weights_on_disk(e.spec)]
    results = []
    for spec in specs:
        t = time.perf_counter()
        try:
            secs = warm_pool(spec, encode=encode)
            results.append(WarmUpResult(spec, secs))
            log(f"idia: warm-up of {spec}: {'default pool ready' if encode else 'model loaded'} in {secs:.1f} s")
        except Exception as exc:  # a check of that model will report the same problem to its user
            results.append(WarmUpResult(spec, time.perf_counter() - t, f"{type(exc).__name__}: {exc}"))
            log(f"idia: warm-up of {spec} skipped: {type(exc).__name__}")
    return results


def warm_up(spec: str | None = None, settings: IdiaSettings | None = None) -> float:
    """Load the default model and encode its default pool's distractors into the text cache, so
    the first check of a new session is as fast as the next. Returns the seconds it took. The
    encoding yields to visitors, and a check needing the same prompts shares it (``text_jobs``)."""

    settings = settings or IdiaSettings(model=spec or default_model_spec())
    return warm_pool(settings.model, settings)
