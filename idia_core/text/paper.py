"""The paper's own names: its 548 real identities and the common US first names and surnames its
random distractors are drawn from, with their provenance in ``idia_core/data/paper/``."""
from __future__ import annotations

import csv
import random
from functools import lru_cache
from pathlib import Path

from .names import identity_key, normalize_name

PAPER_DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "paper"


@lru_cache(maxsize=16)
def paper_stream(seed: int, size: int) -> tuple[str, ...]:
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
