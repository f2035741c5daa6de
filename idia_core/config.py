"""The environment, read in one place: every variable idia reads, what it means and its default
(``VARIABLES``, the table of ``docs/configuration.md``), with one idea of "true".

No other module reads ``os.environ`` (``tests/test_architecture.py`` holds it). Each value is read
when asked, never cached at import, so a test (or an operator's shell) that sets a variable is
heard at once; every reader takes ``environ`` (a mapping) in place of the process's own.

"True" is one of ``TRUE`` (``1``, ``true``, ``yes``, ``on``, ``t``, ``y``; any case, spaces around
ignored); "false" one of ``FALSE``; anything else is the variable's default. This module imports
nothing heavy (``forking`` reads it before numpy and torch load).

>>> flag("IDIA_PUBLIC", {"IDIA_PUBLIC": " On "})
True
>>> whole("IDIA_CONCURRENCY", 2, {"IDIA_CONCURRENCY": "many"})
2
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

TRUE = frozenset({"1", "true", "yes", "on", "t", "y"})
FALSE = frozenset({"0", "false", "no", "off", "f", "n"})


@dataclass(frozen=True)
class Variable:
    name: str
    default: str    # as the table shows it
    meaning: str


VARIABLES = (
    # -- the deployment ----------------------------------------------------------------------------------
    Variable("IDIA_MODEL", "`sandbox` (on a Space: `ViT-B-32:laion400m_e32`)", "the default model of the app"),
    Variable("IDIA_PUBLIC", "false (true when `SPACE_ID` is set)",
             "a deployment strangers use: only offered models, smaller pools, per-address limits"),
    Variable("SPACE_ID", "unset", "set by Hugging Face on a Space: a public deployment"),
    Variable("SPACE_HOST", "unset", "set by Hugging Face on a Space: the address share links start with"),
    Variable("IDIA_ALLOW_ANY_MODEL", "false", "on a public deployment, let visitors name any model"),
    Variable("IDIA_ALLOW_LOCAL_MODELS", "true on a laptop, false on a Space",
             "let visitors load models from this server's disk (`local-dir:`, weights files)"),
    Variable("IDIA_PRECISION", "float16 on a GPU, float32 on a CPU", "the precision models run in"),
    Variable("IDIA_REFERENCE_DIR", "unset (the sandbox's own on the sandbox)",
             "reference people for the validity controls: one folder of photos per person"),
    Variable("IDIA_CACHE_DIR", "`~/.cache/idia` (`XDG_CACHE_HOME`)", "the text-embedding cache; `none` turns it off"),
    Variable("IDIA_CACHE_MAX_MB", "1024", "the cache's size bound"),
    Variable("IDIA_WARMUP", "1", "start-up warm-up: `0` off, `default` the default model only"),
    # -- the server's limits -------------------------------------------------------------------------------
    Variable("IDIA_CONCURRENCY", "8 on a GPU, 2 on a CPU", "checks running at once"),
    Variable("IDIA_QUEUE_PER_SESSION", "2", "compute events of one session, waiting or running"),
    Variable("IDIA_QUEUE_PER_ADDRESS", "6 (public only)", "compute events of one client address"),
    Variable("IDIA_QUEUE_COMPUTE", "48 public, 64 laptop", "compute events of everyone"),
    Variable("IDIA_PROXY_HOPS", "1 on a Space, else 0", "proxies that record the client in X-Forwarded-For"),
    Variable("IDIA_SESSION_IDLE_S", "1800", "seconds after which an idle session is closed and its files go"),
    Variable("IDIA_UPLOAD_TTL_S", "300", "seconds an upload no message or check has used is kept"),
    Variable("IDIA_UPLOAD_PENDING_MB", "1536 (public only)", "unused uploads one address may hold"),
    Variable("IDIA_UPLOAD_WINDOW_MB", "4096 (public only)", "MB one address may upload in 10 minutes"),
    Variable("IDIA_UPLOAD_WINDOW_REQUESTS", "600 (public only)", "upload requests of one address in 10 minutes"),
    Variable("GRADIO_SERVER_NAME", "`127.0.0.1`", "the address the app listens on (`0.0.0.0` in a container)"),
    # -- the GPU boundary ----------------------------------------------------------------------------------
    Variable("SPACES_ZERO_GPU", "unset", "set by Hugging Face on a ZeroGPU Space: one worker per GPU call"),
    Variable("IDIA_EMULATE_ZEROGPU", "false", "emulate ZeroGPU's forked workers on this machine"),
    # -- read from other tools ---------------------------------------------------------------------------------
    Variable("HF_HUB_OFFLINE", "false", "never reach the model hub (huggingface_hub's own variable)"),
    Variable("HTTPS_PROXY", "unset", "the proxy the hub's quick probe uses (also `HTTP_PROXY`, lower case)"),
    Variable("RAY_ADDRESS", "unset (a local Ray)", "the Ray cluster an audit with `--engine ray` joins"),
)
# read too, but not settings of idia's: where the cache goes by default, the proxy variables' other
# spellings, Ray's auth mode (put back after a local cluster), OpenMP's wait policy (the sandbox build's)
KNOWN = frozenset(v.name for v in VARIABLES) | {"XDG_CACHE_HOME", "HTTP_PROXY", "https_proxy", "http_proxy",
                                               "RAY_AUTH_MODE", "OMP_WAIT_POLICY"}


def _env(environ: Mapping | None) -> Mapping:
    return os.environ if environ is None else environ


def raw(name: str, environ: Mapping | None = None) -> str | None:
    """The variable as set (None when unset)."""
    _known(name)
    return _env(environ).get(name)


def text(name: str, environ: Mapping | None = None, default: str = "") -> str:
    """The variable's text, spaces around removed; ``default`` when unset or blank."""
    value = (raw(name, environ) or "").strip()
    return value or default


def flag(name: str, environ: Mapping | None = None, default: bool = False) -> bool:
    """True or false by the one idea of either (``TRUE``, ``FALSE``); ``default`` otherwise."""
    value = text(name, environ).lower()
    return True if value in TRUE else False if value in FALSE else default


def whole(name: str, default, environ: Mapping | None = None):
    """A whole number of digits only; ``default`` for anything else."""
    value = text(name, environ)
    return int(value) if value.isdigit() else default


def number(name: str, default: float, environ: Mapping | None = None) -> float:
    """A number (``"1e3"``, ``"0.5"``); ``default`` when unset or not a number."""
    try:
        return float(text(name, environ) or default)
    except ValueError:
        return default


def on_space(environ: Mapping | None = None) -> bool:
    """A Hugging Face Space (``SPACE_ID`` set)."""
    return bool(text("SPACE_ID", environ))


def public(environ: Mapping | None = None) -> bool:
    """A deployment strangers use: a Hugging Face Space or ``IDIA_PUBLIC``."""
    return on_space(environ) or flag("IDIA_PUBLIC", environ)


def proxy(scheme: str, environ: Mapping | None = None) -> str | None:
    """The proxy for ``scheme`` (``https`` or ``http``) as the usual variables name it."""
    upper = "HTTPS_PROXY" if scheme == "https" else "HTTP_PROXY"
    return text(upper, environ) or text(upper.lower(), environ) or None


def _known(name: str) -> None:
    if name not in KNOWN:   # a programming error: every variable is in the table
        raise KeyError(f"{name} is not in config.VARIABLES")


def variables_markdown() -> str:
    """The table of ``docs/configuration.md`` (a test keeps the page's copy equal to this)."""
    lines = ["| variable | default | what it does |", "|---|---|---|"]
    lines += [f"| `{v.name}` | {v.default} | {v.meaning} |" for v in VARIABLES]
    return "\n".join(lines)
