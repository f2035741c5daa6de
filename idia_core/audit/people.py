"""The people of an audit (the I/O edge): ``PEOPLE_DIR`` in the layout of ``evaluate``.

One sub-folder of photos per person (folder name = the person's name, or mapped by ``names.csv``
with columns folder,name); an optional ``labels.csv`` with ``name`` and optionally ``member``,
``occurrences`` (training-caption counts, e.g. from ``occurrences``) and ``group``. An audit does
not need labels; when they are there, the report shows TPR by occurrence bin as in the paper.

Photos are listed here, never kept: the engines read one person's photos at a time
(``read_photos``), so an audit of thousands of people never holds them all in memory.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from .. import limits
from ..errors import IdiaInputError
from ..text.names import name_key, validate_name
from .datasets import IMAGE_SUFFIXES, read_labels_csv, read_names_csv, sha256_file
from .results import CheckJob, photo_set_sha256, validate_photos


@dataclass(frozen=True)
class AuditPerson:
    """One person to audit: ``folder`` (the key of their rows), ``name``, the photos checked (the
    first ``--photos`` by file name), and what ``labels.csv`` says of them (None / NaN if nothing)."""

    folder: str
    name: str
    photos: tuple[Path, ...]
    member: bool | None = None
    occurrences: float = float("nan")
    group: str = ""


@dataclass(frozen=True)
class PeopleSet:
    root: Path
    people: tuple[AuditPerson, ...]
    notes: tuple[str, ...] = ()
    source_hashes: dict = field(default_factory=dict)


def _listdir(folder: Path, what: str) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError as exc:
        raise IdiaInputError("people_dir_unreadable",
                             f"{what} {folder} cannot be read ({exc.strerror or exc}); check its permissions.") from None


def load_people(directory, *, photos: int | None = None, labels=None, names=None) -> PeopleSet:
    """Every person folder under ``directory`` with at least one photo, sorted by folder name.
    ``photos``: check the first N photos of each person (default: all, at most ``MAX_PHOTOS``).
    Raises ``people_dir_missing``, ``people_dir_unreadable``, ``people_dir_empty``, and the
    ``names.csv`` / ``labels.csv`` errors of ``evaluate``."""
    root = Path(directory).expanduser()
    if not root.is_dir():
        raise IdiaInputError("people_dir_missing", f"The people folder {root} does not exist (or is not a folder): "
                             "give a folder with one sub-folder of photos per person.")
    cap = _photo_cap(photos)
    hashes: dict[str, str] = {}
    mapping: dict[str, str] = {}
    names_path = Path(names) if names else root / "names.csv"
    if names and not names_path.is_file():
        raise IdiaInputError("names_csv_missing", f"No names file at {names_path}.")
    if names_path.is_file():
        hashes[names_path.name], mapping = sha256_file(names_path), read_names_csv(names_path)
    labels_path = Path(labels) if labels else root / "labels.csv"
    if labels and not labels_path.is_file():
        raise IdiaInputError("labels_missing", f"No labels file at {labels_path}.")
    truth = {}
    if labels_path.is_file():
        hashes[labels_path.name], truth = sha256_file(labels_path), read_labels_csv(labels_path, require_member=False)
    people, notes = _scan(root, mapping, truth, cap)
    if not people:
        raise IdiaInputError("people_dir_empty", f"No person folder with photos under {root} (one sub-folder of "
                             "photos per person).")
    return PeopleSet(root, tuple(people), tuple(notes), hashes)


def _photo_cap(photos: int | None) -> int:
    n = validate_photos(photos)
    return limits.MAX_PHOTOS if n is None else n


def _scan(root: Path, mapping: dict, truth: dict, cap: int) -> tuple[list[AuditPerson], list[str]]:
    people, empty, capped, seen = [], [], 0, {}
    for folder in _listdir(root, "The people folder"):
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        name = validate_name(mapping.get(folder.name, folder.name), what=f"The person folder '{folder.name}'")
        if name_key(name) in seen:
            raise IdiaInputError("dataset_duplicate_names", f"The folders '{seen[name_key(name)]}' and '{folder.name}' "
                                 "name the same person (ignoring case and accents).")
        seen[name_key(name)] = folder.name
        files = [p for p in _listdir(folder, "The person folder") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if not files:
            empty.append(folder.name)
            continue
        capped += len(files) > cap
        member, occ, group = truth.get(name_key(name), (None, float("nan"), ""))
        people.append(AuditPerson(folder.name, name, tuple(files[:cap]), member, occ, group))
    notes = []
    if empty:
        notes.append(f"{len(empty)} folder(s) without photos were skipped: {', '.join(empty[:5])}"
                     + ("…" if len(empty) > 5 else ""))
    if capped:
        notes.append(f"{capped} person(s) have more than {cap} photos: the first {cap} by file name are checked.")
    return people, notes


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"i/n"`` → (i, n), 0 <= i < n: this process audits every n-th person from the i-th (in
    folder order), so the n shards of a Slurm array (``--array=0-(n-1)``) cover everyone once."""
    if text is None or str(text).strip() == "":
        return 0, 1
    try:
        i, n = (int(x) for x in str(text).replace(" ", "").split("/"))
    except ValueError:
        i, n = -1, 0
    if n < 1 or not 0 <= i < n:
        raise IdiaInputError("audit_shard", f"--shard takes i/n with 0 <= i < n (e.g. 0/4 … 3/4 for an array of 4 "
                             f"tasks, i = $SLURM_ARRAY_TASK_ID), not '{text}'.")
    return i, n


def shard_people(people, shard: tuple[int, int]) -> list[AuditPerson]:
    i, n = shard
    return [p for k, p in enumerate(people) if k % n == i]


def read_photos(person: AuditPerson) -> tuple[list[bytes], str]:
    """(each photo's bytes, the set's SHA-256) of one person; ``audit_photo_unreadable`` if a file
    cannot be read (decoding is the check's: a corrupt photo makes that person's row invalid)."""
    data = []
    for path in person.photos:
        try:
            data.append(path.read_bytes())
        except OSError as exc:
            raise IdiaInputError("audit_photo_unreadable", f"{path.name} of {person.folder} cannot be read "
                                 f"({exc.strerror or exc}).") from None
    return data, photo_set_sha256(hashlib.sha256(b).hexdigest() for b in data)


def job_for(person: AuditPerson, photo_set: str, n_photos: int) -> CheckJob:
    """The row-side description of one person's check (what ``results`` records beside the verdict)."""
    return CheckJob(person.folder, person.name, photo_set, n_photos, person.member, person.occurrences, person.group)


def open_person(person: AuditPerson):
    """(job, photo bytes, None) — or (job without a photo hash, [], the IdiaInputError) when a
    photo cannot be read (that person's rows are then invalid, the audit goes on)."""
    try:
        photos, photo_set = read_photos(person)
    except IdiaInputError as exc:
        return job_for(person, "", len(person.photos)), [], exc
    return job_for(person, photo_set, len(photos)), photos, None
