"""Audits of many people × many models: ``run_audit``.

Every person of ``PEOPLE_DIR`` (``people``) is checked on every model with the very same rule,
pool, templates, tau, seed and validity controls as ``check`` (each check is ``run_idia``, run by a
``worker.ModelWorker``), and each check becomes one row of ``OUT_DIR/results.parquet``
(``results``: written as rows finish, resumable, shard-mergeable), then ``report.html``.

Engines: ``local`` — one process, one model at a time (loading weights dominates), each person's
photos read when that person's turn comes; ``ray`` — ``ray_engine``: one actor (or ``workers``)
per model, people streamed through them. ``shard=(i, n)`` audits every n-th person from the
i-th, for schedulers without Ray (a Slurm array); every shard merges into the same table.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import IdiaInputError
from ..zoo.specs import parse_spec
from .audit_report import write_audit_report
from .people import AuditPerson, load_people, open_person, parse_shard, shard_people
from .results import RESULTS_FILE, AuditSettings, ResultStore, Tally, failed_row

ENGINES = ("local", "ray")


@dataclass
class AuditOutcome:
    out_dir: Path
    table: pd.DataFrame          # the merged results (every shard's rows so far)
    folders: tuple[str, ...]     # this shard's people (their folders): what the summary's rates cover
    models: tuple[str, ...]
    counts: dict                 # this run: done, invalid, failed, skipped (finished before)
    elapsed_s: float
    engine: str
    notes: tuple[str, ...] = ()

    @property
    def n_people(self) -> int:
        """People of this shard."""
        return len(self.folders)

    @property
    def results_path(self) -> Path:
        return self.out_dir / RESULTS_FILE

    @property
    def report_path(self) -> Path:
        return self.out_dir / "report.html"

    def summary(self) -> str:
        """One line: what ran, how fast, and the member rate of each model over this shard's people
        (the whole table's rates are in the report)."""
        c = self.counts
        ran = c["done"] + c["invalid"] + c["failed"]
        speed = f"{ran / self.elapsed_s * 60:.1f} people×models/min" if ran and self.elapsed_s > 0 else "nothing to run"
        done = self.table
        if not done.empty:
            done = done[(done["status"] == "done") & done["folder"].isin(self.folders)]
        rates = ", ".join(f"{m} {g['member'].astype(bool).mean():.0%}" for m, g in done.groupby("model", sort=False))
        models = f"{len(self.models)} model" + ("s" if len(self.models) != 1 else "")
        people = f"{self.n_people} " + ("person" if self.n_people == 1 else "people")
        return (f"Audited {people} × {models} ({self.engine}): {c['done']} checked, "
                f"{c['skipped']} already done, {c['invalid']} invalid, {c['failed']} failed in {self.elapsed_s:.1f} s "
                f"({speed}); member rate (paper's rule): {rates or '–'}; "
                f"results: {self.results_path}; report: {self.report_path}")


def parse_models(models) -> tuple[str, ...]:
    """``"a,b"`` or a list → the distinct specs in order, each parsed (a malformed spec is refused
    before anything runs; a well-formed one that fails to load becomes failed rows)."""
    items = models.split(",") if isinstance(models, str) else list(models or ())
    specs = tuple(dict.fromkeys(str(m).strip() for m in items if str(m).strip()))
    if not specs:
        raise IdiaInputError("audit_models", "--models needs at least one model spec, e.g. --models sandbox,ViT-B-32:openai.")
    for spec in specs:
        parse_spec(spec)
    return specs


def run_audit(people_dir, models, out_dir, settings: AuditSettings | None = None, *, engine: str = "local",
              ray_address: str | None = None, workers: int = 1, shard=None, labels=None, names=None,
              progress=None, on_row=None, num_cpus: int | None = None) -> AuditOutcome:
    """Audit every person under ``people_dir`` (this shard's) on every model; rows go to
    ``out_dir`` as they finish, finished rows of an earlier run are skipped, and the table and
    report are rewritten at the end — also on Ctrl-C (the interrupt is then re-raised).
    ``on_row(row)`` is called in this process for every new row."""
    if engine not in ENGINES:
        raise IdiaInputError("audit_engine", f"--engine is local or ray, not '{engine}'.")
    if int(workers) < 1 or int(workers) > 64:
        raise IdiaInputError("audit_workers", f"--workers (actors per model) must be between 1 and 64, not {workers}.")
    settings = (settings or AuditSettings()).validated()
    specs = parse_models(models)
    shard = shard if isinstance(shard, tuple) else parse_shard(shard)
    people_set = load_people(people_dir, photos=settings.photos, labels=labels, names=names)
    mine = shard_people(people_set.people, shard)
    if engine == "ray":   # a cluster that does not answer is refused before OUT_DIR is touched
        from .ray_engine import probe_cluster  # the Ray engine module: only for --engine ray

        probe_cluster(ray_address)
    store = ResultStore(out_dir, settings, shard)
    tally = Tally(store, len(mine) * len(specs), progress, on_row)
    started = time.perf_counter()
    try:
        if engine == "ray":
            from .ray_engine import run_on_ray  # Ray's start-up cost: only for --engine ray

            run_on_ray(mine, specs, settings, tally, address=ray_address, workers=int(workers), num_cpus=num_cpus)
        else:
            run_local(mine, specs, settings, tally)
    except IdiaInputError:            # refused before any check ran (e.g. no Ray at that address)
        store.flush()
        raise
    except BaseException:             # Ctrl-C, a crash: what finished is saved, merged and reported
        _finish(store, settings, people_set, specs)
        raise
    table = _finish(store, settings, people_set, specs)
    return AuditOutcome(store.folder, table, tuple(p.folder for p in mine), specs, dict(tally.counts),
                        time.perf_counter() - started, engine, people_set.notes)


def _finish(store: ResultStore, settings: AuditSettings, people_set, specs) -> pd.DataFrame:
    table = store.close(labels={p.folder: p for p in people_set.people})   # labels as labels.csv says now
    write_audit_report(store.folder, table, settings.to_dict(), people_set.notes, models=specs)
    return table


def run_local(people: list[AuditPerson], specs, settings: AuditSettings, tally: Tally) -> None:
    """One model at a time in this process; a model is loaded only if some row still needs it."""
    from .worker import ModelWorker  # torch: only when checks run here

    names = [p.name for p in people]
    counts = [len(p.photos) for p in people]
    # each person's job (its photo set's hash) from the first read: a resumed audit reads every
    # person's photos once, not once per model; the bytes are not kept between models (memory)
    jobs: dict[str, tuple] = {}
    for spec in specs:
        worker = None
        for person in people:
            photos = None
            if person.folder not in jobs:
                job, photos, error = open_person(person)
                jobs[person.folder] = (job, error)
            job, error = jobs[person.folder]
            if tally.store.is_finished(job.folder, spec, job.photo_set_sha256):
                tally.skip()
                continue
            if error is None and photos is None:
                job, photos, error = open_person(person)
            if error is not None:
                tally.record(failed_row(job, spec, settings, "invalid", error.code, error.message))
                continue
            if worker is None:
                worker = ModelWorker(spec, settings)
                if worker.model is not None:
                    worker.adopt(worker.prepare(names, counts))
            tally.record(worker.check(job, photos))
        tally.store.flush()
