"""The launched app understands people the way they type (issue 10): "my name is …" with photos
gives the verdict, three copies of one photo do not, "who is this?" is refused; in a real browser
the message and a "Checking …" line show at once and a button pressed during a check is answered
after it."""
from __future__ import annotations

import random
import shutil

import pytest

from tests.e2e.conftest import needs_sandbox, open_client, say, text_of

pytestmark = [needs_sandbox, pytest.mark.timeout(600)]


def test_my_name_is_with_photos_gives_the_verdict(launched_app, sandbox_cases):
    case = sandbox_cases["member"]
    c = open_client(launched_app)
    text = text_of(say(c, f"my name is {case.name.lower()}.", case.photos))
    # typed in lower case: checked as typed, and still a verdict. The note says the model sees the
    # same name (CLIP's tokenizer lower-cases; issue 21: it used to warn of "a different string")
    assert "of 21 templates" in text and f"**{case.name}**" in text and "same name to this model" in text, text
    assert "different string" not in text, text
    text = text_of(say(c, f"My name is {case.name}"))
    assert "very likely saw" in text or "may have seen" in text, text


def test_three_copies_of_one_photo_give_no_verdict(launched_app, sandbox_cases, tmp_path):
    case = sandbox_cases["member"]
    copies = []
    for i in range(3):
        path = tmp_path / f"copy-{i}.png"
        shutil.copyfile(case.photos[0], path)
        copies.append(str(path))
    c = open_client(launched_app)
    text = text_of(say(c, f"my name is {case.name}", copies))
    assert "templates" not in text and "very likely saw" not in text, text
    assert "same file as copy-0.png" in text and "at least 3" in text, text


def test_who_is_this_is_refused_and_the_next_reply_is_the_name(launched_app, sandbox_cases):
    case = sandbox_cases["member"]
    c = open_client(launched_app)
    text = text_of(say(c, "who is this?", case.photos))
    assert "does not identify people" in text and "templates" not in text, text
    text = text_of(say(c, case.name))
    assert "of 21 templates" in text, text


def test_browser_echo_and_no_message_lost(launched_app, sandbox_cases, browser):
    case = sandbox_cases["member"]
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(launched_app.url, wait_until="domcontentloaded")
    chat = page.locator("#chat")
    chat.get_by_text("Drop in photos of one person").first.wait_for(timeout=60_000)
    box = page.locator("#box textarea")
    # 300 distractors nobody has encoded yet: the check takes a few seconds
    box.fill(f"change the seed to {random.randrange(10**6, 10**7)}")
    box.press("Enter")
    chat.get_by_text("The seed is now").first.wait_for(timeout=60_000)
    box.fill("use 300 names")
    box.press("Enter")
    chat.get_by_text("The pool size is now").first.wait_for(timeout=60_000)
    page.locator("#box input[type=file]").set_input_files(list(case.photos))
    page.locator("#box .thumbnail-item, #box img").first.wait_for(timeout=30_000)
    box.fill(f"my name is {case.name}")
    box.press("Enter")
    chat.get_by_text(f"my name is {case.name}").first.wait_for(timeout=5_000)   # at once
    chat.get_by_text("Checking …").first.wait_for(timeout=5_000)
    assert box.is_disabled()              # busy: nothing typed now can be lost
    page.get_by_role("button", name="Why?").click()   # sent during the check: kept, answered after
    verdict = chat.get_by_text("very likely saw photos of").or_(chat.get_by_text("may have seen photos of"))
    verdict.first.wait_for(timeout=240_000)
    chat.get_by_text("Per template").first.wait_for(timeout=120_000)
    page.wait_for_function("() => !document.querySelector('#box textarea').disabled", timeout=30_000)
    assert chat.get_by_text("Checking …").count() == 0
