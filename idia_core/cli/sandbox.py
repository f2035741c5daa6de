"""The ``sandbox`` command: people, render, captions, evaluate, reference, build.

The core CLI calls `add_sandbox_commands(subparsers)`; each subcommand sets ``func`` to a handler
taking the parsed args and returning an exit code. `main(argv)` runs the sandbox command on its
own. ``evaluate``, ``reference`` and ``build`` import torch when they run, not before (as
``cli.main``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from .. import config
from ..sandbox.world import (MODEL_DIR, ROLES, WorldSettings, load_world, render_attack_photos,
                             write_training_captions)


def _cmd_people(args) -> int:
    world = load_world(args.world)
    people = world.people_with_role(args.role) if args.role else world.people
    if args.json:
        print(json.dumps([{"index": p.index, "name": p.name, "role": p.role, "k": p.k} for p in people],
                         ensure_ascii=False, indent=1))
        return 0
    print(f"{'index':>5}  {'role':<11}{'k':>4}  name")
    for p in people:
        print(f"{p.index:>5}  {p.role:<11}{p.k:>4}  {p.name}")
    return 0


def _cmd_render(args) -> int:
    world = load_world(args.world)
    try:
        person = world.person(args.index if args.index is not None else args.name)
    except (KeyError, IndexError):
        print(f"No sandbox person {args.name if args.index is None else '#' + str(args.index)}; "
              "list them with `sandbox people`.", file=sys.stderr)
        return 2
    if args.photos < 1:
        print("--photos must be at least 1.", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = person.name.replace(" ", "_")
    for i, im in enumerate(render_attack_photos(person, args.photos, args.seed)):
        im.save(out / f"{stem}_{args.seed}_{i:02d}.png")
    print(f"Wrote {args.photos} photos of {person.name} ({person.role}, k={person.k}) to {out}")
    return 0


def _cmd_evaluate(args) -> int:
    from ..audit.sandbox_eval import evaluate_world, format_table  # torch

    world = load_world(args.world) if args.world else None
    summary = evaluate_world(args.model, world, n_photos=args.photos, n_draws=args.draws, seed=args.seed,
                             people_limit=args.people_limit, progress=not args.json, control_m=args.control_people,
                             reference_limit=args.reference_limit)
    print(json.dumps(summary, indent=1) if args.json else format_table(summary))
    return 0


def _cmd_captions(args) -> int:
    world = load_world(args.world)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = write_training_captions(world, out)
    print(f"Wrote {rows} training captions of the sandbox world (column TEXT) to {out}")
    if args.names_out:
        Path(args.names_out).write_text("".join(p.name + "\n" for p in world.people), encoding="utf-8")
        print(f"Wrote the {len(world.people)} people's names to {args.names_out}")
    return 0


def _cmd_build(args) -> int:
    if config.raw("OMP_WAIT_POLICY") is None:
        # On a shared 2-core machine, OpenMP threads that spin while waiting make each training
        # step 5-20x slower as soon as another process runs. libgomp reads this setting when torch
        # is first imported, so run the build in a fresh interpreter with it.
        cmd = [sys.executable, "-m", "idia_core", "sandbox", "build", "--seed", str(args.seed), "--out", str(args.out)]
        if args.epochs:
            cmd += ["--epochs", str(args.epochs)]
        if args.trap_signatures is not None:
            cmd += ["--trap-signatures", str(args.trap_signatures)]
        return subprocess.call(cmd, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    from ..sandbox.train import TrainSettings, build  # torch

    st = TrainSettings(epochs=args.epochs) if args.epochs else None
    ws = WorldSettings(n_trap_signatures=args.trap_signatures) if args.trap_signatures is not None else None
    summary = build(seed=args.seed, out=args.out, settings=st, world_settings=ws)
    print(json.dumps(summary, indent=1))
    print(f"Sandbox model written to {args.out}. Now run `python -m idia_core sandbox reference` (its reference "
          "people's embeddings: without them a first check draws them, tens of seconds)")
    return 0


def _cmd_reference(args) -> int:
    from ..attack.reference import write_shipped_sandbox_reference  # torch
    from ..zoo.load import load_model  # torch, as above

    model = load_model(args.model, device="cpu", precision="float32")   # what a laptop and CI run
    world = load_world(args.world) if args.world else None
    last = [-1]

    def progress(done, total, message):
        if done >= last[0] + 44 or done == total:
            last[0] = done
            print(f"{message} ({done}/{total})", file=sys.stderr, flush=True)

    path = write_shipped_sandbox_reference(model, Path(args.out) if args.out else None, world, progress=progress)
    print(f"Wrote the reference people's embeddings for {model.fingerprint} to {path} "
          f"({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def add_sandbox_commands(subparsers) -> argparse.ArgumentParser:
    """Register ``sandbox`` and its subcommands on an argparse subparsers object."""
    sb = subparsers.add_parser("sandbox", help="the synthetic world and its embedded demo CLIP",
                               description="The sandbox: synthetic people with known training membership.")
    sub = sb.add_subparsers(dest="sandbox_command", required=True)

    p = sub.add_parser("people", help="list the sandbox people with role and k")
    p.add_argument("--role", choices=ROLES)
    p.add_argument("--json", action="store_true")
    p.add_argument("--world", default=None, help="a world.json (default: the shipped one)")
    p.set_defaults(func=_cmd_people)

    p = sub.add_parser("render", help="write fresh attack photos of one person as PNGs")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--name")
    who.add_argument("--index", type=int)
    p.add_argument("--photos", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--world", default=None)
    p.set_defaults(func=_cmd_render)

    p = sub.add_parser("evaluate", help="run the IDIA on every person and score it against the truth")
    p.add_argument("--photos", type=int, default=10)
    p.add_argument("--draws", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--people-limit", type=int, default=None, help="evaluate an even subset of about K people")
    p.add_argument("--model", default="sandbox", help="model spec (default: the embedded sandbox model)")
    p.add_argument("--world", default=None)
    p.add_argument("--control-people", type=int, default=None, metavar="M",
                   help="reference people per validity control (default 50)")
    p.add_argument("--reference-limit", type=int, default=None, metavar="R",
                   help="use an evenly spaced subset of R never-named reference people (fast runs)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("captions", help="write the world's training captions as parquet (for `occurrences`)",
                       description="Write every training caption of the sandbox world to a parquet file (column TEXT, "
                                   "as LAION's metadata): `occurrences` on it must find each person's k.")
    p.add_argument("--out", required=True, help="the .parquet file to write")
    p.add_argument("--names-out", metavar="FILE",
                   help="also write every person's name to FILE, one per line (the list `occurrences --names` reads)")
    p.add_argument("--world", default=None)
    p.set_defaults(func=_cmd_captions)

    p = sub.add_parser("reference", help="embed the never-named reference people for the shipped model (reference.npz)",
                       description="Render the first 10 photos of each never-named sandbox person and write their "
                                   "float32 embeddings (CPU) with the model's fingerprint beside the weights, so a "
                                   "first check draws nothing. Deterministic; run after `sandbox build`.")
    p.add_argument("--model", default="sandbox", help="model spec (default: the embedded sandbox model)")
    p.add_argument("--out", default=None, help="file to write (default: idia_core/sandbox/model/reference.npz)")
    p.add_argument("--world", default=None)
    p.set_defaults(func=_cmd_reference)

    p = sub.add_parser("build", help="generate the world and train the sandbox CLIP (CPU, about 20 min)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(MODEL_DIR))
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--trap-signatures", type=int, default=None, metavar="K",
                   help="look-alike traps (each with its look-alikes) in the world, 0 to 12 (default 6)")
    p.set_defaults(func=_cmd_build)
    return sb


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m idia_core")
    sub = parser.add_subparsers(dest="command", required=True)
    add_sandbox_commands(sub)
    args = parser.parse_args(["sandbox", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)
