"""Candidate names: normalisation, validation, de-duplication and the seeded distractor pool.

Two pool modes (``NAME_MODES``), both seeded, so the same inputs always give the same pool (and the
same cached text embeddings):

* ``mixed`` (default) — distractors drawn from Faker in 16 Latin-script locales, **namesake-free**:
  no distractor shares a first name or a surname (any part of the name, accents and case ignored)
  with the person checked or with a name the user added, so a made-up namesake never splits the
  vote. Names the user adds are kept exactly as given. The target goes last.
* ``paper`` — the construction of Hintersdorf et al. (JAIR 2024) exactly: the paper's 548 real
  identities (minus the target) plus sex-balanced random pairs of the 1000 most common US first
  names per sex (SSA) and the 1000 most common 2010-census surnames, ``n_candidates`` in all,
  shuffled with the seed (namesakes are not excluded, as in the paper). The data and its provenance
  are in ``idia_core/data/paper/``. On the sandbox the world's own names stand in for the real
  identities (``real_identities=``).

Pools are de-duplicated by ``identity_key`` (Unicode NFC, case folded): names that differ only by
accents ("Zoë Saldaña", "Zoe Saldana") are different candidates, because CLIP's tokenizer tells
them apart. Which names a given model cannot tell apart (identical tokens) or would cut (longer
than its context) is decided with the model's own tokenizer in ``name_fit``.
"""
from __future__ import annotations

import csv
import random
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import limits
from .errors import IdiaInputError

MIXED_LOCALES = (
    "en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "pt_BR", "nl_NL",
    "pl_PL", "sv_SE", "da_DK", "cs_CZ", "fi_FI", "tr_TR", "es_MX", "en_IN",
)
NAME_MODES = ("mixed", "paper")
PAPER_DATA_DIR = Path(__file__).resolve().parent / "data" / "paper"
_ALLOWED_PUNCTUATION = set(" '’-.,")
# Joiners and marks that belong to real names: middle dots (Chinese and Japanese transcriptions,
# Catalan l·l), Hebrew geresh/gershayim/maqaf, Unicode hyphens.
_NAME_JOINERS = set("\u00b7\u30fb\uff65\u05f3\u05f4\u05be\u2010\u2011")
# Zero-width (non-)joiners shape Persian, Indic and other scripts; they are only meaningful between
# two letters, so they are accepted only there.
_ZERO_WIDTH_JOINERS = {"\u200c", "\u200d"}
# Letters (and marks) that render as nothing: a name made of them looks empty, and mixed into a
# name they make two names look identical. Hangul fillers and the Khmer inherent vowels.
_INVISIBLE_LETTERS = {"\u3164", "\u115f", "\u1160", "\uffa0", "\u17b4", "\u17b5"}
# Particles and connectors that are not a name of their own (namesake matching ignores them).
_PARTICLES = frozenset({
    "al", "af", "av", "bin", "binti", "da", "das", "de", "del", "della", "den", "der", "di", "do",
    "dos", "du", "e", "el", "ibn", "la", "le", "ten", "ter", "van", "von", "y", "zu",
})


def normalize_name(name: str) -> str:
    """Unicode NFC, trimmed, runs of white space folded to one space."""
    return " ".join(unicodedata.normalize("NFC", str(name)).split())


def name_key(name: str) -> str:
    """A loose identity of a name (case and accents ignored): for matching what a person meant
    ("is this the name I added?") and for namesake checks, not for de-duplicating a pool."""
    decomposed = unicodedata.normalize("NFKD", normalize_name(name).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def identity_key(name: str) -> str:
    """The identity of a pool candidate before the model is known: NFC, case folded. Accents are
    kept, since a CLIP tokenizer encodes "Zoë" and "Zoe" differently (the model-specific merge of
    names with identical tokens is ``name_fit``'s)."""
    return normalize_name(name).casefold()


def name_parts(name: str) -> frozenset[str]:
    """The first names and surnames in a name, as loose keys: split at spaces, hyphens and joiners,
    particles ("de", "van", …) and initials left out. Two names sharing a part are namesakes."""
    key = name_key(name)
    for sep in "-.,'’\u00b7\u30fb\uff65\u05be\u2010\u2011\u200c\u200d":
        key = key.replace(sep, " ")
    return frozenset(p for p in key.split() if len(p) > 1 and p not in _PARTICLES)


def validate_name(name, *, what: str = "The name") -> str:
    """Return the normalised name or raise a message saying exactly what is wrong with it.

    Accepted: letters and combining marks of any script, spaces, ``' ’ - . ,``, the joiners of
    real names (``·`` ``・`` ``׳`` ``״`` ``־``, Unicode hyphens) and ZWNJ/ZWJ between two letters.
    Refused: empty or invisible-only names (Hangul fillers such as U+3164), braces, controls, bidi
    overrides and other format characters, symbols and digits."""
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
    if all(ch in _INVISIBLE_LETTERS or ch in _ZERO_WIDTH_JOINERS or ch.isspace() for ch in text):
        raise IdiaInputError(
            "name_empty",
            f"{what} shows nothing: it is made only of invisible characters ({_codes(text.replace(' ', ''))}). "
            "Type the person's full name in letters, e.g. 'Jane Doe'.",
        )
    bad = [ch for ch in text if not _name_char_ok(ch)]
    if bad:
        if not any(_visible_letter(ch) for ch in text):
            raise IdiaInputError(
                "name_no_letters",
                f"{what} '{_preview(text)}' has no letters. Type the person's name in letters.",
            )
        raise IdiaInputError(
            "name_characters",
            f"{what} '{_preview(text)}' contains characters a name cannot have ({_codes(bad)}). "
            "Use letters, spaces, hyphens, apostrophes, periods and the joiners of names (· ・ ׳ ״).",
        )
    for i, ch in enumerate(text):
        if ch in _ZERO_WIDTH_JOINERS and not (0 < i < len(text) - 1 and _joinable(text[i - 1])
                                              and _joinable(text[i + 1])):
            raise IdiaInputError(
                "name_characters",
                f"{what} '{_preview(text)}' has a zero-width joiner ({_codes(ch)}) that is not "
                "between two letters; remove it.",
            )
    if not any(_visible_letter(ch) for ch in text):
        raise IdiaInputError(
            "name_no_letters", f"{what} '{_preview(text)}' has no letters. Type the person's name in letters."
        )
    return text


def _visible_letter(ch: str) -> bool:
    return unicodedata.category(ch).startswith("L") and ch not in _INVISIBLE_LETTERS


def _joinable(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LM" and ch not in _INVISIBLE_LETTERS


def _name_char_ok(ch: str) -> bool:
    if ch in _INVISIBLE_LETTERS:
        return False
    cat = unicodedata.category(ch)
    return cat[0] in "LM" or ch in _ALLOWED_PUNCTUATION or ch in _NAME_JOINERS or ch in _ZERO_WIDTH_JOINERS


def _codes(chars) -> str:
    """Characters as a reader can see them: printable ones as themselves, the rest as U+XXXX."""
    out = []
    for ch in sorted(set(chars))[:5]:
        visible = unicodedata.category(ch)[0] in "LNPS" and ch not in _INVISIBLE_LETTERS and ch.isprintable()
        out.append(ch if visible else f"U+{ord(ch):04X}")
    return " ".join(out)


def _preview(text: str, width: int = 40) -> str:
    text = "".join(ch if _name_char_ok(ch) or ch.isprintable() and ch not in _INVISIBLE_LETTERS
                   else f"<U+{ord(ch):04X}>" for ch in text)
    return text if len(text) <= width else text[: width - 1] + "…"


def parse_name_list(text: str) -> list[str]:
    """Split pasted text into names: one per line, or separated by commas or semicolons."""
    parts: list[str] = []
    for line in str(text).replace(";", "\n").splitlines():
        parts.extend(p for p in (s.strip() for s in line.split(",")) if p)
    return parts


@dataclass(frozen=True)
class CandidatePool:
    """The names the model chooses between, the target's position, and what was left out (so a
    front end can say so): ``duplicates_dropped`` (the same name twice), ``too_long_dropped``
    (prompts the model would cut) and ``indistinct_dropped`` (prompts tokenised exactly like
    another candidate's, so the model cannot tell them apart); the last two come from
    ``name_fit.fit_pool_to_model``."""

    names: tuple[str, ...]
    target_index: int
    user_names: tuple[str, ...] = ()
    duplicates_dropped: tuple[str, ...] = ()
    seed: int = 0
    mode: str = "mixed"
    too_long_dropped: tuple[str, ...] = ()
    indistinct_dropped: tuple[str, ...] = ()

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
    real_identities=None,
) -> CandidatePool:
    """Target + the user's names + seeded distractors, ``n_candidates`` names in all (more only if
    the user's own names need the room). See the module docstring for the two modes.

    ``real_identities`` (``paper`` mode only): the real people of the experiment; default the
    paper's 548 LAION-400M identities (``paper_identities()``); the sandbox passes its world's
    names. When they do not all fit beside the user's names, a seeded sample of them is taken.

    Ties in similarity never count for the target whatever its position (``attack.predict``), so
    the order of the pool does not matter to the verdict."""
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
    seen = {identity_key(target_name)}
    user, dropped = unique_names(extra, seen, what="An added name")
    if len(user) + 1 > limits.MAX_POOL:
        raise IdiaInputError(
            "pool_too_large",
            f"The target and {len(user)} added names make {len(user) + 1} candidates; "
            f"the limit is {limits.MAX_POOL}.",
        )
    room = max(0, n - 1 - len(user))
    if mode == "paper":
        real = real_identities if real_identities is not None else paper_identities()
        real = [r for r in dict.fromkeys(normalize_name(r) for r in real) if identity_key(r) not in seen]
        if len(real) > room:
            real = random.Random(f"idia-paper-real-{seed}").sample(real, room)
        seen.update(identity_key(r) for r in real)
        names = user + real + fill_with_distractors(seen, room - len(real), seed, "paper") + [target_name]
        random.Random(f"idia-paper-shuffle-{seed}").shuffle(names)
        target_index = names.index(target_name)
    else:
        avoid = namesake_parts([target_name, *user])
        names = user + fill_with_distractors(seen, room, seed, mode, avoid_parts=avoid) + [target_name]
        target_index = len(names) - 1
    return CandidatePool(
        names=tuple(names),
        target_index=target_index,
        user_names=tuple(user),
        duplicates_dropped=tuple(dropped),
        seed=int(seed),
        mode=mode,
    )


def namesake_parts(names) -> frozenset[str]:
    """Every first name and surname (``name_parts``) of ``names``: what distractors must avoid."""
    out: set[str] = set()
    for n in names:
        out |= name_parts(n)
    return frozenset(out)


def unique_names(raw_names, seen: set[str], *, what: str = "A name") -> tuple[list[str], list[str]]:
    """Validate names and keep the first of each (``identity_key``: case ignored, accents kept);
    ``seen`` holds the keys already taken and is updated. Returns (kept, dropped as duplicates)."""
    kept: list[str] = []
    dropped: list[str] = []
    for raw in raw_names:
        name = validate_name(raw, what=what)
        key = identity_key(name)
        if key in seen:
            dropped.append(name)
            continue
        seen.add(key)
        kept.append(name)
    return kept, dropped


_MAX_STREAM = 1 << 16


def fill_with_distractors(seen: set[str], n: int, seed: int, mode: str,
                          avoid_parts: frozenset[str] = frozenset()) -> list[str]:
    """The first ``n`` distractors of the (seed, mode) stream whose ``identity_key`` is not in
    ``seen`` (updated) and that share no part with ``avoid_parts`` (namesakes). Drawing past
    collisions keeps the pool at its size whatever the user added. Should the avoided parts leave
    too few names (thousands of added names), the rest only avoids exact duplicates."""
    out: list[str] = []
    if n <= 0:
        return out
    size = 1024
    while True:
        stream = distractor_names(seed, mode, max(size, n + len(seen) + 16))
        picked = [name for name in stream
                  if identity_key(name) not in seen and not (avoid_parts and name_parts(name) & avoid_parts)]
        if len(picked) >= n or len(stream) >= _MAX_STREAM or len(stream) < size:
            break
        size = len(stream) * 2
    for name in picked[:n]:
        seen.add(identity_key(name))
        out.append(name)
    if len(out) < n:
        for name in stream:
            if identity_key(name) not in seen:
                seen.add(identity_key(name))
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
    stream = _paper_stream(int(seed), size) if mode == "paper" else _distractor_stream(int(seed), mode, size)
    return stream[:n]


@lru_cache(maxsize=16)
def _distractor_stream(seed: int, mode: str, size: int) -> tuple[str, ...]:
    from faker import Faker

    rng = random.Random(f"idia-distractors-{mode}-{seed}")
    fakers = {loc: Faker(loc) for loc in MIXED_LOCALES}
    for i, fk in enumerate(fakers.values()):
        fk.seed_instance(rng.randrange(2**31) + i)
    locales = list(fakers)
    out: list[str] = []
    seen: set[str] = set()
    attempts = 0
    while len(out) < size and attempts < size * 20:
        attempts += 1
        fk = fakers[locales[len(out) % len(locales)]]
        female = (len(out) % 2 == 0)
        first = fk.first_name_female() if female else fk.first_name_male()
        name = normalize_name(f"{first} {fk.last_name()}")
        key = identity_key(name)
        if key in seen or not _plain(name):
            continue
        seen.add(key)
        out.append(name)
    return tuple(out)


@lru_cache(maxsize=16)
def _paper_stream(seed: int, size: int) -> tuple[str, ...]:
    """The paper's random names: a first name drawn uniformly from the 1000 most common US first
    names of one sex (SSA), alternately female and male (sex-balanced), joined with a surname drawn
    uniformly from the 1000 most common 2010-census surnames. One deviation from the paper: a
    name drawn twice is drawn again (two identical names would be one candidate)."""
    female, male = paper_first_names()
    surnames = paper_surnames()
    rng = random.Random(f"idia-paper-{seed}")
    out: list[str] = []
    seen: set[str] = set()
    attempts = 0
    while len(out) < size and attempts < size * 20:
        attempts += 1
        first = rng.choice(female if len(out) % 2 == 0 else male)
        name = f"{first} {rng.choice(surnames)}"
        if identity_key(name) in seen:
            continue
        seen.add(identity_key(name))
        out.append(name)
    return tuple(out)


def _read_csv(name: str) -> list[dict]:
    with open(PAPER_DATA_DIR / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=1)
def paper_identities() -> tuple[str, ...]:
    """The paper's 548 real identities of its LAION-400M experiment (530 FaceScrub celebrities and
    18 European TV personalities), in the order of ``data/paper/paper_identities_laion400m_counts.csv``."""
    return tuple(normalize_name(r["name"]) for r in _read_csv("paper_identities_laion400m_counts.csv"))


@lru_cache(maxsize=1)
def paper_first_names() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(female, male): the 1000 most common US first names of each sex, SSA records 1880–2017."""
    rows = _read_csv("ssa_first_names_top1000.csv")
    return (tuple(r["first_name"] for r in rows if r["sex"] == "F"),
            tuple(r["first_name"] for r in rows if r["sex"] == "M"))


@lru_cache(maxsize=1)
def paper_surnames() -> tuple[str, ...]:
    """The 1000 most common surnames of the 2010 US census, title-cased as in the paper's code."""
    return tuple(r["surname"] for r in _read_csv("us_census_2010_surnames_top1000.csv"))


def _plain(name: str) -> bool:
    try:
        validate_name(name)
    except IdiaInputError:
        return False
    return True
