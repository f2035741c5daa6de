"""The chat parser on phrasings as people type them (issue 10), and its cost on hostile input
(issue 12 item 1). Pure parsing: no model, no session."""
from __future__ import annotations

import time

import pytest

from idia_core import limits
from idia_core.chat.commands import parse
from idia_core.chat.intents import looks_like_name

# (message, kind, value): value is the extracted name, setting value or question topic; None = any.
PHRASINGS = [
    # -- naming the person: bare, any case, end punctuation ------------------------------------
    ("Jane Doe", "name", "Jane Doe"),
    ("jane doe", "name", "jane doe"),
    ("JANE DOE", "name", "JANE DOE"),
    ("Émile Loiseau.", "name", "Émile Loiseau"),
    ("émile loiseau", "name", "émile loiseau"),
    ("Emile Loiseau!", "name", "Emile Loiseau"),
    ("Jane Doe?", "name", "Jane Doe"),
    ("  Jane    Doe  ", "name", "Jane Doe"),
    ("Jane  Doe ?!", "name", "Jane Doe"),
    ("Ludwig van Beethoven", "name", "Ludwig van Beethoven"),
    ("Mohammed bin Salman", "name", "Mohammed bin Salman"),
    ("Ursula von der Leyen", "name", "Ursula von der Leyen"),
    ("Charles de Gaulle.", "name", "Charles de Gaulle"),
    ("Sinéad O'Connor", "name", "Sinéad O'Connor"),
    ("Jean-Luc Picard", "name", "Jean-Luc Picard"),
    ("mary-kate o’neill", "name", "mary-kate o’neill"),
    ("J. R. R. Tolkien", "name", "J. R. R. Tolkien"),
    ("Zoë Ångström", "name", "Zoë Ångström"),
    ("Dana Tichá", "name", "Dana Tichá"),
    ("Will Smith", "name", "Will Smith"),
    # -- cues ----------------------------------------------------------------------------------
    ("Is this Jane Doe?", "name", "Jane Doe"),
    ("is this jane doe", "name", "jane doe"),
    ("IS THIS JANE DOE???", "name", "JANE DOE"),
    ("is it Émile Loiseau?", "name", "Émile Loiseau"),
    ("Is that Jane Doe.", "name", "Jane Doe"),
    ("Are these photos of Jane Doe?", "name", "Jane Doe"),
    ("are these jane doe?", "name", "jane doe"),
    ("my name is Jane Doe", "name", "Jane Doe"),
    ("My name is jane doe.", "name", "jane doe"),
    ("my name is  Émile   Loiseau", "name", "Émile Loiseau"),
    ("my name is madonna", "name", "madonna"),
    ("His name is Jane Doe", "name", "Jane Doe"),
    ("I am Jane Doe", "name", "Jane Doe"),
    ("i'm jane doe", "name", "jane doe"),
    ("I’m Émile Loiseau!", "name", "Émile Loiseau"),
    ("could this be Jane Doe?", "name", "Jane Doe"),
    ("Could it be jane doe", "name", "jane doe"),
    ("might this be Jane Doe?", "name", "Jane Doe"),
    ("is Jane Doe in the training data?", "name", "Jane Doe"),
    ("Is jane doe in the training set", "name", "jane doe"),
    ("was Jane Doe in the data?", "name", "Jane Doe"),
    ("check Jane Doe please", "name", "Jane Doe"),
    ("Check Jane Doe, please.", "name", "Jane Doe"),
    ("please check jane doe", "name", "jane doe"),
    ("check Jane Doe", "name", "Jane Doe"),
    ("Check: Jane Doe.", "name", "Jane Doe"),
    ("check for Émile Loiseau", "name", "Émile Loiseau"),
    ("name: Jane Doe", "name", "Jane Doe"),
    ("Name = Jane Doe", "name", "Jane Doe"),
    ("The name is Jane Doe", "name", "Jane Doe"),
    ("This is Jane Doe", "name", "Jane Doe"),
    ("it's Jane Doe", "name", "Jane Doe"),
    ("these are photos of Jane Doe", "name", "Jane Doe"),
    ("Does the model know Jane Doe?", "name", "Jane Doe"),
    ("does clip know jane doe", "name", "jane doe"),
    ("Jane Doe, is she in the training data?", "name", "Jane Doe"),
    ("jane doe - does the model know her?", "name", "jane doe"),
    ("Émile Loiseau? is he known", "name", "Émile Loiseau"),
    ("Jane Doe: is she in there?", "name", "Jane Doe"),
    ("\"Jane Doe\"", "name", "Jane Doe"),
    ("is this “Jane Doe”?", "name", "Jane Doe"),
    ("verify Jane Doe", "name", "Jane Doe"),
    ("Is this Jane Doe? How sure are you?", "name", "Jane Doe"),
    ("Is this Jane Doe or not?", "name", "Jane Doe"),
    ("is this me? my name is Jane Doe", "name", "Jane Doe"),
    ("Hi, my name is Émile Loiseau.", "name", "Émile Loiseau"),
    ("hello, I am Jane Doe", "name", "Jane Doe"),
    ("I want to check Jane Doe", "name", "Jane Doe"),
    ("can you check Jane Doe for me?", "name", "Jane Doe"),
    ("is Jane Doe in your training data?", "name", "Jane Doe"),
    ("What about Jane Doe?", "name", "Jane Doe"),
    ("ok so please check jane doe", "name", "jane doe"),
    # -- NOT names ------------------------------------------------------------------------------
    ("who is this?", "who_is_this", None),
    ("Who is it?", "who_is_this", None),
    ("who's that", "who_is_this", None),
    ("WHO IS THIS PERSON???", "who_is_this", None),
    ("can you identify him?", "who_is_this", None),
    ("do you know who this is?", "who_is_this", None),
    ("try again with 20 photos", "unknown", None),
    ("is it working?", "unknown", None),
    ("is this a good idea?", "unknown", None),
    ("check again", "unknown", None),
    ("I am confused", "unknown", None),
    ("hello there", "unknown", None),
    ("tell me a joke", "unknown", None),
    ("what's the weather", "unknown", None),
    ("42", "unknown", None),
    ("tua 3", "unknown", None),
    ("this is a test", "unknown", None),
    ("not sure", "unknown", None),
    ("new photos", "unknown", None),
    ("who is Jane Doe?", "unknown", None),
    ("please", "unknown", None),
    ("hi there", "unknown", None),
    # -- questions --------------------------------------------------------------------------------
    ("what is tau?", "question", "tau"),
    ("What's tau", "question", "tau"),
    ("tau?", "question", "tau"),
    ("what does the threshold mean?", "question", "tau"),
    ("what does p mean?", "question", "p"),
    ("what is the p-value", "question", "p"),
    ("what does chance mean?", "question", "p"),
    ("how sure are you?", "question", "sure"),
    ("How confident is this verdict", "question", "sure"),
    ("how reliable is it?", "question", "sure"),
    ("how many photos do I need?", "question", "photos"),
    ("How many pictures?", "question", "photos"),
    ("what is the sandbox?", "question", "sandbox"),
    ("sandbox?", "question", "sandbox"),
    ("what happens to my photos?", "question", "privacy"),
    ("are my photos stored?", "question", "privacy"),
    ("where do my pictures go", "question", "privacy"),
    ("who made the method?", "question", "method"),
    ("who invented this", "question", "method"),
    ("which paper is this from?", "question", "method"),
    # -- acknowledgements ---------------------------------------------------------------------------
    ("thanks", "ack", None), ("Thank you!", "ack", None), ("ok", "ack", None), ("OK thanks", "ack", None),
    ("okay.", "ack", None), ("cool", "ack", None), ("got it", "ack", None),
    # -- settings in words --------------------------------------------------------------------------
    ("set the threshold to 4", "set", "4"),
    ("Set the threshold to 4.", "set", "4"),
    ("change the seed to 5", "set", "5"),
    ("make tau 2", "set", "2"),
    ("tau = 3", "set", "3"),
    ("tau 3", "set", "3"),
    ("set the pool size to 500", "set", "500"),
    ("use 500 names", "set", "500"),
    ("use the paper's settings", "paper_settings", None),
    ("Use the paper’s settings.", "paper_settings", None),
    ("paper settings", "paper_settings", None),
    ("same as the paper", "paper_settings", None),
    ("make it stricter", "adjust", "+1"),
    ("stricter", "adjust", "+1"),
    ("Make it looser!", "adjust", "-1"),
    ("less strict", "adjust", "-1"),
    ("undo", "undo", None), ("Undo that", "undo", None), ("go back", "undo", None),
    # -- commands that must keep working --------------------------------------------------------------
    ("help", "help", None), ("?", "help", None), ("???", "help", None), ("why?", "explain", None),
    ("report", "report", None), ("share", "share", None), ("reset", "reset", None),
    ("settings", "status", None), ("clear photos", "clear_photos", None), ("delete my photos", "clear_photos", None),
    ("", "none", None), ("   \n\t ", "none", None),
]


@pytest.mark.parametrize("text,kind,value", PHRASINGS)
def test_phrasing(text, kind, value):
    intent = parse(text)
    assert intent.kind == kind, (text, intent)
    if value is not None:
        assert intent.value == value, (text, intent)


def test_enough_phrasings():
    assert len(PHRASINGS) >= 80


@pytest.mark.parametrize("text,value", [
    ("madonna", "madonna"), ("Madonna.", "Madonna"), ("jane doe", "jane doe"), ("émile loiseau?", "émile loiseau"),
    ("Zendaya!", "Zendaya"),
])
def test_a_reply_to_who_is_it_is_the_name(text, value):
    intent = parse(text, expecting_name=True)
    assert intent.kind == "name" and intent.value == value


@pytest.mark.parametrize("text", ["thanks", "ok", "what is tau?", "tau 3", "who is this?", "again", "yes", "no"])
def test_expecting_a_name_still_understands_other_messages(text):
    assert parse(text, expecting_name=True).kind != "name"


def test_names_by_shape_not_by_list():
    # invented names nobody could have listed, in any script the validator accepts
    for name in ("Qwerzy Blumpfeld", "Xaviera Ooplander-Trask", "Anaïs de la Vérité", "Øystein Ågren", "Ngozi bin Yusuf"):
        assert looks_like_name(name), name
        assert parse(name).kind == "name"
        assert parse(f"my name is {name}").value == name
    for text in ("try again", "who is this", "20 photos", "Jane 2 Doe", "jane@doe.com", "the end"):
        assert not looks_like_name(text), text


def test_problems_in_a_name_reach_validation():
    # a cue says a name is meant: the core's validation explains what is wrong
    assert parse("name: ").kind == "name"
    assert parse("Is this {0.__class__}?").value == "{0.__class__}"
    assert parse("my name is Jane_Doe").value == "Jane_Doe"


def test_message_length_cap():
    intent = parse("a" * (limits.MAX_MESSAGE_CHARS + 1))
    assert intent.kind == "too_long" and intent.value == str(limits.MAX_MESSAGE_CHARS + 1)
    assert parse("add " + "\n".join(["Jane Doe"] * 2000)).kind == "add_names"   # a long list still fits


def _hostile(n: int) -> dict[str, str]:
    return {
        "is this a + spaces + b": "is this a" + " " * n + "b",
        "check a + spaces": "check a" + " " * n,
        "name: a + spaces": "name: a" + " " * n,
        "question marks": "?" * n,
        "is this a + ?s + x": "is this a" + "?" * n + "x",
        "check + please*": "check " + "please " * (n // 7),
        "name + training tails": "Jane Doe" + " in the training data" * (n // 21),
        "white space": "add\n" + "\t \n" * (n // 3) + "x",
        "pasted names": "\n".join(["Jane Doe"] * (n // 9)),
        "link-like": "http://x/?" + "&" * n + "idia=1",
        "compare + commas": "compare " + ", " * (n // 2),
        "one long word": "a" * n,
        "words": "word " * (n // 5),
        "tau + spaces + 3": "tau" + " " * n + "3",
        "digits + names": "use " + "1" * n + "x names",
        "who is this this …": "who is " + "this " * (n // 5),
        "name, + question": "Jane Doe, " + "is she " * (n // 7),
        "accents": "É" * n,
    }


@pytest.mark.parametrize("size", [200_000, limits.MAX_MESSAGE_CHARS - 10])
def test_long_messages_parse_fast(size):
    """Issue 12: no message stalls the server. Generous bound (the bench prints real figures:
    bench/parse_time.py); the old parser took ~16 s on the first shape at 30 kB."""
    for label, text in _hostile(size).items():
        t0 = time.perf_counter()
        parse(text[:size])
        took = time.perf_counter() - t0
        assert took < 1.0, (label, size, took)
