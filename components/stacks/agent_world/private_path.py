"""How API Gateway reaches the agent world's private services (see the stack's docstring).

Either an internal NLB of the stack's own behind a VPC link (v1), a TCP listener per
service; or the shared ALB of the inference stack behind a VPC link v2, a listener rule per
service that forwards only what carries the service's header and comes from inside the VPC.
Each function creates children of the stack (``parent=stack``) under the logical names
they always had, so their URNs do not change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from components.lib import names
from components.lib.agent_world_roles import CONTAINER_PORT, RULE_PRIORITY, SERVICE_HEADER, Role
from components.parts import security_groups

if TYPE_CHECKING:
    from components.stacks.agent_world.stack import AgentWorldArgs, AgentWorldStack


def nlb_path(stack: AgentWorldStack, name: str, args: AgentWorldArgs) -> aws.ec2.SecurityGroup:
    """The internal NLB (``stack.nlb``) and its VPC link v1 (``stack.vpc_link``); returns
    the NLB's security group."""
    child = pulumi.ResourceOptions(parent=stack)
    tags = dict(args.common.tags)
    prefix = args.common.name_prefix
    nlb_security_group = aws.ec2.SecurityGroup(
        f"{name}-nlb-sg",
        vpc_id=args.vpc_id,
        description="Agent world NLB: no inbound rule; API Gateway arrives by PrivateLink",
        tags={**tags, "Name": f"{prefix}-agent-world-nlb"},
        opts=child,
    )
    stack.nlb = aws.lb.LoadBalancer(
        f"{name}-nlb",
        name=names.load_balancer(prefix, "world-nlb"),
        load_balancer_type="network",
        internal=True,
        subnets=args.private_subnet_ids,
        security_groups=[nlb_security_group.id],
        # The VPC link's PrivateLink traffic skips the (empty) inbound rules: the only way in.
        enforce_security_group_inbound_rules_on_private_link_traffic="off",
        enable_cross_zone_load_balancing=True,
        enable_deletion_protection=args.common.deletion_protection,
        tags=tags,
        opts=child,
    )
    stack.vpc_link = aws.apigateway.VpcLink(
        f"{name}-vpc-link",
        name=f"{prefix}-agent-world",
        description="API Gateway to the agent world NLB",
        target_arn=stack.nlb.arn,
        tags=tags,
        opts=child,
    )
    return nlb_security_group


def shared_alb_path(
    stack: AgentWorldStack, name: str, args: AgentWorldArgs
) -> aws.ec2.SecurityGroup:
    """A VPC link v2 (``stack.vpc_link``) to the shared ALB; returns the ALB's security group."""
    child = pulumi.ResourceOptions(parent=stack)
    tags = dict(args.common.tags)
    prefix = args.common.name_prefix
    alb = args.load_balancer
    assert alb is not None
    port = alb.listener.port
    link_security_group = aws.ec2.SecurityGroup(
        f"{name}-vpc-link-sg",
        vpc_id=args.vpc_id,
        description="Agent world VPC link: out to the shared load balancer listener only",
        tags={**tags, "Name": f"{prefix}-agent-world-vpc-link"},
        opts=child,
    )
    security_groups.egress_to(
        f"{name}-vpc-link-to-alb",
        group_id=link_security_group.id,
        target_id=alb.security_group.id,
        ports=port,
        description="To the shared load balancer",
        opts=child,
    )
    security_groups.ingress_from(
        f"{name}-alb-from-vpc-link",
        group_id=alb.security_group.id,
        source_id=link_security_group.id,
        ports=port,
        description="From the agent world VPC link (API Gateway)",
        opts=child,
    )
    stack.vpc_link = aws.apigatewayv2.VpcLink(
        f"{name}-vpc-link-v2",
        name=f"{prefix}-agent-world",
        subnet_ids=args.private_subnet_ids,
        security_group_ids=[link_security_group.id],
        tags=tags,
        opts=child,
    )
    return alb.security_group


def admit_to_tasks(
    stack: AgentWorldStack, name: str, front: aws.ec2.SecurityGroup, tasks: aws.ec2.SecurityGroup
) -> None:
    """The load balancer in ``front`` may reach the tasks on the container port, and only it."""
    child = pulumi.ResourceOptions(parent=stack)
    security_groups.ingress_from(
        f"{name}-tasks-from-lb",
        group_id=tasks.id,
        source_id=front.id,
        ports=CONTAINER_PORT,
        description="From the agent world load balancer",
        opts=child,
    )
    security_groups.egress_to(
        f"{name}-lb-to-tasks",
        group_id=front.id,
        target_id=tasks.id,
        ports=CONTAINER_PORT,
        description="To the agent world tasks",
        opts=child,
    )


def route_to(
    stack: AgentWorldStack, base: str, role: Role, index: int, physical: str, args: AgentWorldArgs
) -> tuple[aws.lb.TargetGroup, pulumi.Resource]:
    """The target group of one deployed service and what sends it traffic: its NLB
    listener, or (shared ALB) its listener rule at ``RULE_PRIORITY + index``."""
    child = pulumi.ResourceOptions(parent=stack)
    tags = dict(args.common.tags)
    target_group = aws.lb.TargetGroup(
        f"{base}-tg",
        name=physical[:32],
        vpc_id=args.vpc_id,
        port=CONTAINER_PORT,
        protocol="HTTP" if stack.shared else "TCP",
        target_type="ip",
        deregistration_delay=30,
        health_check={"protocol": "HTTP", "path": "/health", "matcher": "200",
                      "interval": 15, "healthy_threshold": 2, "unhealthy_threshold": 3},
        tags=tags,
        opts=child,
    )  # fmt: skip
    if stack.shared:
        assert args.load_balancer is not None
        # Only what API Gateway sent for this service, from inside the VPC (the VPC link).
        route: pulumi.Resource = aws.lb.ListenerRule(
            f"{base}-rule",
            listener_arn=args.load_balancer.listener.arn,
            priority=RULE_PRIORITY + index,
            conditions=[
                {"http_header": {"http_header_name": SERVICE_HEADER, "values": [role.name]}},
                {"source_ip": {"values": [args.vpc_cidr]}},
            ],
            actions=[{"type": "forward", "target_group_arn": target_group.arn}],
            tags=tags,
            opts=child,
        )
    else:
        route = aws.lb.Listener(
            f"{base}-listener",
            load_balancer_arn=stack.nlb.arn,
            port=role.listener_port,
            protocol="TCP",
            default_actions=[{"type": "forward", "target_group_arn": target_group.arn}],
            tags=tags,
            opts=child,
        )
    return target_group, route


def rest_target(stack: AgentWorldStack, service: Role, args: AgentWorldArgs) -> dict:
    """Where a REST route goes: the service's NLB port, or the shared ALB with its header."""
    path = {"integration.request.path.proxy": "method.request.path.proxy"}
    if not stack.shared:
        return {
            "uri": stack.nlb.dns_name.apply(
                lambda d: f"http://{d}:{service.listener_port}/{{proxy}}"
            ),
            "request_parameters": path,
        }
    assert args.load_balancer is not None
    alb = args.load_balancer.load_balancer
    return {
        # With a VPC link v2 the load balancer is the target; the URI sets the Host header.
        "integration_target": alb.arn,
        "uri": alb.dns_name.apply(lambda d: f"http://{d}/{{proxy}}"),
        "request_parameters": {
            **path,
            f"integration.request.header.{SERVICE_HEADER}": f"'{service.name}'",
        },
    }
