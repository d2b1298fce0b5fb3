"""The four rotation steps, as AWS's rotation template runs them, around a kind's own work.

Secrets Manager invokes the function once per step with the same ``ClientRequestToken``
(the new version's id) and retries a failed step, so each step checks what is already done
before doing it. AWSCURRENT moves only in ``finishSecret``: whatever fails before it leaves
the secret's current value - and every client holding it - untouched.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Protocol

log = logging.getLogger(__name__)

CURRENT = "AWSCURRENT"
PENDING = "AWSPENDING"
PREVIOUS = "AWSPREVIOUS"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


class RotationError(RuntimeError):
    """A step cannot go on; Secrets Manager marks the rotation failed and retries it."""


class Kind(Protocol):
    """What differs per kind of secret: the new value, and the service it must reach."""

    def generate(self, current: str) -> str:
        """A new value (``current`` is the value being replaced)."""

    def set(self, current: str, pending: str, previous: str | None, created: datetime) -> None:
        """Make the service accept ``pending`` too (idempotent); ``created`` is when the
        pending version was created (a change the service records after it is ours)."""

    def test(self, pending: str) -> None:
        """Raise :class:`RotationError` unless the service accepts ``pending``."""

    def finish(self, current: str, previous: str | None) -> None:
        """After AWSCURRENT moved to the new value (``current``): tell the service's clients,
        drop what is older than ``previous`` (idempotent)."""


def run(step: str, secret_id: str, token: str, kind: Kind, client: Any) -> None:
    """Run ``step`` for version ``token`` of ``secret_id``."""
    if step not in STEPS:
        raise RotationError(f"unknown step {step!r}")
    described = client.describe_secret(SecretId=secret_id)
    if not described.get("RotationEnabled"):
        raise RotationError(f"secret {secret_id} does not have rotation enabled")
    versions = described.get("VersionIdsToStages", {})
    if token not in versions:
        raise RotationError(f"secret {secret_id} has no version {token}")
    stages = versions[token]
    if CURRENT in stages and step != "finishSecret":
        log.info("%s: version %s is already AWSCURRENT", step, token)
        return
    if CURRENT not in stages and PENDING not in stages:
        raise RotationError(f"version {token} of {secret_id} is not AWSPENDING")
    if step == "createSecret":
        _create(secret_id, token, kind, client)
    elif step == "setSecret":
        pending = client.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage=PENDING)
        previous = _value(client, secret_id, PREVIOUS, missing_ok=True)
        current = _value(client, secret_id, CURRENT)
        kind.set(current, pending["SecretString"], previous, pending["CreatedDate"])
    elif step == "testSecret":
        kind.test(_pending(client, secret_id, token))
    else:
        _finish(secret_id, token, versions, kind, client)


def _create(secret_id: str, token: str, kind: Kind, client: Any) -> None:
    current = _value(client, secret_id, CURRENT)
    try:
        client.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage=PENDING)
        log.info("createSecret: version %s already holds a value", token)
        return
    except client.exceptions.ResourceNotFoundException:
        pass
    client.put_secret_value(
        SecretId=secret_id, ClientRequestToken=token, SecretString=kind.generate(current),
        VersionStages=[PENDING],
    )  # fmt: skip
    log.info("createSecret: version %s created", token)


def _finish(secret_id: str, token: str, versions: dict, kind: Kind, client: Any) -> None:
    current_version = next((v for v, s in versions.items() if CURRENT in s), None)
    if current_version != token:
        client.update_secret_version_stage(
            SecretId=secret_id, VersionStage=CURRENT, MoveToVersionId=token,
            RemoveFromVersionId=current_version,
        )  # fmt: skip
        log.info("finishSecret: AWSCURRENT moved to %s from %s", token, current_version)
    if PENDING in versions[token]:
        # Secrets Manager drops the label itself once the rotation succeeds; dropping it
        # here too leaves no rotation looking under way whoever reads the stages next.
        client.update_secret_version_stage(
            SecretId=secret_id, VersionStage=PENDING, RemoveFromVersionId=token
        )
    # Moving AWSCURRENT labels the replaced version AWSPREVIOUS (Secrets Manager does it).
    kind.finish(
        _value(client, secret_id, CURRENT), _value(client, secret_id, PREVIOUS, missing_ok=True)
    )


def _pending(client: Any, secret_id: str, token: str) -> str:
    found = client.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage=PENDING)
    return found["SecretString"]


def _value(client: Any, secret_id: str, stage: str, missing_ok: bool = False) -> str | None:
    try:
        return client.get_secret_value(SecretId=secret_id, VersionStage=stage)["SecretString"]
    except client.exceptions.ResourceNotFoundException:
        if missing_ok:
            return None
        raise
