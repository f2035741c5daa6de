"""A real browser (Debian's chromium, driven by Playwright) uses the launched app like a person:
drop 5 photos of a sandbox member, type "Is this <name>?", read the verdict and see a chart.
The screenshot is kept in ``artifacts/`` as evidence of the run."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, needs_sandbox

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts"
pytestmark = [
    needs_sandbox, pytest.mark.timeout(600),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed (apt-get install -y chromium)"),
]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def test_upload_ask_and_see_verdict_with_chart(launched_app, sandbox_cases, browser):
    case = sandbox_cases["member"]
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(launched_app.url, wait_until="domcontentloaded")
    chat = page.locator("#chat")
    chat.get_by_text("Drop in photos of one person").first.wait_for(timeout=60_000)   # the welcome

    page.locator("#box input[type=file]").set_input_files(list(case.photos))
    page.locator("#box .thumbnail-item, #box img").first.wait_for(timeout=30_000)
    box = page.locator("#box textarea")
    box.fill(f"Is this {case.name}?")
    box.press("Enter")

    verdict = chat.get_by_text("very likely saw photos of").or_(chat.get_by_text("may have seen photos of"))
    verdict.first.wait_for(timeout=240_000)
    chart = chat.locator("img[src*='votes-'], img[src*='top-names-']")
    chart.first.wait_for(timeout=60_000)
    chart.first.scroll_into_view_if_needed()
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "e2e-browser-chat.png"
    page.screenshot(path=str(shot), full_page=True)
    verdict.first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "e2e-browser-verdict.png"), full_page=True)
    assert case.name in chat.inner_text()
    assert "of 21 templates picked" in chat.inner_text()
    assert chart.count() >= 2
    assert shot.stat().st_size > 10_000

    # the share button gives a link; opening it in a fresh tab restores the check and, with the
    # same photos, reproduces the verdict
    page.get_by_role("button", name="Share link").click()
    link = chat.locator("a[href*='idia=1'], code:has-text('idia=1'), p:has-text('idia=1')").last
    link.wait_for(timeout=60_000)
    text = chat.inner_text()
    url = next(w for w in text.split() if "?idia=1" in w)
    page.close()

    shared = browser.new_page(viewport={"width": 1400, "height": 1100})
    shared.goto(url, wait_until="domcontentloaded")
    chat = shared.locator("#chat")
    chat.get_by_text("Drop in the same photos").first.wait_for(timeout=60_000)
    shared.locator("#box input[type=file]").set_input_files(list(case.photos))
    shared.locator("#box .thumbnail-item, #box img").first.wait_for(timeout=30_000)
    shared.locator("#box textarea").press("Enter")
    chat.get_by_text("Reproduced").first.wait_for(timeout=120_000)
    shared.screenshot(path=str(ARTIFACTS / "e2e-browser-shared.png"), full_page=True)
    shared.close()


def test_evaluation_report_renders_in_the_browser(tmp_path, browser):
    """The evaluation report a researcher hands on: its plots load and its provenance is on the page."""
    from idia_core.cli import main
    from idia_core.models import load_model

    out = tmp_path / "audit"
    rc = main(["evaluate", "--dataset", "sandbox", "--max-people", "24", "--draws", "2", "--photos", "1,3",
               "--sandbox-photos", "4", "--out", str(out), "--no-progress"])
    assert rc == 0
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    page.goto((out / "report.html").resolve().as_uri(), wait_until="load")
    sizes = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.complete, i.naturalWidth])")
    assert len(sizes) >= 3 and all(done and width > 0 for done, width in sizes), sizes
    body = page.inner_text("body")
    assert load_model("sandbox").fingerprint in body and "TPR" in body and "AUC" in body
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "e2e-evaluation-report.png"), full_page=True)
    page.close()
