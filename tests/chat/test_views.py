"""What a verdict looks like around its text: the compact chart, the photo strip in the user's
message, gallery captions, the sandbox's ground truth and the compare table (issue 11)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from idia_core import chat as C
from idia_core.chat import views
from idia_core.chat.session import ChatSession
from idia_core.attack.settings import IdiaSettings
from tests.helpers import draw_face_photos, make_tiny_model_dir

POOL = 40


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    return f"local-dir:{make_tiny_model_dir(tmp_path_factory.mktemp('views-tiny'), seed=2)}"


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("views-photos")
    paths = []
    for i, img in enumerate(draw_face_photos(5, seed=5)):
        paths.append(str(folder / f"face{i}.png"))
        img.save(paths[-1])
    return paths


def send(state, text="", files=()):
    return C.handle(C.UserMessage(text=text, files=tuple(files)), state)


def test_uploads_become_one_thumbnail_strip(spec, photos):
    state = ChatSession(settings=IdiaSettings(model=spec, n_candidates=POOL))
    turn = send(state, "", photos)
    strip = Image.open(turn.photo_strip)
    # one row of 5 tiles: a strip, not five full-size pictures
    assert strip.height == views.STRIP_TILE and strip.width < 5 * (views.STRIP_TILE + 8)
    assert Path(turn.photo_strip).parent == Path(turn.state.workdir)   # deleted with the session
    assert send(turn.state, "help").photo_strip is None                 # no photos, no strip
    turn.state.close()


def test_many_photos_strip_says_how_many_more(tmp_path):
    thumbs = [views.thumbnail(Image.new("RGB", (300, 200), (i * 9, 40, 90))) for i in range(20)]
    strip = Image.open(views.photo_strip(thumbs, tmp_path))
    assert strip.width == views.STRIP_COLUMNS * (views.STRIP_TILE + 4) - 4
    assert strip.height == 2 * (views.STRIP_TILE + 4) - 4    # 11 photos and a "+9" tile, two rows
    assert views.photo_strip([], tmp_path) is None


def test_verdict_has_one_compact_chart_readable_in_the_chat(spec, photos):
    state = ChatSession(settings=IdiaSettings(model=spec, n_candidates=POOL))
    turn = send(state, "Is this Jane Doe?", photos)
    verdict = next(r for r in turn.replies if r.kind == "verdict")
    (path,) = verdict.images
    png = Image.open(path)
    assert png.width <= 400   # sized for the chat column, not an 800 px figure shown at 250
    # at a 300 px wide rendering (a phone's chat column) its smallest text is still >= 11 px
    smallest = float(png.info["idia-min-font-pt"]) * float(png.info["idia-dpi"]) / 72
    assert smallest * 300 / png.width >= 11, (smallest, png.width)
    assert "Sandbox truth" not in verdict.text   # only the sandbox world knows the truth
    turn.state.close()


def test_gallery_captions_start_with_the_top_name(spec, photos):
    state = ChatSession(settings=IdiaSettings(model=spec, n_candidates=POOL))
    turn = send(state, "Is this Jane Doe?", photos)
    result = turn.state.last_result
    v = views.result_views(turn.state)
    assert len(v.gallery) == 5
    for i, (_, caption) in enumerate(v.gallery):
        top = result.photo_top_names(i, 1)[0][0]
        assert caption.startswith(f"{top} {'✓' if top == 'Jane Doe' else '✗'} · "), caption
        assert caption.endswith(result.photo_labels[i])                       # the file name after it
        assert re.search(r"· \d+ of 21 templates ·", caption)                   # the count, labelled
    assert v.top_names is not None and v.votes is not None
    assert "After a check" in views.empty_views().summary   # the empty panel says what will appear
    turn.state.close()


def test_side_charts_are_png_files_drawn_once_per_check(spec, photos):
    """The charts beside the chat reach the app as PNG files drawn in the turn's own thread: a
    matplotlib figure handed to a gradio component is drawn inside the server's event loop, which
    then answers nobody (16 checks at once held a 34 KB file back for up to 12 s)."""
    state = ChatSession(settings=IdiaSettings(model=spec, n_candidates=POOL))
    turn = send(state, "Is this Jane Doe?", photos)
    first = views.result_views(turn.state)
    folder = turn.state.ensure_workdir()
    drawn = {}
    for path in (first.top_names, first.votes):
        assert isinstance(path, str) and Path(path).parent == folder, path   # deleted with the session
        with Image.open(path) as png:
            assert png.format == "PNG" and png.width >= 300
        drawn[path] = Path(path).stat().st_mtime_ns
    assert first.top_names != first.votes
    # a later turn that runs no check shows the same files without drawing them again
    status = send(turn.state, "status")
    again = views.result_views(status.state)
    assert (again.top_names, again.votes) == (first.top_names, first.votes)
    assert {p: Path(p).stat().st_mtime_ns for p in drawn} == drawn
    # a new check (another name on the same photos) gets its own pictures, not the last ones
    other = send(status.state, "Is this John Roe?")
    assert other.state.last_result.true_name == "John Roe"
    third = views.result_views(other.state)
    assert not {third.top_names, third.votes} & set(drawn)
    for path in (third.top_names, third.votes):
        assert Path(path).is_file()
    other.state.close()
    assert not [p for p in (*drawn, third.top_names, third.votes) if Path(p).exists()]   # gone with the session


def test_result_digest_follows_what_the_charts_show(spec, photos):
    state = ChatSession(settings=IdiaSettings(model=spec, n_candidates=POOL))
    result = send(state, "Is this Jane Doe?", photos).state.last_result
    digest = views.result_digest(result)
    assert re.fullmatch(r"[0-9a-f]{16}", digest)
    assert views.result_digest(result) == digest
    from dataclasses import replace

    votes = result.predictions.copy()
    votes[0, 0] = (votes[0, 0] + 1) % len(result.candidates)
    assert views.result_digest(replace(result, predictions=votes)) != digest
    assert views.result_digest(replace(result, true_name="John Roe")) != digest
    assert views.result_digest(replace(result, photo_hashes=result.photo_hashes[::-1])) != digest
    state.close()


@pytest.mark.parametrize("role,expect", [
    ("member", r"Sandbox truth: member, seen \d+× in training — (the attack found it|this is a miss)"),
    ("non-member", r"Sandbox truth: never seen in training — (correct|this is a false alarm|.*the controls caught it)"),
])
def test_sandbox_verdicts_say_the_worlds_truth(role, expect, tmp_path):
    from idia_core.sandbox.world import load_world, render_attack_photos

    person = load_world().people_with_role(role)[0]
    paths = []
    for i, img in enumerate(render_attack_photos(person, 3, seed=1)):
        paths.append(str(tmp_path / f"p{i}.png"))
        img.save(paths[-1])
    state = ChatSession(settings=IdiaSettings(model="sandbox", n_candidates=POOL))
    turn = send(state, f"Is this {person.name}?", paths)
    verdict = next(r for r in turn.replies if r.kind == "verdict")
    line = re.search(expect, verdict.text)
    assert line, verdict.text
    # the line agrees with the verdict it follows: the verdict after the controls (issue 21; it
    # followed the rule alone before, so "member … found it" stood under an inconclusive verdict)
    verdict = turn.state.last_result.verdict
    if role == "member":
        assert ("found it" in line.group(0)) == (verdict in ("member", "member-unchecked"))
    else:
        assert ("correct" in line.group(0)) == (verdict == "non-member")
    turn.state.close()


def test_sandbox_truth_for_a_name_outside_the_world(tmp_path):
    from idia_core.sandbox.world import load_world, render_attack_photos

    person = load_world().people_with_role("member")[0]
    paths = []
    for i, img in enumerate(render_attack_photos(person, 3, seed=1)):
        paths.append(str(tmp_path / f"p{i}.png"))
        img.save(paths[-1])
    turn = send(ChatSession(settings=IdiaSettings(model="sandbox", n_candidates=POOL)), "Is this Jane Nobody?", paths)
    assert "is not one of the sandbox's people" in next(r for r in turn.replies if r.kind == "verdict").text


def test_compare_table_errors_below_and_a_heatmap(spec, photos):
    state = ChatSession(settings=IdiaSettings(model=spec, n_candidates=POOL))
    base = send(state, "Is this Jane Doe?", photos).state
    other = spec.replace("local-dir:", "local-dir:") + "/"    # the same weights by another spec: a second answer
    turn = send(base, f"compare models {spec}, {other}, nosuch:model")
    reply = turn.replies[-1]
    table, _, below = reply.text.partition("Could not compare on:")
    rows = [ln for ln in table.splitlines() if ln.startswith("| `")]
    assert len(rows) == 2 and all(re.search(r"\| [✓✗]\s", ln) for ln in rows)
    assert all(re.search(r"\| \d+\sof\s21 \| [\d.]+\sof\s\d+ \|", ln) for ln in rows)
    assert "nosuch:model" in below and "nosuch" not in table
    (heatmap,) = reply.images
    assert Image.open(heatmap).width <= 400
    one = send(base, f"compare models {spec}, nosuch:model").replies[-1]
    assert one.images == ()    # one answer: nothing to set side by side
    base.close()
