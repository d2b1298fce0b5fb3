"""An IAM role and its one inline policy, the pair every task, instance and service role
of the stacks is: ``<base>-role`` and ``<base>-policy`` under the caller's parent."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws


def role_and_policy(
    base: str,
    *,
    trust: pulumi.Input[str],
    policy: pulumi.Input[str],
    description: str,
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
    name: pulumi.Input[str] | None = None,
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """The role ``<base>-role`` (physical ``name``, or auto-named) assumed by ``trust``,
    with ``policy`` as its inline policy ``<base>-policy``. Both names are fixed: they are
    in the children's URNs."""
    role = aws.iam.Role(
        f"{base}-role",
        name=name,
        description=description,
        assume_role_policy=trust,
        tags=dict(tags),
        opts=opts,
    )
    return role, aws.iam.RolePolicy(f"{base}-policy", role=role.id, policy=policy, opts=opts)


def role_with_policy(base: str, **kwargs) -> aws.iam.Role:
    """The role of :func:`role_and_policy` (same arguments), for callers that need only it."""
    return role_and_policy(base, **kwargs)[0]
