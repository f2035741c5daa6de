"""Does the server keep answering while many checks run? File and API latency under load.

Launches ``python app.py`` (laptop mode, offline, its own text cache and temp folders, as
bench/soak.py does), runs one check to warm the pool and to get a served file (a chart PNG), then
times GETs of that file and of ``/gradio_api/info`` from a probe thread: first with nothing else
running, then while ``--sessions`` chat sessions each check a different sandbox person at once.

Every request is answered by the server's one event loop; work done inside that loop (for
example gradio drawing a matplotlib figure handed to a component update) holds up every visitor's
request. Prints median, p90 and max of each, and the ratio of the loaded max to the idle median.
Measured on 2 cores, 16 sessions: with the side charts handed to gr.Plot as figures (drawn by
gradio in the loop), file median 0.456 s / max 2.7 s and api info max 6.0 s (another run: a file
took 12.6 s, and a session's own download passed gradio_client's 5 s timeout); with the charts
drawn to PNG in the turn's thread, file median 0.069 s / max 0.77 s, api info max 0.35 s.

Usage:  python bench/serving_under_load.py [--sessions 16] [--photos 4]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.soak import launched, people_photos  # noqa: E402


def first_file_url(url: str, obj) -> str | None:
    """The URL of the first file the app returned (download_files=False keeps them server-side)."""
    if isinstance(obj, dict):
        if isinstance(obj.get("url"), str):
            return obj["url"]
        if isinstance(obj.get("path"), str) and obj["path"].startswith("/"):
            return f"{url}gradio_api/file={obj['path']}"
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        for item in obj:
            found = first_file_url(url, item)
            if found:
                return found
    return None


def summary(label: str, seconds: list[float]) -> str:
    s = sorted(seconds)
    return (f"{label:<22} n={len(s):3d}  median {statistics.median(s):6.3f} s  p90 {s[int(0.9 * (len(s) - 1))]:6.3f} s"
            f"  max {s[-1]:6.3f} s")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=16)
    ap.add_argument("--photos", type=int, default=4)
    ap.add_argument("--idle-requests", type=int, default=20)
    args = ap.parse_args(argv)

    import httpx
    from gradio_client import Client, handle_file

    with tempfile.TemporaryDirectory(prefix="idia-load-") as tmpname:
        tmp = Path(tmpname)
        (tmp / "photos").mkdir()
        people = people_photos(tmp / "photos", args.sessions, args.photos)
        with launched(tmp) as (_proc, url, _log):
            first = Client(url, verbose=False, download_files=False)
            name, photos = people[0]
            out = first.predict({"text": f"Is this {name}?", "files": [handle_file(p) for p in photos]}, [],
                                api_name="/chat")
            file_url = first_file_url(url, list(out))
            if file_url is None:
                raise SystemExit("the first check returned no file to fetch")
            size = len(httpx.get(file_url, timeout=60).content)

            def probe(stop: threading.Event, files: list, infos: list, limit: int | None = None):
                while not stop.is_set() and (limit is None or len(files) < limit):
                    t0 = time.perf_counter()
                    httpx.get(file_url, timeout=120).raise_for_status()
                    files.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    httpx.get(f"{url}gradio_api/info", timeout=120).raise_for_status()
                    infos.append(time.perf_counter() - t0)
                    time.sleep(0.1)

            idle_files, idle_infos = [], []
            probe(threading.Event(), idle_files, idle_infos, args.idle_requests)

            # each session downloads what its turn returned, as a browser would; a generous timeout
            # (gradio_client's default gives up after 5 s) so a slow server is measured, not fatal
            clients = [Client(url, verbose=False, httpx_kwargs={"timeout": 300}) for _ in range(args.sessions)]

            def session(i: int) -> float:
                who, pics = people[i % len(people)]
                t0 = time.perf_counter()
                clients[i].predict({"text": f"Is this {who}?", "files": [handle_file(p) for p in pics]}, [],
                                   api_name="/chat")
                return time.perf_counter() - t0

            stop, busy_files, busy_infos = threading.Event(), [], []
            prober = threading.Thread(target=probe, args=(stop, busy_files, busy_infos), daemon=True)
            prober.start()
            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.sessions) as pool:
                turns = list(pool.map(session, range(args.sessions)))
            wall = time.perf_counter() - t0
            stop.set()
            prober.join()

    print(f"{args.sessions} chat checks at once ({args.photos} photos each): {wall:.1f} s wall, "
          f"slowest turn {max(turns):.1f} s")
    print(f"served file: {size} bytes ({file_url.rsplit('/', 1)[-1]})")
    print(summary("file, idle", idle_files))
    print(summary("file, under load", busy_files))
    print(summary("api info, idle", idle_infos))
    print(summary("api info, under load", busy_infos))
    print(f"ratio loaded max / idle median: file {max(busy_files) / statistics.median(idle_files):.1f}x, "
          f"api info {max(busy_infos) / statistics.median(idle_infos):.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
