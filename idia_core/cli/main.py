"""``python -m idia_core``: the headless front end (check, models; evaluate/verify, audit/occurrences
and sandbox commands come from ``cli.audit``, ``cli.people_audit`` and ``cli.sandbox``).

Every user mistake arrives here as an ``IdiaInputError`` and leaves as exit code 2 with one line on
stderr; the CLI never shows a traceback for bad input. Each command imports what it runs when it
runs: torch and open_clip take seconds to import, and ``--help``, ``models list`` or a mistyped
flag should answer at once.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .. import limits
from ..attack.settings import IdiaSettings
from ..audit import explain
from ..errors import IdiaInputError
from ..text.names import parse_name_list
from ..zoo.catalogue import CATALOGUE
from .audit import add_audit_commands
from .people_audit import add_people_audit_commands
from .sandbox import add_sandbox_commands

EXIT_OK, EXIT_NOT_REPRODUCED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake as one line (and exit code 2), like our own errors."""

    def error(self, message):  # noqa: D401 - argparse API
        raise IdiaInputError("usage", f"{self.prog}: {message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m idia_core", description="Does this CLIP model know this person?")
    parser.add_argument("-v", "--verbose", action="store_true", help="show library logs")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    sub.required = True
    _add_check(sub)
    _add_models(sub)
    add_sandbox_commands(sub)
    add_audit_commands(sub)
    add_people_audit_commands(sub)
    return parser


def _add_check(sub) -> None:
    p = sub.add_parser("check", help="run the IDIA on photos of one person")
    p.add_argument("photos", nargs="*", metavar="PHOTO", help=f"{limits.MIN_PHOTOS} to {limits.MAX_PHOTOS} photos")
    p.add_argument("--model", default="sandbox", help="model spec (default: sandbox); see `models list`")
    p.add_argument("--name", required=True, help="the person's full name")
    p.add_argument("--add-name", action="append", default=[], metavar="NAME", help="a candidate to add (repeatable)")
    p.add_argument("--names-file", help="file of candidate names to add, one per line")
    p.add_argument("--candidates", default=limits.DEFAULT_POOL, help="pool size (default 1000)")
    p.add_argument("--tau", default=limits.DEFAULT_TAU, help="templates needed to call a member (default 1)")
    p.add_argument("--seed", default=0, help="seed of the distractor names (default 0)")
    p.add_argument("--templates", default="paper21", help="template set or .txt file (default paper21)")
    p.add_argument("--name-mode", default="mixed", choices=["mixed", "paper"],
                   help="mixed: namesake-free distractors from 16 Faker locales; paper: the paper's pool "
                        "(its 548 real identities + its first names × census surnames, as its notebook draws them)")
    p.add_argument("--precision", choices=["float32", "float16", "bfloat16"],
                   help="run the model in this precision (default: float16 on a GPU, float32 on a CPU)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--full", action="store_true", help="with --json: every vote and the whole pool")
    p.add_argument("--report", metavar="DIR", help="also write an evidence bundle (JSON + HTML) to DIR")
    p.add_argument("--reference", metavar="DIR", default=None,
                   help="reference people for the validity controls: one sub-folder of photos per person "
                        "who is not the target (default: IDIA_REFERENCE_DIR; on sandbox its never-named people; "
                        "'none' turns the controls off)")
    p.add_argument("--control-people", type=int, default=None, metavar="M",
                   help="reference people per control (default 50)")
    p.set_defaults(func=cmd_check)


def _add_models(sub) -> None:
    p = sub.add_parser("models", help="the model catalogue; fetch a model into the cache")
    msub = p.add_subparsers(dest="models_command", parser_class=_Parser, metavar="ACTION")
    msub.required = True
    lp = msub.add_parser("list", help="the curated catalogue")
    lp.add_argument("--json", action="store_true")
    lp.set_defaults(func=cmd_models_list)
    fp = msub.add_parser("fetch", help="load a model once (downloads into the Hugging Face cache when online)")
    fp.add_argument("spec")
    fp.set_defaults(func=cmd_models_fetch)


def _read_names_file(path: str) -> list[str]:
    file = Path(path)
    if not file.is_file():
        raise IdiaInputError("names_file_missing", f"--names-file {path}: no such file.")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise IdiaInputError("names_file_encoding", f"--names-file {path} is not UTF-8 text.") from None
    return parse_name_list(text)


def refuse_missing_model(spec: str) -> None:
    """Offline, a catalogue or hub model that is not in the local cache is refused before torch is
    imported (``hub.missing_offline``), so the message comes at once instead of after seconds."""
    from ..zoo.hub import missing_offline  # huggingface_hub only: not for --help or models list

    error = missing_offline(spec)
    if error is not None:
        raise error


def cmd_check(args) -> int:
    refuse_missing_model(args.model)
    from ..attack.run import run_idia  # torch: only when a check runs (module docstring)

    settings = IdiaSettings.from_raw({"model": args.model, "tau": args.tau, "n_candidates": args.candidates,
                                      "seed": args.seed, "template_set": args.templates, "name_mode": args.name_mode})
    extra = list(args.add_name)
    if args.names_file:
        extra += _read_names_file(args.names_file)
    model = args.model
    if args.precision:
        from ..zoo.load import load_model  # torch

        model = load_model(args.model, precision=args.precision)
    result = run_idia(model, args.photos, args.name, settings, extra_names=extra,
                      progress=_stderr_progress if not args.json else None,
                      reference=args.reference, control_m=args.control_people)
    if args.report:
        from ..audit.evidence import write_evidence_bundle  # matplotlib

        write_evidence_bundle(result, Path(args.report))
    if args.json:
        print(json.dumps(result.to_dict(full=args.full), ensure_ascii=False))
    else:
        print(format_result(result))
        if args.report:
            print(f"\nEvidence bundle written to {args.report}")
    return EXIT_OK


def format_result(result) -> str:
    """The readable verdict: the same explanation the chat and reports give, then the model line."""
    build = explain.build_description(result.model_build) if result.model_build else "?"
    return (f"{explain.explanation(result)}\nModel: {result.model_spec} ({result.fingerprint}; {build}); "
            f"{result.n_photos} photos, {result.n_candidates} candidates.")


def _stderr_progress(done: int, total: int, message: str) -> None:
    if sys.stderr.isatty():
        print(f"\r{message}: {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)


def cmd_models_list(args) -> int:
    if args.json:
        print(json.dumps([{**e.__dict__, "activation": e.activation} for e in CATALOGUE], indent=2))
    else:
        width = max(len(e.spec) for e in CATALOGUE)
        for e in CATALOGUE:
            print(f"{e.spec:<{width}}  {e.activation:<9}  {e.label} — {e.description}")
    return EXIT_OK


def cmd_models_fetch(args) -> int:
    refuse_missing_model(args.spec)
    from ..zoo.load import load_model  # torch

    model = load_model(args.spec)
    print(f"{model.spec}: ready ({model.fingerprint}; {model.build.describe()})")
    for note in model.notes:
        print(f"note: {note}")
    return EXIT_OK


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        # WARNING and up always show: open_clip's "no weights loaded" / QuickGELU notices are never hidden
        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
        return int(args.func(args) or 0)
    except IdiaInputError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
