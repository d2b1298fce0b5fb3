"""The analyzer interface: no verdict without an analyzer (503), plugging one in by ANALYZER."""

from __future__ import annotations

import textwrap

import pytest
from vision_validator.analyzers import Analysis, Analyzer, NoAnalyzer, load_analyzer
from vision_validator.app import create_app
from vision_validator.settings import ConfigError, Settings


def test_an_analysis_score_must_be_between_zero_and_one():
    with pytest.raises(ValueError, match="score must be from 0 to 1"):
        Analysis(valid=True, score=1.5)
    with pytest.raises(ValueError, match="score must be from 0 to 1"):
        Analysis(valid=True, score=float("nan"))


def test_without_a_provider_key_or_analyzer_every_validation_is_a_503_not_a_pass(
    api_key, auth, body
):
    from fastapi.testclient import TestClient

    client = TestClient(create_app(Settings.from_env({"API_KEY": api_key})))

    response = client.post("/validate", json=body, headers=auth)

    assert response.status_code == 503
    assert response.json() == {
        "detail": "no analyzer configured: the service needs OPENAI_API_KEY or GEMINI_API_KEY"
    }
    assert client.get("/health").json()["analyzer"] == "none"
    assert isinstance(NoAnalyzer(), Analyzer)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("vision_validator.analyzers", "expected module:attr"),
        (":heuristic", "expected module:attr"),
        ("no_such_module_here:thing", "cannot import 'no_such_module_here'"),
        ("vision_validator.analyzers:missing", "has no attribute 'missing'"),
        ("vision_validator.verdict:MAX_REASONS", "is not an analyzer"),
    ],
)
def test_a_bad_analyzer_spec_is_a_config_error_naming_analyzer(spec, expected):
    with pytest.raises(ConfigError, match=f"^ANALYZER: .*{expected}"):
        load_analyzer(spec)


PLUGIN = textwrap.dedent(
    """
    from vision_validator.analyzers import Analysis, Issue

    class Strict:
        name = "strict-plugin"

        def analyze(self, request):
            ok = request.context.step < 3
            return Analysis(valid=ok, score=1.0 if ok else 0.0,
                            issues=() if ok else (Issue("late", "too many steps"),))

    instance = Strict()
    """
)


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    (tmp_path / "vv_test_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "vv_test_plugin"


@pytest.mark.parametrize("attr", ["Strict", "instance"], ids=["class", "object"])
def test_an_analyzer_named_by_the_environment_answers_requests(
    plugin_module, api_key, auth, body, attr
):
    from fastapi.testclient import TestClient

    settings = Settings.from_env({"API_KEY": api_key, "ANALYZER": f"{plugin_module}:{attr}"})
    client = TestClient(create_app(settings))

    body["context"]["step"] = 5
    response = client.post("/validate", json=body, headers=auth)

    assert response.status_code == 200
    assert response.json()["analyzer"] == "strict-plugin"
    assert response.json()["valid"] is False
    assert response.json()["issues"] == [{"code": "late", "message": "too many steps"}]
    assert client.get("/health").json()["analyzer"] == "strict-plugin"


def test_an_app_with_an_unloadable_analyzer_is_not_built(api_key):
    with pytest.raises(ConfigError, match="ANALYZER"):
        create_app(Settings(api_key=api_key, analyzer="no_such_module_here:x"))
