"""A real browser (Debian's chromium, driven by Playwright) uses the launched app like a person:
drop 5 photos of a sandbox member, type "Is this <name>?", read the verdict and see a chart; and,
at a laptop's 1280×900 and a phone's 390×844, the welcome, a member verdict, a non-member verdict
and a compare, each kept as a screenshot in ``artifacts/`` (CI keeps that folder)."""
from __future__ import annotations

import io
import re
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import ARTIFACTS, SIZES, needs_chromium, needs_sandbox, open_page

pytestmark = [needs_sandbox, needs_chromium, pytest.mark.timeout(600)]


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
    chart = chat.locator("img[alt^='chart']")
    chart.first.wait_for(timeout=60_000)
    chart.first.scroll_into_view_if_needed()
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "e2e-browser-chat.png"
    page.screenshot(path=str(shot), full_page=True)
    verdict.first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "e2e-browser-verdict.png"), full_page=True)
    assert case.name in chat.inner_text()
    assert "of 21 templates picked" in chat.inner_text()
    assert chart.count() >= 1
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
    from idia_core.cli.main import main
    from idia_core.zoo.load import load_model

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


# -- a verdict people can read at a glance, on a laptop and on a phone (issue 11) ---------------
SHARE_OR_DOWNLOAD = re.compile(r"share|download", re.I)


def _send(page, text: str, files=()) -> None:
    if files:
        page.locator("#box input[type=file]").set_input_files(list(files))
        page.locator("#box .thumbnail-item, #box img").first.wait_for(timeout=30_000)
    box = page.locator("#box textarea")
    box.fill(text)
    box.press("Enter")


def _shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"e2e-{name}.png"
    page.wait_for_timeout(500)   # let the last image finish its layout
    page.screenshot(path=str(path), full_page=True)
    return path


def _third_party_buttons(page) -> list[str]:
    """Buttons or links in the chat and the gallery that share or download (by label or title):
    only the app's own "Share link" button (below the chat) and its report links may do that."""
    found = page.eval_on_selector_all(
        "#chat button, #gallery button, #gallery a",
        "els => els.map(e => [e.getAttribute('aria-label') || '', e.title || '', e.innerText || ''].join(' | '))")
    return [f for f in found if SHARE_OR_DOWNLOAD.search(f)]


def _watch_progress(page) -> None:
    """Record, every 50 ms, how many progress overlays are visible at once and the words they say
    (gradio's status trackers; since issue 21 a check's progress sits in the line under the chat)."""
    page.evaluate("""() => {
      window.__idiaMaxOverlays = 0; window.__idiaProgress = [];
      setInterval(() => {
        const shown = [...document.querySelectorAll('[data-testid=status-tracker]')].filter(
          e => !e.classList.contains('hide') && e.offsetParent !== null && e.innerText.trim());
        window.__idiaMaxOverlays = Math.max(window.__idiaMaxOverlays, shown.length);
        for (const e of shown) {
          const t = e.innerText.replace(/\\s+/g, ' ').trim();
          if (!window.__idiaProgress.includes(t)) window.__idiaProgress.push(t);
        }
      }, 50);
    }""")


def _smallest_text_px(page, base_url: str, img) -> tuple[float, dict]:
    """The figure's smallest text as shown: its font size (pt, from the PNG's own record) at its
    DPI, scaled by the rendered <img> width over the PNG's width."""
    from PIL import Image

    info = img.evaluate("i => ({src: i.getAttribute('src'), shown: i.getBoundingClientRect().width, natural: i.naturalWidth})")
    src = info["src"]
    url = src if src.startswith("http") else base_url.rstrip("/") + "/" + src.lstrip("/")
    with urllib.request.urlopen(url, timeout=30) as resp:
        png = Image.open(io.BytesIO(resp.read()))
    pt, dpi = float(png.info["idia-min-font-pt"]), float(png.info["idia-dpi"])
    info.update(pt=pt, dpi=dpi, png_width=png.width)
    return pt * dpi / 72 * info["shown"] / png.width, info


@pytest.mark.parametrize("size", list(SIZES))
def test_welcome_verdicts_and_compare_at_laptop_and_phone_size(launched_app, sandbox_cases, browser, size):
    from idia_core.zoo.specs import SANDBOX_DIR

    page, chat = open_page(browser, launched_app.url, size)
    height = SIZES[size][1]
    # the welcome and the empty side panel say what will appear
    assert "beside the chat" in chat.inner_text()
    assert "After a check, this panel shows" in page.locator("#summary").inner_text()
    # the message box is on the first screen, without scrolling
    box = page.locator("#box").bounding_box()
    assert box and box["y"] >= 0 and box["y"] + box["height"] <= height, (box, height)
    _shot(page, f"{size}-welcome")

    member = sandbox_cases["member"]
    _watch_progress(page)
    _send(page, f"Is this {member.name}?", member.photos)
    chat.get_by_text("Sandbox truth: member").first.wait_for(timeout=240_000)
    overlays, lines = page.evaluate("() => [window.__idiaMaxOverlays, window.__idiaProgress]")
    worded = sorted({re.sub(r"[\d.]+(s|%)", "#", line) for line in lines if re.search("[a-z]{4}", line)})
    print(f"{size}: progress overlays at once (max) {overlays}; lines in words: {worded}")
    assert overlays == 1 and any("Working on your message" in line for line in lines), (overlays, lines)
    chart = chat.locator("img[alt^='chart']").last
    chart.wait_for(timeout=60_000)
    page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=chart.element_handle(), timeout=30_000)
    px, info = _smallest_text_px(page, launched_app.url, chart)
    print(f"{size}: in-chat figure shown {info['shown']:.0f} px wide of {info['png_width']} px, "
          f"{info['pt']:g} pt at {info['dpi']:g} dpi: smallest text {px:.1f} px")
    assert px >= 11, info
    # the user's photos: one thumbnail strip in their message, not five stacked pictures
    strip = chat.locator(".user-row img, .message.user img")
    assert strip.count() == 1, strip.count()
    assert strip.first.bounding_box()["height"] <= 120
    # the gallery answers "what did the model see in each photo?"
    captions = page.locator("#gallery .caption-label")
    captions.first.wait_for(timeout=60_000)
    texts = captions.all_inner_texts()
    assert len(texts) == len(member.photos)
    for text in texts:
        assert re.match(r"^\w[^·]* [✓✗] · \d+ of 21 templates · ", text, re.U) and not text.startswith("person"), text
    assert any(text.startswith(f"{member.name} ✓") for text in texts), texts
    # ... and shows each caption whole: the count and the file name are not cut off with an ellipsis
    cut = captions.evaluate_all("els => els.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)")
    assert cut == [], cut
    assert _third_party_buttons(page) == []
    _shot(page, f"{size}-member")
    # the report: downloads the app offers, as links, with no share button beside them
    page.get_by_role("button", name="Report").click()
    chat.get_by_role("link", name="evidence.html").last.wait_for(timeout=60_000)
    assert _third_party_buttons(page) == []

    non = sandbox_cases["non-member"]
    _send(page, f"Is this {non.name}?", non.photos)
    chat.get_by_text("Sandbox truth: never seen").first.wait_for(timeout=240_000)
    page.locator("#gallery .caption-label").first.wait_for(timeout=60_000)
    page.wait_for_function("n => document.querySelector('#summary').innerText.includes(n)", arg=non.name,
                           timeout=60_000)
    assert _third_party_buttons(page) == []
    _shot(page, f"{size}-non-member")

    # compare: the sandbox under two specs (the same weights) answers twice, a bad spec fails below the table
    _send(page, f"compare models sandbox, local-dir:{SANDBOX_DIR}, nosuch:model")
    chat.get_by_text("Could not compare on").first.wait_for(timeout=240_000)
    table = chat.locator("table").last
    rows = table.locator("tbody tr").all_inner_texts()
    assert len(rows) == 2 and all(re.search(r"[✓✗]", r) and re.search(r"\d+\sof\s21", r) for r in rows), rows
    assert "nosuch" not in table.inner_text()
    heatmap = chat.locator("img[alt^='chart compare']").last
    heatmap.wait_for(timeout=60_000)
    px, info = _smallest_text_px(page, launched_app.url, heatmap)
    assert px >= 11, info
    assert _third_party_buttons(page) == []
    _shot(page, f"{size}-compare")
    page.close()
