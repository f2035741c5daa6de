"""Cheap turns beside expensive ones: a "help" round trip while two long checks run.

Launches ``python app.py`` (laptop mode, offline, its own text cache and temp folders, as
bench/soak.py does), starts two checks through the ``check`` endpoint with a fresh seeded pool each
(``--pool`` names: nothing cached, so each encodes ``21 × pool`` prompts and holds a compute slot),
waits until both run, then sends "help" from a third session and prints its round trip next to how
long the checks took. Before the chat was split from the compute slots, "help" waited for a check
(issue 12 measured 63 s behind two pool-5000 checks).

Usage:  python bench/queue_split.py [--pool 5000] [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.soak import launched  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pool", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3, help="help messages sent while the checks run")
    args = ap.parse_args()
    from gradio_client import Client, handle_file

    from idia_core.sandbox.world import load_world, render_attack_photos

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with launched(tmp) as (_proc, url, _log):
            person = load_world().people_with_role("member")[0]
            photos = []
            for i, img in enumerate(render_attack_photos(person, 5, seed=0)):
                photos.append(tmp / f"q{i}.png")
                img.save(photos[-1])
            Client(url, verbose=False).predict([handle_file(str(p)) for p in photos], person.name,
                                               {"n_candidates": 50}, api_name="/check")   # model loaded
            finished: list[float] = []
            t_start = time.monotonic()

            def long_check(seed: int) -> None:
                out = Client(url, verbose=False).predict([handle_file(str(p)) for p in photos], person.name,
                                                         {"n_candidates": args.pool, "seed": seed}, api_name="/check")
                assert out["ok"], out
                finished.append(time.monotonic() - t_start)

            threads = [threading.Thread(target=long_check, args=(seed,)) for seed in (101, 202)]
            for t in threads:
                t.start()
            time.sleep(3.0)
            rounds = []
            client = Client(url, verbose=False)
            for _ in range(args.repeats):
                t0 = time.monotonic()
                client.predict({"text": "help", "files": []}, [], api_name="/chat")
                rounds.append(time.monotonic() - t0)
                if finished:
                    break
                time.sleep(1.0)
            for t in threads:
                t.join()
    print(f"two checks of a fresh {args.pool}-name pool took {', '.join(f'{f:.1f}' for f in sorted(finished))} s")
    print(f"'help' round trip while they ran: median {statistics.median(rounds):.2f} s, max {max(rounds):.2f} s "
          f"({len(rounds)} sent)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
