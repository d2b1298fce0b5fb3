"""A Secrets Manager secret and its first value, the pair every generated key, token and
password of the stacks is (the value's rotation, if any, is the caller's)."""

from __future__ import annotations

import weakref
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

_FIRST_VALUES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def secret_with_value(
    logical_name: str,
    *,
    value_name: str,
    name: str,
    description: str,
    value: pulumi.Input[str],
    recovery_window_in_days: int,
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
    kms_key_id: pulumi.Input[str] | None = None,
) -> aws.secretsmanager.Secret:
    """The secret ``logical_name`` (physical ``name``, encrypted with ``kms_key_id`` or
    Secrets Manager's AWS managed key) holding ``value`` as its version ``value_name``.
    Both logical names are the caller's: they are in the children's URNs."""
    secret = aws.secretsmanager.Secret(
        logical_name,
        name=name,
        description=description,
        kms_key_id=kms_key_id,
        recovery_window_in_days=recovery_window_in_days,
        tags=dict(tags),
        opts=opts,
    )
    _FIRST_VALUES[secret] = aws.secretsmanager.SecretVersion(
        value_name, secret_id=secret.id, secret_string=value, opts=opts
    )
    return secret


def first_value(secret: aws.secretsmanager.Secret) -> aws.secretsmanager.SecretVersion | None:
    """The first version :func:`secret_with_value` gave ``secret``, for what must wait for
    it (a rotation schedule, whose first rotation starts at once and reads AWSCURRENT)."""
    return _FIRST_VALUES.get(secret)
