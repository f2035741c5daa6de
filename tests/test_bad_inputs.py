"""Every catalogued bad input, against the core and the CLI: a specific message, no crash, and
odd-but-valid photos accepted. (The launched app runs the same catalogue in tests/e2e.)"""
from __future__ import annotations

import pytest

from idia_core import IdiaInputError, load_photo, run_idia
from idia_core.cli.main import main
from tests.bad_inputs import CASES, Case, good_photos

assert len(CASES) >= 25


def _run_core(case: Case, tmp_path, tiny_model):
    photos = case.photos(tmp_path) if case.photos else good_photos(tmp_path)
    return run_idia(case.model or tiny_model, photos, case.name, extra_names=case.extra_names,
                    tau=case.tau, n_candidates=case.n_candidates, templates=case.templates)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_core(case, tmp_path, tiny_model):
    if case.code is None:
        result = _run_core(case, tmp_path, tiny_model)
        assert result.n_photos >= 5
        if case.extra_names:
            # the same name in other case is a duplicate; accented spellings are names the
            # model tokenises differently, so they stay candidates (or are reported if it cannot)
            assert set(result.duplicates_dropped) == {"JANE DOE"}
            assert {"Ann Lee", "Jané Doe", "ann lée"} <= set(result.candidates) | set(result.indistinct_dropped)
            assert "Ann Lee" in result.candidates
        return
    with pytest.raises(IdiaInputError) as err:
        _run_core(case, tmp_path, tiny_model)
    assert err.value.code == case.code, err.value.message
    assert len(err.value.message) > 20


def test_messages_are_specific(tmp_path, tiny_model):
    """Different failures never share one generic message."""
    messages = {}
    for i, case in enumerate(c for c in CASES if c.code):
        folder = tmp_path / str(i)
        folder.mkdir()
        with pytest.raises(IdiaInputError) as err:
            _run_core(case, folder, tiny_model)
        messages.setdefault(err.value.code, set()).add(err.value.message)
    assert len(messages) == len({c.code for c in CASES if c.code})


def test_exif_rotation_is_upright(tmp_path):
    from tests.bad_inputs import _exif_rotated

    assert load_photo(_exif_rotated(tmp_path)).image.size == (80, 120)


@pytest.mark.parametrize("case", [c for c in CASES if c.code and not c.templates], ids=lambda c: c.id)
def test_cli(case, tmp_path, tiny_model_dir, capsys):
    photos = case.photos(tmp_path) if case.photos else good_photos(tmp_path)
    args = ["check", "--model", case.model or f"local-dir:{tiny_model_dir}", "--name", case.name,
            "--tau", str(case.tau), "--candidates", str(case.n_candidates)]
    if case.extra_names:
        names = tmp_path / "names.txt"
        names.write_text("\n".join(case.extra_names), encoding="utf-8")
        args += ["--names-file", str(names)]
    code = main(args + [str(p) for p in photos])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
