"""Soak: many sequential checks through the launched app; does its memory stay flat?

Launches ``python app.py`` on 127.0.0.1 (a free port, offline, its own text cache and temp folders),
then runs ``--count`` checks one after another through gradio_client, each as a visitor would: a
new session uploads photos of a sandbox person and asks "Is this <name>?", reads the verdict (with
its charts), and closes (so unload cleanup and state deletion run as well). ``--mode check`` uses
the stateless ``check`` endpoint instead (one client).

Prints the server's RSS after the warm-up checks and at the end, the growth (target: < 50 MB), the
p50/p95 latency of a check as the client sees it, and how many files are left in gradio's temporary
folder once the sessions have closed. Bounded: at most ``--count`` checks and ``--time-limit`` s.

``--clients N --duration S`` (issue 23) runs N clients at once instead, each a visitor who keeps
checking (a new session per check, as above) for S seconds; it prints the checks completed, the
failures (any reply that is not a verdict, any refusal), p50/p95/max latency and the server's RSS at
start, peak and end. ``--public`` launches the server as a public deployment behind one proxy
(``IDIA_PUBLIC=1``, ``IDIA_PROXY_HOPS=1``) and gives each client its own address in
``X-Forwarded-For``, as 32 visitors of a Space would be, so the fair queue's per-address limits apply.

Usage:  python bench/soak.py [--count 200] [--warmup 10] [--mode chat|check] [--photos 5]
        python bench/soak.py --clients 32 --duration 60 --public
"""
from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GROWTH_TARGET_MB = 50.0


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(tmp: Path, extra_env: dict | None = None) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    env = dict(os.environ)
    env.update({
        "HF_HUB_OFFLINE": "1", "IDIA_CACHE_DIR": str(tmp / "cache"), "GRADIO_SERVER_PORT": str(port),
        "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_ANALYTICS_ENABLED": "False",
        "GRADIO_TEMP_DIR": str(tmp / "gradio"), "TMPDIR": str(tmp / "tmp"), "MPLBACKEND": "Agg",
        "GRADIO_HEARTBEAT_INTERVAL": "2",
    })
    env.pop("IDIA_MODEL", None)
    env.pop("SPACE_ID", None)
    env.update(extra_env or {})
    (tmp / "tmp").mkdir()
    log = tmp / "app.log"
    url = f"http://127.0.0.1:{port}/"
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, os.environ.get("IDIA_SOAK_APP", str(ROOT / "app.py"))], cwd=tmp, env=env, stdout=fh,
                                stderr=subprocess.STDOUT)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 120:
        if proc.poll() is not None:
            raise SystemExit(f"app.py exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return proc, url, log
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("app.py did not serve within 120 s")


@contextlib.contextmanager
def launched(tmp: Path, extra_env: dict | None = None):
    """``launch(tmp)`` for the length of a with-block: yields (process, URL, log path), then stops the
    server (SIGTERM, its own clean shutdown; killed if it has not exited within 20 s)."""
    proc, url, log = launch(tmp, extra_env)
    try:
        yield proc, url, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def people_photos(folder: Path, n_people: int, n_photos: int):
    """(name, photo paths) for a few sandbox members and non-members."""
    from idia_core.sandbox.world import load_world, render_attack_photos

    world = load_world()
    chosen = list(world.people_with_role("member"))[: n_people // 2] + \
        list(world.people_with_role("non-member"))[: n_people - n_people // 2]
    out = []
    for person in chosen:
        paths = []
        for i, img in enumerate(render_attack_photos(person, n_photos, seed=1)):
            path = folder / f"{person.index}-{i}.png"
            img.save(path)
            paths.append(str(path))
        out.append((person.name, paths))
    return out


def chat_check(url: str, name: str, photos: list[str], headers: dict | None = None) -> float:
    """One visitor's check in a new session: seconds until the verdict; RuntimeError when the reply
    is not a verdict (a refusal, an error)."""
    from gradio_client import Client, handle_file

    c = Client(url, verbose=False, download_files=False, headers=headers)
    try:
        t0 = time.perf_counter()
        out = c.predict({"text": f"Is this {name}?", "files": [handle_file(p) for p in photos]}, [],
                        api_name="/chat")
        dt = time.perf_counter() - t0
    finally:
        c.close()
    text = str(out[1])
    if name not in text or "of 21 templates" not in text:
        raise RuntimeError(f"no verdict for {name}: {text[:300]}")
    return dt


def concurrent(args, people, tmp: Path) -> int:
    """``--clients`` visitors checking at once for ``--duration`` seconds (see the module docstring)."""
    import threading

    env = {"IDIA_PUBLIC": "1", "IDIA_PROXY_HOPS": "1"} if args.public else {}
    with launched(tmp, env) as (proc, url, _log):
        for i in range(min(args.warmup, 3)):   # the pool and the reference set, before the clock starts
            chat_check(url, *people[i % len(people)])
        time.sleep(3)
        rss0 = peak = rss_mb(proc.pid)
        latencies, failures, lock = [], [], threading.Lock()
        stop = time.monotonic() + args.duration

        def visitor(k: int):
            headers = {"X-Forwarded-For": f"10.23.{k // 250}.{k % 250 + 1}"} if args.public else None
            i = k
            while time.monotonic() < stop:
                name, photos = people[i % len(people)]
                i += args.clients
                try:
                    dt = chat_check(url, name, photos, headers)
                    with lock:
                        latencies.append(dt)
                except Exception as exc:   # a refusal or a wrong reply: counted, reported
                    with lock:
                        failures.append(f"{type(exc).__name__}: {str(exc)[:200]}")

        threads = [threading.Thread(target=visitor, args=(k,)) for k in range(args.clients)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            peak = max(peak, rss_mb(proc.pid))
            time.sleep(0.5)
        wall = time.monotonic() - t0
        time.sleep(5)
        rss1 = rss_mb(proc.pid)
        alive = proc.poll() is None
    lat = sorted(latencies)
    p50 = statistics.median(lat) if lat else float("nan")
    p95 = lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))] if lat else float("nan")
    print(f"{args.clients} clients x {args.duration:.0f} s ({'public, one address each' if args.public else 'laptop'}), "
          f"{args.photos} photos a check, sandbox model: {len(lat)} checks in {wall:.0f} s, {len(failures)} failures")
    print(f"latency p50 {p50:.2f} s, p95 {p95:.2f} s, max {lat[-1] if lat else float('nan'):.2f} s")
    print(f"server RSS start {rss0:.0f} MB, peak {peak:.0f} MB, end {rss1:.0f} MB; alive: {alive}")
    for f in failures[:5]:
        print("  failure:", f)
    return 0 if not failures and alive and lat else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--mode", choices=("chat", "check"), default="chat")
    ap.add_argument("--photos", type=int, default=5)
    ap.add_argument("--people", type=int, default=10)
    ap.add_argument("--time-limit", type=float, default=900.0)
    ap.add_argument("--clients", type=int, default=0, help="visitors checking at once (0: one after another)")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds the --clients keep checking")
    ap.add_argument("--public", action="store_true", help="a public deployment, one address per client")
    args = ap.parse_args(argv)
    if args.clients:
        with tempfile.TemporaryDirectory(prefix="idia-soak-") as tmpname:
            tmp = Path(tmpname)
            (tmp / "photos").mkdir()
            return concurrent(args, people_photos(tmp / "photos", args.people, args.photos), tmp)

    return sequential(args)


def one_check(url: str, api, people, i: int) -> float:
    """One visitor's check (the i-th person): through ``api`` (the ``check`` endpoint) or a new chat
    session (``chat_check``); its latency in seconds. Raises when the reply is not a verdict."""
    from gradio_client import handle_file

    name, photos = people[i % len(people)]
    if api is None:
        return chat_check(url, name, photos)
    t0 = time.perf_counter()
    out = api.predict([handle_file(p) for p in photos], name, {}, api_name="/check")
    dt = time.perf_counter() - t0
    if not out.get("ok"):
        raise RuntimeError(out)
    return dt


def sequential(args) -> int:
    """``--count`` checks one after another after ``--warmup``: RSS growth, latency, files left."""
    from gradio_client import Client

    with tempfile.TemporaryDirectory(prefix="idia-soak-") as tmpname:
        tmp = Path(tmpname)
        (tmp / "photos").mkdir()
        people = people_photos(tmp / "photos", args.people, args.photos)
        with launched(tmp) as (proc, url, _log):
            api = Client(url, verbose=False, download_files=False) if args.mode == "check" else None
            try:
                for i in range(args.warmup):
                    one_check(url, api, people, i)
                time.sleep(3)   # let the warm-up sessions' unload run
                rss0 = rss_mb(proc.pid)
                t_start = time.monotonic()
                latencies = []
                for i in range(args.count):
                    if time.monotonic() - t_start > args.time_limit:
                        print(f"time limit reached after {i} checks")
                        break
                    latencies.append(one_check(url, api, people, args.warmup + i))
                    if (i + 1) % 50 == 0:
                        print(f"  {i + 1} checks, RSS {rss_mb(proc.pid):.1f} MB", flush=True)
                time.sleep(5)   # the last sessions' unload (heartbeat 2 s)
                rss1 = rss_mb(proc.pid)
                alive = proc.poll() is None
                gradio_dir = tmp / "gradio"
                left = [p for p in gradio_dir.rglob("*") if p.is_file()] if gradio_dir.exists() else []
                uploads_left = [p for p in left if p.suffix == ".png" and "idia-examples" not in str(p)
                                and any(p.name == Path(ph).name for _, phs in people for ph in phs)]
            finally:
                if api is not None:
                    api.close()
        return report_sequential(args, sorted(latencies), rss0, rss1, alive, left, uploads_left)


def report_sequential(args, lat, rss0, rss1, alive, left, uploads_left) -> int:
    p50 = statistics.median(lat)
    p95 = lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))]
    growth = rss1 - rss0
    print(f"mode {args.mode}: {len(lat)} checks after {args.warmup} warm-up, {args.photos} photos, "
          f"1000 names x 21 templates, sandbox model")
    print(f"RSS start (after warm-up) {rss0:.1f} MB, end {rss1:.1f} MB, growth {growth:+.1f} MB "
          f"(target < {GROWTH_TARGET_MB:.0f} MB): {'OK' if growth < GROWTH_TARGET_MB else 'OVER'}")
    print(f"latency p50 {p50:.3f} s, p95 {p95:.3f} s, max {lat[-1]:.3f} s")
    print(f"files left in gradio's temp folder: {len(left)} ({len(uploads_left)} of them uploaded photos; "
          f"the rest are the app's example photos); "
          f"server alive: {alive}")
    return 0 if growth < GROWTH_TARGET_MB and alive and not uploads_left else 1

if __name__ == "__main__":
    raise SystemExit(main())
