"""Security group rules as the stacks write them: one TCP port (or range) per rule.

Rules are separate resources (``aws.vpc.SecurityGroupIngressRule`` / ``EgressRule``) rather
than inline blocks, so two groups can reference each other and a component can open a
path into a group another component owns.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

Ports = pulumi.Input[int] | tuple[int, int]
"""One port, or an inclusive ``(low, high)`` range."""


def _range(ports: Ports) -> tuple[pulumi.Input[int], pulumi.Input[int]]:
    return ports if isinstance(ports, tuple) else (ports, ports)


def ingress_from(
    name: str,
    *,
    group_id: pulumi.Input[str],
    source_id: pulumi.Input[str],
    ports: Ports,
    description: str,
    opts: pulumi.ResourceOptions,
) -> aws.vpc.SecurityGroupIngressRule:
    """Admit members of group ``source_id`` into ``group_id`` on ``ports``."""
    low, high = _range(ports)
    return aws.vpc.SecurityGroupIngressRule(
        name,
        security_group_id=group_id,
        referenced_security_group_id=source_id,
        ip_protocol="tcp",
        from_port=low,
        to_port=high,
        description=description,
        opts=opts,
    )


def egress_to(
    name: str,
    *,
    group_id: pulumi.Input[str],
    target_id: pulumi.Input[str],
    ports: Ports,
    description: str,
    opts: pulumi.ResourceOptions,
) -> aws.vpc.SecurityGroupEgressRule:
    """Let members of ``group_id`` out to group ``target_id`` on ``ports``."""
    low, high = _range(ports)
    return aws.vpc.SecurityGroupEgressRule(
        name,
        security_group_id=group_id,
        referenced_security_group_id=target_id,
        ip_protocol="tcp",
        from_port=low,
        to_port=high,
        description=description,
        opts=opts,
    )


def https_out(
    name: str, group_id: pulumi.Input[str], *, description: str, opts: pulumi.ResourceOptions
) -> aws.vpc.SecurityGroupEgressRule:
    """Let members of ``group_id`` out to anywhere on 443: the AWS APIs they call."""
    return aws.vpc.SecurityGroupEgressRule(
        name,
        security_group_id=group_id,
        cidr_ipv4="0.0.0.0/0",
        ip_protocol="tcp",
        from_port=443,
        to_port=443,
        description=description,
        opts=opts,
    )
