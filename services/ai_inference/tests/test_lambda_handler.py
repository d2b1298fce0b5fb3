"""The service on Lambda: load balancer events through Mangum to the app, no network.

Each event is an Application Load Balancer's Lambda event as AWS documents it ("Lambda
functions as targets", Elastic Load Balancing user guide): ``requestContext.elb``,
``httpMethod``, ``path``, ``queryStringParameters``, ``headers``, ``body``,
``isBase64Encoded``; the answer must carry ``statusCode``, ``headers`` and
``isBase64Encoded`` ("Respond to the load balancer": the body may be omitted,
``statusDescription`` is optional), and here always carries a body.
"""

from __future__ import annotations

import base64
import json

import pytest
from ai_inference import lambda_handler
from ai_inference.model_store import ModelStore
from service_common.env import ConfigError
from service_common.secret_keys import KeyRing

TARGET_GROUP = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/ai/0123456789abcdef"
SECRET_ID = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mlplatform-dev/api-key-AbCdEf"


def alb_event(method: str, path: str, body: str = "", headers=None, base64_body=False) -> dict:
    return {
        "requestContext": {"elb": {"targetGroupArn": TARGET_GROUP}},
        "httpMethod": method,
        "path": path,
        "queryStringParameters": {},
        "headers": {
            "host": "inference-123.us-east-1.elb.amazonaws.com",
            "x-forwarded-for": "203.0.113.7",
            "x-forwarded-port": "80",
            "x-forwarded-proto": "http",
            **({"content-type": "application/json"} if body else {}),
            **(headers or {}),
        },
        "body": base64.b64encode(body.encode()).decode() if base64_body else body,
        "isBase64Encoded": base64_body,
    }


class FakeSecrets:
    """Secrets Manager's GetSecretValue for one secret; records every request."""

    def __init__(self, value: str):
        self.value = value
        self.requests: list[dict] = []

    def get_secret_value(self, **request):
        self.requests.append(request)
        if request["SecretId"] != SECRET_ID:
            raise AssertionError(f"unexpected secret {request['SecretId']}")
        return {"SecretString": self.value}


@pytest.fixture
def adapter(api_key):
    """The handler's adapter, keyed by the secret (no ``API_KEY`` in the environment, as on
    Lambda), with no models and a key ring that never reads Secrets Manager (no network)."""
    secrets = FakeSecrets(api_key)
    built = lambda_handler.build(
        {"API_KEY_SECRET_ID": SECRET_ID},
        read_secret=lambda secret_id: lambda_handler.current_secret(secret_id, secrets),
        store=ModelStore(),
        key_ring=KeyRing(None, fallback=[api_key]),
    )
    built.secrets = secrets
    return built


def answer(adapter, event) -> tuple[int, dict, dict]:
    response = adapter(event, None)
    assert {"statusCode", "headers", "body", "isBase64Encoded"} <= set(response)
    body = response["body"]
    if response["isBase64Encoded"]:
        body = base64.b64decode(body).decode()
    return response["statusCode"], response["headers"], json.loads(body) if body else {}


def test_the_key_is_the_secrets_current_value_read_once_at_build(adapter):
    assert adapter.secrets.requests == [{"SecretId": SECRET_ID, "VersionStage": "AWSCURRENT"}]


def test_get_health_answers_200_without_a_key(adapter):
    status, headers, body = answer(adapter, alb_event("GET", "/health"))
    assert status == 200
    assert body["status"] == "ok" and body["device"] == "cpu"
    assert headers["content-type"] == "application/json"


def test_post_move_with_the_api_key_chooses_a_legal_move(adapter, api_key, body):
    event = alb_event("POST", "/move", json.dumps(body), {"x-api-key": api_key})
    status, _, answered = answer(adapter, event)
    assert status == 200
    assert answered["move"] in body["game_state"]["legal_moves"]
    assert answered["player_number"] == 1 and answered["difficulty"] == 3


def test_a_base64_body_is_decoded_as_the_load_balancer_sends_binary_ones(adapter, api_key, body):
    event = alb_event("POST", "/move", json.dumps(body), {"x-api-key": api_key}, base64_body=True)
    status, _, answered = answer(adapter, event)
    assert status == 200
    assert answered["move"] in body["game_state"]["legal_moves"]


def test_post_move_without_the_key_is_refused_with_401(adapter, body):
    status, _, _ = answer(adapter, alb_event("POST", "/move", json.dumps(body)))
    assert status == 401


def test_post_move_with_a_wrong_key_is_refused_with_401(adapter, body):
    event = alb_event("POST", "/move", json.dumps(body), {"x-api-key": "not-the-key-0123456789"})
    status, _, _ = answer(adapter, event)
    assert status == 401


def test_a_bad_body_is_a_4xx_naming_the_field(adapter, api_key, body):
    body["player_number"] = "first"
    event = alb_event("POST", "/move", json.dumps(body), {"x-api-key": api_key})
    status, _, answered = answer(adapter, event)
    assert status == 422
    assert any(entry["loc"][-1] == "player_number" for entry in answered["detail"])


def test_a_body_that_is_not_json_is_a_4xx(adapter, api_key):
    event = alb_event("POST", "/move", "{not json", {"x-api-key": api_key})
    status, _, _ = answer(adapter, event)
    assert 400 <= status < 500


def test_without_a_key_or_its_secret_the_handler_refuses_to_build():
    with pytest.raises(ConfigError, match="API_KEY"):
        lambda_handler.build({}, read_secret=lambda _: pytest.fail("no secret to read"))


def test_a_secret_value_too_short_to_be_a_key_is_refused():
    with pytest.raises(ConfigError, match="API_KEY"):
        lambda_handler.build({"API_KEY_SECRET_ID": SECRET_ID}, read_secret=lambda _: "short")


def test_the_module_handler_builds_from_the_environment_once(monkeypatch, api_key, body):
    monkeypatch.setattr(lambda_handler, "_adapter", None)
    monkeypatch.setenv("API_KEY", api_key)
    built = []
    real_build = lambda_handler.build

    def build(environ):
        built.append(dict(environ))
        return real_build(environ, store=ModelStore(), key_ring=KeyRing(None, [api_key]))

    monkeypatch.setattr(lambda_handler, "build", build)
    event = alb_event("POST", "/move", json.dumps(body), {"x-api-key": api_key})
    assert lambda_handler.handler(event, None)["statusCode"] == 200
    assert lambda_handler.handler(alb_event("GET", "/health"), None)["statusCode"] == 200
    assert len(built) == 1 and built[0]["API_KEY"] == api_key
