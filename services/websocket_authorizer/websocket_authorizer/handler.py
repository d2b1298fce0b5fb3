"""The authorizer: ``websocket_authorizer.handler.lambda_handler``.

Variables: ``API_KEY_SECRET_ARN`` (required), ``BRIDGE_KEY_SECRET_ARN`` (shared-ALB mode).
The rings are kept between invocations of one execution environment (a Lambda function's
module state), so a warm function reads Secrets Manager at most once per TTL, and an
unknown key at most once per refresh interval, whatever the connection rate.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from service_common.secret_keys import KeyRing, secret_stages

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)

CONTEXT_BRIDGE_KEY = "bridgeKey"
"""The authorizer context's key holding the bridge key (``context.authorizer.bridgeKey``)."""
HEADER = "x-api-key"

_rings: dict[str, KeyRing] = {}


def _ring(secret_arn: str, make: Callable[[str], KeyRing]) -> KeyRing:
    if secret_arn not in _rings:
        _rings[secret_arn] = make(secret_arn)
    return _rings[secret_arn]


def _default_ring(secret_arn: str) -> KeyRing:
    return KeyRing(secret_stages(secret_arn))


def presented_key(event: Mapping[str, Any]) -> str | None:
    """The ``x-api-key`` header (any case)."""
    for name, value in (event.get("headers") or {}).items():
        if name.lower() == HEADER and value:
            return value.strip()
    return None


def policy(event: Mapping[str, Any], effect: str, context: Mapping[str, str] | None = None):
    """The IAM policy API Gateway expects: ``effect`` on this connection's ``$connect``."""
    answer: dict[str, Any] = {
        "principalId": "api-key" if effect == "Allow" else "anonymous",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}
            ],
        },
    }
    if context:
        answer["context"] = dict(context)
    return answer


def current_value(secret_arn: str, client: Any = None) -> str:
    """The AWSCURRENT value of ``secret_arn``."""
    if client is None:
        import boto3

        client = boto3.client("secretsmanager")
    return client.get_secret_value(SecretId=secret_arn, VersionStage="AWSCURRENT")["SecretString"]


def lambda_handler(
    event: Mapping[str, Any],
    context: Any = None,
    *,
    env: Mapping[str, str] | None = None,
    make_ring: Callable[[str], KeyRing] = _default_ring,
    bridge_key: Callable[[str], str] = current_value,
) -> dict[str, Any]:
    env = os.environ if env is None else env
    key = presented_key(event)
    ring = _ring(env["API_KEY_SECRET_ARN"], make_ring)
    if not key or not ring.matches([key.encode()]):
        log.info("connection denied: %s", "no key" if not key else "unknown key")
        return policy(event, "Deny")
    extra = {}
    if env.get("BRIDGE_KEY_SECRET_ARN"):
        extra[CONTEXT_BRIDGE_KEY] = bridge_key(env["BRIDGE_KEY_SECRET_ARN"])
    return policy(event, "Allow", extra)
