"""The paper's own names and its pool construction: its 548 real identities, the 1000 most common US
first names per sex and the 1000 most common US surnames its random distractors are made of, with
their provenance in ``idia_core/data/paper/``.

The construction is the one of the authors' notebook (``02_idia_laion_multiprompt.ipynb``, cells
15–17 and the shuffle after them):

* first names (cell 15): the SSA's top-1000 lists 1880–2008, each (name, sex) at the first year it
  entered the list, the 1000 highest ``percent`` per sex — the file
  ``paper_first_names_top1000.csv`` holds exactly that, in the notebook's order (percent
  descending);
* surnames (cell 16): the 1000 most common surnames of the 2010 census, title-cased;
* pairs (cell 17): per sex, pairs drawn **without replacement** from the cross product
  first names × surnames (row order: first name, then surname), as pandas
  ``full_names_df.groupby('sex').sample(n, random_state=seed)`` draws them: one
  ``numpy.random.RandomState(seed)``, ``choice(F*S, n, replace=False)`` for the female group and
  then for the male group. That is ``permutation(F*S)[:n]`` of each group in turn, so each sex's
  draw order is a fixed stream and a larger ``n`` only extends it (``paper_pair_order``).
"""
from __future__ import annotations

import csv
import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from .names import identity_key, normalize_name

PAPER_DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "paper"
SEXES = ("f", "m")          # pandas' groupby order: the sorted keys, female first


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
    """(female, male): the paper's 1000 first names of each sex, highest ``percent`` first (the
    notebook's cell 15; ``data/paper/README.md``)."""
    rows = _read_csv("paper_first_names_top1000.csv")
    return (tuple(r["first_name"] for r in rows if r["sex"] == "f"),
            tuple(r["first_name"] for r in rows if r["sex"] == "m"))


@lru_cache(maxsize=1)
def paper_surnames() -> tuple[str, ...]:
    """The 1000 most common surnames of the 2010 US census, title-cased as in the paper's code."""
    return tuple(r["surname"] for r in _read_csv("us_census_2010_surnames_top1000.csv"))


@lru_cache(maxsize=4)
def paper_pair_order(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(female, male): each sex's cross-product rows in the order pandas'
    ``groupby('sex').sample(n, random_state=seed)`` draws them (module docstring); row ``q`` is
    first name ``q // S`` and surname ``q % S`` (S surnames). int32, 1,000,000 rows each."""
    female, male = paper_first_names()
    n_surnames = len(paper_surnames())
    rs = np.random.RandomState(int(seed))
    return (rs.permutation(len(female) * n_surnames).astype(np.int32),
            rs.permutation(len(male) * n_surnames).astype(np.int32))


def _pair(sex_index: int, row: int) -> str:
    firsts = paper_first_names()[sex_index]
    surnames = paper_surnames()
    return f"{firsts[row // len(surnames)]} {surnames[row % len(surnames)]}"


def paper_pairs(seed: int, sex: str, start: int, stop: int) -> list[str]:
    """The names drawn at positions ``start`` … ``stop - 1`` of one sex's draw (``paper_pair_order``)."""
    s = SEXES.index(sex)
    order = paper_pair_order(int(seed))[s]
    return [_pair(s, int(q)) for q in order[start:stop]]


def paper_distractors(taken: set[str], n: int, seed: int) -> list[str]:
    """The paper's random pairs for a pool: ``ceil(n / 2)`` female then ``floor(n / 2)`` male
    pairs, each the first ones of that sex's draw, so for an even ``n`` exactly pandas'
    ``groupby('sex').sample(n // 2, random_state=seed)`` (the paper: ``n // 2`` per sex, one
    name short when ``n`` is odd; here the female draw gives the extra name so the pool keeps
    its size). One deviation from the paper: a pair whose ``identity_key`` is already ``taken``
    (a real identity, a name the user added, the target, or the same pair drawn for the other sex)
    is skipped for the next one of its sex, because two identical names are one candidate for the
    model; the paper kept such duplicates. ``taken`` is updated."""
    out: list[str] = []
    for sex, want in zip(SEXES, (math.ceil(n / 2), n // 2)):
        got, start, step = 0, 0, max(16, want + 8)
        while got < want:
            batch = paper_pairs(seed, sex, start, start + step)
            if not batch:
                break               # the whole cross product drawn (a pool far larger than the limits)
            for name in batch:
                key = identity_key(name)
                if key in taken:
                    continue
                taken.add(key)
                out.append(name)
                got += 1
                if got == want:
                    break
            start += step
    return out


@lru_cache(maxsize=16)
def paper_stream(seed: int, size: int) -> tuple[str, ...]:
    """The paper's pairs as one stream, female and male alternately (f0, m0, f1, m1, …, each in
    its sex's draw order), without repeats: what refills a pool when a candidate is left out
    (``pool.fill_with_distractors``). Its first 2k names are the k first pairs of each sex."""
    out: list[str] = []
    seen: set[str] = set()
    per_sex = size // 2 + 8
    while True:
        female, male = (paper_pairs(seed, sex, 0, per_sex) for sex in SEXES)
        for name in (n for pair in zip(female, male) for n in pair):
            key = identity_key(name)
            if key not in seen:
                seen.add(key)
                out.append(name)
                if len(out) == size:
                    return tuple(out)
        if len(female) < per_sex:
            return tuple(out)
        out, seen, per_sex = [], set(), per_sex * 2
