"""The ``evaluate`` and ``verify`` subcommands, registered on the main CLI's subparsers by
``add_audit_commands``. Each handler is set as ``func`` on its parser and returns an exit code;
``IdiaInputError`` propagates (the CLI maps it to exit 2). ``main(argv)`` runs them on their own.
Like ``cli.main``, a handler imports what it runs (torch) only when it runs."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .. import limits
from ..audit.datasets import load_folder_dataset, load_sandbox_dataset
from ..errors import IdiaInputError


def _sizes(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in str(text).replace(" ", "").split(",") if x)
    except ValueError:
        raise IdiaInputError("photos_sizes", f"--photos takes photo counts separated by commas (e.g. 1,3,5,10), not '{text}'.") from None
    if not values or min(values) < 1:
        raise IdiaInputError("photos_sizes", "--photos needs positive photo counts, e.g. 1,3,5,10.")
    if max(values) > limits.MAX_PHOTOS:
        raise IdiaInputError("photos_sizes", f"--photos: at most {limits.MAX_PHOTOS} photos per person.")
    return values


def add_audit_commands(subparsers) -> None:
    """Register ``evaluate`` and ``verify`` on an argparse subparsers object."""
    ev = subparsers.add_parser(
        "evaluate", help="audit a model over many people with known membership (the paper's protocol)",
        description="Run the IDIA over a labelled dataset: TPR/FPR vs number of photos over random draws, "
                    "ROC/AUC, TPR at low FPR, Wilson intervals, TPR by occurrences; writes CSV, JSON, PNG and HTML.")
    ev.add_argument("--model", default="sandbox", help="model spec (default: sandbox)")
    ev.add_argument("--dataset", required=True, help="'sandbox' or a folder with one sub-folder of photos per person")
    ev.add_argument("--labels", help="labels.csv with name,member[,occurrences][,group] (default: DATASET/labels.csv)")
    ev.add_argument("--names", help="names.csv mapping folder,name (default: DATASET/names.csv if present)")
    ev.add_argument("--photos", help="photo counts per person, e.g. 1,3,5,10 (default: 1,3,5,10 for the sandbox, "
                                     "1,3,…,27,30 otherwise)")
    ev.add_argument("--draws", type=int, default=20, help="random draws of photos per count (default 20)")
    ev.add_argument("--tau", type=int, default=limits.DEFAULT_TAU, help="templates needed to call a member (default 1)")
    ev.add_argument("--candidates", type=int, default=limits.DEFAULT_POOL, help="pool size (default 1000)")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--template-set", default="paper21")
    ev.add_argument("--name-mode", default="mixed", choices=("mixed", "paper"))
    ev.add_argument("--max-people", type=int, help="audit a seeded subset stratified by group (quick runs)")
    ev.add_argument("--sandbox-photos", type=int, help="photos rendered per sandbox person (default 2 × the largest count)")
    ev.add_argument("--world", help="with --dataset sandbox: a world.json other than the shipped one "
                                    "(e.g. of a sandbox model built elsewhere)")
    ev.add_argument("--out", required=True, help="output folder")
    ev.add_argument("--no-progress", action="store_true", help="no progress bar")
    ev.set_defaults(func=cmd_evaluate)

    vf = subparsers.add_parser(
        "verify", help="re-run a check from its evidence.json and say whether it reproduces",
        description="Check that PHOTOs match the SHA-256 hashes in evidence.json and that re-running the recorded "
                    "check (same model fingerprint, pool, templates, tau) gives the same verdict. Exit 0 when "
                    "reproduced, 1 when not, 2 on bad input.")
    vf.add_argument("evidence", help="evidence.json written by `check --report`")
    vf.add_argument("photos", nargs="+", help="the photos that were checked")
    vf.add_argument("--model", help="use this spec instead of the recorded one (weights must have the same fingerprint)")
    vf.add_argument("--precision", choices=("float32", "float16", "bfloat16"),
                    help="re-run in this precision (default: the recorded one where this machine has its device)")
    vf.add_argument("--reference", metavar="DIR", help="the reference folder the validity controls used (its hash must match)")
    vf.set_defaults(func=cmd_verify)


class _Bars:
    """A tqdm bar on stderr per stage of a pipeline (a ``progress.Progress``: one bar per distinct
    message), except the ``quiet`` stages, which take no time worth a bar."""

    def __init__(self, enabled: bool, quiet=()):
        self.enabled = enabled
        self.quiet = set(quiet)
        self.stage = None
        self.bar = None

    def __call__(self, done: int, total: int, message: str) -> None:
        if not self.enabled:
            return
        if message != self.stage:
            self.close()
            self.stage = message
            if message in self.quiet:
                return
            self.bar = tqdm(total=total, desc=message, file=sys.stderr, leave=True, dynamic_ncols=True)
        if self.bar is not None:
            if total != self.bar.total:
                self.bar.total = total
            self.bar.n = done
            self.bar.refresh()

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def cmd_evaluate(args) -> int:
    from ..audit.evaluation import DEFAULT_SIZES, SANDBOX_SIZES, STAGES, EvaluationConfig, run_evaluation  # torch

    is_sandbox = args.dataset == "sandbox"
    sizes = _sizes(args.photos) if args.photos else (SANDBOX_SIZES if is_sandbox else DEFAULT_SIZES)
    if args.draws < 1 or args.draws > 1000:
        raise IdiaInputError("draws_range", "--draws must be between 1 and 1000.")
    if args.max_people is not None and args.max_people < 2:
        raise IdiaInputError("max_people", "--max-people must be at least 2.")
    if is_sandbox:
        n_photos = args.sandbox_photos or max(2 * max(sizes), 4)
        if n_photos < max(sizes) or n_photos > 200:
            raise IdiaInputError("sandbox_photos", f"--sandbox-photos must be between {max(sizes)} and 200.")
        dataset = load_sandbox_dataset(n_photos, args.seed, args.max_people, world_path=args.world)
    else:
        dataset = load_folder_dataset(args.dataset, args.labels, args.names)
        if args.max_people is not None and args.max_people < len(dataset.people):
            rng = np.random.default_rng(args.seed)
            keep = sorted(rng.choice(len(dataset.people), args.max_people, replace=False))
            dataset.people = [dataset.people[i] for i in keep]
    config = EvaluationConfig(model=args.model, dataset=args.dataset, sizes=sizes, draws=args.draws, tau=args.tau,
                              n_candidates=args.candidates, seed=args.seed, template_set=args.template_set,
                              name_mode=args.name_mode, max_people=args.max_people,
                              sandbox_photos=(args.sandbox_photos if is_sandbox else None))
    bars = _Bars(not args.no_progress, quiet=(STAGES["model"], STAGES["done"]))
    try:
        outcome = run_evaluation(config, dataset, args.out, progress=bars)
    except KeyboardInterrupt:
        bars.close()
        print(f"\nInterrupted. Finished outputs are in {args.out} (metrics.json says what completed).", file=sys.stderr)
        return 130
    bars.close()
    head = outcome.metrics.get("headline", {})
    roc = head.get("roc", {})
    print(f"Evaluated {len(dataset.people)} people with {outcome.metrics['model']['spec']} "
          f"({outcome.metrics['model']['fingerprint']}); outputs in {outcome.out_dir}")
    for r in outcome.metrics.get("by_photos", []):
        print(f"  {r['n_photos']:>3} photos: TPR {r['tpr_mean']:.3f} ± {r['tpr_sd']:.3f}   "
              f"FPR {_fmt(r['fpr_mean'])} ± {_fmt(r['fpr_sd'])}   acc {_fmt(r['accuracy_mean'])}")
    if roc:
        print(f"  at {head['n_photos']} photos: AUC {_fmt(roc['auc_mean'])}, TPR@0%FPR {_fmt(roc['tpr_at_0_fpr_mean'])}, "
              f"TPR@1%FPR {_fmt(roc['tpr_at_1pct_fpr_mean'])} ({roc['n_non_members']} non-members)")
    for o in head.get("tpr_by_occurrence", []):
        print(f"  occurrences {o['bin']:>8}: TPR {o['tpr']:.3f} (n={o['n']})")
    print(f"  report: {Path(outcome.out_dir) / 'report.html'}")
    return 0


def _fmt(x) -> str:
    try:
        return f"{float(x):.3f}"
    except (TypeError, ValueError):
        return "–"


def cmd_verify(args) -> int:
    from ..audit.verify import verify_evidence  # torch

    outcome = verify_evidence(args.evidence, args.photos, model=args.model, precision=args.precision,
                              reference=args.reference)
    print(outcome.summary())
    return 0 if outcome.reproduced else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m idia_core")
    sub = parser.add_subparsers(dest="command", required=True)
    add_audit_commands(sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except IdiaInputError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
