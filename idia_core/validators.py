"""One validator per setting, used by every entry point (CLI, chat, the ``check`` API, share links).

Each takes a value as a person or a client sent it (a number, or its text) and returns the value
the core runs with, or raises ``IdiaInputError`` with the setting's own code and a message that
says what is allowed. Whole numbers are read one way everywhere: ``1000``, ``1000.0``, ``"1000"``
and ``"1e3"`` all mean 1000; ``true``, ``2.5`` and ``"ten"`` are the setting's ``*_type`` error.

>>> validate_tau("3", n_templates=21)
3
>>> validate_pool_size("1e3")
1000
>>> validate_name_mode(" Paper ")
'paper'
"""
from __future__ import annotations

from . import limits
from .errors import IdiaInputError
from .echo import quoted

NAME_MODES = ("mixed", "paper")   # see text.pool: namesake-free Faker names, or the paper's construction
SEED_LIMIT = 2**32


def as_whole_number(value, what: str, code: str = "option_type") -> int:
    """A whole number from a number or its text (``"1e3"`` is 1000), the one reading every front end
    uses for tau, the pool size and the seed; ``IdiaInputError(code)`` otherwise."""
    if isinstance(value, bool):
        raise IdiaInputError(code, f"{what} must be a whole number, not {quoted(value)}.")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise IdiaInputError(code, f"{what} must be a whole number, not {value}.")
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        try:
            as_float = float(text)
        except ValueError:
            raise IdiaInputError(code, f"{what} must be a whole number, not {quoted(text, 40)}.") from None
        if as_float.is_integer():
            return int(as_float)
        raise IdiaInputError(code, f"{what} must be a whole number, not {quoted(text, 40)}.") from None


def validate_tau(tau, n_templates: int = 21) -> int:
    """tau counts templates, so it lies in 1..n_templates (0 would call everyone a member)."""
    value = as_whole_number(tau, "tau", "tau_type")
    if value < limits.TAU_MIN or value > n_templates:
        raise IdiaInputError(
            "tau_range",
            f"tau = {value} is out of range: it counts templates that must pick the true name, so it must be "
            f"between {limits.TAU_MIN} and {n_templates} (the paper uses 1).",
        )
    return value


def validate_pool_size(n_candidates) -> int:
    """The number of candidate names, ``limits.MIN_POOL`` to ``limits.MAX_POOL`` (a public server's
    lower cap is ``chat.public.check_pool_limit``'s)."""
    value = as_whole_number(n_candidates, "The pool size", "pool_size_type")
    if value < limits.MIN_POOL or value > limits.MAX_POOL:
        raise IdiaInputError(
            "pool_size_range",
            f"A pool of {value} names is not possible: choose between {limits.MIN_POOL} and "
            f"{limits.MAX_POOL} candidate names (the paper uses 1000).",
        )
    return value


def validate_seed(seed) -> int:
    """The seed of the distractor names: 0 to 2**32 - 1."""
    value = as_whole_number(seed, "The seed", "seed_type")
    if not 0 <= value < SEED_LIMIT:
        raise IdiaInputError("seed_range", f"The seed must be between 0 and {SEED_LIMIT - 1}, not {value}.")
    return value


def validate_control_m(m: int) -> int:
    """The validity controls' reference people per control: 1 to ``limits.CONTROL_M_MAX``."""
    if not 1 <= m <= limits.CONTROL_M_MAX:
        raise IdiaInputError("control_m_range", f"The controls use 1 to {limits.CONTROL_M_MAX} reference people, not {m}.")
    return m


def validate_name_mode(mode) -> str:
    """``mixed`` or ``paper`` (any case, spaces around ignored)."""
    text = mode.strip().lower() if isinstance(mode, str) else mode
    if text not in NAME_MODES:
        shown = str(mode)[:40]
        raise IdiaInputError("name_mode", f"Unknown name mode {quoted(shown)}; use one of {', '.join(NAME_MODES)}.")
    return text
