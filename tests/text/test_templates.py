import re
from pathlib import Path

import pytest

from idia_core import IdiaInputError, fill_template, load_templates, validate_template
from idia_core.text.templates import validate_templates

RULE = Path(__file__).resolve().parents[3] / "shared" / "paper" / "idia-rule.md"


def test_paper21_is_the_papers_list_in_order():
    templates = load_templates("paper21")
    assert len(templates) == 21
    assert templates[0] == "{0}" and templates[-1] == "{0} in a dress"
    if RULE.is_file():  # the shared one-page reference, where present
        text = RULE.read_text(encoding="utf-8")
        block = text.split("## The 21 templates")[1].split("##")[0]
        listed = [t.strip() for t in re.sub(r"\(.*?\)\n", "", block).replace("\n", " ").split("|")]
        assert tuple(t for t in listed if t) == templates


def test_name_placeholder_is_accepted():
    assert validate_template("a photo of {name}") == "a photo of {0}"


@pytest.mark.parametrize("bad, code", [
    ("a photo of someone", "template_no_placeholder"),
    ("{0} and {0}", "template_many_placeholders"),
    ("{0} with {1}", "template_braces"),
    ("{0.__class__}", "template_no_placeholder"),
    ("   ", "template_empty"),
])
def test_bad_templates_are_refused_with_a_reason(bad, code):
    with pytest.raises(IdiaInputError) as err:
        validate_template(bad)
    assert err.value.code == code
    assert err.value.message


def test_duplicate_templates_refused():
    with pytest.raises(IdiaInputError):
        validate_templates(["a {0}", "a {0}"])


def test_fill_is_literal_never_format():
    assert fill_template("a photo of {0}", "{0.__class__}") == "a photo of {0.__class__}"
    assert fill_template("{0} at a gala", "Ann %s") == "Ann %s at a gala"


def test_unknown_set_names_the_available_ones():
    with pytest.raises(IdiaInputError) as err:
        load_templates("nope")
    assert "paper21" in err.value.message
