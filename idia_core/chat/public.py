"""The one gate of a public deployment: what its visitors may do, and what they read when a
model fails on the server.

A public deployment (a Hugging Face Space: ``SPACE_ID`` set; or ``IDIA_PUBLIC=1``) is shared by
strangers. There a visitor may only load the models the operator offers: the catalogue
(``zoo.catalogue.CATALOGUE``, read at call time) and the operator's own default (``IDIA_MODEL``,
``default_model_spec``); a random-weights architecture or an arbitrary hub repo would let one
visitor fill the server's memory and disk. ``IDIA_ALLOW_ANY_MODEL=1`` lifts that for a private
deployment; files on the server's disk also need ``IDIA_ALLOW_LOCAL_MODELS=1``. Pools and added
names are capped lower than on a laptop so that one visitor cannot hold the compute queue for
minutes. A laptop (neither variable set) keeps every freedom. Every model a visitor names —
typed, in a share link, through the API or in ``compare`` — passes ``public_model``.

Also here: this deployment's settings ``policy`` (what ``IdiaSettings.from_raw`` holds visitors'
settings to), and the client-facing form of an error (``client_message``): the person reads what to
do, never an internal exception's text. No gradio import.
"""
from __future__ import annotations

import logging
import re

from .. import config, echo, limits
from ..attack.settings import IdiaSettings, Policy
from ..echo import code
from ..errors import IdiaInputError
from ..zoo import catalogue
from ..zoo.specs import check_public_spec

log = logging.getLogger(__name__)


def is_public(environ=None) -> bool:
    """A deployment strangers use: a Hugging Face Space (``SPACE_ID``) or ``IDIA_PUBLIC=1``."""
    return config.public(environ)


def any_model_allowed(environ=None) -> bool:
    """Whether visitors may name any model: always on a laptop; on a public deployment only with
    ``IDIA_ALLOW_ANY_MODEL=1``."""
    return not is_public(environ) or config.flag("IDIA_ALLOW_ANY_MODEL", environ)


def offered_models(default: str | None = None) -> list[str]:
    """The specs a public deployment offers: its default first, then the catalogue's."""
    specs = [default] if default else []
    return list(dict.fromkeys(specs + [e.spec for e in catalogue.CATALOGUE]))


def check_offered(spec: str, default: str | None = None, environ=None) -> str:
    """``spec`` when a visitor may load it here, else ``IdiaInputError('model_not_offered')`` whose
    message lists what is offered. Call before anything is loaded."""
    text = spec.strip() if isinstance(spec, str) else spec
    if any_model_allowed(environ) or text in offered_models(default):
        return text
    raise IdiaInputError(
        "model_not_offered",
        f"This public server offers only its own models; {code(str(text))} is not one of them. "
        f"Offered: {', '.join(code(s) for s in offered_models(default))}. To check another model, run idia "
        "on your own machine (any open_clip or hf-hub model works there).",
    )


def max_pool(environ=None) -> int:
    """The largest pool a visitor may ask for here."""
    return limits.PUBLIC_MAX_POOL if is_public(environ) else limits.MAX_POOL


def max_added_names(environ=None) -> int:
    """How many names one session (or one ``check`` call) may add to its pool here."""
    return limits.PUBLIC_MAX_USER_NAMES if is_public(environ) else limits.MAX_USER_NAMES


def pool_label(environ=None) -> str:
    """The pool field's label, with this deployment's own range."""
    return f"Candidate names ({limits.MIN_POOL}–{max_pool(environ)})"


def model_field_info(environ=None) -> str:
    """What the model field accepts here: on a public server only what it offers (never a path)."""
    if not any_model_allowed(environ):
        return "The models this server offers (run idia on your own machine for any other)"
    kinds = "ARCH:TAG, hf-hub:ORG/NAME" + (", local-dir:PATH" if local_models_allowed(environ) else "")
    return f"A catalogue model or any spec ({kinds})"


def check_pool_limit(n_candidates: int, environ=None) -> int:
    """A public deployment's own cap; elsewhere the core's range check (same message as typed) rules."""
    top = max_pool(environ)
    if is_public(environ) and n_candidates > top:
        raise IdiaInputError(
            "pool_size_limit",
            f"A pool of {n_candidates} names is more than this public server runs for one visitor (at most "
            f"{top}; the paper uses 1000). Choose {top} or fewer, or run idia on your own machine.",
        )
    return n_candidates


def check_added_names_limit(count: int, environ=None) -> int:
    """A public deployment's own cap; elsewhere the core's limit (same message as typed) rules."""
    top = max_added_names(environ)
    if is_public(environ) and count > top:
        raise IdiaInputError(
            "too_many_names",
            f"{count} added names; this server lets one session add at most {top}. Remove some "
            "(or run idia on your own machine for larger pools).",
        )
    return count



def client_message(err: IdiaInputError) -> str:
    """The message a remote client may read. A model that failed to load for a reason inside the
    server (a missing package, a broken file) is named, and the detail goes to the server log only."""
    if err.code == "model_load_failed":
        log.warning("model load failed: %s", err.message)
        found = re.match(r"The model '(.*?)' could not be loaded", err.message)
        spec = found.group(1) if found else None
        what = f"The model {code(spec)}" if spec else "The model"
        return echo.Markup(f"{what} could not be loaded on this server. Choose another model; the operator's log "
                           "has the cause.")
    return err.message


_SPEC_FORMAT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$")


def check_spec_format(spec: str, what: str = "The model") -> str:
    """A model spec as data from outside (a link): letters, digits and ``._:/@+-`` only, at most 200
    characters, so it can never carry markup, spaces or a path with odd characters."""
    text = spec.strip() if isinstance(spec, str) else ""
    if not _SPEC_FORMAT.match(text) or ".." in text:
        raise IdiaInputError(
            "model_spec_format",
            f"{what} {code(text or str(spec))} is not a model spec: a spec is 'sandbox', ARCH:TAG (e.g. "
            "ViT-B-32:openai) or hf-hub:ORG/NAME, in letters, digits and . _ - : / only.",
        )
    return text


def client_error(err: IdiaInputError) -> IdiaInputError:
    """``err`` with ``client_message`` as its message (same code)."""
    message = client_message(err)
    return err if message == err.message else IdiaInputError(err.code, message)


SPACE_DEFAULT_MODEL = "ViT-B-32:laion400m_e32"   # the paper's smallest LAION-400M model


# -- sessions --------------------------------------------------------------------------------
def default_model_spec(environ=None) -> str:
    """``IDIA_MODEL`` if set; on a Hugging Face Space (``SPACE_ID``) a real catalogue model;
    otherwise the embedded sandbox, which works offline."""
    return config.text("IDIA_MODEL", environ) or (SPACE_DEFAULT_MODEL if config.on_space(environ) else "sandbox")


def local_models_allowed(environ=None) -> bool:
    """Whether visitors may load models from this server's disk: ``IDIA_ALLOW_LOCAL_MODELS`` if set,
    else yes on a laptop and no on a Space (a stranger must not make the server read its files)."""
    return config.flag("IDIA_ALLOW_LOCAL_MODELS", environ, default=not config.on_space(environ))


def public_model(spec) -> str:
    """A model a visitor asked for (typed, share link, API, compare), checked before anything loads:
    never files on the server's disk (unless allowed), and on a public deployment only what the
    operator offers (``check_offered``). The operator's own default is always allowed."""
    if not isinstance(spec, str):
        raise IdiaInputError("model_spec_type", "A model is named by text, e.g. 'sandbox' or 'ViT-B-32:openai'.")
    default = default_model_spec()
    if spec.strip() == default:
        return spec.strip()
    checked = check_public_spec(spec, allow_local=local_models_allowed()).text
    return check_offered(checked, default)


def policy(default: str | None = None, environ=None) -> Policy:
    """This deployment's settings policy (``IdiaSettings.from_raw``) for what its visitors send
    (typed, a settings control, a share link, the API): a template set by name only, a model that
    passes ``public_model`` (``default``, the caller's own default model, always does), and on a
    public deployment its pool cap (``check_pool_limit``)."""
    def model(spec) -> str:
        if default is not None and isinstance(spec, str) and spec.strip() == default:
            return default
        return public_model(spec)

    return Policy("public" if is_public(environ) else "laptop", model=model,
                  pool=lambda n: check_pool_limit(n, environ), template_files=False)


def public_settings(settings: IdiaSettings) -> IdiaSettings:
    """Settings from outside (a link, the API) held to this deployment's ``policy``."""
    return IdiaSettings.from_raw(settings.to_dict(), policy())
