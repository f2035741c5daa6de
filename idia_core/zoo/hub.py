"""Where weights come from: huggingface_hub and its cache, without waiting on a network that is
not there.

Before any download one quick reachability probe of the hub runs (remembered for a few minutes);
with no hub reachable, or ``HF_HUB_OFFLINE`` set, only the local cache is read, and a missing model
is a ``ModelUnavailableError`` at once that names it and says how to get it (``unavailable_error``).
For catalogue and hub specs ``missing_offline`` answers that before torch is even imported.
"""
from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from huggingface_hub import constants, hf_hub_download, try_to_load_from_cache

from .. import config
from ..echo import quoted
from ..errors import IdiaInputError, ModelUnavailableError
from .catalogue import catalogue_hub_repo
from .specs import ModelSpec, parse_spec, split_activation

WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.safetensors",
                "open_clip_pytorch_model.bin", "open_clip_pytorch_model.pth")


# -- the hub: one quick reachability probe, then the cache only when it fails ----------------------
PROBE_TIMEOUT_S = 1.0
PROBE_TTL_S = 300.0
_probe_memo: dict[str, tuple[float, bool]] = {}
_probe_lock = threading.Lock()


def hub_offline() -> bool:
    """True when only the local cache may be read: ``HF_HUB_OFFLINE`` is set, or the hub's endpoint
    did not answer a quick probe (at most ``PROBE_TIMEOUT_S``; remembered ``PROBE_TTL_S``)."""
    if constants.HF_HUB_OFFLINE:
        return True
    return not endpoint_reachable(constants.ENDPOINT)


def endpoint_reachable(url: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to ``url``'s host opens within ``timeout`` seconds (DNS included:
    the probe runs in a daemon thread, so a hanging resolver cannot hold the caller)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    proxy = config.proxy(parts.scheme)
    if proxy:  # the hub is reached through the proxy: probe that
        pp = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = pp.hostname or host, pp.port or 80
    key = f"{host}:{port}"
    now = time.monotonic()
    with _probe_lock:
        memo = _probe_memo.get(key)
        if memo is not None and now - memo[0] < PROBE_TTL_S:
            return memo[1]
    result = {"ok": False}

    def probe():
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result["ok"] = True
        except OSError:
            pass

    worker = threading.Thread(target=probe, daemon=True, name="idia-hub-probe")
    worker.start()
    worker.join(timeout)
    ok = bool(result["ok"]) and not worker.is_alive()
    with _probe_lock:
        _probe_memo[key] = (time.monotonic(), ok)
    return ok


def hub_file(repo: str, filename: str) -> str:
    return hf_hub_download(repo, filename, local_files_only=hub_offline())


def cached_file(repo: str, filenames) -> str | None:
    """The first of ``filenames`` already in the local Hugging Face cache (never the network):
    what a Space preloaded at build time (``preload_from_hub``) is used before anything is fetched."""
    for name in filenames:
        found = try_to_load_from_cache(repo, name)
        if isinstance(found, str):
            return found
    return None


def fetch_hub_repo(spec: ModelSpec) -> Path:
    """Config + weights of an open_clip hub repo, from the local cache or the hub."""
    config = hub_file(spec.repo, "open_clip_config.json")
    folder = Path(config).parent
    last: Exception | None = None
    for filename in WEIGHT_FILES:
        try:
            hub_file(spec.repo, filename)
            return folder
        except Exception as exc:  # try the next conventional name
            last = exc
    raise FileNotFoundError(f"no open_clip weights file in {spec.repo}: {last}")


def fetch_tag_weights(spec: ModelSpec, tag_cfg: dict) -> str:
    """The local weights file of a pretrained tag, found the way open_clip finds it (hub repo first,
    safetensors before pickles; else the tag's URL into open_clip's cache) but without waiting on an
    unreachable network, and taking what the cache already holds before downloading anything."""
    from open_clip import pretrained as ocp  # torch behind it: only when a tag is fetched

    hub = tag_cfg.get("hf_hub", "")
    if hub:
        repo, filename = os.path.split(hub)
        candidates = list(ocp._get_safe_alternatives(filename or ocp.HF_WEIGHTS_NAME)) + [filename or ocp.HF_WEIGHTS_NAME]
        local = cached_file(repo, candidates)
        if local is not None:
            return local
        last: Exception | None = None
        for name in candidates:
            try:
                return hub_file(repo, name)
            except Exception as exc:
                last = exc
        raise FileNotFoundError(f"no weights for {spec.text} in {repo}: {last}")
    url = tag_cfg.get("url", "")
    if not url:
        raise FileNotFoundError(f"open_clip records no source for {spec.text}")
    cached = Path(os.path.expanduser("~/.cache/clip")) / os.path.basename(url)
    if cached.is_file():
        return str(cached)
    if not endpoint_reachable(url):
        raise FileNotFoundError(f"{spec.text} is not cached and {urlsplit(url).hostname} could not be reached (offline)")
    return ocp.download_pretrained_from_url(url)


def missing_offline(spec_text: str) -> ModelUnavailableError | None:
    """The ``model_not_cached`` error a load of ``spec_text`` would end in, decided without torch or
    open_clip (they take seconds to import): only when only the local cache may be read
    (``hub_offline``) and no weights of the model are in it. For catalogue specs (their hub repo is
    data: ``catalogue.catalogue_hub_repo``) and ``hf-hub:ORG/NAME`` specs (also its
    ``open_clip_config.json``); None for every other spec and whenever the files are there, and
    the load then runs as usual (it never refuses a model the full path would load)."""
    text = str(spec_text or "").strip()
    repo, needs = catalogue_hub_repo(text), ()
    if repo is None and split_activation(text)[0].startswith("hf-hub:"):
        try:
            repo = parse_spec(text).repo     # hf-hub: specs are parsed without open_clip
        except IdiaInputError:
            return None                      # a malformed id: the full path says what is wrong with it
        needs = ("open_clip_config.json",)
    if repo is None or not hub_offline():
        return None
    cached = [isinstance(try_to_load_from_cache(repo, name), str) for name in needs + WEIGHT_FILES]
    if all(cached[:len(needs)]) and any(cached[len(needs):]):
        return None
    kind = "hf-hub" if needs else "pretrained"
    return unavailable_error(ModelSpec(text, kind, repo=repo),
                             FileNotFoundError(f"{text}: no weights of {repo} are cached (not cached)"))


def unavailable_error(spec: ModelSpec, exc: Exception) -> ModelUnavailableError:
    chain = []
    cur: BaseException | None = exc
    while cur is not None and len(chain) < 6:
        chain.append(f"{type(cur).__name__}: {cur}")
        cur = cur.__cause__ or cur.__context__
    detail = " ".join(chain).lower()
    offline = config.flag("HF_HUB_OFFLINE")
    if "required pretrained weights" in detail:
        return ModelUnavailableError(
            "model_dir_no_weights",
            f"{quoted(spec.text)}: open_clip found no weights to load, so it would have run a random model. "
            "Give a folder with open_clip_model.safetensors (or .bin/.pth), or a weights file ARCH:PATH.",
        )
    if any(s in detail for s in ("localentrynotfound", "offline", "connect", "resolve", "failed to download",
                                 "cannot find the requested files", "name or service", "no open_clip weights",
                                 "not cached", "no weights for")):
        where = "offline mode is on (HF_HUB_OFFLINE=1)" if offline else "no model hub could be reached"
        return ModelUnavailableError(
            "model_not_cached",
            f"The model {quoted(spec.text)} is not in the local Hugging Face cache and {where}. On a machine with "
            f"internet access, load it once (e.g. `python -m idia_core models fetch {spec.text}`) and copy its "
            "Hugging Face cache folder here (or point HF_HOME at it). The embedded 'sandbox' model always "
            "works offline.",
        )
    return ModelUnavailableError(
        "model_load_failed", f"The model {quoted(spec.text)} could not be loaded: {chain[0] if chain else exc}."
    )
