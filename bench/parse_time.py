"""Worst chat-parse time for long messages of many shapes (issue 12 item 1).

Prints, for 200 kB messages of each shape: the time `parse` takes as shipped (messages over
``limits.MAX_MESSAGE_CHARS`` get a "too long" intent) and the time of the parser itself with the
cap lifted, at 100 kB and 200 kB; the 200k/100k ratio is ~2 for a linear parser (~4 for a
quadratic one). Run: ``python bench/parse_time.py``.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from idia_core import limits
from idia_core.chat import commands


def shapes(n: int) -> dict[str, str]:
    """Messages of about ``n`` characters, each aimed at one pattern family."""
    return {
        "is this a + spaces + b": "is this a" + " " * n + "b",
        "check a + spaces": "check a" + " " * n,
        "name: a + spaces": "name: a" + " " * n,
        "question marks": "?" * n,
        "is this + ?s + x": "is this a" + "?" * n + "x",
        "check + words + please": "check " + "please " * (n // 7),
        "name + tails": "Jane Doe" + " in the training data" * (n // 21),
        "tabs and newlines": "add\n" + "\t \n" * (n // 3) + "x",
        "pasted names": "\n".join(["Jane Doe"] * (n // 9)),
        "link-like": "http://x/?" + "&" * n + "idia=1",
        "compare + commas": "compare " + ", " * (n // 2),
        "letters": "a" * n,
        "words": "word " * (n // 5),
        "tau + spaces + 3": "tau" + " " * n + "3",
        "use + digits + names": "use " + "1" * n + "x names",
        "who is + this*": "who is " + "this " * (n // 5),
        "name, + question": "Jane Doe, " + "is she " * (n // 7),
        "quotes": "check " + "'\"" * (n // 2),
        "accents": "É" * n,
    }


def worst(n: int, repeats: int = 1) -> tuple[float, str]:
    out = (0.0, "")
    for label, text in shapes(n).items():
        best = min(_time(text) for _ in range(repeats))
        out = max(out, (best, label))
    return out


def _time(text: str) -> float:
    t0 = time.perf_counter()
    commands.parse(text)
    return time.perf_counter() - t0


def main() -> None:
    n = 200_000
    capped, capped_label = worst(n, repeats=3)
    print(f"cap: {limits.MAX_MESSAGE_CHARS} characters")
    print(f"worst parse of a 200 kB message as shipped (capped): {capped * 1e3:.3f} ms ({capped_label})")
    saved = limits.MAX_MESSAGE_CHARS
    limits.MAX_MESSAGE_CHARS = 10 * n   # measure the parser itself, not the cap
    try:
        print(f"{'shape':28s} {'100 kB ms':>10s} {'200 kB ms':>10s} {'ratio':>6s}")
        worst_200 = (0.0, "")
        for label in shapes(n):
            t1 = min(_time(shapes(n // 2)[label]) for _ in range(3))
            t2 = min(_time(shapes(n)[label]) for _ in range(3))
            worst_200 = max(worst_200, (t2, label))
            print(f"{label:28s} {t1 * 1e3:10.2f} {t2 * 1e3:10.2f} {t2 / max(t1, 1e-9):6.2f}")
        print(f"worst parse of a 200 kB message with the cap lifted: {worst_200[0] * 1e3:.1f} ms ({worst_200[1]})")
    finally:
        limits.MAX_MESSAGE_CHARS = saved


if __name__ == "__main__":
    main()
