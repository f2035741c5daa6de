"""Candidate names: normalisation, validation, de-duplication and the seeded distractor pool.

The pool is what the model must choose from. Its distractors are drawn from Faker with a seed, so
the same inputs always give the same pool (and the same cached text embeddings). ``mixed`` draws
from several Latin-script locales; ``paper`` imitates the paper's US census lists (en_US, half
female and half male first names, common surnames).
"""
from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from . import limits
from .errors import IdiaInputError

MIXED_LOCALES = (
    "en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "pt_BR", "nl_NL",
    "pl_PL", "sv_SE", "da_DK", "cs_CZ", "fi_FI", "tr_TR", "es_MX", "en_IN",
)
NAME_MODES = ("mixed", "paper")
_ALLOWED_PUNCTUATION = set(" '’-.,")


def normalize_name(name: str) -> str:
    """Unicode NFC, trimmed, runs of white space folded to one space."""
    return " ".join(unicodedata.normalize("NFC", str(name)).split())


def name_key(name: str) -> str:
    """The identity of a name for de-duplication: case and accents ignored."""
    decomposed = unicodedata.normalize("NFKD", normalize_name(name).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def validate_name(name, *, what: str = "The name") -> str:
    """Return the normalised name or raise a message saying exactly what is wrong with it."""
    if name is None or not isinstance(name, str):
        raise IdiaInputError("name_missing", f"{what} is missing. Type the person's full name.")
    text = normalize_name(name)
    if not text:
        raise IdiaInputError("name_empty", f"{what} is empty. Type the person's full name, e.g. 'Jane Doe'.")
    if len(text) > limits.MAX_NAME_LENGTH:
        raise IdiaInputError(
            "name_too_long",
            f"{what} is {len(text)} characters long; names are limited to {limits.MAX_NAME_LENGTH}.",
        )
    if "{" in text or "}" in text:
        raise IdiaInputError(
            "name_braces",
            f"{what} '{_preview(text)}' contains curly braces; a name cannot contain {{ or }}.",
        )
    bad = [ch for ch in text if not _name_char_ok(ch)]
    if bad:
        shown = " ".join(sorted(set(bad))[:5])
        if not any(unicodedata.category(ch).startswith("L") for ch in text):
            raise IdiaInputError(
                "name_no_letters",
                f"{what} '{_preview(text)}' has no letters. Type the person's name in letters.",
            )
        raise IdiaInputError(
            "name_characters",
            f"{what} '{_preview(text)}' contains characters a name cannot have ({shown}). "
            "Use letters, spaces, hyphens, apostrophes and periods.",
        )
    if not any(unicodedata.category(ch).startswith("L") for ch in text):
        raise IdiaInputError(
            "name_no_letters", f"{what} '{_preview(text)}' has no letters. Type the person's name in letters."
        )
    return text


def _name_char_ok(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat[0] in "LM" or ch in _ALLOWED_PUNCTUATION


def _preview(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def parse_name_list(text: str) -> list[str]:
    """Split pasted text into names: one per line, or separated by commas or semicolons."""
    parts: list[str] = []
    for line in str(text).replace(";", "\n").splitlines():
        parts.extend(p for p in (s.strip() for s in line.split(",")) if p)
    return parts


@dataclass(frozen=True)
class CandidatePool:
    """The names the model chooses between, the target's position, and what was dropped as a
    duplicate of another name (so a front end can say so)."""

    names: tuple[str, ...]
    target_index: int
    user_names: tuple[str, ...] = ()
    duplicates_dropped: tuple[str, ...] = ()
    seed: int = 0
    mode: str = "mixed"

    @property
    def target(self) -> str:
        return self.names[self.target_index]

    def __len__(self) -> int:
        return len(self.names)


def validate_pool_size(n_candidates) -> int:
    try:
        value = int(n_candidates)
        if isinstance(n_candidates, float) and value != n_candidates:
            raise ValueError
    except (TypeError, ValueError):
        raise IdiaInputError(
            "pool_size_type", f"The pool size must be a whole number, not '{n_candidates}'."
        ) from None
    if value < limits.MIN_POOL or value > limits.MAX_POOL:
        raise IdiaInputError(
            "pool_size_range",
            f"A pool of {value} names is not possible: choose between {limits.MIN_POOL} and "
            f"{limits.MAX_POOL} candidate names (the paper uses 1000).",
        )
    return value


def build_candidate_pool(
    target: str,
    extra_names=(),
    n_candidates: int = limits.DEFAULT_POOL,
    seed: int = 0,
    mode: str = "mixed",
) -> CandidatePool:
    """Target + the user's names + seeded distractors, ``n_candidates`` names in all (more only if
    the user's own names need the room). The target is placed last so that an exact tie in
    similarity (argmax takes the first) can never count in the target's favour."""
    target_name = validate_name(target)
    n = validate_pool_size(n_candidates)
    if mode not in NAME_MODES:
        raise IdiaInputError("name_mode", f"Unknown name mode '{mode}'; use one of {', '.join(NAME_MODES)}.")
    extra = list(extra_names or ())
    if len(extra) > limits.MAX_USER_NAMES:
        raise IdiaInputError(
            "too_many_names",
            f"{len(extra)} names were added; at most {limits.MAX_USER_NAMES} can be added to one pool.",
        )
    seen = {name_key(target_name)}
    user, dropped = unique_names(extra, seen, what="An added name")
    if len(user) + 1 > limits.MAX_POOL:
        raise IdiaInputError(
            "pool_too_large",
            f"The target and {len(user)} added names make {len(user) + 1} candidates; "
            f"the limit is {limits.MAX_POOL}.",
        )
    distractors = fill_with_distractors(seen, max(0, n - 1 - len(user)), seed, mode)
    names = tuple(user + distractors + [target_name])
    return CandidatePool(
        names=names,
        target_index=len(names) - 1,
        user_names=tuple(user),
        duplicates_dropped=tuple(dropped),
        seed=int(seed),
        mode=mode,
    )


def unique_names(raw_names, seen: set[str], *, what: str = "A name") -> tuple[list[str], list[str]]:
    """Validate names and keep the first of each (case and accents ignored); ``seen`` holds the keys
    already taken and is updated. Returns (kept, dropped as duplicates)."""
    kept: list[str] = []
    dropped: list[str] = []
    for raw in raw_names:
        name = validate_name(raw, what=what)
        key = name_key(name)
        if key in seen:
            dropped.append(name)
            continue
        seen.add(key)
        kept.append(name)
    return kept, dropped


def fill_with_distractors(seen: set[str], n: int, seed: int, mode: str) -> list[str]:
    """The first ``n`` distractors of the (seed, mode) stream whose keys are not in ``seen``
    (updated). Drawing past collisions keeps the pool at its size whatever the user added."""
    out: list[str] = []
    if n <= 0:
        return out
    for name in distractor_names(seed, mode, n + len(seen) + 16):
        key = name_key(name)
        if key in seen:
            continue
        seen.add(key)
        out.append(name)
        if len(out) == n:
            break
    return out


def distractor_names(seed: int, mode: str, n: int) -> tuple[str, ...]:
    """The first ``n`` distinct distractor names of the stream for (seed, mode); a prefix of a
    longer request, so pools of different sizes share their names (and cached embeddings)."""
    size = 1024
    while size < n:
        size *= 2
    return _distractor_stream(int(seed), mode, size)[:n]


@lru_cache(maxsize=16)
def _distractor_stream(seed: int, mode: str, size: int) -> tuple[str, ...]:
    from faker import Faker

    rng = random.Random(f"idia-distractors-{mode}-{seed}")
    if mode == "paper":
        fakers = {"en_US": Faker("en_US")}
    else:
        fakers = {loc: Faker(loc) for loc in MIXED_LOCALES}
    for i, fk in enumerate(fakers.values()):
        fk.seed_instance(rng.randrange(2**31) + i)
    locales = list(fakers)
    out: list[str] = []
    seen: set[str] = set()
    attempts = 0
    while len(out) < size and attempts < size * 20:
        attempts += 1
        loc = locales[len(out) % len(locales)] if mode == "mixed" else "en_US"
        fk = fakers[loc]
        female = (len(out) % 2 == 0)
        first = fk.first_name_female() if female else fk.first_name_male()
        name = normalize_name(f"{first} {fk.last_name()}")
        key = name_key(name)
        if key in seen or not _plain(name):
            continue
        seen.add(key)
        out.append(name)
    return tuple(out)


def _plain(name: str) -> bool:
    try:
        validate_name(name)
    except IdiaInputError:
        return False
    return True
