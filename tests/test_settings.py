import pytest

from idia_core import IdiaInputError, IdiaSettings
from idia_core.settings import validate_tau


@pytest.mark.parametrize("tau", [0, -1, 22, "abc", 1.5, True])
def test_bad_tau(tau):
    with pytest.raises(IdiaInputError) as err:
        validate_tau(tau, 21)
    assert "tau" in err.value.message


@pytest.mark.parametrize("tau, expected", [(1, 1), ("3", 3), (21, 21), (2.0, 2)])
def test_good_tau(tau, expected):
    assert validate_tau(tau, 21) == expected


def test_settings_round_trip_and_validation():
    s = IdiaSettings(tau="2", n_candidates="500", seed="7").validated()
    assert (s.tau, s.n_candidates, s.seed) == (2, 500, 7)
    assert IdiaSettings.from_dict(s.to_dict()) == s
    with pytest.raises(IdiaInputError):
        IdiaSettings(n_candidates=0).validated()
