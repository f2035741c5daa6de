"""Every phrasing docs/app.md lists hears every first name of the paper's lists (issue 21): a cue's
last optional word ("be", "photo", "name", ...) must end where a word ends, or "Is this Benjamin
Franklin?" loses its name to "Is this Be…". Pure parsing: no model, no session.

The first names are the project's own copy of the paper's list
(``idia_core/data/paper/paper_first_names_top1000.csv``, byte-for-byte ``../shared/data/paper``);
each is paired with a census surname of the project's list, in turn."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from idia_core.chat.commands import parse
from idia_core.chat.intents import NON_NAME_WORDS

DATA = Path(__file__).resolve().parents[2] / "idia_core" / "data" / "paper"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "paper"

# The phrasings docs/app.md lists (section "The chat"): (template, typed in lower case, a reply to "Who is it?")
PHRASINGS = [
    ("Is this {}?", False, False),
    ("{}", True, False),                      # *jane doe*
    ("{}.", False, False),                    # *Émile Loiseau.*
    ("my name is {}", False, False),
    ("I am {}", False, False),
    ("could this be {}?", False, False),
    ("is {} in the training data?", False, False),
    ("check {} please", False, False),
    ("{}", False, True),                      # just the name, in reply to "Who is it?"
    ("Is this {}", True, False),              # the help's *is this …* typed in lower case
]


def _column(path: Path, column: str) -> list[str]:
    with open(path, newline="", encoding="utf-8") as fh:
        return [row[column] for row in csv.DictReader(fh)]


def first_names() -> list[str]:
    return _column(DATA / "paper_first_names_top1000.csv", "first_name")


def surnames() -> list[str]:
    return _column(DATA / "us_census_2010_surnames_top1000.csv", "surname")


def test_the_first_names_are_the_papers_2000():
    names = first_names()
    assert len(names) == 2000 and len(set(zip(names, _column(DATA / "paper_first_names_top1000.csv", "sex")))) == 2000
    if SHARED.is_dir():   # the project's copy is the shared reference data, byte for byte
        assert (DATA / "paper_first_names_top1000.csv").read_bytes() == \
            (SHARED / "paper_first_names_top1000.csv").read_bytes()


def _pairs(*, lower: bool) -> list[str]:
    """Each first name with the next census surname in turn. In lower case, a surname that is also
    an everyday word ("good", "page", "person") is skipped: "agatha good" typed bare in lower case is
    as much a remark as a name, and the chat asks rather than guess (see the test below)."""
    pool = [s for s in surnames() if not (lower and s.casefold() in NON_NAME_WORDS)]
    return [f"{first} {pool[i % len(pool)]}" for i, first in enumerate(first_names())]


@pytest.mark.parametrize("template,lower,expecting", PHRASINGS, ids=[
    f"{t}{' lower' if lo else ''}{' after who-is-it' if e else ''}" for t, lo, e in PHRASINGS])
def test_every_paper_first_name_in_every_phrasing(template, lower, expecting):
    wrong = []
    for name in _pairs(lower=lower):
        typed = name.lower() if lower else name
        intent = parse(template.format(typed), expecting_name=expecting)
        if intent.kind != "name" or intent.value != typed:
            wrong.append((typed, intent.kind, intent.value))
    assert wrong == [], f"{len(wrong)} of 2000 misheard, e.g. {wrong[:8]}"


@pytest.mark.parametrize("text,name", [
    ("Is this Benjamin Franklin?", "Benjamin Franklin"), ("Is this Bernard Shaw?", "Bernard Shaw"),
    ("Is this Bella Hadid?", "Bella Hadid"), ("Is it Ita Buttrose?", "Ita Buttrose"),
    ("could this be Bethany Beal?", "Bethany Beal"), ("Is this photo of Ofelia Doe?", "Ofelia Doe"),
    ("check Namely Doe", "Namely Doe"), ("does this show Showalter Doe?", "Showalter Doe"),
    ("is this me? my name is Jane Doe", "Jane Doe"),
])
def test_a_cue_ends_where_a_word_ends(text, name):
    assert parse(text).value == name and parse(text).kind == "name"


def test_a_names_list_head_ends_where_a_word_ends():
    intent = parse("add Namely Doe, Jane Roe")
    assert intent.kind == "add_names" and intent.items == ("Namely Doe", "Jane Roe")


def test_surnames_that_are_everyday_words():
    everyday = [s for s in surnames() if s.casefold() in NON_NAME_WORDS]
    assert everyday, "the census list has surnames that are everyday words (Good, Page, Person)"
    for surname in everyday:
        for template, _, expecting in PHRASINGS:
            name = f"Hilda {surname}"
            assert parse(template.format(name), expecting_name=expecting).value == name, (template, name)
        # bare and in lower case it reads as a remark: the chat asks instead of checking a guess
        assert parse(f"hilda {surname.lower()}").kind != "name"
    for remark in ("Good Morning", "Looks Good", "Pretty Good", "good job", "looks good"):
        assert parse(remark).kind != "name", remark
