"""Pixels are budgeted: peak RSS growth of one ``check`` over 50 photos of 40 MP each.

The photos compress small (one colour, ~100 kB as PNG, less as JPEG), so the byte limit lets them
through; only the decoder's pixel budget keeps memory down. They are written by a child process
(so making them does not count), then this process warms up (model loaded, one small check), notes
its peak RSS, runs ``api_check`` (the app's ``check`` endpoint minus gradio) on the 50 photos and
prints the growth of the peak. Target: ≤ 0.5 GB (issue 12 measured 1.8 → 9.6 GB through the app
before photos were decoded to what the model needs).

Usage:  python bench/photo_memory.py [--count 50] [--megapixels 40] [--format png|jpeg]
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_GB = 0.5


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20   # kB on Linux


def write_photos(folder: Path, count: int, megapixels: float, fmt: str) -> list[Path]:
    code = (
        "import sys; from PIL import Image\n"
        "w = int((float(sys.argv[2]) * 1e6 * 4 / 3) ** 0.5); h = int(float(sys.argv[2]) * 1e6 / w)\n"
        "img = Image.new('RGB', (w, h), (120, 90, 60))\n"
        "for i in range(int(sys.argv[3])):\n"
        "    img.save(f'{sys.argv[1]}/big-{i}.{sys.argv[4]}', quality=90) if sys.argv[4] == 'jpg' else "
        "img.save(f'{sys.argv[1]}/big-{i}.{sys.argv[4]}')\n"
    )
    ext = "jpg" if fmt == "jpeg" else "png"
    subprocess.run([sys.executable, "-c", code, str(folder), str(megapixels), str(count), ext], check=True)
    return sorted(folder.glob(f"big-*.{ext}"), key=lambda p: int(p.stem.split("-")[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--megapixels", type=float, default=40.0)
    ap.add_argument("--format", choices=("png", "jpeg"), default="png")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("IDIA_CACHE_DIR", str(Path(tmp) / "cache"))
        from idia_core.chat.api import api_check
        from idia_core.sandbox.world import load_world, render_attack_photos

        photos = write_photos(Path(tmp), args.count, args.megapixels, args.format)
        size_kb = sum(p.stat().st_size for p in photos) / len(photos) / 1024
        person = load_world().people_with_role("member")[0]
        small = []
        for i, img in enumerate(render_attack_photos(person, 3, seed=0)):
            small.append(Path(tmp) / f"small-{i}.png")
            img.save(small[-1])
        warm = api_check([str(p) for p in small], person.name, {"n_candidates": 100})
        assert warm["ok"], warm
        before = peak_rss_gb()
        t0 = time.perf_counter()
        out = api_check([str(p) for p in photos], person.name, {"n_candidates": 100})
        seconds = time.perf_counter() - t0
        after = peak_rss_gb()
    growth = after - before
    print(f"{args.count} photos of {args.megapixels:g} MP ({args.format}, {size_kb:.0f} kB each): "
          f"check ok={out['ok']} in {seconds:.1f} s")
    print(f"peak RSS before {before:.2f} GB, after {after:.2f} GB, growth {growth:.2f} GB "
          f"(target ≤ {TARGET_GB} GB: {'met' if growth <= TARGET_GB else 'NOT met'})")
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
