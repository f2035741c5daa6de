"""The candidate pool: the names the model chooses between, seeded so that the same inputs always
give the same pool (and the same cached text embeddings). Two modes (``validators.NAME_MODES``):

* ``mixed`` (default) — distractors drawn from Faker in 16 Latin-script locales, **namesake-free**:
  no distractor shares a first name or a surname (any part of the name, accents and case ignored)
  with the person checked or with a name the user added, so a made-up namesake never splits the
  vote. Names the user adds are kept exactly as given. The target goes last.
* ``paper`` — the construction of Hintersdorf et al. (JAIR 2024), as their notebook builds it
  (``paper``): the paper's 548 real identities, the target and the user's names, plus random
  first+last-name pairs drawn without replacement per sex (pandas ``groupby('sex').sample``
  with ``random_state=seed``), ``n_candidates`` in all, shuffled with the seed (namesakes are not
  excluded, as in the paper; ``paper_pool_names``). On the sandbox the world's own names stand in
  for the real identities (``real_identities=``).

Pools are de-duplicated by ``names.identity_key`` (Unicode NFC, case folded): names that differ
only by accents ("Zoë Saldaña", "Zoe Saldana") are different candidates, because CLIP's tokenizer
tells them apart. Which names a given model cannot tell apart (identical tokens) or would cut
(longer than its context) is decided with the model's own tokenizer in ``name_fit``.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from .. import limits
from ..errors import IdiaInputError
from ..validators import validate_name_mode, validate_pool_size
from .names import identity_key, name_parts, normalize_name, validate_name
from .paper import paper_distractors, paper_identities, paper_stream

MIXED_LOCALES = (
    "en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "pt_BR", "nl_NL",
    "pl_PL", "sv_SE", "da_DK", "cs_CZ", "fi_FI", "tr_TR", "es_MX", "en_IN",
)


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
    seeded: bool = False     # built by ``build_candidate_pool``: a left-out name is refilled from its stream

    @property
    def target(self) -> str:
        return self.names[self.target_index]

    def __len__(self) -> int:
        return len(self.names)


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

    Ties in similarity never count for the target whatever its position (``rule.predict``), so
    the order of the pool does not matter to the verdict."""
    target_name = validate_name(target)
    n = validate_pool_size(n_candidates)
    mode = validate_name_mode(mode)
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
        names = paper_pool_names(target_name, user, seen, n, room, seed, real_identities)
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
        seeded=True,
    )


def paper_pool_names(target: str, user: list[str], seen: set[str], n: int, room: int, seed: int,
                     real_identities=None) -> list[str]:
    """The ``paper`` pool's names, shuffled: the notebook's construction (``paper`` module
    docstring). Its "classes" are the real identities in their file order (the target in its
    place when it is one of them; a seeded sample when they do not all fit beside the user's
    names), then the names the user added, then the target when it is not a real identity; then
    ``paper_distractors`` up to ``n`` names, and the whole list shuffled as the notebook does
    (``random.sample(names, k=len(names))``, here with ``random.Random(seed)``: the notebook's
    shuffle was unseeded). ``seen`` (the target's and the user's keys) is updated."""
    tkey = identity_key(target)
    real = list({identity_key(r): r for r in reversed([normalize_name(r) for r in (
        real_identities if real_identities is not None else paper_identities())])}.values())[::-1]
    target_is_real = any(identity_key(r) == tkey for r in real)
    others = [r for r in real if identity_key(r) not in seen]
    if len(others) > room:
        chosen = set(random.Random(f"idia-paper-real-{seed}").sample(others, room))
        others = [r for r in others if r in chosen]
    seen.update(identity_key(r) for r in others)
    kept = set(others)
    classes = [r for r in real if r in kept or identity_key(r) == tkey]
    classes = [target if identity_key(r) == tkey else r for r in classes]   # the spelling asked for
    classes += user + ([] if target_is_real else [target])
    names = classes + paper_distractors(seen, max(0, n - len(classes)), seed)
    return random.Random(int(seed)).sample(names, k=len(names))


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
    stream = paper_stream(int(seed), size) if mode == "paper" else _distractor_stream(int(seed), mode, size)
    return stream[:n]


@lru_cache(maxsize=16)
def _distractor_stream(seed: int, mode: str, size: int) -> tuple[str, ...]:
    from faker import Faker  # a second to import: only when a new stream is drawn

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


def _plain(name: str) -> bool:
    try:
        validate_name(name)
    except IdiaInputError:
        return False
    return True
