"""The ``audit``, ``audit-merge`` and ``occurrences`` subcommands, registered on the main CLI by
``add_people_audit_commands``: many people × many models (``audit.people_models``, locally, on
Ray or as Slurm shards) and the data-side caption counts (``audit.occurrences``). Each handler
returns an exit code; ``IdiaInputError`` propagates (exit 2). Like ``cli.main``, a handler
imports what it runs (torch, pyarrow, Ray) only when it runs."""
from __future__ import annotations

import sys
from pathlib import Path

from tqdm import tqdm

from .. import limits
from ..errors import IdiaInputError

AUDIT_DESCRIPTION = (
    "Check every person of PEOPLE_DIR (one sub-folder of photos per person; optional names.csv folder,name and "
    "labels.csv name[,member][,occurrences]) on every model, with the rule, pool, templates, tau, seed and validity "
    "controls of `check`. Rows go to OUT_DIR/results.parquet as they finish; re-running the same command skips "
    "finished rows (resume after a crash or Ctrl-C); OUT_DIR/report.html shows the people × models matrix. "
    "Exit 0 when every row ran, 1 when some failed (a model that did not load, a worker that died: a re-run "
    "retries them), 2 on bad input.")


class _Bar:
    """A tqdm bar (rate and time left) fed by a ``progress.Progress`` callback."""

    def __init__(self, enabled: bool, desc: str, unit: str, scale: bool = False):
        self.enabled, self.desc, self.unit, self.scale = enabled, desc, unit, scale
        self.bar = None

    def __call__(self, done: int, total: int, message: str) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.desc, unit=self.unit, unit_scale=self.scale, file=sys.stderr,
                            dynamic_ncols=True, smoothing=0.05)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _add_engine(p) -> None:
    p.add_argument("--engine", choices=("local", "ray"), default=None,
                   help="local: this process (the default); ray: Ray on this machine, or the cluster of "
                        "--ray-address (which implies ray)")
    p.add_argument("--ray-address", metavar="HOST:PORT", default=None,
                   help="a running Ray cluster's head (default: RAY_ADDRESS; none: start Ray on this machine)")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs of a Ray started on this machine (default: all)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_people_audit_commands(subparsers) -> None:
    """Register ``audit``, ``audit-merge`` and ``occurrences`` on an argparse subparsers object."""
    p = subparsers.add_parser("audit", help="check many people on many models (locally, on Ray, or in Slurm shards)",
                              description=AUDIT_DESCRIPTION)
    p.add_argument("people", metavar="PEOPLE_DIR", help="one sub-folder of photos per person")
    p.add_argument("--models", required=True, metavar="SPEC[,SPEC…]", help="model specs, e.g. sandbox,ViT-B-32:openai")
    p.add_argument("--out", required=True, metavar="OUT_DIR", help="output folder (results.parquet, report.html)")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="audit every N-th person from the I-th (0 <= I < N), e.g. $SLURM_ARRAY_TASK_ID/4")
    p.add_argument("--workers", type=int, default=1, help="Ray actors per model (default 1)")
    p.add_argument("--photos", default=None, help=f"check the first N photos of each person ({limits.MIN_PHOTOS}–"
                                                  f"{limits.MAX_PHOTOS}; default: all)")
    p.add_argument("--labels", help="labels.csv (default: PEOPLE_DIR/labels.csv if present)")
    p.add_argument("--names", help="names.csv mapping folder,name (default: PEOPLE_DIR/names.csv if present)")
    p.add_argument("--tau", default=limits.DEFAULT_TAU, help="templates needed to call a member (default 1)")
    p.add_argument("--candidates", default=limits.DEFAULT_POOL, help="pool size (default 1000)")
    p.add_argument("--seed", default=0, help="seed of the distractor names (default 0)")
    p.add_argument("--templates", default="paper21", help="template set (default paper21)")
    p.add_argument("--name-mode", default="mixed", choices=["mixed", "paper"])
    p.add_argument("--reference", metavar="DIR", default=None,
                   help="reference people for the validity controls, as for `check` ('none' turns them off)")
    p.add_argument("--control-people", default=None, metavar="M", help="reference people per control (default 50)")
    p.add_argument("--precision", choices=["float32", "float16", "bfloat16"], help="as for `check`")
    _add_engine(p)
    p.set_defaults(func=cmd_audit)

    m = subparsers.add_parser("audit-merge", help="merge an audit's shards into results.parquet and report.html",
                              description="Merge every row written to OUT_DIR (all shards) into results.parquet "
                                          "(one row per person × model, the latest) and rewrite report.html.")
    m.add_argument("out", metavar="OUT_DIR")
    m.set_defaults(func=cmd_audit_merge)

    o = subparsers.add_parser("occurrences", help="count how many training captions contain each name",
                              description="Count, in one streaming pass over CAPTIONS (a parquet file or a folder of "
                                          "them), the captions that contain each full name (case-insensitive, whole "
                                          "words, Unicode-normalised), and write the occurrences column of a "
                                          "labels.csv, with sample row ids as evidence beside it.")
    o.add_argument("captions", metavar="CAPTIONS.parquet")
    o.add_argument("--names", required=True, help="names to count: a .txt (one per line) or a .csv with a name column")
    o.add_argument("--column", default="TEXT", help="the caption column (default TEXT, as LAION's metadata)")
    o.add_argument("--id-column", default=None, help="a column whose values identify sample rows (default: row numbers)")
    o.add_argument("--out", default=None, help="labels.csv to update or write (default: --names itself when it is a "
                                               ".csv, else labels.csv beside it)")
    _add_engine(o)
    o.set_defaults(func=cmd_occurrences)


def engine_of(args) -> str:
    """``--engine``, or ``ray`` when only ``--ray-address`` is given; a cluster address beside an
    explicit ``--engine local`` is refused (it would be ignored)."""
    if args.engine is None:
        return "ray" if args.ray_address else "local"
    if args.engine == "local" and args.ray_address:
        raise IdiaInputError("audit_engine", f"--ray-address {args.ray_address} names a Ray cluster, but --engine is "
                             "local: give --engine ray (or leave --engine out), or drop --ray-address.")
    return args.engine


def cmd_audit(args) -> int:
    from ..audit.people_models import run_audit  # torch, pyarrow: only when an audit runs
    from ..audit.results import AuditSettings  # pyarrow, same

    settings = AuditSettings(tau=args.tau, n_candidates=args.candidates, seed=args.seed, template_set=args.templates,
                             name_mode=args.name_mode, photos=args.photos, reference=args.reference,
                             control_m=args.control_people, precision=args.precision)
    bar = _Bar(not args.no_progress, "audit", "check")
    try:
        outcome = run_audit(args.people, args.models, args.out, settings, engine=engine_of(args),
                            ray_address=args.ray_address, workers=args.workers, shard=args.shard, labels=args.labels,
                            names=args.names, progress=bar, num_cpus=args.num_cpus)
    except KeyboardInterrupt:
        bar.close()
        print(f"\nInterrupted. Finished rows are saved in {args.out} (results.parquet, report.html); run the same "
              "command again to go on from there.", file=sys.stderr)
        return 130
    bar.close()
    print(outcome.summary())
    return 1 if outcome.counts["failed"] else 0


def cmd_audit_merge(args) -> int:
    from ..audit.audit_report import write_audit_report  # matplotlib
    from ..audit.results import merge_results, read_settings  # pyarrow

    settings = read_settings(args.out)
    table = merge_results(args.out)
    report = write_audit_report(Path(args.out), table, settings)
    print(f"Merged {len(table)} rows ({table['person'].nunique() if len(table) else 0} people × "
          f"{table['model'].nunique() if len(table) else 0} models) into {Path(args.out) / 'results.parquet'}; "
          f"report: {report}")
    return 0


def cmd_occurrences(args) -> int:
    from ..audit.occurrences import count_occurrences  # pyarrow

    names = Path(args.names)
    out = args.out or (names if names.suffix.lower() == ".csv" else names.with_name("labels.csv"))
    bar = _Bar(not args.no_progress, "captions", "row", scale=True)
    try:
        outcome = count_occurrences(args.captions, args.names, out, column=args.column, id_column=args.id_column,
                                    engine=engine_of(args), ray_address=args.ray_address, num_cpus=args.num_cpus,
                                    progress=bar)
    finally:
        bar.close()
    print(outcome.summary())
    return 0
