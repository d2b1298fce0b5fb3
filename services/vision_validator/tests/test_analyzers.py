"""The analyzer interface: the deterministic default, and plugging another in by ANALYZER."""

from __future__ import annotations

import textwrap

import pytest
from vision_validator.analyzers import (
    Analysis,
    Analyzer,
    TextHeuristicAnalyzer,
    heuristic,
    load_analyzer,
)
from vision_validator.app import create_app
from vision_validator.schemas import ValidationRequest
from vision_validator.settings import ConfigError, Settings


def request(part: str, description: str) -> ValidationRequest:
    return ValidationRequest.model_validate(
        {
            "context": {"sessionId": "s-1", "artifactsUrl": "https://a.example.com/", "step": 2},
            "args": {"part": part, "partDescription": description},
        }
    )


def test_the_default_analyzer_is_deterministic():
    first = TextHeuristicAnalyzer().analyze(request("base", "A cylindrical base"))
    second = TextHeuristicAnalyzer().analyze(request("base", "A cylindrical base"))

    assert first == second


def test_a_well_described_part_scores_one_without_issues():
    described = request(
        "mounting bracket",
        "An L-shaped bracket of 3 mm steel plate with two slots for M4 bolts, 40 mm wide",
    )

    assert heuristic.analyze(described) == Analysis(valid=True, score=1.0, issues=())


def test_an_unrelated_description_is_invalid_and_says_why():
    analysis = heuristic.analyze(request("lid", "Something nice"))

    assert analysis.valid is False
    assert analysis.score == pytest.approx(0.4 * 2 / 12, abs=1e-4)
    assert [issue.code for issue in analysis.issues] == [
        "sparse_description",
        "part_not_mentioned",
        "no_geometry",
    ]


def test_a_dimension_counts_as_geometry_and_a_plural_as_the_part():
    analysis = heuristic.analyze(request("leg", "Four legs, each 120 mm"))

    assert [issue.code for issue in analysis.issues] == ["sparse_description"]


def test_an_analysis_score_must_be_between_zero_and_one():
    with pytest.raises(ValueError, match="score must be from 0 to 1"):
        Analysis(valid=True, score=1.5)
    with pytest.raises(ValueError, match="score must be from 0 to 1"):
        Analysis(valid=True, score=float("nan"))


def test_the_default_spec_loads_the_heuristic():
    analyzer = load_analyzer(Settings(api_key="k" * 16).analyzer)

    assert analyzer is heuristic
    assert isinstance(analyzer, Analyzer)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("vision_validator.analyzers", "expected module:attr"),
        (":heuristic", "expected module:attr"),
        ("no_such_module_here:thing", "cannot import 'no_such_module_here'"),
        ("vision_validator.analyzers:missing", "has no attribute 'missing'"),
        ("vision_validator.analyzers:VALID_THRESHOLD", "is not an analyzer"),
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
