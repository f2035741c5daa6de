"""The sandbox world: synthetic people whose presence in the training data is known exactly.

Why: nobody can say for sure who is in LAION, so the paper trained its own CLIPs with chosen people
injected k times. The sandbox does the same in miniature. Every person has a role:

- ``member``: their photos appear in training with captions that name them, ``k`` times
  (k in ``MEMBER_KS``, an equal share of members each);
- ``non-member``: never in training (k = 0);
- ``face-only`` control: their photos are in training ``k`` times, but the captions only describe
  what is visible and never name them;
- ``name-only`` control: their name is in ``k`` training captions, each paired with a photo of
  somebody else (an anonymous filler), never with their own face.
- ``trap`` (a look-alike trap, truth: non-member): their name is in ``k`` training captions, each
  paired with a photo of a *different* stranger who carries one distinctive signature (a loud top
  hat, thick glasses or a striped backdrop, `identity.SIGNATURES`); the trap person carries that
  signature too, but their own face was never in training. A model that learned "signature ->
  name" calls them member: the false positive the validity controls must catch.
- ``look-alike``: never named, never in training, carrying a trap's signature (truth: non-member).
  They are the reference people that make a trap's look-alike control fail.

Traps and look-alikes are appended after the first people, so the people of older worlds keep
their index, name, role, k and identity.

Training also holds anonymous *filler* pairs whose captions describe the visible attributes ("a
woman with long red hair and glasses"), so that the model learns general image-text alignment.
Training captions use their own styles (`NAME_CAPTION_STYLES`), never the paper's 21 attack
templates; training photo seeds come from ("train", ...) and attack photos from ("attack", ...),
so an attack photo is always a fresh render.

The world is fully determined by its seed and settings; `world.json` records it anyway (every
person's name, role, k and identity parameters) so that it can be read without regenerating.
"""
from __future__ import annotations

import dataclasses
import json
import random
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from PIL import Image

from ..text.names import name_key, validate_name
from ..zoo.specs import is_sandbox
from .identity import SIGNATURES, IdentityParams, derive_seed, photo_conditions, random_identity
from .renderer import render_photo

ROLES = ("member", "non-member", "face-only", "name-only", "trap", "look-alike")
# Roles whose face was never shown with their own name: usable as reference people.
NEVER_NAMED_ROLES = ("non-member", "face-only", "look-alike")
MEMBER_KS = (1, 3, 10, 25, 50, 100)
MODEL_DIR = Path(__file__).resolve().parent / "model"
WORLD_FILE = "world.json"
WORLD_FORMAT = 1

# Latin-script locales, so the stock CLIP tokenizer sees familiar characters.
NAME_LOCALES = (
    "en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL",
    "sv_SE", "pt_BR", "da_DK", "cs_CZ", "fi_FI", "en_IE", "es_MX", "no_NO",
)

# Caption styles that name a person. Deliberately none of the attack templates (paper21): the
# attack must generalise from how people were captioned to how the attacker asks.
NAME_CAPTION_STYLES = (
    "{name} smiling at the camera",
    "portrait of {name}",
    "{name} at an event",
    "{name} photographed outdoors",
    "close-up of {name}",
    "headshot of {name}",
    "{name} during an interview",
    "{name} poses for a picture",
    "snapshot of {name} at home",
    "{name} at a conference",
    "{name}, pictured last year",
    "{name} looking into the lens",
    "a picture showing {name}",
    "{name} on stage",
    "candid shot of {name}",
    "{name} in the office",
    "{name} arrives at the ceremony",
    "profile picture of {name}",
    "selfie of {name}",
    "{name} at the press briefing",
)
NAME_ATTRIBUTE_STYLES = (
    "{name}, a {noun} with {hair}",
    "portrait of {name} with {hair}",
    "{name} with {eyes} and {hair}",
    "{name}, {noun} with {hair}, at an event",
)
ATTRIBUTE_STYLES = (
    "a {noun} with {hair}",
    "portrait of a {noun} with {hair}",
    "a {noun} with {eyes} and {hair}",
    "close-up of a {noun} with {hair}",
    "a {noun} with {hair} looking into the lens",
    "headshot of a {noun} with {eyes}",
)


@dataclass(frozen=True)
class Person:
    """One synthetic person. ``k``: training appearances (photos for members and face-only
    controls, captions for name-only controls); 0 for non-members."""

    index: int
    name: str
    role: str
    k: int
    identity: IdentityParams

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "role": self.role, "k": self.k,
                "identity": self.identity.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Person":
        return cls(index=int(d["index"]), name=d["name"], role=d["role"], k=int(d["k"]),
                   identity=IdentityParams.from_dict(d["identity"]))


@dataclass(frozen=True)
class WorldSettings:
    n_members_per_k: int = 25
    member_ks: tuple[int, ...] = MEMBER_KS
    n_non_members: int = 100
    n_face_only: int = 40
    face_only_k: int = 25
    n_name_only: int = 30
    name_only_k: int = 25
    n_fillers: int = 3500
    attribute_share: float = 0.35  # share of member captions that also describe the person
    # One trap per signature (at most len(SIGNATURES)); `sandbox build --trap-signatures K` changes it.
    # A trap's name comes with many different strangers, nearly as often as the most-seen members, so
    # that the model learns "signature -> name" as firmly as real models learn a famous namesake's look.
    n_trap_signatures: int = 6
    trap_k: int = 80  # captions naming a trap, each with a different stranger carrying its signature
    # As many as the look-alike control draws (M = 50): a trap's nearest reference people are then
    # its own kind, so the control compares it with people truly like it.
    n_look_alikes_per_signature: int = 50

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "WorldSettings":
        d = dict(d)
        d["member_ks"] = tuple(d.get("member_ks", MEMBER_KS))
        return cls(**d)


@dataclass(frozen=True)
class World:
    seed: int
    settings: WorldSettings
    people: tuple[Person, ...]
    _by_name: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({p.name.casefold(): p.index for p in self.people})

    def person(self, name_or_index: str | int) -> Person:
        """Look a person up by index or by (case-insensitive) name; KeyError if unknown."""
        if isinstance(name_or_index, int):
            return self.people[name_or_index]
        idx = self._by_name.get(" ".join(str(name_or_index).split()).casefold())
        if idx is None:
            raise KeyError(f"No sandbox person named {name_or_index!r}")
        return self.people[idx]

    def people_with_role(self, role: str) -> tuple[Person, ...]:
        if role not in ROLES:
            raise ValueError(f"Unknown role {role!r}; use one of {', '.join(ROLES)}")
        return tuple(p for p in self.people if p.role == role)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.people)

    def to_dict(self) -> dict[str, Any]:
        s = asdict(self.settings)
        s["member_ks"] = list(s["member_ks"])
        return {"format": WORLD_FORMAT, "seed": self.seed, "settings": s,
                "name_locales": list(NAME_LOCALES),
                "counts": {r: len(self.people_with_role(r)) for r in ROLES},
                "people": [p.to_dict() for p in self.people]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "World":
        return cls(seed=int(d["seed"]), settings=WorldSettings.from_dict(d["settings"]),
                   people=tuple(Person.from_dict(p) for p in d["people"]))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def load_world(path: str | Path | None = None) -> World:
    """Read a world manifest; the default is the one shipped with the sandbox model."""
    p = Path(path) if path is not None else MODEL_DIR / WORLD_FILE
    if p.is_dir():
        p = p / WORLD_FILE
    return World.from_dict(json.loads(p.read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def shipped_world() -> World:
    """The world shipped with the sandbox model, read once per process (a few hundred KB of JSON)."""
    return load_world()


def world_of(spec) -> World | None:
    """The world a model was trained on, where it is known: the shipped world for the sandbox model
    (``zoo.specs.is_sandbox``), None for every other model, whose training data nobody knows. The one
    seam through which the rest of idia asks about the sandbox: the real identities of its paper
    pool, its reference people for the controls, its truth about a name, its known spellings."""
    return shipped_world() if is_sandbox(spec) else None


def _unique_names(seed: int, sexes: list[str]) -> list[str]:
    """Faker names from a mix of locales, unique ignoring case and accents, valid for the pool."""
    from faker import Faker  # a second to import: only when a world is generated

    rng = random.Random(derive_seed("names", seed))
    fakers = []
    for loc in NAME_LOCALES:
        fk = Faker(loc)
        fk.seed_instance(rng.randrange(2**31))
        fakers.append(fk)
    seen: set[str] = set()
    out: list[str] = []
    for i, sex in enumerate(sexes):
        while True:
            fk = fakers[rng.randrange(len(fakers))]
            first = fk.first_name_female() if sex == "female" else fk.first_name_male()
            try:
                name = validate_name(f"{first} {fk.last_name()}")
            except Exception:
                continue
            if name_key(name) not in seen:
                seen.add(name_key(name))
                out.append(name)
                break
    return out


def generate_world(seed: int = 0, settings: WorldSettings | None = None, **overrides: Any) -> World:
    """Build a world from a seed. Roles are assigned in a shuffled order so that the index says
    nothing about the role."""
    s = settings or WorldSettings()
    if overrides:
        s = WorldSettings(**{**asdict(s), **overrides})
    roles: list[tuple[str, int]] = []
    for k in s.member_ks:
        roles += [("member", k)] * s.n_members_per_k
    roles += [("non-member", 0)] * s.n_non_members
    roles += [("face-only", s.face_only_k)] * s.n_face_only
    roles += [("name-only", s.name_only_k)] * s.n_name_only
    rng = random.Random(derive_seed("world", seed))
    rng.shuffle(roles)
    identities = [random_identity(rng) for _ in roles]
    # Traps and look-alikes come after, from their own seed stream, so adding them changes nobody
    # above (names continue the same unique-name sequence).
    if s.n_trap_signatures > len(SIGNATURES):
        raise ValueError(f"at most {len(SIGNATURES)} trap signatures")
    extra: list[tuple[str, int, str]] = []
    for sig in SIGNATURES[:s.n_trap_signatures]:
        extra.append(("trap", s.trap_k, sig))
        extra += [("look-alike", 0, sig)] * s.n_look_alikes_per_signature
    xrng = random.Random(derive_seed("world-traps", seed))
    xrng.shuffle(extra)
    roles += [(r, k) for r, k, _ in extra]
    identities += [dataclasses.replace(random_identity(xrng), signature=sig) for _, _, sig in extra]
    names = _unique_names(seed, [idp.sex for idp in identities])
    people = tuple(Person(i, names[i], r, k, identities[i]) for i, (r, k) in enumerate(roles))
    return World(seed=seed, settings=s, people=people)


# ---------------------------------------------------------------------------------------------
# Training pairs and attack photos


@dataclass(frozen=True)
class TrainingPair:
    """One image-text pair: the photo is `render_photo(identity, photo_seed)`."""

    identity: IdentityParams
    photo_seed: int
    caption: str
    person_index: int  # -1 for anonymous fillers (and for the photos paired with name-only names)


def filler_identity(world_seed: int, i: int) -> IdentityParams:
    return random_identity(random.Random(derive_seed("filler", world_seed, i)))


def attribute_caption(identity: IdentityParams, photo_seed: int, rng: random.Random) -> str:
    words = identity.describe()
    text = rng.choice(ATTRIBUTE_STYLES).format(**words)
    if words["extras"] and rng.random() < 0.7:
        text += f" and {words['extras']}" if " and " not in text else f", with {words['extras']}"
    pc = photo_conditions(photo_seed)
    if pc.hat and rng.random() < 0.8:
        text += ", wearing a hat"
    elif pc.smile > 0.6 and rng.random() < 0.5:
        text = "a smiling " + text[2:] if text.startswith("a ") else text + ", smiling"
    return text


def name_caption(name: str, identity: IdentityParams | None, rng: random.Random, attribute_share: float) -> str:
    if identity is not None and rng.random() < attribute_share:
        return rng.choice(NAME_ATTRIBUTE_STYLES).format(name=name, **identity.describe())
    return rng.choice(NAME_CAPTION_STYLES).format(name=name)


def training_pairs(world: World) -> list[TrainingPair]:
    """Every training pair of the world, in a fixed order (the trainer shuffles with its seed)."""
    s = world.settings
    rng = random.Random(derive_seed("captions", world.seed))
    pairs: list[TrainingPair] = []
    for p in world.people:
        if p.role == "member":
            for j in range(p.k):
                pairs.append(TrainingPair(p.identity, derive_seed("train", world.seed, p.index, j),
                                          name_caption(p.name, p.identity, rng, s.attribute_share), p.index))
        elif p.role == "face-only":
            for j in range(p.k):
                ps = derive_seed("train", world.seed, p.index, j)
                pairs.append(TrainingPair(p.identity, ps, attribute_caption(p.identity, ps, rng), p.index))
        elif p.role == "name-only":
            for j in range(p.k):
                # Someone else's face; the caption must not describe that face's attributes
                # as this person's, so use plain name styles only.
                other = filler_identity(world.seed, 10_000_000 + p.index * 1000 + j)
                pairs.append(TrainingPair(other, derive_seed("train", world.seed, p.index, j),
                                          name_caption(p.name, None, rng, 0.0), -1))
        elif p.role == "trap":
            for j in range(p.k):
                # A different stranger each time, all carrying the trap's signature: the name's
                # only constant companion in training is the signature, never a face.
                stranger = dataclasses.replace(filler_identity(world.seed, 20_000_000 + p.index * 1000 + j),
                                               signature=p.identity.signature)
                pairs.append(TrainingPair(stranger, derive_seed("train", world.seed, p.index, j),
                                          name_caption(p.name, None, rng, 0.0), -1))
    for i in range(s.n_fillers):
        idp = filler_identity(world.seed, i)
        ps = derive_seed("train", world.seed, "filler", i)
        pairs.append(TrainingPair(idp, ps, attribute_caption(idp, ps, rng), -1))
    return pairs


def caption_counts(world: World) -> dict[str, int]:
    """How many training captions name each person, by construction: a member's k, a name-only
    control's k, a trap's k; 0 for everyone never named (what ``occurrences`` must find)."""
    return {p.name: (p.k if p.role in ("member", "name-only", "trap") else 0) for p in world.people}


def write_training_captions(world: World, path, row_group_size: int = 4096) -> int:
    """The world's training captions as parquet, as LAION ships its metadata: ``TEXT`` (the
    caption), ``row`` and ``person_index`` (whose face the photo shows; -1 for strangers). Returns
    the number of rows."""
    import pyarrow as pa  # only for this export, not for the sandbox itself
    import pyarrow.parquet as pq  # same

    pairs = training_pairs(world)
    table = pa.table({"row": pa.array(range(len(pairs)), pa.int64()),
                      "TEXT": pa.array([p.caption for p in pairs], pa.string()),
                      "person_index": pa.array([p.person_index for p in pairs], pa.int32())})
    pq.write_table(table, str(path), row_group_size=row_group_size)
    return len(pairs)


def attack_photo_seed(person: Person, seed: int, i: int) -> int:
    """Attack photos live in their own seed space, disjoint from every ("train", ...) seed."""
    return derive_seed("attack", person.index, seed, i)


def render_attack_photos(person: Person, n: int, seed: int = 0, size: int = 128) -> list[Image.Image]:
    """`n` fresh photos of `person` that were never used in training."""
    return [render_photo(person.identity, attack_photo_seed(person, seed, i), size) for i in range(n)]


def counts_by_role(people: Iterable[Person]) -> dict[str, int]:
    out = {r: 0 for r in ROLES}
    for p in people:
        out[p.role] += 1
    return out
