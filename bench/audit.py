"""Benchmark: an audit of many people on the local engine and on Ray, and the caption counts.

One run, one machine: P sandbox people (fresh attack renders, N photos each) × the sandbox model,
with ``check``'s defaults (1000 names, 21 templates, tau 1, the validity controls). Ray is
started once (``ray.init``, timed apart) and a first Ray run warms the disk caches (prompt
embeddings, the reference set: a fresh ``IDIA_CACHE_DIR``), so every timed run measures the audit
itself, each loading its model once: the local run in this process, each Ray run in its actors,
whose start (a process, torch, the model) is Ray's real overhead and is counted. Then
``occurrences`` counts the sandbox's 626 names in its training captions repeated to C rows,
in this process and as 8 Ray tasks.

Prints, for local, Ray with 1 worker and Ray with 2 workers: wall time, people×models per minute,
the start (seconds to the first row) and the rate after it; the ratio Ray (1 worker) / local wall
time (target ≤ 1.25) and the same after the start; and captions/s.

Each engine runs ``--repeat`` times, interleaved with the others, and its fastest run is shown
(the local engine's later runs reuse its loaded model: its start is then the preparation alone).

Usage:  python bench/audit.py [--people 120] [--photos 8] [--repeat 2] [--captions 2000000] [--cpus 2]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def make_people(root: Path, n_people: int, n_photos: int) -> Path:
    from idia_core.sandbox.world import load_world, render_attack_photos

    world = load_world()
    people = [p for p in world.people if p.role in ("member", "non-member")][:n_people]
    for p in people:
        folder = root / p.name
        folder.mkdir(parents=True)
        for i, im in enumerate(render_attack_photos(p, n_photos, seed=0)):
            im.save(folder / f"{i:02d}.png")
    return root


def timed_audit(people: Path, out: Path, **kwargs) -> tuple[float, float, int]:
    """(wall seconds, seconds to the first row: the start — model load, shared preparation, and on
    Ray the actors' processes —, rows)."""
    from idia_core.audit.people_models import run_audit

    shutil.rmtree(out, ignore_errors=True)
    first = []
    started = time.perf_counter()
    outcome = run_audit(people, ["sandbox"], out, on_row=lambda row: first or first.append(time.perf_counter()),
                        **kwargs)
    elapsed = time.perf_counter() - started
    assert outcome.counts["done"] == len(outcome.table), outcome.counts
    return elapsed, first[0] - started, outcome.counts["done"]


def make_captions(folder: Path, rows: int) -> tuple[Path, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from idia_core.sandbox.world import load_world, training_pairs

    world = load_world()
    block = pa.table({"TEXT": pa.array([p.caption for p in training_pairs(world)], pa.string())})
    path = folder / "captions.parquet"
    with pq.ParquetWriter(path, block.schema) as writer:          # written block by block: never all in memory
        for start in range(0, rows, block.num_rows):
            writer.write_table(block.slice(0, min(block.num_rows, rows - start)), row_group_size=block.num_rows)
    names = folder / "names.txt"
    names.write_text("".join(p.name + "\n" for p in world.people), encoding="utf-8")
    return path, names


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--people", type=int, default=120, help="sandbox members and non-members (at most 250)")
    ap.add_argument("--photos", type=int, default=8)
    ap.add_argument("--captions", type=int, default=2_000_000, help="rows of captions to count (8 Ray tasks)")
    ap.add_argument("--repeat", type=int, default=2, help="runs per engine, interleaved; the fastest is shown")
    ap.add_argument("--cpus", type=int, default=os.cpu_count() or 2, help="CPUs Ray may use on this machine")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="idia-bench-audit-"))
    os.environ["IDIA_CACHE_DIR"] = str(work / "cache")      # read by this process and by Ray's workers
    try:
        return _run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args, work: Path) -> int:
    import ray

    from idia_core.audit.occurrences import count_occurrences

    people = make_people(work / "people", args.people, args.photos)
    token = Path.home() / ".ray" / "auth_token"       # Ray >= 2.59 writes one: removed again if it was not there
    had_token = token.exists()
    started = time.perf_counter()
    ray.init(address="local", num_cpus=args.cpus, include_dashboard=False, logging_level="ERROR")
    init_s = time.perf_counter() - started
    try:
        timed_audit(people, work / "warm", engine="ray")                  # fills the disk caches
        engines = {"local": {}, "ray, 1 worker": {"engine": "ray", "workers": 1},
                   "ray, 2 workers": {"engine": "ray", "workers": 2}}
        runs: dict[str, tuple] = {}
        for _ in range(args.repeat):                     # interleaved, the best of each: a shared machine's noise
            for name, kwargs in engines.items():
                run = timed_audit(people, work / "run", **kwargs)
                runs[name] = min(runs.get(name, run), run)
        captions, names = make_captions(work, args.captions)
        started = time.perf_counter()
        local_count = count_occurrences(captions, names, work / "l.csv")
        count_local_s = time.perf_counter() - started
        started = time.perf_counter()
        ray_count = count_occurrences(captions, names, work / "r.csv", engine="ray", chunk_rows=args.captions // 8)
        count_ray_s = time.perf_counter() - started
    finally:
        ray.shutdown()
        if not had_token:
            token.unlink(missing_ok=True)
    assert local_count.counts.counts == ray_count.counts.counts
    n = runs["local"][2]
    print(f"audit: {n} people × 1 model (sandbox, {args.photos} photos each, 1000 names, controls on), "
          f"{os.cpu_count()} cores, Ray on {args.cpus} CPUs (ray.init {init_s:.1f} s, not counted), "
          f"best of {args.repeat}")
    print(f"  {'engine':<16}{'wall s':>8}{'people×models/min':>19}{'start s':>9}{'then /min':>11}")
    for name, (wall, start, rows) in runs.items():
        print(f"  {name:<16}{wall:8.1f}{rows / wall * 60:19.1f}{start:9.1f}{(rows - 1) / (wall - start) * 60:11.1f}")
    local, ray1 = runs["local"], runs["ray, 1 worker"]
    print(f"  Ray overhead at one worker: {ray1[0] / local[0]:.2f}× local wall time (target <= 1.25); "
          f"after the start {(ray1[0] - ray1[1]) / (local[0] - local[1]):.2f}×")
    rows = local_count.counts.rows
    print(f"occurrences: {len(local_count.names)} names in {rows} captions: local {rows / count_local_s:,.0f} "
          f"captions/s, Ray tasks {rows / count_ray_s:,.0f} captions/s (same counts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
