"""An audit's results: one row per person × model, never lost and never twice.

``OUT_DIR/``:

- ``audit.json`` — the settings (``AuditSettings``); the same folder refuses an audit with other
  settings, so every row of a table was made with one rule, pool, templates, tau and seed;
- ``parts/part-*.parquet`` — rows as they finish, flushed every few seconds (each part written
  whole and renamed into place, ``files.atomic_write``): the durable log that a crash, Ctrl-C or a
  killed worker leaves behind, and what a re-run reads to skip finished rows;
- ``results.parquet`` — the merged table: for each (person folder, model) its latest row, rewritten
  atomically; shards of one audit (``--shard i/n``) write parts into the same folder and merge into
  one table (``merge_results``).

A row is *finished* when its status is ``done`` (the check ran) or ``invalid`` (the check refused
the person's input, e.g. a corrupt photo: it would refuse it again); ``failed`` rows (a model that
did not load, a worker that died past its retries) run again on a re-run. A finished row is keyed
by (folder, model, the SHA-256 of the person's photo set): new photos in a folder are a new row.
Rows hold hashes and counts, never photos.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import limits
from ..attack.settings import IdiaSettings
from ..errors import IdiaInputError
from ..files import atomic_write
from ..text.templates import DEFAULT_TEMPLATE_SET
from ..validators import as_whole_number, validate_control_m
from ..version import __version__

log = logging.getLogger(__name__)

SETTINGS_FILE = "audit.json"
PARTS_DIR = "parts"
RESULTS_FILE = "results.parquet"
FINISHED = ("done", "invalid")
PRECISIONS = ("float32", "float16", "bfloat16")


@dataclass(frozen=True)
class AuditSettings:
    """What every check of an audit runs with: the options of ``check`` (same defaults).
    ``photos``: the first N photos of each person (None: all, at most 50); ``reference``: the
    controls' reference folder (None: ``check``'s default; ``"none"``: off)."""

    tau: int = limits.DEFAULT_TAU
    n_candidates: int = limits.DEFAULT_POOL
    seed: int = 0
    template_set: str = DEFAULT_TEMPLATE_SET
    name_mode: str = "mixed"
    photos: int | None = None
    reference: str | None = None
    control_m: int | None = None
    precision: str | None = None

    def validated(self) -> "AuditSettings":
        """A copy with every field checked (each by ``check``'s own validator) and converted."""
        checked = self.check_settings()   # the settings of ``check``: IdiaSettings.from_raw reads them
        reference = self.reference
        if reference is not None and str(reference).strip().lower() != "none":
            path = Path(reference).expanduser()
            if not path.is_dir():
                raise IdiaInputError("reference_missing", f"The reference folder {path} does not exist.")
            reference = str(path.resolve())
        elif reference is not None:
            reference = "none"
        control_m = None if self.control_m is None else as_whole_number(self.control_m, "--control-people",
                                                                        "control_m_range")
        if control_m is not None:
            validate_control_m(control_m)
        if self.precision is not None and self.precision not in PRECISIONS:
            raise IdiaInputError("model_precision", f"--precision is one of {', '.join(PRECISIONS)}, not '{self.precision}'.")
        return replace(self, tau=checked.tau, n_candidates=checked.n_candidates, seed=checked.seed,
                       name_mode=checked.name_mode, photos=validate_photos(self.photos), reference=reference,
                       control_m=control_m)

    def check_settings(self, model: str = "sandbox") -> IdiaSettings:
        """The settings each check of ``model`` runs with (``run_idia``), read from these."""
        return IdiaSettings.from_raw({"model": model, "tau": self.tau, "n_candidates": self.n_candidates,
                                      "seed": self.seed, "template_set": self.template_set, "name_mode": self.name_mode})

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()


def validate_photos(photos) -> int | None:
    """``--photos``: how many photos of each person an audit checks (None: all of them, at most
    ``limits.MAX_PHOTOS``), within what one check takes."""
    if photos is None:
        return None
    try:
        n = as_whole_number(photos, "--photos", "audit_photos")
    except IdiaInputError:
        n = -1
    if n < limits.MIN_PHOTOS or n > limits.MAX_PHOTOS:
        raise IdiaInputError("audit_photos", f"--photos must be a whole number from {limits.MIN_PHOTOS} to "
                             f"{limits.MAX_PHOTOS} (photos checked per person), not '{photos}'.")
    return n


@dataclass(frozen=True)
class CheckJob:
    """One person as a row needs them: who, which photos (their set's hash), and their labels."""

    folder: str
    name: str
    photo_set_sha256: str
    n_photos: int
    label_member: bool | None = None
    occurrences: float = float("nan")
    group: str = ""


SCHEMA = pa.schema([
    ("person", pa.string()), ("folder", pa.string()), ("model", pa.string()), ("fingerprint", pa.string()),
    ("status", pa.string()), ("error_code", pa.string()), ("error", pa.string()),
    ("n_photos", pa.int32()), ("correct_templates", pa.int32()), ("n_templates", pa.int32()),
    ("member", pa.bool_()), ("verdict", pa.string()),
    ("chance", pa.float64()), ("pool_rank_p", pa.float64()),   # the controls' chance (empty when they did not run); the rule's pool rank
    ("controls_ran", pa.bool_()), ("controls_reason", pa.string()),
    ("look_alikes_m", pa.int32()), ("look_alikes_reached", pa.int32()),
    ("look_alikes_at_least_observed", pa.int32()), ("look_alikes_chance", pa.float64()),
    ("name_prior_m", pa.int32()), ("name_prior_reached", pa.int32()),
    ("name_prior_at_least_observed", pa.int32()), ("name_prior_chance", pa.float64()),
    ("reference_set_sha256", pa.string()), ("n_candidates", pa.int32()), ("photo_set_sha256", pa.string()),
    ("label_member", pa.bool_()), ("occurrences", pa.float64()), ("group", pa.string()),
    ("tau", pa.int32()), ("candidates_requested", pa.int32()), ("seed", pa.int64()), ("template_set", pa.string()),
    ("name_mode", pa.string()), ("photos_requested", pa.int32()), ("reference", pa.string()),
    ("control_m", pa.int32()), ("precision", pa.string()), ("settings_sha256", pa.string()),
    ("model_build", pa.string()), ("idia_version", pa.string()), ("node", pa.string()), ("worker", pa.string()),
    ("elapsed_s", pa.float64()), ("finished_at", pa.string()),
])
COLUMNS = tuple(SCHEMA.names)


def _base_row(job: CheckJob, model: str, settings: AuditSettings) -> dict:
    row = dict.fromkeys(COLUMNS)
    occ = float(job.occurrences)
    row.update(person=job.name, folder=job.folder, model=model, photo_set_sha256=job.photo_set_sha256,
               n_photos=int(job.n_photos), label_member=job.label_member, occurrences=None if occ != occ else occ,
               group=job.group, tau=settings.tau, candidates_requested=settings.n_candidates, seed=settings.seed,
               template_set=settings.template_set, name_mode=settings.name_mode, photos_requested=settings.photos,
               reference=settings.reference, control_m=settings.control_m, precision=settings.precision,
               settings_sha256=settings.sha256, idia_version=__version__, node="local",
               worker=f"{os.uname().nodename}:{os.getpid()}", finished_at=_now())
    return row


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")


def check_row(job: CheckJob, model: str, result, settings: AuditSettings, elapsed_s: float = 0.0) -> dict:
    """The row of one finished check (an ``IdiaResult``) of ``model`` (the spec as the audit names
    it), with the counts of both controls."""
    row = _base_row(job, model, settings)
    ctl = result.controls
    row.update(fingerprint=result.fingerprint, status="done", error_code="", error="", n_photos=result.n_photos,
               correct_templates=int(result.correct_templates), n_templates=result.n_templates,
               member=bool(result.member), verdict=result.verdict, pool_rank_p=float(result.pool_rank_p),
               chance=None if result.chance is None else float(result.chance),
               n_candidates=result.n_candidates, photo_set_sha256=photo_set_sha256(result.photo_hashes),
               controls_ran=bool(ctl is not None and ctl.ran), controls_reason=getattr(ctl, "reason", "") or "",
               model_build=json.dumps(result.model_build, sort_keys=True), elapsed_s=float(elapsed_s))
    if ctl is not None and ctl.ran:
        row["reference_set_sha256"] = str(ctl.reference_set.get("sha256", ""))
        for kind in ("look_alikes", "name_prior"):
            out = getattr(ctl, kind)
            row.update({f"{kind}_m": out.m, f"{kind}_reached": out.reached_tau,
                        f"{kind}_at_least_observed": out.at_least_observed, f"{kind}_chance": float(out.chance)})
    return row


def photo_set_sha256(photo_hashes) -> str:
    """The identity of a set of photos: SHA-256 over their sorted SHA-256s (order does not matter)."""
    return hashlib.sha256("\n".join(sorted(photo_hashes)).encode("ascii")).hexdigest()


def failed_row(job: CheckJob, model: str, settings: AuditSettings, status: str, code: str, message: str,
               fingerprint: str = "") -> dict:
    """A row without a verdict: ``invalid`` (the check refused the input) or ``failed`` (the model
    or its worker failed); ``code`` is an ``errors.ERROR_CODES`` code or ``worker_failed``."""
    row = _base_row(job, model, settings)
    row.update(fingerprint=fingerprint, status=status, error_code=code, error=str(message)[:2000], verdict="")
    return row


def row_key(row: dict) -> tuple[str, str, str]:
    return row["folder"], row["model"], row["photo_set_sha256"]


# -- the folder ---------------------------------------------------------------------------------------
def claim_folder(folder: Path, settings: AuditSettings) -> None:
    """Create ``folder`` and record the settings in ``audit.json``; refuse a folder that holds an
    audit with other settings (``audit_settings_differ``) or that cannot be written."""
    try:
        (folder / PARTS_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IdiaInputError("audit_out_unwritable", f"The output folder {folder} cannot be created "
                             f"({exc.strerror or exc}).") from None
    path = folder / SETTINGS_FILE
    mine = {"format": 1, "settings": settings.to_dict(), "settings_sha256": settings.sha256}
    if path.is_file():
        try:
            theirs = json.loads(path.read_text(encoding="utf-8"))
            old = dict(theirs["settings"])
        except (OSError, ValueError, KeyError, TypeError):
            raise IdiaInputError("audit_out_foreign", f"{path} is not an idia audit's settings file; give another --out.") from None
        if theirs.get("settings_sha256") != settings.sha256:
            diff = [f"{k}: {old.get(k)!r} there, {v!r} now" for k, v in settings.to_dict().items() if old.get(k) != v]
            raise IdiaInputError("audit_settings_differ", f"{folder} holds an audit made with other settings "
                                 f"({'; '.join(diff) or 'another version'}). Re-run with its settings to resume it, "
                                 "or give another --out.")
        return
    try:
        atomic_write(path, json.dumps(mine, indent=2, sort_keys=True) + "\n")
    except OSError as exc:
        raise IdiaInputError("audit_out_unwritable", f"The output folder {folder} cannot be written "
                             f"({exc.strerror or exc}).") from None


def read_settings(folder) -> dict:
    """The settings an audit folder was made with (``audit.json``); ``audit_out_missing`` if none."""
    path = Path(folder).expanduser() / SETTINGS_FILE
    if not path.is_file():
        raise IdiaInputError("audit_out_missing", f"{Path(folder)} holds no audit ({SETTINGS_FILE} is missing).")
    try:
        return dict(json.loads(path.read_text(encoding="utf-8"))["settings"])
    except (OSError, ValueError, KeyError, TypeError):
        raise IdiaInputError("audit_out_foreign", f"{path} is not an idia audit's settings file.") from None


def read_parts(folder: Path) -> pd.DataFrame:
    """Every row written so far (all parts, in the order written); a part that cannot be read is
    skipped with a warning (its rows are simply run again)."""
    return read_part_table(folder).to_pandas()


def read_part_table(folder: Path) -> pa.Table:
    tables = []
    for path in sorted((Path(folder) / PARTS_DIR).glob("part-*.parquet")):
        try:
            tables.append(pq.read_table(path).cast(SCHEMA))
        except (OSError, pa.ArrowException) as exc:
            log.warning("skipping unreadable results part %s: %s", path.name, exc)
    return pa.concat_tables(tables) if tables else SCHEMA.empty_table()


def latest_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (person folder, model): the latest written (stable, so later parts win ties)."""
    if frame.empty:
        return frame
    ordered = frame.sort_values("finished_at", kind="stable")
    return ordered.drop_duplicates(["folder", "model"], keep="last").sort_values(["folder", "model"]).reset_index(drop=True)




def merge_results(folder, labels=None) -> pd.DataFrame:
    """Merge every part of ``folder`` (all shards) into ``results.parquet`` (atomically) and return it.
    ``labels`` (person folder → an object with ``member``, ``occurrences`` and ``group``, as
    ``people.AuditPerson``): the labels as they are now, written over those columns of every row
    of that person, finished in an earlier run or not (a labels.csv edited between runs counts;
    the checks are not run again)."""
    folder = Path(folder)
    table = latest_rows(read_parts(folder))
    if labels and not table.empty:
        table = with_labels(table, labels)
    write_parquet(folder / RESULTS_FILE, table)
    return table


def with_labels(table: pd.DataFrame, labels) -> pd.DataFrame:
    """``table`` with the label columns of each labelled person's rows replaced (see ``merge_results``)."""
    table = table.copy()
    known = table["folder"].isin(list(labels))
    people = [labels[f] for f in table.loc[known, "folder"]]
    table.loc[known, "occurrences"] = [float(p.occurrences) for p in people]   # NaN: no count given
    for column, attr in (("label_member", "member"), ("group", "group")):
        table[column] = table[column].astype(object)
        table.loc[known, column] = pd.Series([getattr(p, attr) for p in people], index=table.index[known], dtype=object)
    return table


def write_parquet(path: Path, frame) -> Path:
    """Rows (a DataFrame, a list of dicts or an arrow table of ``SCHEMA``) as one parquet file, atomically."""
    if isinstance(frame, pd.DataFrame):
        table = pa.Table.from_pandas(frame, schema=SCHEMA, preserve_index=False)
    else:
        table = frame if isinstance(frame, pa.Table) else pa.Table.from_pylist(frame, schema=SCHEMA)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return atomic_write(path, sink.getvalue().to_pybytes())


FLUSH_SECONDS = 10.0       # a new part at most this often while rows come in
RESULTS_SECONDS = 60.0     # results.parquet refreshed at most this often during a run (one shard)


class ResultStore:
    """The rows of one audit process: what was finished before (read from the parts at start) and
    what finishes now, flushed to a new part every ``FLUSH_SECONDS`` (and on ``flush``/``close``).
    An audit in one shard also refreshes results.parquet every ``RESULTS_SECONDS`` as it goes;
    shards merge theirs when each ends (and ``audit-merge``)."""

    def __init__(self, out_dir, settings: AuditSettings, shard: tuple[int, int] = (0, 1)):
        self.folder = Path(out_dir).expanduser()
        claim_folder(self.folder, settings)
        self.shard = shard
        earlier = read_part_table(self.folder)
        self.tables = [earlier]
        done = pc.is_in(earlier.column("status"), pa.array(FINISHED))
        self.finished = {row_key(r) for r in earlier.filter(done).select(["folder", "model", "photo_set_sha256"])
                         .to_pylist()}
        self.pending: list[dict] = []
        self.parts_written = 0
        self.last_flush = self.last_results = time.monotonic()

    def is_finished(self, folder: str, model: str, photo_set_sha256: str) -> bool:
        return (folder, model, photo_set_sha256) in self.finished

    def add(self, row: dict) -> None:
        self.pending.append(row)
        if row["status"] in FINISHED:
            self.finished.add(row_key(row))
        if time.monotonic() - self.last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        if not self.pending:
            return
        i, n = self.shard
        name = f"part-{i:04d}of{n:04d}-{datetime.datetime.now(datetime.timezone.utc):%Y%m%dT%H%M%S%f}-{os.getpid()}.parquet"
        part = pa.Table.from_pylist(self.pending, schema=SCHEMA)
        write_parquet(self.folder / PARTS_DIR / name, part)
        self.tables.append(part)
        self.pending = []
        self.parts_written += 1
        if n == 1 and time.monotonic() - self.last_results >= RESULTS_SECONDS:
            self.last_results = time.monotonic()
            write_parquet(self.folder / RESULTS_FILE, latest_rows(pa.concat_tables(self.tables).to_pandas()))

    def close(self, labels=None) -> pd.DataFrame:
        """Flush, then merge every part in the folder (this shard's and any other's) into
        results.parquet, with the people's current ``labels`` (``merge_results``)."""
        self.flush()
        return merge_results(self.folder, labels)


class Tally:
    """What became of each planned row of this process (ran, skipped as finished, failed, invalid),
    stored and reported as it happens: ``progress(done, total, message)`` and ``on_row(row)``."""

    def __init__(self, store: ResultStore, total: int, progress=None, on_row=None):
        self.store, self.total = store, int(total)
        self.progress, self.on_row = progress, on_row
        self.counts = {"done": 0, "invalid": 0, "failed": 0, "skipped": 0}

    @property
    def handled(self) -> int:
        return sum(self.counts.values())

    def skip(self) -> None:
        self.counts["skipped"] += 1
        self._report()

    def record(self, row: dict) -> None:
        self.store.add(row)
        self.counts[row["status"]] += 1
        if self.on_row is not None:
            self.on_row(row)
        self._report()

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(self.handled, self.total, "auditing")
