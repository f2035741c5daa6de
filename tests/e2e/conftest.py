"""Launch ``python app.py`` for real (a subprocess on 127.0.0.1 and a free port, offline, with its
own text cache) and hand tests its URL and rendered sandbox photos.

The app runs the embedded sandbox model, whose world says who is a member, so the tests can check
verdicts. Without the sandbox model in the checkout these tests are skipped with that reason."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"           # screenshots the browser tests keep (CI keeps the folder)
CHROMIUM = Path("/usr/bin/chromium")     # Debian's chromium (never `playwright install`)
# headless as root; no background connections (this machine's closed network refuses them)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SIZES = {"laptop": (1280, 900), "phone": (390, 844)}   # the browser tests' viewports
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(),
                                    reason="Debian chromium is not installed (apt-get install -y chromium)")
STARTUP_LIMIT_S = 30.0
N_PHOTOS = 5


def sandbox_available() -> bool:
    return (ROOT / "idia_core" / "sandbox" / "model" / "open_clip_config.json").is_file()


needs_sandbox = pytest.mark.skipif(not sandbox_available(), reason="the sandbox model is not in this checkout")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LaunchedApp:
    url: str
    startup_s: float
    log: Path
    process: subprocess.Popen
    gradio_temp: Path | None = None   # GRADIO_TEMP_DIR: gradio's uploads and cached outputs
    tmpdir: Path | None = None        # TMPDIR of the app process (per-session folders, examples)


@contextlib.contextmanager
def serve_app(tmp: Path, **extra_env: str):
    """``python app.py`` on a free loopback port with its own temp folders and text cache, offline,
    as a laptop (no Space variables) unless ``extra_env`` says otherwise; stopped with SIGTERM (the
    server's own clean shutdown) when the block ends, unless a test already stopped it."""
    port = free_port()
    env = dict(os.environ)
    for var in ("IDIA_MODEL", "SPACE_ID", "SPACE_HOST", "IDIA_PUBLIC", "IDIA_ALLOW_ANY_MODEL",
                "IDIA_ALLOW_LOCAL_MODELS"):
        env.pop(var, None)
    env.update({
        "HF_HUB_OFFLINE": "1", "IDIA_CACHE_DIR": str(tmp / "cache"), "GRADIO_SERVER_PORT": str(port),
        "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_TEMP_DIR": str(tmp / "gradio"),
        "MPLBACKEND": "Agg", "IDIA_WARMUP": "default", "TMPDIR": str(tmp / "tmp"),
        "GRADIO_HEARTBEAT_INTERVAL": "2",   # a closed client is noticed (unload) within seconds
    })
    env.update(extra_env)
    (tmp / "tmp").mkdir()
    log = tmp / "app.log"
    url = f"http://127.0.0.1:{port}/"
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=tmp, env=env, stdout=fh,
                                stderr=subprocess.STDOUT)
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"app.py exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() - t0 > 120:
                pytest.fail(f"app.py did not serve within 120 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield LaunchedApp(url, time.perf_counter() - t0, log, proc, tmp / "gradio", tmp / "tmp")
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def launched_app(tmp_path_factory):
    if not sandbox_available():
        pytest.skip("the sandbox model is not in this checkout")
    with serve_app(tmp_path_factory.mktemp("app")) as app:
        yield app


@dataclass(frozen=True)
class SandboxCase:
    name: str
    role: str
    k: int
    photos: tuple[str, ...]


def _render(person, folder: Path, n: int = N_PHOTOS, seed: int = 0) -> SandboxCase:
    from idia_core.sandbox.world import render_attack_photos

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(render_attack_photos(person, n, seed=seed)):
        path = folder / f"person{person.index}-{i}.png"  # no role in the name: no spoiler
        img.save(path)
        paths.append(str(path))
    return SandboxCase(person.name, person.role, person.k, tuple(paths))


def open_page(browser, url: str, size: str):
    """A new page at the ``SIZES[size]`` viewport on the app, once its welcome is shown: (page, chat)."""
    width, height = SIZES[size]
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url, wait_until="domcontentloaded")
    chat = page.locator("#chat")
    chat.get_by_text("Drop in photos of one person").first.wait_for(timeout=60_000)
    return page, chat


def file_data(path) -> dict:
    """An uploaded file's path as gradio's REST API takes it."""
    return {"path": str(path), "meta": {"_type": "gradio.FileData"}}


def rest_call(app: "LaunchedApp", api: str, data: list, session_hash: str | None = None,
              timeout: float = 300) -> tuple[int, object]:
    """The REST API as curl uses it: POST the inputs, then read the event stream to its end.
    Returns (200, the result) when it completed, (500, the error) when it failed, or the POST's
    own (status, text) when it was refused."""
    import json

    import httpx

    body = {"data": data} | ({"session_hash": session_hash} if session_hash else {})
    r = httpx.post(app.url + f"gradio_api/call/{api}", json=body, timeout=30)
    if r.status_code != 200:
        return r.status_code, r.text
    with httpx.stream("GET", app.url + f"gradio_api/call/{api}/{r.json()['event_id']}", timeout=timeout) as resp:
        event = None
        for line in resp.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                return (200 if event == "complete" else 500), json.loads(line[5:])
    return 500, "the event stream ended without a result"


def wait_until(predicate, limit: float) -> bool:
    """Poll ``predicate`` every 0.25 s for up to ``limit`` seconds; its last answer."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return predicate()


def unique_member_photos(folder: Path, tag: int, n: int, seed: int, prefix: str) -> tuple[str, list[Path]]:
    """Renders of the sandbox's best-learned member with one pixel of noise (drawn from ``tag``), so
    no other test (or session) uploads the same bytes: gradio stores uploads by content hash, and a
    file another live session holds must stay. Returns the member's name and the PNG paths."""
    import numpy as np
    from PIL import Image

    from idia_core.sandbox.world import load_world, render_attack_photos

    person = sorted(load_world().people_with_role("member"), key=lambda p: -p.k)[0]
    rng = np.random.default_rng(tag)
    out = []
    for i, img in enumerate(render_attack_photos(person, n, seed=seed + tag)):
        arr = np.asarray(img.convert("RGB")).copy()
        arr[0, 0] = rng.integers(0, 255, 3)
        out.append(folder / f"{prefix}{tag}-{i}.png")
        Image.fromarray(arr).save(out[-1])
    return person.name, out


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright, one per test module (skipped without chromium)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="session")
def sandbox_cases(tmp_path_factory):
    """A well-seen member, a non-member and a second member (for the mismatching photo)."""
    if not sandbox_available():
        pytest.skip("the sandbox model is not in this checkout")
    from idia_core.sandbox.world import load_world

    world = load_world()
    # The demo member: seen 100 times and, on the shipped model, picked by all 21 templates from 5
    # photos. Some k=100 members are learned weakly (Dana Tichá: 1 of 21, a namesake "Peter Tichá"
    # close behind); a well-learned one keeps these UI tests about the UI. A retrained world without
    # this name fails here, loudly, and the pick must be made again.
    member = world.person("Émile Loiseau")
    assert member.role == "member" and member.k == 100
    others = [p for p in world.people_with_role("member") if p.k == 100 and p.index != member.index]
    non = world.people_with_role("non-member")
    folder = tmp_path_factory.mktemp("sandbox-photos")
    return {
        "member": _render(member, folder),
        "other_member": _render(others[0], folder),
        "non-member": _render(non[0], folder),
    }


# -- driving the app through gradio_client (shared by the e2e tests) -------------------------------
def open_client(app: LaunchedApp):
    """A new browser-like session on the launched app (its own session hash and gr.State)."""
    from gradio_client import Client

    return Client(app.url, verbose=False)


def say(c, text: str = "", files=()) -> list[dict]:
    """Send one chat message in the client's session; return the assistant messages of this turn."""
    from gradio_client import handle_file

    out = c.predict({"text": text, "files": [handle_file(str(f)) for f in files]}, [], api_name="/chat")
    return [m for m in out[1] if m["role"] == "assistant"]


def text_of(messages) -> str:
    return "\n".join(part["text"] for m in messages for part in m["content"] if part.get("type") == "text")
