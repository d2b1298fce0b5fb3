"""AgentWorldStack: the agent world's services behind API Gateway (replaces seed 004).

This module holds the component and its args and wires the parts, each in its own module
beside it: ``data`` (key, tables, buckets, Redis), ``roles`` (the three roles, their ports,
paths and table actions: pure), ``services`` (tasks' network, IAM, an ECS service per
role), ``private_path`` (NLB or shared-ALB rules, VPC link), ``apis`` (REST, WebSocket,
key, usage plan), ``cdn`` (CloudFront) and ``observability`` (dashboard, alarms). The
part modules' functions create children of this stack (``parent=stack``) under the logical
names they had when they were its methods, so no URN changed with the split.

How API Gateway reaches the private services, one of two paths:

- **An internal NLB of its own** (prod, the default). A WebSocket API can reach a VPC
  privately only through a VPC link (v1) to a network load balancer, so one internal NLB,
  about $16/month, with a TCP listener per service behind one VPC link that serves both
  APIs. The NLB's security group admits nothing; PrivateLink traffic from the VPC link is
  exempt from its inbound rules, so API Gateway is the only way in, and the tasks admit
  only the NLB.
- **The inference stack's ALB** (``share_load_balancer``, dev): no hourly charge of its
  own; internet-facing, or internal behind dev's HTTP API front door, which removes the
  service header from every request it forwards (``components/blocks/front_door.py``).
  The REST API reaches the ALB through a VPC link v2 (free) whose network interfaces sit
  in the private subnets; each service's listener rule forwards only
  requests that carry its ``X-Agent-World-Service`` header (set by the integration) *and*
  come from inside the VPC (``source-ip``), so the internet cannot reach the services
  past API Gateway, however it sets its headers. The WebSocket API cannot use a VPC link
  v2, so its routes call the REST API over HTTPS with a key of their own (a second API
  key of the usage plan, kept only in Secrets Manager and handed to each connection's
  integrations by the ``$connect`` authorizer; no person needs it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.blocks.images import ServiceImage
from components.blocks.load_balancer import PublicLoadBalancer
from components.config.settings import (
    AgentWorldSettings,
    DnsSettings,
    SecuritySettings,
    Settings,
)
from components.lib.agent_world_roles import ALL, ROLES, Role, served_roles
from components.parts.ecs_tasks import ecs_tasks_trust, fargate_cluster
from components.stacks.agent_world import apis, cdn, observability, private_path, services
from components.stacks.agent_world.data import AgentWorldData, AgentWorldDataArgs
from components.stacks.common import StackCommon

SERVICE_DIR = "agent_world"

# ROLES (defined in roles.py) is also read from here by components/lib/quotas.py.
__all__ = ["ROLES", "SERVICE_DIR", "AgentWorldArgs", "AgentWorldStack"]


@dataclass(frozen=True)
class AgentWorldArgs:
    """Inputs of :class:`AgentWorldStack`."""

    common: StackCommon
    """Name prefix, environment (log groups ``/ecs/<env>/agent-world/<service>``), region,
    tags, log retention (every log group), deletion protection (the NLB, the API key's
    recovery window, CloudFront's standard logs, images kept on destroy) and the prebuilt
    image of ``services/agent_world``. Required."""
    vpc_id: pulumi.Input[str]
    """The VPC. Required."""
    private_subnet_ids: pulumi.Input[Sequence[str]]
    """Subnets of the NLB and the cache. Required."""
    workload_subnet_ids: pulumi.Input[Sequence[str]]
    """Subnets of the tasks. Required."""
    assign_public_ip: bool
    """Tasks need public IPs (dev: no NAT). Required."""
    vpc_cidr: str
    """The VPC's range: shared-ALB mode admits only requests from inside it. Required."""
    data: AgentWorldDataArgs
    """The storage component's inputs. Required."""
    agent_world: AgentWorldSettings = field(default_factory=AgentWorldSettings)
    """Sizes, scaling, throttling, models. Default: the settings' defaults."""
    alarm_topic_arn: pulumi.Input[str] | None = None
    """SNS topic of the alarms. Default: alarms without actions."""
    load_balancer: PublicLoadBalancer | None = None
    """A shared ALB to reach the services through (VPC link v2). Default: an internal NLB."""
    web_acl_arn: pulumi.Input[str] | None = None
    """Regional AWS WAF web ACL of the REST stage. Default none."""
    security: SecuritySettings = field(default_factory=SecuritySettings)
    """WAF switches: with ``waf``, a CLOUDFRONT web ACL on the distribution. Default off."""
    dns: DnsSettings = field(default_factory=DnsSettings)
    """``cdn_host`` in ``zone_id``: the distribution's certificate and aliases. Default none."""

    @classmethod
    def from_settings(
        cls, settings: Settings, network, alarm_topic_arn=None, load_balancer=None, audit=None,
        web_acl_arn=None,
    ) -> AgentWorldArgs:  # fmt: skip
        return cls(
            common=StackCommon.from_settings(settings, "agent_world", audit),
            vpc_id=network.vpc_id,
            private_subnet_ids=network.private_subnet_ids,
            workload_subnet_ids=network.workload_subnet_ids,
            assign_public_ip=network.workloads_need_public_ip,
            vpc_cidr=network.vpc_cidr,
            data=AgentWorldDataArgs.from_settings(settings, network, audit),
            agent_world=settings.agent_world,
            alarm_topic_arn=alarm_topic_arn,
            load_balancer=load_balancer,
            web_acl_arn=web_acl_arn,
            security=settings.security,
            dns=settings.dns,
        )


class AgentWorldStack(pulumi.ComponentResource):
    """The agent world's Fargate services behind a REST and a WebSocket API.

    Creates :class:`AgentWorldData` (key, tables, buckets, optional Redis); an ECS cluster
    with Container Insights; one image with three roles (world-management, agent-runtime,
    llm-integration), each a Fargate service - or one service of them all with
    ``single_service`` - with an X-Ray daemon sidecar, circuit-breaker deployments, CPU and
    memory target tracking, a task role allowed only its own tables' actions
    (llm-integration: ``bedrock:InvokeModel`` on the configured models only), the Redis
    token as an ECS secret and logs encrypted with the stack's key; the private path (an
    internal NLB and a VPC link, or rules on a shared ALB and a VPC link v2: see the module
    docstring); a REST API (``/api/<service>/{proxy+}`` routes behind an API key, X-Ray
    tracing, JSON access logs, stage throttling) and a WebSocket API (``$connect``,
    ``$disconnect`` and ``$default`` to agent-runtime, JSON access logs, throttling);
    API Gateway's account role for CloudWatch Logs; a dashboard (optional) and alarms.
    """

    TYPE = "mlplatform:agentworld:AgentWorldStack"

    data: AgentWorldData
    cluster: aws.ecs.Cluster
    image: ServiceImage
    tasks_security_group: aws.ec2.SecurityGroup
    log_groups: dict[str, aws.cloudwatch.LogGroup]
    """Log group per deployed role."""
    execution_role: aws.iam.Role
    services: dict[str, aws.ecs.Service]
    """ECS service per deployed role: the three roles, or ``all``."""
    target_groups: dict[str, aws.lb.TargetGroup]
    """Target group per deployed role."""
    nlb: aws.lb.LoadBalancer
    """The internal NLB (not in shared-ALB mode)."""
    vpc_link: aws.apigateway.VpcLink | aws.apigatewayv2.VpcLink
    """VPC link v1 to the NLB, or v2 to the shared ALB."""
    rest_api: aws.apigateway.RestApi
    rest_stage: aws.apigateway.Stage
    websocket_api: aws.apigatewayv2.Api
    websocket_stage: aws.apigatewayv2.Stage
    rest_url: pulumi.Output[str]
    websocket_url: pulumi.Output[str]
    api_key_secret: aws.secretsmanager.Secret
    distribution: aws.cloudfront.Distribution
    cdn_domain: pulumi.Output[str]
    dashboard: aws.cloudwatch.Dashboard | None
    alarms: dict[str, aws.cloudwatch.MetricAlarm]

    def __init__(self, name: str, args: AgentWorldArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(self.TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        a = args.agent_world
        self.shared = args.load_balancer is not None
        self.deployed: tuple[Role, ...] = (ALL,) if a.single_service else ROLES
        # The deployed service that answers each role's routes.
        self.serving = {r: d for d in self.deployed for r in served_roles(d.name)}

        self.data = AgentWorldData(f"{name}-data", args.data, opts=child)
        self.cluster, capacity = fargate_cluster(
            name,
            f"{args.common.name_prefix}-agent-world",
            a.spot_percentage,
            dict(args.common.tags),
            child,
            container_insights=a.container_insights,
        )
        self.image = ServiceImage(
            f"{name}-image",
            args.common.image_args(SERVICE_DIR, architecture=args.common.cpu_architecture),
            opts=child,
        )

        self.tasks_security_group = services.tasks_security_group(self, name, args)
        if self.shared:
            front = private_path.shared_alb_path(self, name, args)
        else:
            front = private_path.nlb_path(self, name, args)
        private_path.admit_to_tasks(self, name, front, self.tasks_security_group)
        services.tasks_out(self, name)

        trust = ecs_tasks_trust(args.common.region)
        services.execution_role(self, name, args, trust)
        # Before the services: their tasks post to its connections (issue 15).
        apis.create_websocket_api(self, name, args)
        services.create_services(self, name, args, trust, capacity)
        apis.create_apis(self, name, args)
        cdn.create_cdn(self, name, args)
        observability.create_observability(self, name, args)

        self.register_outputs(
            {
                "rest_url": self.rest_url,
                "websocket_url": self.websocket_url,
                "cloudfront_domain": self.cdn_domain,
                "table_names": {k: t.name for k, t in self.data.tables.items()},
            }
        )
