"""One run's settings as one frozen object: validated field by field, round-tripped as data."""
import pytest

from idia_core import IdiaInputError, IdiaSettings


def test_settings_round_trip_and_validation():
    s = IdiaSettings(tau="2", n_candidates="500", seed="7").validated()
    assert (s.tau, s.n_candidates, s.seed) == (2, 500, 7)
    assert IdiaSettings.from_dict(s.to_dict()) == s
    with pytest.raises(IdiaInputError):
        IdiaSettings(n_candidates=0).validated()
