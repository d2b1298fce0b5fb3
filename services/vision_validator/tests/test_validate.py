"""POST /validate: the seed's body, its validation (422, never 500), the body limit (413)."""

from __future__ import annotations

import copy
import json

import pytest
from vision_validator.analyzers import Analysis


def test_the_seed_example_is_validated(client, auth, body):
    response = client.post("/validate", json=body, headers=auth)

    assert response.status_code == 200
    assert response.json() == {
        "sessionId": "test-123",
        "step": 1,
        "part": "base",
        "valid": True,
        "score": 0.9,
        "issues": [],
        "reasons": ["set by the test"],
        "analyzer": "fixed-test-analyzer",
    }
    assert response.headers["X-Request-Id"]


def test_the_seed_readme_body_is_accepted_verbatim(client, auth, body):
    body["context"]["artifactsUrl"] = "https://..."

    assert client.post("/validate", json=body, headers=auth).status_code == 200


def test_malformed_json_gets_422_not_500(client, auth):
    response = client.post(
        "/validate",
        content=b'{"context": {"sessionId": "x",',
        headers={**auth, "Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


@pytest.mark.parametrize("content", [b"[]", b"42", b'"text"', b"null"])
def test_json_that_is_not_an_object_gets_422(client, auth, content):
    response = client.post(
        "/validate", content=content, headers={**auth, "Content-Type": "application/json"}
    )

    assert response.status_code == 422


def test_a_body_that_is_not_json_gets_422(client, auth, body):
    response = client.post(
        "/validate",
        content=json.dumps(body).encode(),
        headers={**auth, "Content-Type": "text/plain"},
    )

    assert response.status_code == 422


@pytest.mark.parametrize(
    "path",
    [
        ("context",),
        ("args",),
        ("context", "sessionId"),
        ("context", "artifactsUrl"),
        ("context", "step"),
        ("args", "part"),
        ("args", "partDescription"),
    ],
    ids=lambda path: ".".join(path),
)
def test_a_missing_field_gets_422_naming_it(client, auth, body, path):
    broken = copy.deepcopy(body)
    parent = broken
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]

    response = client.post("/validate", json=broken, headers=auth)

    assert response.status_code == 422
    errors = response.json()["detail"]
    assert ["body", *path] in [error["loc"] for error in errors]
    assert all(error["type"] == "missing" for error in errors)


@pytest.mark.parametrize(
    ("section", "field", "value"),
    [
        ("context", "step", 0),
        ("context", "step", -3),
        ("context", "step", "1"),
        ("context", "step", True),
        ("context", "step", 1.5),
        ("context", "artifactsUrl", "http://artifacts.example.com/x"),
        ("context", "artifactsUrl", "ftp://artifacts.example.com/x"),
        ("context", "artifactsUrl", "file:///etc/passwd"),
        ("context", "artifactsUrl", "not a url"),
        ("context", "artifactsUrl", "https://user:secret@artifacts.example.com/x"),
        ("context", "artifactsUrl", "https://example.com/" + "a" * 2048),
        ("context", "sessionId", ""),
        ("context", "sessionId", "abc\ndef"),
        ("context", "sessionId", "s" * 129),
        ("args", "part", ""),
        ("args", "part", "   "),
        ("args", "part", "p" * 129),
        ("args", "partDescription", "d" * 4001),
        ("args", "partDescription", 7),
    ],
)
def test_an_out_of_range_or_mistyped_field_gets_422(client, auth, body, section, field, value):
    body[section][field] = value

    response = client.post("/validate", json=body, headers=auth)

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", section, field]]


def test_a_validation_error_does_not_echo_the_request(client, auth, body):
    body["args"]["partDescription"] = "confidential design notes " * 200

    response = client.post("/validate", json=body, headers=auth)

    assert response.status_code == 422
    assert "confidential" not in response.text


def test_unknown_fields_are_ignored(client, auth, body):
    body["extra"] = {"anything": 1}
    body["context"]["projectId"] = "p-1"

    response = client.post("/validate", json=body, headers=auth)

    assert response.status_code == 200
    assert "extra" not in response.json()


def test_a_body_declared_larger_than_the_limit_gets_413(make_client, auth):
    client = make_client(max_body_bytes=2048)

    response = client.post(
        "/validate",
        content=b"x" * 2049,
        headers={**auth, "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json() == {"detail": "request body larger than 2048 bytes"}


def test_a_chunked_body_larger_than_the_limit_gets_413(make_client, auth):
    client = make_client(max_body_bytes=2048)

    def chunks():
        for _ in range(5):
            yield b"x" * 1000

    response = client.post(
        "/validate", content=chunks(), headers={**auth, "Content-Type": "application/json"}
    )

    assert response.status_code == 413


def test_a_body_at_the_limit_is_read(make_client, auth, body):
    client = make_client(max_body_bytes=2048)
    encoded = json.dumps(body).encode()
    padded = encoded + b" " * (2048 - len(encoded))

    response = client.post(
        "/validate", content=padded, headers={**auth, "Content-Type": "application/json"}
    )

    assert response.status_code == 200


def test_the_default_limit_is_one_mebibyte(client, auth, body):
    body["args"]["partDescription"] = "x" * (1024 * 1024)

    response = client.post("/validate", json=body, headers=auth)

    assert response.status_code == 413


class Exploding:
    name = "exploding"

    def analyze(self, request):
        raise RuntimeError("analyzer internals: /opt/secret/path")


class OutOfRange:
    name = "out-of-range"

    def analyze(self, request):
        return Analysis.__new__(Analysis)  # bypasses the checks: no fields at all


@pytest.mark.parametrize("analyzer", [Exploding(), OutOfRange()], ids=["raises", "bad-result"])
def test_an_unexpected_error_gets_a_bare_500_json(make_client, auth, body, analyzer, caplog):
    client = make_client(analyzer=analyzer)

    response = client.post("/validate", json=body, headers=auth)

    assert response.status_code == 500
    assert response.json() == {
        "detail": "internal server error",
        "request_id": response.headers["X-Request-Id"],
    }
    assert "Traceback" not in response.text and "secret" not in response.text
    assert any(record.getMessage() == "unhandled error" for record in caplog.records)


@pytest.mark.parametrize(("depth", "status"), [(900, 200), (5000, 400)])
def test_deeply_nested_json_gets_an_answer_not_a_500(client, auth, body, depth, status):
    # Unknown fields are ignored whatever their depth; JSON beyond the parser's recursion
    # limit is FastAPI's 400 ("There was an error parsing the body").
    content = json.dumps(body)[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}"

    response = client.post(
        "/validate", content=content.encode(), headers={**auth, "Content-Type": "application/json"}
    )

    assert response.status_code == status
