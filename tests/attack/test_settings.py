"""One run's settings as one frozen object: validated field by field, round-tripped as data."""
import pytest

from idia_core import IdiaInputError, IdiaSettings


def test_settings_round_trip_and_validation():
    s = IdiaSettings(tau="2", n_candidates="500", seed="7").validated()
    assert (s.tau, s.n_candidates, s.seed) == (2, 500, 7)
    assert IdiaSettings.from_dict(s.to_dict()) == s
    with pytest.raises(IdiaInputError):
        IdiaSettings(n_candidates=0).validated()


def test_one_definition_of_the_settings():
    """FIELDS is the settings' one list: the dataclass's fields in order, the API's options, the
    share link's keys, the chat's labels and which are whole numbers are all read from it."""
    from dataclasses import fields

    from idia_core.attack.settings import FIELDS
    from idia_core.chat import share
    from idia_core.chat.api import API_OPTIONS
    from idia_core.chat.session import SharedRun

    assert tuple(f.name for f in FIELDS) == tuple(f.name for f in fields(IdiaSettings))
    assert API_OPTIONS[:len(FIELDS)] == tuple(f.option for f in FIELDS)
    assert {f.name for f in FIELDS if f.whole} == {"tau", "n_candidates", "seed"}
    query = share.encode(SharedRun(IdiaSettings(tau=3, n_candidates=500, seed=7), "Jane Doe"))
    assert all(f"{f.link}=" in query for f in FIELDS)
    assert share.decode(query).settings == IdiaSettings(tau=3, n_candidates=500, seed=7)


def test_from_raw_reads_each_value_then_holds_it_to_a_policy(tmp_path):
    from idia_core.attack.settings import LAPTOP, Policy

    s = IdiaSettings.from_raw({"tau": "3", "n_candidates": 500.0, "seed": "1e1", "name_mode": " Paper "})
    assert (s.tau, s.n_candidates, s.seed, s.name_mode, s.model) == (3, 500, 10, "paper", "sandbox")
    assert IdiaSettings.from_raw({"seed": 5}, base=s) == s.replace(seed=5)
    own = tmp_path / "mine.txt"
    own.write_text("a photo of {0}\n", encoding="utf-8")
    assert IdiaSettings.from_raw({"template_set": str(own), "tau": 1}, LAPTOP).template_set == str(own)

    def small_pools(n):
        if n > 1000:
            raise IdiaInputError("pool_size_limit", "at most 1000 here")
        return n

    server = Policy("public", pool=small_pools, template_files=False)
    for raw, code in [({"template_set": str(own)}, "template_set_unknown"), ({"n_candidates": 2000}, "pool_size_limit"),
                      ({"tau": 22}, "tau_range"), ({"colour": "red"}, "setting_unknown"), ({"model": " "}, "model_spec_empty")]:
        with pytest.raises(IdiaInputError) as err:
            IdiaSettings.from_raw(raw, server)
        assert err.value.code == code, raw
