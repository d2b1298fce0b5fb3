"""Where request_gate finds a NUL character MLflow would store, and where it does not look."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from mlflow_entrypoint.request_gate import nul_problem

APP = Flask(__name__)


def problem(path="/api/2.0/mlflow/experiments/create", **kwargs):
    with APP.test_request_context(path, **kwargs) as context:
        return nul_problem(context.request)


@pytest.mark.parametrize(
    "body",
    [{"name": "a\u0000b"}, {"tags": [{"key": "k", "value": "\u0000"}]}, {"x\u0000": 1}],
    ids=["value", "nested", "key"],
)
def test_a_nul_anywhere_in_a_json_body_is_found(body):
    found = problem(method="POST", data=json.dumps(body), content_type="application/json")
    assert found == "a value in the JSON body contains a NUL character"


def test_a_nul_in_the_query_string_is_found():
    found = problem("/api/2.0/mlflow/experiments/get-by-name", query_string={"name": "a\x00"})
    assert found == "a query parameter contains a NUL character"


def test_a_clean_request_and_an_artifact_upload_pass():
    assert problem(method="POST", data='{"name": "ok"}', content_type="application/json") is None
    upload = problem(
        "/api/2.0/mlflow-artifacts/artifacts/1/model.bin",
        method="PUT",
        data=b"\x00\x01binary\x00",
        content_type="application/octet-stream",
    )
    assert upload is None
