"""The authorizer on moto's Secrets Manager: the API key's current, previous and pending
values connect, any other key and no key are denied; the bridge key comes from its secret."""

from __future__ import annotations

import boto3
import pytest
from service_common.secret_keys import KeyRing, secret_stages
from service_testing.secrets import Clock, secrets_manager
from websocket_authorizer import handler

OLD = "old-ws-key-0123456789abcdefghij"
NEW = "new-ws-key-0123456789abcdefghij"
METHOD = "arn:aws:execute-api:us-east-1:123456789012:abc123/v1/$connect"


@pytest.fixture
def sm(monkeypatch):
    handler._rings.clear()
    with secrets_manager(monkeypatch) as client:
        yield client
    handler._rings.clear()


def connect(key, env, clock, **headers):
    event = {"type": "REQUEST", "methodArn": METHOD,
             "headers": ({"X-Api-Key": key} if key else {}) | headers}  # fmt: skip
    return handler.lambda_handler(
        event, env=env,
        make_ring=lambda arn: KeyRing(secret_stages(arn), clock=clock),
        bridge_key=lambda arn: handler.current_value(arn, boto3.client("secretsmanager")),
    )  # fmt: skip


def effect(answer) -> str:
    statement = answer["policyDocument"]["Statement"][0]
    assert statement["Resource"] == METHOD and statement["Action"] == "execute-api:Invoke"
    return statement["Effect"]


def test_old_and_new_keys_connect_through_a_rotation_and_others_are_denied(sm):
    arn = sm.create_secret(Name="aw/api-key", SecretString=OLD)["ARN"]
    env, clock = {"API_KEY_SECRET_ARN": arn}, Clock()
    assert effect(connect(OLD, env, clock)) == "Allow"
    # a rotation starts: the new value is pending
    sm.put_secret_value(SecretId=arn, ClientRequestToken="p" * 32, SecretString=NEW,
                        VersionStages=["AWSPENDING"])  # fmt: skip
    clock.now += 10
    assert effect(connect(NEW, env, clock)) == "Allow"
    assert effect(connect(OLD, env, clock)) == "Allow"
    assert effect(connect("wrong-key-0123456789abcdefgh", env, clock)) == "Deny"
    assert effect(connect(None, env, clock)) == "Deny"
    assert "context" not in connect(NEW, env, clock)  # NLB mode: no bridge key


def test_in_shared_alb_mode_the_bridge_key_is_returned_from_its_secret(sm):
    arn = sm.create_secret(Name="aw/api-key", SecretString=OLD)["ARN"]
    bridge = sm.create_secret(Name="aw/bridge-key", SecretString="bridge-0123456789abcdef")["ARN"]
    env = {"API_KEY_SECRET_ARN": arn, "BRIDGE_KEY_SECRET_ARN": bridge}
    answer = connect(OLD, env, Clock())
    assert answer["context"] == {handler.CONTEXT_BRIDGE_KEY: "bridge-0123456789abcdef"}
    # a denied connection learns nothing of it
    assert "context" not in connect("wrong-key-0123456789abcdefgh", env, Clock())
