"""The Lambda entry point: ``secret_rotation.handler.lambda_handler``.

Secrets Manager sends ``{"Step", "SecretId", "ClientRequestToken"}``; the function rotates
only the secret its ``SECRET_ARN`` names (its role could touch no other, and an event for
another is refused before any call), with the kind ``ROTATION_KIND`` names.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from secret_rotation import kinds, steps

logging.getLogger().setLevel(logging.INFO)


def _client(service: str) -> Any:
    import boto3

    return boto3.client(service)


def lambda_handler(
    event: Mapping[str, Any],
    context: Any = None,
    *,
    env: Mapping[str, str] | None = None,
    client: Callable[[str], Any] = _client,
) -> None:
    env = os.environ if env is None else env
    secret_id = event["SecretId"]
    if secret_id != env.get("SECRET_ARN"):
        raise steps.RotationError(f"this function rotates {env.get('SECRET_ARN')}, not {secret_id}")
    kind = kinds.from_env(env, client)
    steps.run(event["Step"], secret_id, event["ClientRequestToken"], kind, client("secretsmanager"))
