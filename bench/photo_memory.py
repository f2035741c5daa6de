"""Pixels are budgeted after the model's preprocessing: peak RSS growth of one 50-photo ``check`` for
each hostile or heavy shape of photo.

For every shape a child process (so that one shape's peak never hides another's) writes the photo
once, warms up (the sandbox model loaded, one check of 50 small photos, so the controls' reference
set for 50 photos is built and cached before anything is measured), notes its RSS and resets its peak (``VmHWM``), runs
``api_check`` (the app's ``check`` endpoint minus gradio) with that photo 50 times and prints the
peak's growth over the RSS before the check, the check's outcome and what one photo costs after decoding and after the
model's own resize (``MAX_ASPECT_RATIO × S²`` at most). Target: every growth ≤ 0.5 GB.

Issue 23 measured, before the crop: 50 × 16×2,500,000 PNG, RSS 1.3 → 4.9 GB and 519 s; lossless
WebP 8000×5000 and 400000×16 PNG, +700 MB.

Usage:  python bench/photo_memory.py [--count 50] [--shapes strip16,wide16,...]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_GB = 0.5

# shape -> (what it is, how it is written: width, height, Pillow mode, format, save options)
SHAPES = {
    "strip16": ("16×2,500,000 RGB PNG (356 kB)", (16, 2_500_000, "RGB", "PNG", {})),
    "wide16": ("400000×16 RGB PNG", (400_000, 16, "RGB", "PNG", {})),
    "webp40": ("8000×5000 lossless WebP", (8000, 5000, "RGB", "WEBP", {"lossless": True})),
    "webp12": ("4000×3000 lossless WebP", (4000, 3000, "RGB", "WEBP", {"lossless": True})),
    "rgba_strip": ("16×2,500,000 RGBA PNG", (16, 2_500_000, "RGBA", "PNG", {})),
    "i16_strip": ("2,500,000×16 16-bit grey PNG", (2_500_000, 16, "I;16", "PNG", {})),
    "float_tiff": ("2,500,000×16 float TIFF (deflate)", (2_500_000, 16, "F", "TIFF", {"compression": "tiff_adobe_deflate"})),
    "png40": ("40 MP flat RGB PNG (7303×5477)", (7303, 5477, "RGB", "PNG", {})),
    "camera64": ("64 MP camera-like JPEG (9248×6936)", (9248, 6936, "camera", "JPEG", {"quality": 85})),
    "camera100": ("100 MP camera-like JPEG (11648×8736)", (11648, 8736, "camera", "JPEG", {"quality": 80})),
}


def _status_gb(key: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 2**20   # kB
    raise RuntimeError(f"no {key}")


def reset_peak() -> float:
    """Start measuring a new peak (Linux: writing 5 to clear_refs resets VmHWM); the RSS now, in GB.
    The growth is then measured from the memory in use, not from an earlier, higher peak."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    return _status_gb("VmRSS")


def peak_rss_gb() -> float:
    return _status_gb("VmHWM")


def write_photo(path: Path, width: int, height: int, mode: str, fmt: str, options: dict) -> None:
    """One photo of the shape: flat colour (compresses small, the hostile case), or for "camera" a
    smooth gradient with sensor-like noise, as a real camera JPEG carries."""
    import numpy as np
    from PIL import Image

    if mode == "camera":
        rng = np.random.default_rng(0)
        small = Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).resize((width, height),
                                                                                         Image.BILINEAR)
        noise = Image.effect_noise((width, height), 12).convert("RGB")
        Image.blend(small, noise, 0.15).save(path, format=fmt, **options)
        return
    value = {"RGB": (120, 90, 60), "RGBA": (120, 90, 60, 200), "I;16": 30000, "F": 0.4}[mode]
    Image.new(mode, (width, height), value).save(path, format=fmt, **options)


def measure(shape: str, count: int, cache: str) -> dict:
    """In this (child) process: warm up, then one check of ``count`` copies of the shape's photo."""
    os.environ["IDIA_CACHE_DIR"] = cache
    from idia_core import limits
    from idia_core.chat.api import api_check
    from idia_core.images import load_photo
    from idia_core.sandbox.world import load_world, render_attack_photos
    from idia_core.zoo.load import load_model

    label, (width, height, mode, fmt, options) = SHAPES[shape]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{shape}.{fmt.lower()}"
        t0 = time.perf_counter()
        write_photo(path, width, height, mode, fmt, options)
        written = time.perf_counter() - t0
        person = load_world().people_with_role("member")[0]
        small = []
        for i, img in enumerate(render_attack_photos(person, 5, seed=0)):
            small.append(Path(tmp) / f"small-{i}.png")
            img.save(small[-1])
        warm = api_check([str(p) for p in small] * (count // 5), person.name, {"n_candidates": 100})
        assert warm["ok"], warm
        before = reset_peak()
        t0 = time.perf_counter()
        out = api_check([str(path)] * count, person.name, {"n_candidates": 100})
        seconds = time.perf_counter() - t0
        after = peak_rss_gb()
        decoded = resized = None
        if out["ok"]:
            photo = load_photo(path)
            decoded = photo.image.size
            resize = load_model("sandbox").preprocess.transforms[0]   # the model's own Resize
            resized = resize(photo.image).size
        file_kb = path.stat().st_size / 1024
    return {"shape": shape, "label": label, "file_kb": file_kb, "ok": out["ok"],
            "code": None if out["ok"] else out["error"]["code"], "seconds": seconds, "write_s": written,
            "before": before, "after": after, "decoded": decoded, "resized": resized,
            "max_aspect": limits.MAX_ASPECT_RATIO}


def run_child(shape: str, count: int, cache: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", shape, "--count", str(count), "--cache", cache],
                          capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if proc.returncode != 0:
        raise SystemExit(f"{shape} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.count, args.cache)))
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        for shape in args.shapes.split(","):
            rows.append(run_child(shape, args.count, cache))
            r = rows[-1]
            print(f"  {r['label']}: {'ok' if r['ok'] else r['code']} in {r['seconds']:.1f} s, "
                  f"growth {r['after'] - r['before']:.2f} GB", flush=True)
    print()
    print(f"{'photo (×' + str(args.count) + ' in one check)':<40} {'file':>9} {'outcome':<31} {'check s':>8} {'RSS before':>12} "
          f"{'growth':>8}  {'decoded':>11}  {'model resize':>13}")
    worst = 0.0
    for r in rows:
        growth = r["after"] - r["before"]
        worst = max(worst, growth)
        decoded = "×".join(map(str, r["decoded"])) if r["decoded"] else "-"
        resized = "×".join(map(str, r["resized"])) if r["resized"] else "-"
        print(f"{r['label']:<40} {r['file_kb']:>6.0f} kB {'ok' if r['ok'] else 'refused: ' + r['code']:<31} {r['seconds']:>8.1f} "
              f"{r['before']:>9.2f} GB {growth:>5.2f} GB  {decoded:>11}  {resized:>13}")
    print(f"\nworst peak RSS growth {worst:.2f} GB (target ≤ {TARGET_GB} GB: {'met' if worst <= TARGET_GB else 'NOT met'})")
    return 0 if worst <= TARGET_GB else 1


if __name__ == "__main__":
    raise SystemExit(main())
