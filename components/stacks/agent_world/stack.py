"""AgentWorldStack: the agent world's services behind API Gateway (replaces seed 004).

How API Gateway reaches the private services, one of two paths:

- **An internal NLB of its own** (prod, the default). A WebSocket API can reach a VPC
  privately only through a VPC link (v1) to a network load balancer, so one internal NLB,
  about $16/month, with a TCP listener per service behind one VPC link that serves both
  APIs. The NLB's security group admits nothing; PrivateLink traffic from the VPC link is
  exempt from its inbound rules, so API Gateway is the only way in, and the tasks admit
  only the NLB.
- **The inference stack's public ALB** (``share_load_balancer``, dev): no hourly charge of
  its own. The REST API reaches the ALB through a VPC link v2 (free) whose network
  interfaces sit in the private subnets; each service's listener rule forwards only
  requests that carry its ``X-Agent-World-Service`` header (set by the integration) *and*
  come from inside the VPC (``source-ip``), so the internet cannot reach the services
  past API Gateway, however it sets its headers. The WebSocket API cannot use a VPC link
  v2, so its routes call the REST API over HTTPS with a key of their own (a second API
  key of the usage plan, kept in the WebSocket stage's variables; no person needs it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.blocks.images import ServiceImage
from components.blocks.load_balancer import PublicLoadBalancer
from components.config.settings import AgentWorldSettings, Settings
from components.lib import listener_rules, names, queue_scaling
from components.lib.agent_world_schema import TABLES
from components.lib.policies import Condition, Principal, Statement, allow, service_trust
from components.parts import ecs_scaling, security_groups
from components.parts.ecs_tasks import awslogs, ecs_tasks_trust, execution_policy, fargate_cluster
from components.stacks.agent_world.data import AgentWorldData, AgentWorldDataArgs
from components.stacks.common import StackCommon

SERVICE_DIR = "agent_world"
CONTAINER_PORT = 8000
XRAY_DAEMON_IMAGE = "public.ecr.aws/xray/aws-xray-daemon:3.3.14"
STAGE = "v1"
WORKER_UID = "10001"
# CloudFront's managed cache and origin request policies (fixed IDs published by AWS).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


@dataclass(frozen=True)
class Role:
    """One of the three services of the one image."""

    name: str
    """``SERVICE_ROLE`` of the container and the service's name."""
    listener_port: int
    """The NLB port in front of it."""
    api_path: str
    """REST path prefix under ``/api``."""


ROLES: tuple[Role, ...] = (
    Role("world-management", 8001, "world"),
    Role("agent-runtime", 8002, "runtime"),
    Role("llm-integration", 8003, "llm"),
)
ALL = Role("all", 8001, "")
"""The one service of ``single_service``: every role's routes in one task."""
SERVICE_HEADER = "X-Agent-World-Service"
"""Shared-ALB mode: names the service a request is for (set by the REST integration)."""
RULE_PRIORITY = listener_rules.AGENT_WORLD_FIRST
"""Shared-ALB mode: the services' rules come first, so that no path rule of another stack
(``/health`` of the inference stack, say) takes a request API Gateway sent here."""
BRIDGE_KEY_VARIABLE = "restApiKey"

# Table actions per service: only their own tables, only what they call.
_READ = ["dynamodb:GetItem", "dynamodb:Query"]
_WRITE = ["dynamodb:PutItem", "dynamodb:UpdateItem"]
TABLE_ACCESS: dict[str, dict[str, list[str]]] = {
    "world-management": {
        "worlds": [*_READ, *_WRITE],
        "world-objects": [*_READ, *_WRITE, "dynamodb:DeleteItem"],
        "snapshots": [*_READ, "dynamodb:PutItem"],
        "agents": ["dynamodb:Query"],
        "events": ["dynamodb:Query"],
    },
    "agent-runtime": {
        "agents": [*_READ, *_WRITE],
        "memory-streams": [*_READ, "dynamodb:PutItem"],
        "events": [*_READ, "dynamodb:PutItem"],
        "worlds": ["dynamodb:GetItem"],
    },
    "llm-integration": {},
}


def served_roles(service: str) -> tuple[str, ...]:
    """The roles whose routes the service ``service`` answers: all three for ``all``."""
    return tuple(r.name for r in ROLES) if service == ALL.name else (service,)


def table_access(services: Sequence[str]) -> dict[str, list[str]]:
    """The table actions of a task that serves ``services`` (``all``: every role's)."""
    merged: dict[str, list[str]] = {}
    for name in (role for service in services for role in served_roles(service)):
        for table, actions in TABLE_ACCESS[name].items():
            merged[table] = list(dict.fromkeys([*merged.get(table, []), *actions]))
    return merged


# Access-log lines of the two stages. REST and WebSocket stages accept different
# $context variables (a stage with one the other knows is refused: BadRequestException),
# so each has its own; the fields they share keep one name. Checked by the preflight
# (preflight/documented.py) against API Gateway's documented lists.
_ACCESS_LOG_COMMON = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "caller": "$context.identity.caller",
    "requestTime": "$context.requestTime",
    "status": "$context.status",
    "integrationStatus": "$context.integrationStatus",
    "error": "$context.error.message",
}
REST_ACCESS_LOG_FORMAT = {
    **_ACCESS_LOG_COMMON,
    "routeOrPath": "$context.httpMethod $context.resourcePath",
    "latency": "$context.responseLatency",
}
WEBSOCKET_ACCESS_LOG_FORMAT = {
    **_ACCESS_LOG_COMMON,
    "routeOrPath": "$context.routeKey",
    "latency": "$context.integrationLatency",
}


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

    @classmethod
    def from_settings(
        cls, settings: Settings, network, alarm_topic_arn=None, load_balancer=None
    ) -> AgentWorldArgs:
        return cls(
            common=StackCommon.from_settings(settings, "agent_world"),
            vpc_id=network.vpc_id,
            private_subnet_ids=network.private_subnet_ids,
            workload_subnet_ids=network.workload_subnet_ids,
            assign_public_ip=network.workloads_need_public_ip,
            vpc_cidr=network.vpc_cidr,
            data=AgentWorldDataArgs.from_settings(settings, network),
            agent_world=settings.agent_world,
            alarm_topic_arn=alarm_topic_arn,
            load_balancer=load_balancer,
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
    services: dict[str, aws.ecs.Service]
    """ECS service per deployed role: the three roles, or ``all``."""
    rest_api: aws.apigateway.RestApi
    websocket_api: aws.apigatewayv2.Api
    rest_url: pulumi.Output[str]
    websocket_url: pulumi.Output[str]
    cdn_domain: pulumi.Output[str]
    api_key_secret: aws.secretsmanager.Secret

    def __init__(self, name: str, args: AgentWorldArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(self.TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        a = args.agent_world
        tags = dict(args.common.tags)
        prefix = args.common.name_prefix
        self.shared = args.load_balancer is not None
        self.deployed: tuple[Role, ...] = (ALL,) if a.single_service else ROLES
        # The deployed service that answers each role's routes.
        self.serving = {r: d for d in self.deployed for r in served_roles(d.name)}

        self.data = AgentWorldData(f"{name}-data", args.data, opts=child)
        key_arn = self.data.key.arn

        self.cluster, capacity = fargate_cluster(
            name, f"{prefix}-agent-world", a.spot_percentage, tags, child
        )
        self.image = ServiceImage(f"{name}-image", args.common.image_args(SERVICE_DIR), opts=child)

        self.tasks_security_group = aws.ec2.SecurityGroup(
            f"{name}-tasks-sg",
            vpc_id=args.vpc_id,
            description="Agent world tasks: their load balancer on 8000; HTTPS and Redis out",
            tags={**tags, "Name": f"{prefix}-agent-world-tasks"},
            opts=child,
        )
        if self.shared:
            front = self._shared_alb_path(name, args, child)
        else:
            front = self._nlb_path(name, args, child)
        security_groups.ingress_from(
            f"{name}-tasks-from-lb",
            group_id=self.tasks_security_group.id,
            source_id=front.id,
            ports=CONTAINER_PORT,
            description="From the agent world load balancer",
            opts=child,
        )
        security_groups.egress_to(
            f"{name}-lb-to-tasks",
            group_id=front.id,
            target_id=self.tasks_security_group.id,
            ports=CONTAINER_PORT,
            description="To the agent world tasks",
            opts=child,
        )
        security_groups.https_out(
            f"{name}-tasks-https-out",
            self.tasks_security_group.id,
            description="DynamoDB, S3, Bedrock, X-Ray, ECR, CloudWatch Logs, Secrets Manager",
            opts=child,
        )
        self.data.allow_redis_from("tasks", self.tasks_security_group)

        # --- IAM --------------------------------------------------------------------------
        trust = ecs_tasks_trust(args.common.region)
        self.log_groups = {
            role.name: aws.cloudwatch.LogGroup(
                f"{name}-{role.name}-logs",
                name=f"/ecs/{args.common.environment}/agent-world/{role.name}",
                retention_in_days=args.common.log_retention_days,
                kms_key_id=key_arn,
                tags=tags,
                opts=child,
            )
            for role in self.deployed
        }
        redis_secrets = [self.data.redis_auth_secret.arn] if self.data.redis else []
        self.execution_role = aws.iam.Role(
            f"{name}-execution-role",
            name=f"{prefix}-agent-world-execution",
            description="ECS pulls the agent world image, writes its logs, reads the Redis token",
            assume_role_policy=trust,
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-execution-policy",
            role=self.execution_role.id,
            # The token's secret is encrypted with the stack's key.
            policy=execution_policy(
                [self.image.repository.arn],
                list(self.log_groups.values()),
                redis_secrets,
                [key_arn] if redis_secrets else [],
            ),
            opts=child,
        )  # fmt: skip

        # --- the services -------------------------------------------------------------------
        table_env = {spec.env: self.data.tables[spec.stem].name for spec in TABLES}
        self.services = {}
        self.target_groups: dict[str, aws.lb.TargetGroup] = {}
        for index, role in enumerate(self.deployed):
            self._service(name, role, index, args, trust, table_env, capacity, child)

        self._apis(name, args, child)
        self._cdn(name, args, child)
        self._observability(name, args, child)

        self.register_outputs(
            {
                "rest_url": self.rest_url,
                "websocket_url": self.websocket_url,
                "cloudfront_domain": self.cdn_domain,
                "table_names": {k: t.name for k, t in self.data.tables.items()},
            }
        )

    # --- the private paths ----------------------------------------------------------------

    def _nlb_path(self, name, args: AgentWorldArgs, child) -> aws.ec2.SecurityGroup:
        """The internal NLB and its VPC link (v1); returns the NLB's security group."""
        tags = dict(args.common.tags)
        prefix = args.common.name_prefix
        nlb_security_group = aws.ec2.SecurityGroup(
            f"{name}-nlb-sg",
            vpc_id=args.vpc_id,
            description="Agent world NLB: no inbound rule; API Gateway arrives by PrivateLink",
            tags={**tags, "Name": f"{prefix}-agent-world-nlb"},
            opts=child,
        )
        self.nlb = aws.lb.LoadBalancer(
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
        self.vpc_link = aws.apigateway.VpcLink(
            f"{name}-vpc-link",
            name=f"{prefix}-agent-world",
            description="API Gateway to the agent world NLB",
            target_arn=self.nlb.arn,
            tags=tags,
            opts=child,
        )
        return nlb_security_group

    def _shared_alb_path(self, name, args: AgentWorldArgs, child) -> aws.ec2.SecurityGroup:
        """A VPC link v2 to the shared ALB; returns the ALB's security group."""
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
        self.vpc_link = aws.apigatewayv2.VpcLink(
            f"{name}-vpc-link-v2",
            name=f"{prefix}-agent-world",
            subnet_ids=args.private_subnet_ids,
            security_group_ids=[link_security_group.id],
            tags=tags,
            opts=child,
        )
        return alb.security_group

    # --- pieces ---------------------------------------------------------------------------

    def _task_policy(self, role: Role, args: AgentWorldArgs):
        serves = served_roles(role.name)
        statements = []
        for table, actions in table_access([role.name]).items():
            arn = self.data.tables[table].arn
            statements.append(
                allow(
                    actions,
                    [arn, arn.apply(lambda x: f"{x}/index/*")],
                    sid=f"Table{table.title().replace('-', '')}",
                )
            )
        if statements:
            # The tables are encrypted with the stack's key, and DynamoDB decrypts a table's
            # key as the principal accessing the table (DynamoDB developer guide, encryption
            # at rest usage notes, "Decrypt"): without this every read and write is refused.
            statements.append(
                allow(
                    ["kms:Decrypt"],
                    [self.data.key.arn],
                    sid="TablesKeyThroughDynamodb",
                    conditions=[
                        Condition(
                            test="StringEquals",
                            variable="kms:ViaService",
                            values=[f"dynamodb.{args.common.region}.amazonaws.com"],
                        )
                    ],
                )
            )
        if "world-management" in serves:
            statements.append(
                allow(
                    ["s3:PutObject", "s3:GetObject"],
                    [self.data.snapshots.arn.apply(lambda x: f"{x}/snapshots/*")],
                    sid="ArchiveSnapshots",
                )
            )
        if "llm-integration" in serves:
            statements.append(
                allow(
                    ["bedrock:InvokeModel"],
                    [
                        f"arn:aws:bedrock:{args.common.region}::foundation-model/{model}"
                        for model in args.agent_world.bedrock_model_ids
                    ],
                    sid="InvokeTheConfiguredModels",
                )
            )
        # The X-Ray daemon's calls have no resource-level permissions: AWS requires "*".
        statements.append(
            allow(
                ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                 "xray:GetSamplingTargets"],
                ["*"],
                sid="XRayDaemon",
            )
        )  # fmt: skip
        return aws.iam.get_policy_document_output(statements=statements)

    def _service(
        self, name, role: Role, index: int, args: AgentWorldArgs, trust, table_env, capacity, child
    ):
        a = args.agent_world
        tags = dict(args.common.tags)
        prefix = args.common.name_prefix
        base = f"{name}-{role.name}"
        # Physical names: per role, or the stack's own for the one service of them all.
        physical = names.agent_world_physical(prefix, role.name)
        task_role = aws.iam.Role(
            f"{base}-task-role",
            name=physical[:64],
            description=(
                "Agent world: every role's tables and models, nothing else"
                if role is ALL
                else f"Agent world {role.name}: its own tables and nothing else"
            ),
            assume_role_policy=trust,
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{base}-task-policy",
            role=task_role.id,
            policy=self._task_policy(role, args).json,
            opts=child,
        )
        environment = {
            "SERVICE_ROLE": role.name,
            "PORT": str(CONTAINER_PORT),
            "AWS_REGION": args.common.region,
            "SNAPSHOT_BUCKET": self.data.snapshots.bucket_name,
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
            **table_env,
        }
        if self.shared:
            # A VPC link v2 may forward the stage and resource too (/v1/api/world/...).
            environment["API_BASE_PATHS"] = ",".join(
                f"/{STAGE}/api/{r.api_path}" for r in ROLES if r.name in served_roles(role.name)
            )
        secrets = []
        if self.data.redis is not None:
            environment |= {
                "REDIS_HOST": self.data.redis.primary_endpoint_address,
                "REDIS_PORT": "6379",
                "REDIS_TLS": "true",
            }
            secrets.append(
                {"name": "REDIS_AUTH_TOKEN", "valueFrom": self.data.redis_auth_secret.arn}
            )
        if "llm-integration" in served_roles(role.name):
            environment["BEDROCK_MODEL_IDS"] = ",".join(a.bedrock_model_ids)
            environment["LLM_PROVIDER"] = "agent_world.llm:BedrockProvider"
        app = {
            "name": role.name,
            "image": self.image.repo_digest,
            "essential": True,
            "user": f"{WORKER_UID}:{WORKER_UID}",
            "readonlyRootFilesystem": True,
            "privileged": False,
            "portMappings": [
                {"containerPort": CONTAINER_PORT, "hostPort": CONTAINER_PORT, "protocol": "tcp"}
            ],
            "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}],
            "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
            **({"secrets": secrets} if secrets else {}),
            "stopTimeout": 30,
            "linuxParameters": {"initProcessEnabled": True},
            "logConfiguration": awslogs(self.log_groups[role.name], args.common.region, "app"),
        }
        xray = {
            "name": "xray-daemon",
            "image": XRAY_DAEMON_IMAGE,
            "essential": False,
            "cpu": 32,
            "memoryReservation": 64,
            "user": "1337",
            "readonlyRootFilesystem": True,
            "portMappings": [{"containerPort": 2000, "hostPort": 2000, "protocol": "udp"}],
            "logConfiguration": awslogs(self.log_groups[role.name], args.common.region, "xray"),
        }
        task_definition = aws.ecs.TaskDefinition(
            f"{base}-task",
            family=physical,
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(a.task_cpu),
            memory=str(a.task_memory),
            runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": "X86_64"},
            execution_role_arn=self.execution_role.arn,
            task_role_arn=task_role.arn,
            volumes=[{"name": "tmp"}],
            container_definitions=pulumi.Output.json_dumps([app, xray]),
            tags=tags,
            opts=child,
        )
        target_group = aws.lb.TargetGroup(
            f"{base}-tg",
            name=physical[:32],
            vpc_id=args.vpc_id,
            port=CONTAINER_PORT,
            protocol="HTTP" if self.shared else "TCP",
            target_type="ip",
            deregistration_delay=30,
            health_check={"protocol": "HTTP", "path": "/health", "matcher": "200",
                          "interval": 15, "healthy_threshold": 2, "unhealthy_threshold": 3},
            tags=tags,
            opts=child,
        )  # fmt: skip
        self.target_groups[role.name] = target_group
        if self.shared:
            # Only what API Gateway sent for this service, from inside the VPC (the VPC link).
            route = aws.lb.ListenerRule(
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
                load_balancer_arn=self.nlb.arn,
                port=role.listener_port,
                protocol="TCP",
                default_actions=[{"type": "forward", "target_group_arn": target_group.arn}],
                tags=tags,
                opts=child,
            )
        service = aws.ecs.Service(
            f"{base}-service",
            name=physical,
            cluster=self.cluster.arn,
            task_definition=task_definition.arn,
            desired_count=a.min_tasks,
            capacity_provider_strategies=queue_scaling.capacity_strategy(a.spot_percentage),
            network_configuration={
                "subnets": args.workload_subnet_ids,
                "security_groups": [self.tasks_security_group.id],
                "assign_public_ip": args.assign_public_ip,
            },
            load_balancers=[
                {"target_group_arn": target_group.arn, "container_name": role.name,
                 "container_port": CONTAINER_PORT}
            ],
            health_check_grace_period_seconds=60,
            deployment_circuit_breaker={"enable": True, "rollback": True},
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            enable_execute_command=False,
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[capacity, route], ignore_changes=["desiredCount"]
            ),
        )  # fmt: skip
        self.services[role.name] = service
        target = ecs_scaling.service_target(
            f"{base}-scaling-target", self.cluster.name, service.name,
            a.min_tasks, a.max_tasks, tags, child,
        )  # fmt: skip
        for metric, value in (("CPU", 70), ("Memory", 80)):
            aws.appautoscaling.Policy(
                f"{base}-{metric.lower()}-tracking",
                name=f"{physical}-{metric.lower()}",
                policy_type="TargetTrackingScaling",
                **ecs_scaling.target_ids(target),
                target_tracking_scaling_policy_configuration={
                    "target_value": value,
                    "predefined_metric_specification": {
                        "predefined_metric_type": f"ECSServiceAverage{metric}Utilization"
                    },
                    "scale_out_cooldown": ecs_scaling.PERIOD,
                    "scale_in_cooldown": 300,
                },
                opts=child,
            )

    def _apis(self, name, args: AgentWorldArgs, child) -> None:
        a = args.agent_world
        tags = dict(args.common.tags)
        prefix = args.common.name_prefix
        key_arn = self.data.key.arn

        # API Gateway writes access logs through one account-wide role (per region).
        logs_role = aws.iam.Role(
            f"{name}-apigateway-logs-role",
            name=f"{prefix}-apigateway-cloudwatch",
            description="API Gateway writes the stages' access logs",
            assume_role_policy=aws.iam.get_policy_document_output(
                statements=[
                    service_trust(
                        "apigateway.amazonaws.com", aws.get_caller_identity_output().account_id
                    )
                ]
            ).json,
            tags=tags,
            opts=child,
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-apigateway-logs-policy",
            role=logs_role.name,
            policy_arn="arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
            opts=child,
        )
        account = aws.apigateway.Account(
            f"{name}-apigateway-account",
            cloudwatch_role_arn=logs_role.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[attachment]),
        )

        def log_group(role: str) -> aws.cloudwatch.LogGroup:
            return aws.cloudwatch.LogGroup(
                f"{name}-{role}-access-logs",
                name=f"/aws/apigateway/{prefix}-agent-world-{role}",
                retention_in_days=args.common.log_retention_days,
                kms_key_id=key_arn,
                tags=tags,
                opts=child,
            )

        # --- REST ---------------------------------------------------------------------
        self.rest_api = aws.apigateway.RestApi(
            f"{name}-rest-api",
            name=f"{prefix}-agent-world",
            description="Agent world REST API (API key)",
            endpoint_configuration={"types": "REGIONAL"},
            api_key_source="HEADER",
            tags=tags,
            opts=child,
        )
        api_root = aws.apigateway.Resource(
            f"{name}-rest-api-root",
            rest_api=self.rest_api.id,
            parent_id=self.rest_api.root_resource_id,
            path_part="api",
            opts=child,
        )
        pieces: list[pulumi.Resource] = []
        for role in ROLES:
            base = f"{name}-rest-{role.api_path}"
            prefix_resource = aws.apigateway.Resource(
                base,
                rest_api=self.rest_api.id,
                parent_id=api_root.id,
                path_part=role.api_path,
                opts=child,
            )
            proxy = aws.apigateway.Resource(
                f"{base}-proxy",
                rest_api=self.rest_api.id,
                parent_id=prefix_resource.id,
                path_part="{proxy+}",
                opts=child,
            )
            method = aws.apigateway.Method(
                f"{base}-method",
                rest_api=self.rest_api.id,
                resource_id=proxy.id,
                http_method="ANY",
                # Through CloudFront the Host header changes, which breaks SigV4: callers
                # present the API key (x-api-key), which CloudFront forwards.
                authorization="NONE",
                api_key_required=True,
                request_parameters={"method.request.path.proxy": True},
                opts=child,
            )
            integration = aws.apigateway.Integration(
                f"{base}-integration",
                rest_api=self.rest_api.id,
                resource_id=proxy.id,
                http_method=method.http_method,
                type="HTTP_PROXY",
                integration_http_method="ANY",
                connection_type="VPC_LINK",
                connection_id=self.vpc_link.id,
                timeout_milliseconds=29000,
                **self._rest_target(self.serving[role.name], args),
                opts=child,
            )
            pieces += [prefix_resource, proxy, method, integration]
        deployment = aws.apigateway.Deployment(
            f"{name}-rest-deployment",
            rest_api=self.rest_api.id,
            description="Agent world routes",
            # A new deployment whenever the routes change.
            triggers={
                "routes": ",".join(
                    f"{r.api_path}:{self.serving[r.name].name}:{self.serving[r.name].listener_port}"
                    for r in ROLES
                ),
                "path": "shared-alb" if self.shared else "nlb",
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=pieces),
        )
        rest_logs = log_group("rest")
        self.rest_stage = aws.apigateway.Stage(
            f"{name}-rest-stage",
            rest_api=self.rest_api.id,
            deployment=deployment.id,
            stage_name=STAGE,
            xray_tracing_enabled=True,
            access_log_settings={
                "destination_arn": rest_logs.arn,
                "format": pulumi.Output.json_dumps(REST_ACCESS_LOG_FORMAT),
            },
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[account]),
        )
        aws.apigateway.MethodSettings(
            f"{name}-rest-throttling",
            rest_api=self.rest_api.id,
            stage_name=self.rest_stage.stage_name,
            method_path="*/*",
            settings={
                "throttling_rate_limit": a.api_throttle_rate,
                "throttling_burst_limit": a.api_throttle_burst,
                "metrics_enabled": True,
            },
            opts=child,
        )
        self.rest_url = self.rest_stage.invoke_url

        # One API key for both APIs, generated into Secrets Manager (the stack's key).
        key_value = random.RandomPassword(f"{name}-api-key-value", length=40, special=False,
                                          opts=child)  # fmt: skip
        self.api_key_secret = aws.secretsmanager.Secret(
            f"{name}-api-key-secret",
            name=f"{prefix}/agent-world/api-key",
            description="API key of the agent world APIs (x-api-key)",
            kms_key_id=key_arn,
            recovery_window_in_days=args.common.secret_recovery_days,
            tags=tags,
            opts=child,
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-api-key-secret-value",
            secret_id=self.api_key_secret.id,
            secret_string=key_value.result,
            opts=child,
        )
        api_key = aws.apigateway.ApiKey(
            f"{name}-api-key",
            name=f"{prefix}-agent-world",
            value=key_value.result,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["value"]),
        )
        # --- WebSocket ------------------------------------------------------------------
        self.websocket_api = aws.apigatewayv2.Api(
            f"{name}-websocket-api",
            name=f"{prefix}-agent-world-ws",
            description="Agent world WebSocket API",
            protocol_type="WEBSOCKET",
            route_selection_expression="$request.body.action",
            api_key_selection_expression="$request.header.x-api-key",
            tags=tags,
            opts=child,
        )
        runtime = self.serving["agent-runtime"]
        if self.shared:
            # No VPC link v2 for WebSocket APIs: through the REST API, with a key of its own.
            bridge_key = random.RandomPassword(f"{name}-bridge-key-value", length=40,
                                               special=False, opts=child)  # fmt: skip
            bridge = aws.apigateway.ApiKey(
                f"{name}-bridge-key",
                name=f"{prefix}-agent-world-websocket",
                description="The WebSocket API's routes calling the REST API",
                value=bridge_key.result,
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["value"]),
            )
            stage_variables = {BRIDGE_KEY_VARIABLE: pulumi.Output.secret(bridge_key.result)}
        else:
            bridge = stage_variables = None
        routes = []
        for route_key, path in (("$connect", "connect"), ("$disconnect", "disconnect"),
                                ("$default", "message")):  # fmt: skip
            slug = route_key.strip("$")
            parameters = {"integration.request.header.X-Connection-Id": "context.connectionId"}
            if self.shared:
                target = {
                    "integration_uri": self.rest_url.apply(
                        lambda u, p=path: f"{u}/api/runtime/ws/{p}"
                    ),
                    "request_parameters": {
                        **parameters,
                        "integration.request.header.x-api-key": (
                            f"stageVariables.{BRIDGE_KEY_VARIABLE}"
                        ),
                    },
                }
            else:
                target = {
                    "connection_type": "VPC_LINK",
                    "connection_id": self.vpc_link.id,
                    "integration_uri": self.nlb.dns_name.apply(
                        lambda d, p=path: f"http://{d}:{runtime.listener_port}/ws/{p}"
                    ),
                    "request_parameters": parameters,
                }
            integration = aws.apigatewayv2.Integration(
                f"{name}-ws-{slug}-integration",
                api_id=self.websocket_api.id,
                integration_type="HTTP_PROXY",
                integration_method="POST",
                **target,
                opts=child,
            )
            routes.append(
                aws.apigatewayv2.Route(
                    f"{name}-ws-{slug}-route",
                    api_id=self.websocket_api.id,
                    route_key=route_key,
                    # The key is checked once, when the connection opens.
                    api_key_required=route_key == "$connect",
                    authorization_type="NONE",
                    target=integration.id.apply(lambda i: f"integrations/{i}"),
                    opts=child,
                )
            )
        ws_logs = log_group("websocket")
        self.websocket_stage = aws.apigatewayv2.Stage(
            f"{name}-ws-stage",
            api_id=self.websocket_api.id,
            name=STAGE,
            auto_deploy=True,
            access_log_settings={
                "destination_arn": ws_logs.arn,
                "format": pulumi.Output.json_dumps(WEBSOCKET_ACCESS_LOG_FORMAT),
            },
            default_route_settings={
                "throttling_rate_limit": a.api_throttle_rate,
                "throttling_burst_limit": a.api_throttle_burst,
            },
            stage_variables=stage_variables,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[account, *routes]),
        )
        self.websocket_url = self.websocket_stage.invoke_url

        # One usage plan for both APIs: the WebSocket API checks the key on $connect only
        # when its stage is in a plan that holds the key.
        plan = aws.apigateway.UsagePlan(
            f"{name}-usage-plan",
            name=f"{prefix}-agent-world",
            api_stages=[
                {"api_id": self.rest_api.id, "stage": self.rest_stage.stage_name},
                {"api_id": self.websocket_api.id, "stage": self.websocket_stage.name},
            ],
            throttle_settings={"rate_limit": a.api_throttle_rate,
                               "burst_limit": a.api_throttle_burst},
            tags=tags,
            opts=child,
        )  # fmt: skip
        keys = {"usage-plan-key": api_key, "bridge-usage-plan-key": bridge}
        for suffix, key in keys.items():
            if key is not None:
                aws.apigateway.UsagePlanKey(
                    f"{name}-{suffix}",
                    key_id=key.id,
                    key_type="API_KEY",
                    usage_plan_id=plan.id,
                    opts=child,
                )

    def _rest_target(self, service: Role, args: AgentWorldArgs) -> dict:
        """Where a REST route goes: the service's NLB port, or the shared ALB with its header."""
        path = {"integration.request.path.proxy": "method.request.path.proxy"}
        if not self.shared:
            return {
                "uri": self.nlb.dns_name.apply(
                    lambda d: f"http://{d}:{service.listener_port}/{{proxy}}"
                ),
                "request_parameters": path,
            }
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

    def _cdn(self, name, args: AgentWorldArgs, child) -> None:
        """CloudFront: the assets bucket (origin access control) and ``/api/*`` to the REST API."""
        a = args.agent_world
        tags = dict(args.common.tags)
        prefix = args.common.name_prefix
        assets = self.data.assets
        oac = aws.cloudfront.OriginAccessControl(
            f"{name}-assets-oac",
            name=f"{prefix}-world-assets",
            description="CloudFront reads the agent world assets",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=child,
        )
        api_domain = self.rest_api.id.apply(
            lambda i: f"{i}.execute-api.{args.common.region}.amazonaws.com"
        )
        if a.domain_names:
            certificate = {
                "acm_certificate_arn": a.cdn_certificate_arn,
                "ssl_support_method": "sni-only",
                "minimum_protocol_version": "TLSv1.2_2021",
            }
        else:
            certificate = {"cloudfront_default_certificate": True}
        self.distribution = aws.cloudfront.Distribution(
            f"{name}-cdn",
            comment=f"{prefix} agent world",
            enabled=True,
            is_ipv6_enabled=True,
            http_version="http2and3",
            price_class=a.price_class,
            aliases=list(a.domain_names),
            default_root_object="index.html",
            origins=[
                {
                    "origin_id": "assets",
                    "domain_name": assets.bucket.bucket_regional_domain_name,
                    "origin_access_control_id": oac.id,
                },
                {
                    "origin_id": "api",
                    "domain_name": api_domain,
                    "origin_path": f"/{STAGE}",
                    "custom_origin_config": {
                        "http_port": 80,
                        "https_port": 443,
                        "origin_protocol_policy": "https-only",
                        "origin_ssl_protocols": ["TLSv1.2"],
                    },
                },
            ],
            default_cache_behavior={
                "target_origin_id": "assets",
                "viewer_protocol_policy": "redirect-to-https",
                "allowed_methods": ["GET", "HEAD"],
                "cached_methods": ["GET", "HEAD"],
                "cache_policy_id": CACHING_OPTIMIZED,
                "compress": True,
            },
            ordered_cache_behaviors=[
                {
                    "path_pattern": "/api/*",
                    "target_origin_id": "api",
                    "viewer_protocol_policy": "redirect-to-https",
                    "allowed_methods": ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST",
                                        "DELETE"],
                    "cached_methods": ["GET", "HEAD"],
                    "cache_policy_id": CACHING_DISABLED,
                    "origin_request_policy_id": ALL_VIEWER_EXCEPT_HOST_HEADER,
                    "compress": True,
                }
            ],
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            viewer_certificate=certificate,
            tags=tags,
            opts=child,
        )  # fmt: skip
        assets.set_policy(
            [
                Statement(
                    sid="CloudFrontReadsAssets",
                    principals=[
                        Principal(type="Service", identifiers=["cloudfront.amazonaws.com"])
                    ],
                    actions=["s3:GetObject"],
                    resources=[assets.arn.apply(lambda x: f"{x}/*")],
                    conditions=[
                        Condition(test="StringEquals", variable="AWS:SourceArn",
                                  values=[self.distribution.arn])
                    ],
                )
            ]
        )  # fmt: skip
        self.cdn_domain = self.distribution.domain_name
        if args.common.deletion_protection:
            # Standard logging (v2) of the distribution to a log group (prod).
            logs = aws.cloudwatch.LogGroup(
                f"{name}-cdn-logs",
                name=f"/aws/cloudfront/{prefix}-agent-world",
                retention_in_days=args.common.log_retention_days,
                kms_key_id=self.data.key.arn,
                tags=tags,
                opts=child,
            )
            source = aws.cloudwatch.LogDeliverySource(
                f"{name}-cdn-log-source",
                name=f"{prefix}-agent-world-cdn",
                log_type="ACCESS_LOGS",
                resource_arn=self.distribution.arn,
                opts=child,
            )
            destination = aws.cloudwatch.LogDeliveryDestination(
                f"{name}-cdn-log-destination",
                name=f"{prefix}-agent-world-cdn",
                delivery_destination_configuration={"destination_resource_arn": logs.arn},
                opts=child,
            )
            aws.cloudwatch.LogDelivery(
                f"{name}-cdn-log-delivery",
                delivery_source_name=source.name,
                delivery_destination_arn=destination.arn,
                opts=child,
            )

    def _observability(self, name, args: AgentWorldArgs, child) -> None:
        prefix = args.common.name_prefix
        tags = dict(args.common.tags)
        region = args.common.region
        actions = [args.alarm_topic_arn] if args.alarm_topic_arn is not None else []
        api_name = self.rest_api.name
        cluster = self.cluster.name
        service_names = {r: s.name for r, s in self.services.items()}
        table_names = {k: t.name for k, t in self.data.tables.items()}
        redis = self.data.redis

        def widget(title, metrics, stat="Average"):
            return {"type": "metric", "width": 12, "height": 6,
                    "properties": {"title": title, "region": region, "stat": stat,
                                   "period": 300, "metrics": metrics}}  # fmt: skip

        def widgets(v):
            shown = [
                widget("API latency (ms)", [["AWS/ApiGateway", "Latency", "ApiName", v[0]]]),
                widget("API 5xx", [["AWS/ApiGateway", "5XXError", "ApiName", v[0]]], "Sum"),
                widget("ECS CPU %", [["AWS/ECS", "CPUUtilization", "ClusterName", v[1],
                                      "ServiceName", s] for s in v[2].values()]),
                widget("ECS memory %", [["AWS/ECS", "MemoryUtilization", "ClusterName", v[1],
                                         "ServiceName", s] for s in v[2].values()]),
                widget("DynamoDB throttled writes", [["AWS/DynamoDB", "WriteThrottleEvents",
                                               "TableName", t] for t in v[3].values()], "Sum"),
            ]  # fmt: skip
            if v[4]:
                redis_cpu = ["AWS/ElastiCache", "EngineCPUUtilization", "ReplicationGroupId", v[4]]
                shown.append(widget("Redis engine CPU %", [redis_cpu]))
            return {"widgets": shown}

        self.dashboard = None
        if args.agent_world.dashboard:
            body = pulumi.Output.all(
                api_name, cluster, service_names, table_names, redis.id if redis else ""
            ).apply(widgets)
            self.dashboard = aws.cloudwatch.Dashboard(
                f"{name}-dashboard",
                dashboard_name=f"{prefix}-agent-world",
                dashboard_body=pulumi.Output.json_dumps(body),
                opts=child,
            )

        def alarm(role, description, namespace, metric, dimensions, stat, threshold, op,
                  missing="notBreaching", periods=1):  # fmt: skip
            return aws.cloudwatch.MetricAlarm(
                f"{name}-{role}",
                name=f"{prefix}-agent-world-{role}",
                alarm_description=description,
                namespace=namespace,
                metric_name=metric,
                dimensions=dimensions,
                statistic=stat,
                period=300,
                evaluation_periods=periods,
                comparison_operator=op,
                threshold=threshold,
                treat_missing_data=missing,
                alarm_actions=actions,
                ok_actions=actions,
                tags=tags,
                opts=child,
            )

        self.alarms = {
            "api-5xx": alarm("api-5xx", "The REST API answers server errors", "AWS/ApiGateway",
                             "5XXError", {"ApiName": api_name}, "Sum", 5,
                             "GreaterThanOrEqualToThreshold"),
        }  # fmt: skip
        if redis is not None:
            self.alarms["redis-cpu"] = alarm(
                "redis-cpu", "The agent world Redis is CPU-bound", "AWS/ElastiCache",
                "EngineCPUUtilization", {"ReplicationGroupId": redis.id}, "Average", 80,
                "GreaterThanThreshold", periods=3,
            )  # fmt: skip
        for logical, table in self.data.tables.items():
            queries = [
                {"id": kind.lower(), "return_data": False,
                 "metric": {"namespace": "AWS/DynamoDB", "metric_name": f"{kind}ThrottleEvents",
                            "dimensions": {"TableName": table.name}, "period": 300,
                            "stat": "Sum"}}
                for kind in ("Read", "Write")
            ] + [{"id": "throttles", "expression": "FILL(read, 0) + FILL(write, 0)",
                  "label": "Throttled reads and writes", "return_data": True}]  # fmt: skip
            self.alarms[f"{logical}-throttles"] = aws.cloudwatch.MetricAlarm(
                f"{name}-{logical}-throttles",
                name=f"{prefix}-agent-world-{logical}-throttles",
                alarm_description=f"DynamoDB throttles requests to {logical}",
                metric_queries=queries,
                evaluation_periods=1,
                comparison_operator="GreaterThanOrEqualToThreshold",
                threshold=1,
                treat_missing_data="notBreaching",
                alarm_actions=actions,
                ok_actions=actions,
                tags=tags,
                opts=child,
            )
