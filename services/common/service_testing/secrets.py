"""moto's Secrets Manager for the key-rotation tests, and the settable clock they share.

The services that accept an API key's AWSCURRENT, AWSPREVIOUS and AWSPENDING values
(``service_common.secret_keys``: ai_inference, vision_validator, the WebSocket authorizer)
are tested through a rotation against moto's in-process Secrets Manager, with a clock the
test moves to expire the key ring's cache. One definition here, imported by each test.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import boto3
from moto import mock_aws

REGION = "us-east-1"
TEST_CREDENTIALS = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
"""What boto3 needs to sign requests to moto; never real credentials."""


class Clock:
    """A clock the test sets (``clock.now += 300``), for ``KeyRing(clock=...)``."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@contextmanager
def secrets_manager(monkeypatch, secrets: Mapping[str, str] = ()) -> Iterator:
    """A boto3 Secrets Manager client of moto's in-process Secrets Manager, with test
    credentials in the environment (through ``monkeypatch``, so they are put back) and
    each ``secrets`` name created with its value."""
    for name, value in TEST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("secretsmanager", region_name=REGION)
        for name, value in dict(secrets).items():
            client.create_secret(Name=name, SecretString=value)
        yield client
