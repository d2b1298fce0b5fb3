"""Helpers of the rotation tests (imported by conftest.py and the tests): moto's Secrets
Manager drives the function. ``rotate_secret`` stages the new version AWSPENDING and invokes
the rotation function once per step, as Secrets Manager does. moto would run a function in
Docker; here its Lambda backend's ``invoke`` is replaced by a call of ``lambda_handler`` in
this process (each step twice: Secrets Manager retries a step, so each must be idempotent).
"""

from __future__ import annotations

import json

import boto3
from secret_rotation.handler import lambda_handler

REGION = "us-east-1"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:123456789012:function:rotate-test"


class Rotator:
    """``rotate(secret_arn)``: one rotation through moto, the function configured by
    ``env`` and its clients by ``clients`` (service -> client; boto3's by default)."""

    def __init__(self, monkeypatch):
        from moto.awslambda.models import LambdaBackend

        self.env: dict[str, str] = {}
        self.clients: dict[str, object] = {}
        self.events: list[dict] = []
        self.repeat = 2
        monkeypatch.setattr(LambdaBackend, "get_function", lambda *a, **k: object())
        monkeypatch.setattr(LambdaBackend, "invoke", self._invoke)

    def client(self, service: str):
        return self.clients.get(service) or boto3.client(service, region_name=REGION)

    def _invoke(self, function_name, qualifier, body, headers, response_headers):
        event = json.loads(body)
        # moto sends the secret's name where Secrets Manager sends its ARN.
        sm = boto3.client("secretsmanager", region_name=REGION)
        event["SecretId"] = sm.describe_secret(SecretId=event["SecretId"])["ARN"]
        for _ in range(self.repeat):
            self.events.append(event)
            lambda_handler(event, env=self.env, client=self.client)
        return b""

    def rotate(self, secret_arn: str) -> None:
        self.env["SECRET_ARN"] = secret_arn
        boto3.client("secretsmanager", region_name=REGION).rotate_secret(
            SecretId=secret_arn, RotationLambdaARN=FUNCTION_ARN,
            RotationRules={"AutomaticallyAfterDays": 30},
        )  # fmt: skip


def stage_values(sm, secret_arn: str) -> dict[str, str]:
    """Stage -> value of each labelled version."""
    versions = sm.describe_secret(SecretId=secret_arn)["VersionIdsToStages"]
    found = {}
    for version, stages in versions.items():
        value = sm.get_secret_value(SecretId=secret_arn, VersionId=version)["SecretString"]
        for stage in stages:
            found[stage] = value
    return found
