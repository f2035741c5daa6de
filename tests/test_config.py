"""The environment is read in one place (``idia_core.config``), with one idea of "true", and the
table of docs/configuration.md is the table's own rendering."""
import doctest
import re
from pathlib import Path

import pytest

import idia_core.config as config

ROOT = Path(__file__).resolve().parents[1]


def test_the_examples_in_the_docstring_hold():
    result = doctest.testmod(config)
    assert result.attempted >= 2 and result.failed == 0


@pytest.mark.parametrize("value, expected", [("1", True), ("on", True), (" YES ", True), ("t", True), ("0", False),
                                             ("off", False), ("", None), ("maybe", None)])
def test_one_idea_of_true(value, expected):
    env = {"IDIA_PUBLIC": value, "IDIA_ALLOW_LOCAL_MODELS": value}
    for default in (True, False):
        assert config.flag("IDIA_PUBLIC", env, default) is (default if expected is None else expected)
    # every reader of a flag hears "on" alike (issue 27: public took "on", local models did not)
    from idia_core.chat import public

    assert public.local_models_allowed(env) is (True if expected is None else expected)
    assert public.is_public(env) is bool(expected)


def test_numbers_fall_back_to_their_defaults():
    env = {"IDIA_CONCURRENCY": "3", "IDIA_UPLOAD_TTL_S": "1e2", "IDIA_PROXY_HOPS": "-1"}
    assert config.whole("IDIA_CONCURRENCY", 2, env) == 3 and config.whole("IDIA_PROXY_HOPS", 0, env) == 0
    assert config.number("IDIA_UPLOAD_TTL_S", 300.0, env) == 100.0 and config.number("IDIA_CACHE_MAX_MB", 5.0, env) == 5.0
    with pytest.raises(KeyError):
        config.text("IDIA_NOT_A_VARIABLE")


def test_the_docs_table_is_the_tables_own_rendering():
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- config-variables: start -->\n(.*?)\n<!-- config-variables: end -->", page, re.S)
    assert block and block.group(1) == config.variables_markdown(), "paste config.variables_markdown()"


def test_every_variable_named_in_the_code_is_in_the_table():
    named = set()
    for path in [*sorted((ROOT / "idia_core").rglob("*.py")), ROOT / "app.py"]:
        named |= set(re.findall(r"[\"'](IDIA_[A-Z0-9_]+)[\"']", path.read_text(encoding="utf-8")))
    assert named <= config.KNOWN, sorted(named - config.KNOWN)
