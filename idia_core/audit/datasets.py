"""Datasets for evaluation (the I/O edge): people with known membership and their photos.

* a folder: one sub-folder of photos per person (folder name = the person, or ``names.csv``
  mapping folder → name) and ``labels.csv`` with ``name,member[,occurrences][,group]``;
* the sandbox world, whose manifest says who is a member, photos rendered fresh on demand.
"""
from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import IdiaInputError
from ..sandbox.world import MODEL_DIR, WORLD_FILE, load_world, render_attack_photos
from ..text.names import name_key, validate_name


@dataclass
class EvalPerson:
    """One audited person: name, truth, and where the photos come from (paths or a renderer)."""

    name: str
    member: bool
    occurrences: float = float("nan")
    group: str = ""
    photos: list = field(default_factory=list)      # paths, or a callable returning PIL images


@dataclass
class EvalDataset:
    name: str
    people: list[EvalPerson]
    description: str = ""
    source_hashes: dict = field(default_factory=dict)    # file → sha256 (labels, manifest, …)
    notes: list[str] = field(default_factory=list)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def _parse_member(value, where: str) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "member", "y", "t"):
        return True
    if text in ("0", "false", "no", "non-member", "nonmember", "n", "f"):
        return False
    raise IdiaInputError("labels_member", f"{where}: member must be 1 or 0 (or true/false), not '{value}'.")


def read_names_csv(path: Path) -> dict[str, str]:
    """``names.csv`` (columns folder,name): person folder -> the person's name."""
    mapping: dict[str, str] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"folder", "name"} <= set(reader.fieldnames):
            raise IdiaInputError("names_csv_columns", f"{path.name} needs the columns folder,name.")
        for row in reader:
            mapping[row["folder"].strip()] = row["name"].strip()
    return mapping


def read_labels_csv(path: Path, require_member: bool = True) -> dict[str, tuple[bool | None, float, str]]:
    """``labels.csv``: ``name_key(name)`` -> (member, occurrences (NaN where not given), group).
    ``member`` is None where the column is absent (allowed when not ``require_member``: an
    audit reads only the occurrences)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        cols = set(reader.fieldnames or [])
        if require_member and not {"name", "member"} <= cols:
            raise IdiaInputError("labels_columns", f"{path.name} needs the columns name,member (and optionally "
                                 "occurrences, group).")
        if "name" not in cols:
            raise IdiaInputError("labels_columns", f"{path.name} needs a name column (and optionally member, "
                                 "occurrences, group).")
        labels: dict[str, tuple[bool | None, float, str]] = {}
        for i, row in enumerate(reader, start=2):
            name = validate_name(row["name"], what=f"{path.name} line {i}: the name")
            occ = row.get("occurrences")
            try:
                occ_v = float(occ) if occ not in (None, "") else float("nan")
            except ValueError:
                raise IdiaInputError("labels_occurrences", f"{path.name} line {i}: occurrences must be a number, not '{occ}'.") from None
            member = row.get("member")
            if member in (None, "") and not require_member:
                member_v = None
            else:
                member_v = _parse_member(member, f"{path.name} line {i}")
            labels[name_key(name)] = (member_v, occ_v, (row.get("group") or "").strip())
    return labels


def load_folder_dataset(directory, labels_csv, names_csv=None) -> EvalDataset:
    """One folder per person under ``directory`` (folder name = the person's name, or mapped by a
    ``names.csv`` with columns folder,name); ``labels.csv`` has name,member[,occurrences][,group]."""
    root = Path(directory)
    if not root.is_dir():
        raise IdiaInputError("dataset_missing", f"The dataset folder {root} does not exist.")
    labels_path = Path(labels_csv) if labels_csv else root / "labels.csv"
    if not labels_path.is_file():
        raise IdiaInputError("labels_missing", f"No labels file at {labels_path}: give --labels labels.csv with columns name,member[,occurrences].")
    mapping: dict[str, str] = {}
    names_path = Path(names_csv) if names_csv else root / "names.csv"
    hashes = {labels_path.name: sha256_file(labels_path)}
    if names_path.is_file():
        hashes[names_path.name] = sha256_file(names_path)
        mapping = read_names_csv(names_path)
    labels = read_labels_csv(labels_path)
    people: list[EvalPerson] = []
    unlabelled = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        name = validate_name(mapping.get(folder.name, folder.name), what=f"The person folder '{folder.name}'")
        photos = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not photos:
            continue
        lab = labels.get(name_key(name))
        if lab is None:
            unlabelled.append(name)
            continue
        member, occ, group = lab
        people.append(EvalPerson(name, member, occ, group or ("member" if member else "non-member"), photos))
    if not people:
        raise IdiaInputError("dataset_empty", f"No labelled person folders with photos under {root}.")
    notes = []
    if unlabelled:
        notes.append(f"{len(unlabelled)} folder(s) without a label were skipped: {', '.join(unlabelled[:5])}"
                     + ("…" if len(unlabelled) > 5 else ""))
    return EvalDataset(str(root), people, f"folder dataset {root}", hashes, notes)


SANDBOX_LABELLING = (
    "Sandbox labels come from the world manifest: members (photos captioned with their name k times) are "
    "member = 1 with occurrences = k; non-members (never in training) are member = 0. The controls are "
    "member = 0 too, because they were never captioned with their own face and name together: face-only "
    "controls had their face in training k times without their name; name-only controls had their name in "
    "k captions paired with someone else's face. Look-alike traps are member = 0: their name was captioned only "
    "with strangers who share one signature (a hat, glasses, a backdrop) that the trap person carries too; "
    "look-alikes carry a signature and were never named. Their called-member rate is reported per role, as an FPR.")


def load_sandbox_dataset(photos_per_person: int, seed: int = 0, max_people: int | None = None,
                         world_path=None) -> EvalDataset:
    """The sandbox world as an evaluation dataset; photos are fresh attack renders (never used in
    training). ``max_people`` takes a seeded subset stratified by (role, k)."""
    path = Path(world_path) if world_path else MODEL_DIR / WORLD_FILE
    if not path.is_file():
        raise IdiaInputError("sandbox_world_missing",
                             f"The sandbox world manifest {path} is missing; build the sandbox model first.")
    world = load_world(path)
    people = list(world.people)
    if max_people is not None and max_people < len(people):
        people = _stratified_subset(people, max_people, seed)
    out = []
    for p in people:
        member = p.role == "member"
        render = (lambda person=p: render_attack_photos(person, photos_per_person, seed))
        out.append(EvalPerson(p.name, member, float(p.k) if member else 0.0, p.role, render))
    return EvalDataset("sandbox", out, f"sandbox world (seed {world.seed}, {len(world.people)} people)",
                       {path.name: sha256_file(path)}, [SANDBOX_LABELLING])


def _stratified_subset(people, n: int, seed: int):
    rng = np.random.default_rng(seed)
    groups: dict[tuple, list] = {}
    for p in people:
        groups.setdefault((p.role, p.k), []).append(p)
    share = n / len(people)
    chosen = []
    for key in sorted(groups, key=str):
        members = groups[key]
        take = max(1, int(round(share * len(members))))
        pick = rng.choice(len(members), size=min(take, len(members)), replace=False)
        chosen.extend(members[i] for i in sorted(pick))
    return sorted(chosen, key=lambda p: p.index)
