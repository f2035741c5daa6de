"""The `check` API's options as docs/api.md documents them (issue 21): the table is generated from
``api.option_docs``, lists exactly ``API_OPTIONS``, and every error code it names is what a bad
value of that option gets from ``validate_check_options`` (or the check it starts)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from idia_core.chat.api import API_OPTIONS, option_docs, options_markdown, validate_check_options
from idia_core.errors import IdiaInputError, all_codes

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = {"IDIA_PUBLIC": "1"}

# (option, a bad value, the code it gets, on a public server?) — one per code the table lists
BAD = [
    ("model", 7, "option_type", False), ("model", "ViT-B-32:random", "model_not_offered", True),
    ("model", "nosuch:model", "model_unknown", False),
    ("tau", [1], "option_type", False), ("tau", "ten", "tau_type", False), ("tau", 0, "tau_range", False),
    ("n_candidates", True, "option_type", False), ("n_candidates", 2.5, "pool_size_type", False),
    ("n_candidates", 1, "pool_size_range", False), ("n_candidates", 3000, "pool_size_limit", True),
    ("seed", None, "option_type", False), ("seed", "seven", "seed_type", False), ("seed", -1, "seed_range", False),
    ("template_set", 21, "option_type", False), ("template_set", "../paper21", "template_set_unknown", False),
    ("name_mode", ["paper"], "option_type", False), ("name_mode", "census", "name_mode", False),
    ("extra_names", 5, "option_type", False), ("extra_names", [f"Jane Doe {chr(65 + i % 26)}{i}" for i in range(201)],
                                                "too_many_names", True),
    ("extra_names", ["Jane 2 Doe"], "name_characters", False),
]


def test_the_readme_table_is_the_codes_own_rendering():
    page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- check-options: start -->\n(.*?)\n<!-- check-options: end -->", page, re.S)
    assert block, "docs/api.md lacks the check-options markers"
    assert block.group(1) == options_markdown()


def test_the_table_lists_every_option_and_only_known_codes():
    docs = option_docs()
    assert tuple(d.key for d in docs) == API_OPTIONS
    for d in docs:
        assert d.codes and set(d.codes) <= set(all_codes()), d
    listed = {(d.key, c) for d in docs for c in d.codes}
    assert listed == {(key, code) for key, _, code, _ in BAD}   # a bad value below for every code listed


@pytest.mark.parametrize("key,value,code,public", BAD, ids=[f"{k}-{c}" for k, _, c, _ in BAD])
def test_each_listed_code_is_what_a_bad_value_gets(key, value, code, public, monkeypatch, tmp_path):
    for var in ("IDIA_PUBLIC", "SPACE_ID", "IDIA_ALLOW_ANY_MODEL"):
        monkeypatch.delenv(var, raising=False)
    if public:
        monkeypatch.setenv("IDIA_PUBLIC", "1")
    if code == "name_characters":   # names are validated by the check itself, as a typed name is
        from idia_core.chat.api import api_check
        from tests.helpers import draw_face_photos

        photos = []
        for i, im in enumerate(draw_face_photos(3, seed=1)):
            photos.append(str(tmp_path / f"{i}.png"))
            im.save(photos[-1])
        out = api_check(photos, "Jane Doe", {key: value}, default_model="sandbox")
        assert out["ok"] is False and out["error"]["code"] == code, out
        return
    with pytest.raises(IdiaInputError) as err:
        opts = validate_check_options({key: value}, default_model="sandbox")
        if key == "model":   # a spec is read when the model is asked for
            from idia_core.zoo.specs import parse_spec

            parse_spec(opts.settings.model)
    assert err.value.code == code, err.value
