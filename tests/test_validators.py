"""One validator per setting (``idia_core.validators``): the same reading of a value, and the same
code and message for a bad one, at every entry point — settings typed in the chat or given to the
CLI, the ``check`` API's options, and share links."""
import doctest

import pytest

import idia_core.validators as validators
from idia_core.attack.settings import IdiaSettings
from idia_core.chat import share
from idia_core.chat.api import validate_check_options
from idia_core.errors import IdiaInputError
from idia_core.text.pool import build_candidate_pool
from idia_core.validators import validate_name_mode, validate_pool_size, validate_seed, validate_tau


def test_the_examples_in_the_docstring_hold():
    result = doctest.testmod(validators)
    assert result.attempted >= 3 and result.failed == 0


@pytest.mark.parametrize("tau", [0, -1, 22, "abc", 1.5, True])
def test_bad_tau(tau):
    with pytest.raises(IdiaInputError) as err:
        validate_tau(tau, 21)
    assert "tau" in err.value.message


@pytest.mark.parametrize("tau, expected", [(1, 1), ("3", 3), (21, 21), (2.0, 2)])
def test_good_tau(tau, expected):
    assert validate_tau(tau, 21) == expected


@pytest.mark.parametrize("value", [1000, 1000.0, "1000", " 1e3 ", "1000.0"])
def test_whole_numbers_read_one_way(value):
    assert validate_pool_size(value) == 1000 and validate_seed(value) == 1000


@pytest.mark.parametrize("value, code", [(True, "pool_size_type"), (2.5, "pool_size_type"), ("ten", "pool_size_type"),
                                         (1, "pool_size_range"), (5001, "pool_size_range")])
def test_bad_pool_sizes(value, code):
    with pytest.raises(IdiaInputError) as err:
        validate_pool_size(value)
    assert err.value.code == code


def test_name_modes():
    assert [validate_name_mode(m) for m in ("mixed", "PAPER", " paper ")] == ["mixed", "paper", "paper"]
    for bad in ("klingon", "", None, 3):
        with pytest.raises(IdiaInputError) as err:
            validate_name_mode(bad)
        assert err.value.code == "name_mode"


BAD_SETTINGS = [  # (field, value, the validator's code)
    ("tau", "ten", "tau_type"), ("tau", 0, "tau_range"), ("tau", 22, "tau_range"),
    ("n_candidates", 2.5, "pool_size_type"), ("n_candidates", "1e9", "pool_size_range"),
    ("seed", -1, "seed_range"), ("seed", "x", "seed_type"), ("name_mode", "klingon", "name_mode"),
]
VALIDATOR = {"tau": validate_tau, "n_candidates": validate_pool_size, "seed": validate_seed,
             "name_mode": validate_name_mode}


def _error(call) -> IdiaInputError:
    with pytest.raises(IdiaInputError) as err:
        call()
    return err.value


@pytest.mark.parametrize("field, value, code", BAD_SETTINGS)
def test_every_entry_point_answers_a_bad_setting_with_its_validator(field, value, code):
    own = _error(lambda: VALIDATOR[field](value))
    typed = _error(lambda: IdiaSettings(**{field: value}).validated())          # CLI flags, chat, settings panel
    api = _error(lambda: validate_check_options({field: value}, default_model="sandbox"))
    assert own.code == typed.code == api.code == code
    assert own.message == typed.message == api.message
    if field != "tau":   # tau is read against the template set, the pool builder has none
        pool_args = {"n_candidates": {"n_candidates": value}, "seed": {"seed": value},
                     "name_mode": {"mode": value}}[field]
        if field != "seed":
            assert _error(lambda: build_candidate_pool("Jane Doe", **pool_args)).code == code


@pytest.mark.parametrize("field, value, code", [b for b in BAD_SETTINGS if not b[2].endswith("_type")])
def test_a_share_link_is_read_by_the_same_validators(field, value, code):
    """A link's values are checked by the settings' validators; one that is not even a number is a
    link idia never writes (``share_field``, see test_share_links)."""
    key = {"tau": "tau", "n_candidates": "n", "seed": "seed", "name_mode": "mode"}[field]
    err = _error(lambda: share.decode(f"idia=1&name=Jane+Doe&{key}={value}"))
    assert err.code == code


@pytest.mark.parametrize("m", [0, -3, 1001])
def test_control_people_out_of_range_are_refused_by_the_check_and_the_audit(m, tiny_model, photo_files):
    from idia_core import run_idia
    from idia_core.audit.results import AuditSettings

    for refuse in (lambda: run_idia(tiny_model, photo_files, "Jane Doe", n_candidates=10, control_m=m),
                   lambda: AuditSettings(control_m=m).validated()):
        with pytest.raises(IdiaInputError) as err:
            refuse()
        assert err.value.code == "control_m_range" and f"1 to 1000 reference people, not {m}" in err.value.message
    assert validators.validate_control_m(1) == 1 and validators.validate_control_m(1000) == 1000
