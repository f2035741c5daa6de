"""What a stranger can ask of a shared server: no files from its disk, no template files by path,
no exceptions from odd API options, and nothing learnt about whom other visitors checked."""
from __future__ import annotations

import pytest

from idia_core.text.cache import default_cache
from idia_core.errors import IdiaInputError
from idia_core import chat as C
from idia_core.chat.session import ChatSession
from idia_core.zoo.load import load_model
from idia_core.text.embeddings import clear_pool_memo
from idia_core.attack.settings import IdiaSettings
from idia_core.text.templates import fill_template
from tests.chat.test_controller import POOL, checked, photos, send, spec, texts  # noqa: F401 (fixtures)


def test_local_models_refused_on_a_space(monkeypatch, spec, tmp_path):
    monkeypatch.setenv("SPACE_ID", "someone/idia")
    monkeypatch.delenv("IDIA_ALLOW_ANY_MODEL", raising=False)
    monkeypatch.delenv("IDIA_ALLOW_LOCAL_MODELS", raising=False)
    monkeypatch.setenv("IDIA_MODEL", "sandbox")
    state = ChatSession(settings=IdiaSettings(model="sandbox", n_candidates=POOL))
    for request in (f"model {spec}", "model ViT-B-32:/etc/hostname.pt"):
        turn = send(state, request)
        assert "points at files on this server" in texts(turn)
        assert turn.state.settings.model == "sandbox"
    out = C.api_check([], "Jane Doe", {"model": spec})
    assert out["error"]["code"] == "model_local_refused"
    monkeypatch.setenv("IDIA_ALLOW_LOCAL_MODELS", "1")
    with pytest.raises(IdiaInputError) as err:   # a public deployment also offers only its catalogue
        C.public_model(spec)
    assert err.value.code == "model_not_offered"
    monkeypatch.setenv("IDIA_ALLOW_ANY_MODEL", "1")
    assert C.public_model(spec) == spec


def test_local_models_allowed_on_a_laptop(monkeypatch, spec):
    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.delenv("IDIA_ALLOW_LOCAL_MODELS", raising=False)
    assert C.public_model(spec) == spec


def test_template_files_by_path_are_refused(tmp_path, spec):
    secret = tmp_path / "secret.txt"
    secret.write_text("first line secret\n")
    state = ChatSession(settings=IdiaSettings(model=spec, n_candidates=POOL))
    for value in (str(secret), str(secret.with_suffix("")), "../../../../" + str(secret)):
        turn = send(state, f"templates {value}")
        assert "first line secret" not in texts(turn) and "Unknown template set" in texts(turn)
        opened = C.open_link({"idia": "1", "name": "Jane Doe", "templates": value})
        assert "first line secret" not in texts(opened)
    out = C.api_check([], "Jane Doe", {"template_set": str(secret)})
    assert out["error"]["code"] == "template_set_unknown"


@pytest.mark.parametrize("options", [{"extra_names": 5}, {"template_set": 5}, {"template_set": ["a"]},
                                     {"tau": [1]}, {"n_candidates": {"a": 1}}, {"model": 3}])
def test_odd_api_options_are_answered_not_raised(options, photos, spec):
    out = C.api_check(photos[:3], "Jane Doe", options, default_model=spec)
    assert out["ok"] is False and out["error"]["message"]


def test_names_a_visitor_typed_never_enter_the_shared_cache(spec, photos):
    model = load_model(spec)
    clear_pool_memo()
    state = ChatSession(settings=IdiaSettings(model=spec, n_candidates=POOL))
    state = checked(state, photos, name="Zebedee Quux").state
    turn = send(state, "add Yolanda Vexley")
    assert turn.state.last_result is not None and "Yolanda Vexley" in turn.state.last_result.candidates
    cache = default_cache()
    cache.clear_memory()   # what a new visitor (or a new process) would find
    for name in ("Zebedee Quux", "Yolanda Vexley"):
        _, missing = cache.get_many(model.fingerprint, [fill_template("a photo of {0}", name)])
        assert missing == [0], name
    distractor = next(n for n in turn.state.last_result.candidates if n not in ("Zebedee Quux", "Yolanda Vexley"))
    _, missing = cache.get_many(model.fingerprint, [fill_template("a photo of {0}", distractor)])
    assert missing == []   # the shared pool is still cached for everyone


def test_api_check_returns_no_timings(photos, spec):
    out = C.api_check(photos[:3], "Jane Doe", {"n_candidates": POOL}, default_model=spec)
    assert out["ok"] and "timings" not in out["result"]


def test_pool_of_only_added_names_is_a_check_not_a_crash(photos, spec):
    """{"n_candidates": 2, "extra_names": ["John Roe"]} leaves no seeded distractor: the pool is the
    target and John Roe, and the check runs (it crashed with 'need at least one array to stack')."""
    out = C.api_check(photos[:3], "Jane Doe", {"n_candidates": 2, "extra_names": ["John Roe"]}, default_model=spec)
    assert out["ok"], out
    r = out["result"]
    assert r["n_candidates"] == 2 and r["user_names"] == ["John Roe"]
    assert {t["name"] for t in r["top_names"]} == {"Jane Doe", "John Roe"}


@pytest.mark.parametrize("options", ['{"tau": 2}', 7, ["tau"], True])
def test_options_that_are_not_an_object_are_refused(options, photos, spec):
    out = C.api_check(photos[:3], "Jane Doe", options, default_model=spec)
    assert out["ok"] is False and out["error"]["code"] == "option_type"


def test_evidence_bundles_made_in_the_chat_carry_no_timings(spec, photos):
    import json

    state = ChatSession(settings=IdiaSettings(model=spec, n_candidates=POOL))
    turn = send(checked(state, photos).state, "report")
    bundle = next(p for p in turn.replies[-1].files if p.endswith(".json"))
    text = open(bundle).read()
    assert not json.loads(text)["result"].get("timings") and "decode" not in text and "load_model" not in text
    turn.state.close()


def test_model_that_fails_to_load_is_named_without_internal_text(monkeypatch, spec, photos):
    """A load failure's internal cause (e.g. 'Please `pip install transformers`') stays in the log."""
    from idia_core.zoo import build as models
    from idia_core.errors import ModelUnavailableError

    def broken(spec_, device=None):
        raise ModelUnavailableError("model_load_failed", f"The model '{spec_}' could not be loaded: "
                                                         "ImportError: Please `pip install transformers`.")
    monkeypatch.setattr("idia_core.chat.setting_handlers.load_model", broken)
    state = ChatSession(settings=IdiaSettings(model=spec, n_candidates=POOL))
    turn = send(state, "model ViT-B-32:openai")
    assert "pip install" not in texts(turn) and "could not be loaded" in texts(turn)
    monkeypatch.setattr("idia_core.attack.run.load_model", broken)
    out = C.api_check(photos[:3], "Jane Doe", {"model": "ViT-B-32:openai"}, default_model=spec)
    assert out["error"]["code"] == "model_load_failed" and "pip install" not in out["error"]["message"]
    assert models is not None
