"""Many sessions at once, kept apart.

- 16 gradio_client sessions chat at the same time, each about a different sandbox person (8
  members, 8 non-members): each gets its own person's verdict (the one the stateless ``check``
  endpoint gives for the same photos, one at a time) with its own person's name, and no other
  session's name appears in any of its replies; "why?" afterwards, again all at once, explains its
  own check only.
- A new session sees nothing of them: "why?", "report", "share" and "status" hold no name of theirs.
- A long encoding in one session (a new pool of 2,000 names) does not hold up another: a question
  and a check on the warm pool are answered while it runs, and its progress is reported.
"""
from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.conftest import needs_sandbox, open_client, say, text_of

pytestmark = [needs_sandbox, pytest.mark.timeout(400)]
N_SESSIONS = 16
N_PHOTOS = 4
CALL_LIMIT_S = 180


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    """8 well-seen members and 8 non-members, none of whose names is a distractor of the default
    pool (so a name in a reply can only have come from that session's own check)."""
    from idia_core.text.pool import build_candidate_pool
    from idia_core.sandbox.world import load_world, render_attack_photos

    pool = set(build_candidate_pool("Nobody Here", (), 1000, 0, "mixed").names)
    world = load_world()
    members = [p for p in sorted(world.people_with_role("member"), key=lambda p: (-p.k, p.index))
               if p.name not in pool][: N_SESSIONS // 2]
    non = [p for p in world.people_with_role("non-member") if p.name not in pool][: N_SESSIONS // 2]
    folder = tmp_path_factory.mktemp("concurrent-photos")
    out = []
    for person in members + non:
        paths = []
        for i, img in enumerate(render_attack_photos(person, N_PHOTOS, seed=7)):
            path = folder / f"{person.index}-{i}.png"
            img.save(path)
            paths.append(path)
        out.append((person, paths))
    assert len(out) == N_SESSIONS
    return out


def _verdict(text: str) -> tuple[bool, str]:
    m = re.search(r"(\d+) of 21 templates", text)
    assert m, text
    member = "very likely saw" in text or "may have seen" in text
    assert member or "No sign" in text or "Some sign, but not enough" in text, text
    return member, m.group(1)


def _names_in(text: str, names) -> set[str]:
    return {n for n in names if n in text}


def test_sixteen_sessions_at_once(launched_app, people):
    from gradio_client import handle_file

    names = [p.name for p, _ in people]
    # what each person's check gives, one at a time, through the stateless endpoint
    api = open_client(launched_app)
    expected = {}
    for person, photos in people:
        out = api.predict([handle_file(str(p)) for p in photos], person.name, {}, api_name="/check")
        assert out["ok"], out
        expected[person.name] = (out["result"]["member"], str(out["result"]["correct_templates"]))
    api.close()
    agree = sum(expected[p.name][0] == (p.role == "member") for p, _ in people)
    print(f"sequential verdicts agree with the world's roles for {agree}/{N_SESSIONS} people")

    clients = [open_client(launched_app) for _ in range(N_SESSIONS)]
    start = threading.Barrier(N_SESSIONS)

    def session(i: int):
        person, photos = people[i]
        start.wait(timeout=60)
        t0 = time.perf_counter()
        verdict = text_of(say(clients[i], f"Is this {person.name}?", photos))
        return person.name, verdict, time.perf_counter() - t0

    t0 = time.perf_counter()
    with ThreadPoolExecutor(N_SESSIONS) as pool:
        results = [f.result(timeout=CALL_LIMIT_S) for f in [pool.submit(session, i) for i in range(N_SESSIONS)]]
    wall = time.perf_counter() - t0
    print(f"{N_SESSIONS} concurrent chat checks: {wall:.1f} s wall, slowest {max(r[2] for r in results):.1f} s")

    for name, verdict, _ in results:
        assert "Traceback" not in verdict and "error" not in verdict.lower(), verdict
        assert _verdict(verdict) == expected[name], (name, verdict, expected[name])
        assert _names_in(verdict, names) == {name}, (name, _names_in(verdict, names))

    # follow-ups, again all at once: each session explains its own check and nobody else's
    with ThreadPoolExecutor(N_SESSIONS) as pool:
        whys = list(pool.map(lambda i: text_of(say(clients[i], "why?")), range(N_SESSIONS), timeout=CALL_LIMIT_S))
    for (person, _), why in zip(people, whys):
        assert why.count("\n- ") == 21, why
        assert _names_in(why, names) == {person.name}, (person.name, why)
    assert launched_app.process.poll() is None

    # a session that never checked anyone sees nothing of the others
    stranger = open_client(launched_app)
    for text in ("why?", "report", "share", "status"):
        reply = say(stranger, text)
        body = text_of(reply)
        assert _names_in(body, names) == set(), (text, body)
        assert not [part for m in reply for part in m["content"] if part.get("type") == "file"], (text, reply)
    assert "Name: not given yet · photos: 0" in text_of(say(stranger, "status"))
    for c in clients + [stranger]:
        c.close()


def test_long_encoding_does_not_freeze_others(launched_app, people):
    """Session A checks with a new pool (3,000 names, seed 4242: ~63,000 prompts to encode); while
    that runs, session B is answered (a question and a check on the warm pool) and A's job reports
    its encoding progress."""
    from gradio_client import handle_file

    slow, fast = open_client(launched_app), open_client(launched_app)
    person, photos = people[0]
    other, other_photos = people[-1]
    say(slow, "seed 4242")              # no name yet: settings only, nothing runs
    say(slow, "use 3000 names")
    job = slow.submit({"text": f"Is this {person.name}?", "files": [handle_file(str(p)) for p in photos]}, [],
                      api_name="/chat")
    deadline = time.monotonic() + CALL_LIMIT_S
    progress_seen = []
    def encoding(lines):
        return [d for d in lines if d.startswith("Encoding")]

    while not job.done() and time.monotonic() < deadline and not encoding(progress_seen):
        status = job.status()
        progress_seen += [u.desc for u in (status.progress_data or []) if u.desc]
        time.sleep(0.1)
    assert encoding(progress_seen), progress_seen   # A is encoding now, and says so in words
    served = []
    t0 = time.perf_counter()
    help_text = text_of(say(fast, "help"))
    served.append(("help", round(time.perf_counter() - t0, 2), job.done()))
    t0 = time.perf_counter()
    check_text = text_of(say(fast, f"Is this {other.name}?", other_photos))
    served.append(("check", round(time.perf_counter() - t0, 2), job.done()))
    out = job.result(timeout=max(1.0, deadline - time.monotonic()))
    slow_text = text_of([m for m in out[1] if m["role"] == "assistant"])
    print(f"while A encoded ({progress_seen[0]}), B was served: {served}")
    assert "among 3000 candidate names" in slow_text and person.name in slow_text, slow_text
    assert help_text and other.name in check_text and "of 21 templates" in check_text, check_text
    assert not any(done for _, _, done in served), f"A finished before B was served: {served}"
    for c in (slow, fast):
        c.close()
