"""GPU check: one command, under 5 minutes on one GPU, one table.

On CUDA (the full check):
1. pool encoding — the 21 × 1000 prompt pool (and 10 photos) for the ViT-B-32 and ViT-L-14
   architectures (random weights: the cost does not depend on the values), float16, timed cold;
2. precision — float16 vs float32 verdicts on the sandbox world: every person, 10 fresh photos,
   one 1000-name pool, 21 templates; agreement of the member calls and of the correct-template
   counts;
3. the app — ``python app.py`` launched on this machine (the GPU boundary in-process: the path a
   paid GPU Space takes; the ZeroGPU emulation off) in float16 and in float32 (``IDIA_PRECISION``),
   its ``check`` endpoint called through gradio_client with 10 photos of a sandbox member, a first
   (cold) and a warm check timed; the answer must say it ran on CUDA in that precision.

Without CUDA (or with ``--self-check``) the same three steps run at CPU sizes (sandbox model, a
small pool, a few people, float16 emulated on the CPU) in well under a minute: CI runs this so that
the GPU run cannot fail on a broken script. Exit code 0 when every row passes.

Usage:  python bench/gpu_check.py [--self-check] [--no-app] [--people N] [--photos N]
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@dataclass
class Row:
    step: str
    setup: str
    size: str
    seconds: float
    result: str
    ok: bool


@dataclass(frozen=True)
class Sizes:
    device: str
    archs: tuple[str, ...]
    pool: int
    people: int | None      # None = everyone in the sandbox world
    photos: int
    low: str                # the reduced precision compared with float32


FULL = Sizes("cuda", ("ViT-B-32:random", "ViT-L-14:random"), 1000, None, 10, "float16")
SELF_CHECK = Sizes("cpu", ("sandbox",), 40, 8, 3, "float16")


def pool_timing(spec: str, sizes: Sizes, photos) -> Row:
    """Cold encoding of the whole pool (no cache) and the photos, as a first check would do."""
    import torch

    from idia_core import load_model
    from idia_core.text.cache import TextEmbeddingCache
    from idia_core.text.pool import build_candidate_pool
    from idia_core.text.embeddings import clear_pool_memo, pool_text_embeddings
    from idia_core.text.templates import load_templates

    t0 = time.perf_counter()
    model = load_model(spec, device=sizes.device, precision=sizes.low if sizes.device == "cuda" else None)
    load_s = time.perf_counter() - t0
    templates = tuple(load_templates("paper21"))
    pool = build_candidate_pool("Jane Doe", (), sizes.pool, 0, "mixed")
    clear_pool_memo()
    _sync(sizes.device)
    t0 = time.perf_counter()
    emb = pool_text_embeddings(model, templates, pool.names, TextEmbeddingCache(disk=False))
    img = model.encode_images(photos)
    _sync(sizes.device)
    seconds = time.perf_counter() - t0
    n = len(templates) * len(pool.names)
    ok = emb.shape[:2] == (len(templates), len(pool.names)) and bool(torch.isfinite(img).all())
    mem = f", peak {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB" if sizes.device == "cuda" else ""
    return Row("pool encoding", f"{spec} {model.build.describe()}", f"{len(templates)}×{len(pool.names)} + "
               f"{len(photos)} photos", seconds, f"{n / seconds:,.0f} prompts/s (load {load_s:.1f} s{mem})", ok)


def precision_agreement(sizes: Sizes) -> Row:
    """float32 vs the reduced precision: the same people, photos, pool and templates."""
    import numpy as np

    from idia_core.attack import rule as attack
    from idia_core import load_model
    from idia_core.text.cache import TextEmbeddingCache
    from idia_core.audit.evaluation import build_pool
    from idia_core.audit.datasets import load_sandbox_dataset
    from idia_core.text.embeddings import clear_pool_memo, pool_text_embeddings
    from idia_core.text.templates import load_templates

    dataset = load_sandbox_dataset(sizes.photos, seed=0, max_people=sizes.people)
    names, true_index = build_pool([p.name for p in dataset.people], max(sizes.pool, len(dataset.people)), 0, "mixed")
    templates = tuple(load_templates("paper21"))
    photos = [p.photos() for p in dataset.people]
    t0 = time.perf_counter()
    correct = {}
    for precision in ("float32", sizes.low):
        model = load_model("sandbox", device=sizes.device, precision=precision)
        clear_pool_memo()
        text = pool_text_embeddings(model, templates, names, TextEmbeddingCache(disk=False))
        counts = []
        for i, imgs in enumerate(photos):
            image = model.encode_images(imgs).numpy()
            majority = attack.majority_votes(attack.predict(attack.cosine_similarities(image, text)))
            counts.append(int(attack.correct_templates(majority, int(true_index[i]))))
        correct[precision] = np.array(counts)
    seconds = time.perf_counter() - t0
    a, b = correct["float32"], correct[sizes.low]
    calls_same = int(((a >= 1) == (b >= 1)).sum())
    counts_same = int((a == b).sum())
    n = len(a)
    ok = calls_same == n
    return Row("precision", f"sandbox float32 vs {sizes.low} on {sizes.device.upper()}",
               f"{n} people × {sizes.photos} photos, pool {len(names)}", seconds,
               f"member calls agree {calls_same}/{n}; correct-template counts agree {counts_same}/{n} "
               f"(max diff {int(np.abs(a - b).max()) if n else 0})", ok)


def app_endpoint(sizes: Sizes, tmp: Path, precision: str) -> Row:
    """``python app.py`` on this machine in ``precision``; its ``check`` endpoint through gradio_client."""
    from gradio_client import Client, handle_file

    from idia_core.sandbox.world import load_world, render_attack_photos

    world = load_world()
    person = max(world.people_with_role("member"), key=lambda p: (p.k, -p.index))
    paths = []
    for i, img in enumerate(render_attack_photos(person, max(sizes.photos, 3), seed=1)):
        path = tmp / f"member{i}.png"
        img.save(path)
        paths.append(path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = tmp / precision
    tmp.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, HF_HUB_OFFLINE="1", IDIA_MODEL="sandbox", IDIA_CACHE_DIR=str(tmp / "cache"),
               GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1", GRADIO_TEMP_DIR=str(tmp / "gradio"),
               IDIA_PRECISION=precision, IDIA_WARMUP="0")
    env.pop("SPACE_ID", None)
    env.pop("IDIA_EMULATE_ZEROGPU", None)   # the real path: the GPU work in the app's own process
    if sizes.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    log = tmp / "app.log"
    url = f"http://127.0.0.1:{port}/"
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=tmp, env=env, stdout=fh,
                                stderr=subprocess.STDOUT)
    try:
        while True:
            if proc.poll() is not None:
                return Row("app check", "app.py", "-", time.perf_counter() - t0,
                           f"app.py exited {proc.returncode}: {log.read_text()[-300:]}", False)
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() - t0 > 180:
                return Row("app check", "app.py", "-", time.perf_counter() - t0, "did not serve in 180 s", False)
            time.sleep(0.3)
        serve_s = time.perf_counter() - t0
        client = Client(url, verbose=False)
        options = {"n_candidates": sizes.pool}
        t0 = time.perf_counter()
        out = client.predict([handle_file(str(p)) for p in paths], person.name, options, api_name="/check")
        first_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        client.predict([handle_file(str(p)) for p in paths], person.name, options, api_name="/check")
        warm_s = time.perf_counter() - t0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    result = out.get("result", {}) if isinstance(out, dict) else {}
    build = result.get("model_build", {})
    ok = (bool(isinstance(out, dict) and out.get("ok")) and build.get("device") == sizes.device
          and build.get("precision") == precision)
    verdict = f"{result.get('correct_templates')}/{result.get('n_templates')} templates" if ok else str(out)[:200]
    return Row("app check", f"app.py → /check, {build.get('precision')} on {str(build.get('device')).upper()}",
               f"{len(paths)} photos, pool {sizes.pool}", warm_s,
               f"served after {serve_s:.1f} s; first check {first_s:.2f} s, warm {warm_s:.2f} s; {verdict}", ok)


def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def print_table(rows: list[Row]) -> None:
    head = ("step", "setup", "size", "seconds", "result", "ok")
    cells = [head] + [(r.step, r.setup, r.size, f"{r.seconds:.2f}", r.result, "yes" if r.ok else "NO") for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    for j, c in enumerate(cells):
        print(" | ".join(v.ljust(w) for v, w in zip(c, widths)))
        if j == 0:
            print("-+-".join("-" * w for w in widths))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--self-check", action="store_true", help="the small CPU run (the default without CUDA)")
    ap.add_argument("--no-app", action="store_true", help="skip launching app.py")
    ap.add_argument("--people", type=int, help="sandbox people in the precision step (default: all on CUDA)")
    ap.add_argument("--photos", type=int, help="photos per person")
    args = ap.parse_args(argv)

    import torch

    cuda = torch.cuda.is_available() and not args.self_check
    sizes = FULL if cuda else SELF_CHECK
    if args.people is not None or args.photos is not None:
        sizes = Sizes(sizes.device, sizes.archs, sizes.pool, args.people or sizes.people,
                      args.photos or sizes.photos, sizes.low)
    # the rendered photos, the text cache and the app's folders go when the run ends
    with tempfile.TemporaryDirectory(prefix="idia-gpu-check-") as tmpname:
        return _run(args, cuda, sizes, Path(tmpname))


def _run(args, cuda: bool, sizes: Sizes, tmp: Path) -> int:
    import torch

    os.environ.setdefault("IDIA_CACHE_DIR", str(tmp / "cache"))
    print(f"idia GPU check — {'CUDA: ' + torch.cuda.get_device_name(0) if cuda else 'no CUDA: CPU self-check'}; "
          f"torch {torch.__version__}", flush=True)
    t_all = time.perf_counter()
    from idia_core.sandbox.world import load_world, render_attack_photos

    person = load_world().people_with_role("member")[0]
    photos = render_attack_photos(person, 10, seed=2)
    rows = []
    for spec in sizes.archs:
        rows.append(pool_timing(spec, sizes, photos))
    rows.append(precision_agreement(sizes))
    if not args.no_app:
        rows += [app_endpoint(sizes, tmp, precision) for precision in (sizes.low, "float32")]
    print_table(rows)
    ok = all(r.ok for r in rows)
    print(f"total {time.perf_counter() - t_all:.1f} s — {'all rows pass' if ok else 'SOME ROWS FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
