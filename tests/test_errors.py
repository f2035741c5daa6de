"""Every error code in one table (``errors.ERROR_CODES``): each code the package raises is listed,
each listed code is raised somewhere, and the table of docs/api.md is the table's own rendering."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from idia_core.errors import ERROR_CODES, IdiaInputError, all_codes, codes_markdown

ROOT = Path(__file__).resolve().parents[1]
ERROR_TYPES = ("IdiaInputError", "ModelUnavailableError")
# calls that raise IdiaInputError with the code given as their argument at this position
CODE_ARGUMENTS = {"as_whole_number": 2}


def _name(func) -> str | None:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def raised_codes() -> dict[str, list[str]]:
    """code -> where it is raised, read from the code itself (a literal first argument of an error
    type, a literal code handed to a helper that raises it, or a ``"code"`` of an API answer)."""
    found: dict[str, list[str]] = {}
    for path in [*sorted((ROOT / "idia_core").rglob("*.py")), ROOT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            literal = None
            if isinstance(node, ast.Call) and node.args:
                name = _name(node.func)
                if name in ERROR_TYPES:
                    literal = node.args[0]
                elif name in CODE_ARGUMENTS and len(node.args) > CODE_ARGUMENTS[name]:
                    literal = node.args[CODE_ARGUMENTS[name]]
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values):
                    if isinstance(key, ast.Constant) and key.value == "code":
                        literal = value
            if isinstance(literal, ast.Constant) and isinstance(literal.value, str):
                found.setdefault(literal.value, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_the_scan_finds_codes_of_every_kind():
    found = raised_codes()
    assert "photo_bomb" in found and "tau_type" in found and "internal" in found   # literal, helper, API answer
    assert len(found) > 80


def test_every_code_raised_is_in_the_table():
    missing = {code: where for code, where in raised_codes().items() if code not in all_codes()}
    assert not missing, f"codes raised but not listed in errors.ERROR_CODES: {missing}"


def test_every_code_in_the_table_is_raised_somewhere():
    stale = sorted(set(all_codes()) - set(raised_codes()))
    assert not stale, f"codes listed in errors.ERROR_CODES that nothing raises: {stale}"


def test_codes_are_slugs_listed_once():
    codes = [c for group in ERROR_CODES.values() for c in group]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", c) for c in codes)
    assert all(meaning and not meaning.endswith(".") for meaning in all_codes().values())


def test_the_readme_shows_the_table_as_it_is():
    page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- error-codes: start -->\n(.*?)\n<!-- error-codes: end -->", page, re.S)
    assert block, "docs/api.md has no <!-- error-codes: start --> … <!-- error-codes: end --> block"
    assert block.group(1) == codes_markdown(), "docs/api.md's table of error codes is out of date: paste codes_markdown()"


def test_an_error_carries_its_code_and_message():
    err = IdiaInputError("tau_range", "tau = 0 is out of range.")
    assert (err.code, err.message, str(err)) == ("tau_range", "tau = 0 is out of range.", "tau = 0 is out of range.")
