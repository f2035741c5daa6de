"""One validation path for the options of a stateless ``check`` call, and the public model gate."""
from __future__ import annotations

import pytest

from idia_core import limits
from idia_core.errors import IdiaInputError
from idia_core.zoo.catalogue import CATALOGUE
from idia_core.chat.api import validate_check_options
from idia_core.chat.public import check_offered, client_message, is_public
from idia_core.echo import code


def _code(options, **kw) -> str:
    with pytest.raises(IdiaInputError) as err:
        validate_check_options(options, default_model="sandbox", **kw)
    assert err.value.message
    return err.value.code


@pytest.fixture
def laptop(monkeypatch):
    for var in ("SPACE_ID", "IDIA_PUBLIC", "IDIA_ALLOW_ANY_MODEL", "IDIA_MODEL"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def space(monkeypatch, laptop):
    monkeypatch.setenv("SPACE_ID", "someone/idia")
    monkeypatch.setenv("IDIA_MODEL", "sandbox")


@pytest.mark.parametrize("options", ['{"tau": 2}', 3, 1.5, [{"tau": 2}], True, False, "x"])
def test_options_that_are_not_an_object_are_an_error(options, laptop):
    assert _code(options) == "option_type"


@pytest.mark.parametrize("options", [
    {"tau": True}, {"seed": [1]}, {"n_candidates": {"a": 1}},
    {"tau": None}, {"model": 3}, {"template_set": ["paper21"]}, {"name_mode": False},
    {"extra_names": 5}, {"extra_names": [1, 2]}, {"extra_names": {"a": "b"}}, {"extra_names": True},
])
def test_options_of_the_wrong_type_are_option_type(options, laptop):
    assert _code(options) == "option_type"


@pytest.mark.parametrize("options", [{"n_candidates": 2.5}, {"seed": "ten"}, {"tau": "abc"}, {"tau": 1.5},
                                     {"n_candidates": "1e9"}, {"seed": "-1"}])
def test_a_bad_value_gets_the_cores_own_code_and_message(options, laptop):
    """The same value typed, passed to run_idia or sent as an API option is one fault: one answer."""
    from idia_core.validators import validate_pool_size, validate_seed, validate_tau

    (key, value), = options.items()
    core = {"tau": validate_tau, "n_candidates": validate_pool_size, "seed": validate_seed}[key]
    with pytest.raises(IdiaInputError) as expected:
        core(value)
    with pytest.raises(IdiaInputError) as got:
        validate_check_options(options, default_model="sandbox")
    assert (got.value.code, got.value.message) == (expected.value.code, expected.value.message)


def test_unknown_and_out_of_range_options_keep_their_codes(laptop):
    assert _code({"colour": 1}) == "option_unknown"
    assert _code({"tau": 0}) == "tau_range"
    assert _code({"n_candidates": 1}) == "pool_size_range"
    assert _code({"seed": -1}) == "seed_range"
    assert _code({"template_set": "/etc/passwd"}) == "template_set_unknown"
    assert _code({"name_mode": "klingon"}) == "name_mode"


@pytest.mark.parametrize("raw", [1000, 1000.0, "1000", "1e3", " 1e3 "])
def test_whole_numbers_read_the_same_for_seed_and_pool(raw, laptop):
    s = validate_check_options({"seed": raw, "n_candidates": raw}, default_model="sandbox").settings
    assert s.seed == 1000 and s.n_candidates == 1000


def test_none_and_empty_mean_defaults(laptop):
    for options in (None, {}):
        s = validate_check_options(options, default_model="sandbox").settings
        assert (s.model, s.tau, s.n_candidates, s.seed) == ("sandbox", limits.DEFAULT_TAU, limits.DEFAULT_POOL, 0)


# -- visitors load only what the operator offers ----------------------------------------------------
@pytest.mark.parametrize("spec", ["ViT-H-14:random", "ViT-B-32:random", "hf-hub:someone/anything",
                                  "hf-hub:x/[Verify your identity](http:evil.example)"])
def test_public_deployment_refuses_models_it_does_not_offer(spec, space):
    with pytest.raises(IdiaInputError) as err:
        validate_check_options({"model": spec}, default_model="sandbox")
    assert err.value.code in ("model_not_offered", "model_spec_hub")
    if err.value.code == "model_not_offered":
        assert "sandbox" in err.value.message and CATALOGUE[1].spec in err.value.message
        assert "](http" not in err.value.message.replace(code(spec), "")


def test_catalogue_is_read_at_call_time(space, monkeypatch):
    from idia_core.zoo import catalogue

    extra = catalogue.CatalogueEntry("ViT-B-32:random", "test entry", "added at run time")
    monkeypatch.setattr(catalogue, "CATALOGUE", catalogue.CATALOGUE + (extra,))
    assert check_offered("ViT-B-32:random", "sandbox") == "ViT-B-32:random"


def test_every_catalogue_model_and_the_default_pass_the_gate(space, monkeypatch):
    monkeypatch.setenv("IDIA_MODEL", "hf-hub:operator/own-model")
    for entry in CATALOGUE:
        assert check_offered(entry.spec, "hf-hub:operator/own-model") == entry.spec
    s = validate_check_options({"model": "hf-hub:operator/own-model"}, default_model="hf-hub:operator/own-model")
    assert s.settings.model == "hf-hub:operator/own-model"


def test_switches(laptop, monkeypatch):
    assert not is_public() and check_offered("ViT-H-14:random", "sandbox") == "ViT-H-14:random"
    monkeypatch.setenv("IDIA_PUBLIC", "1")
    assert is_public()
    with pytest.raises(IdiaInputError):
        check_offered("ViT-H-14:random", "sandbox")
    monkeypatch.setenv("IDIA_ALLOW_ANY_MODEL", "1")
    assert check_offered("ViT-H-14:random", "sandbox") == "ViT-H-14:random"


def test_public_limits_on_pool_and_added_names(space):
    assert _code({"n_candidates": limits.PUBLIC_MAX_POOL + 1}) == "pool_size_limit"
    assert _code({"extra_names": [f"Name {chr(65 + i % 26)}{chr(65 + i // 26 % 26)}"
                                  for i in range(limits.PUBLIC_MAX_USER_NAMES + 1)]}) == "too_many_names"
    validate_check_options({"n_candidates": limits.PUBLIC_MAX_POOL}, default_model="sandbox")


def test_model_load_failure_reaches_clients_without_internal_text():
    err = IdiaInputError("model_load_failed", "The model 'hf-hub:a/b' could not be loaded: ImportError: "
                                              "Please `pip install transformers`.")
    msg = client_message(err)
    assert "pip install" not in msg and "ImportError" not in msg and "hf-hub:a/b" in msg


@pytest.mark.parametrize("text", ["[x](http://evil)", "a`b", "``", "<form>", "line\nbreak"])
def test_code_span_holds_any_text(text):
    shown = code(text)
    assert "\n" not in shown and shown.startswith("`") and shown.endswith("`")
    inner = shown.strip("`")
    assert "`" * (len(shown) - len(shown.lstrip("`"))) not in inner
