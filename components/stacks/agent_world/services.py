"""The agent world's Fargate services: tasks' network, IAM, and one ECS service per role.

Each deployed role (the three, or ``all``) gets a task role allowed only its own tables'
actions (llm-integration: ``bedrock:InvokeModel`` on the configured models only), a task
definition with an X-Ray daemon sidecar, a target group reached by the private path, a
circuit-breaker deployment and CPU and memory target tracking. Each function creates
children of the stack (``parent=stack``) under the logical names they always had, so
their URNs do not change; they read what the stack created before them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from components.lib import fargate, names, queue_scaling
from components.lib.agent_world_roles import (
    ALL,
    CONTAINER_PORT,
    PUSHING_ROLES,
    REGISTRY_TABLE,
    ROLES,
    STAGE,
    Role,
    served_roles,
    table_access,
)
from components.lib.agent_world_schema import TABLES
from components.lib.policies import Condition, allow
from components.parts import ecs_scaling, security_groups
from components.parts.ecs_tasks import awslogs, execution_policy
from components.parts.iam import role_with_policy
from components.stacks.agent_world import apis, private_path

if TYPE_CHECKING:
    from components.stacks.agent_world.stack import AgentWorldArgs, AgentWorldStack

XRAY_DAEMON_IMAGE = "public.ecr.aws/xray/aws-xray-daemon:3.3.14"
WORKER_UID = "10001"


def tasks_security_group(
    stack: AgentWorldStack, name: str, args: AgentWorldArgs
) -> aws.ec2.SecurityGroup:
    """The tasks' security group: nothing in until the private path admits its front."""
    tags = dict(args.common.tags)
    return aws.ec2.SecurityGroup(
        f"{name}-tasks-sg",
        vpc_id=args.vpc_id,
        description="Agent world tasks: their load balancer on 8000; HTTPS and Redis out",
        tags={**tags, "Name": f"{args.common.name_prefix}-agent-world-tasks"},
        opts=pulumi.ResourceOptions(parent=stack),
    )


def tasks_out(stack: AgentWorldStack, name: str) -> None:
    """The tasks may call AWS over HTTPS and reach Redis (when there is one)."""
    security_groups.https_out(
        f"{name}-tasks-https-out",
        stack.tasks_security_group.id,
        description="DynamoDB, S3, Bedrock, X-Ray, ECR, CloudWatch Logs, Secrets Manager",
        opts=pulumi.ResourceOptions(parent=stack),
    )
    stack.data.allow_redis_from("tasks", stack.tasks_security_group)


def execution_role(
    stack: AgentWorldStack, name: str, args: AgentWorldArgs, trust: pulumi.Input[str]
) -> None:
    """A log group per deployed role (``stack.log_groups``) and the execution role
    (``stack.execution_role``, assumed by ``trust``): pull the image, write the logs,
    read the Redis token."""
    child = pulumi.ResourceOptions(parent=stack)
    tags = dict(args.common.tags)
    stack.log_groups = {
        role.name: aws.cloudwatch.LogGroup(
            f"{name}-{role.name}-logs",
            name=f"/ecs/{args.common.environment}/agent-world/{role.name}",
            retention_in_days=args.common.log_retention_days,
            kms_key_id=args.common.log_key_arn,
            tags=tags,
            opts=child,
        )
        for role in stack.deployed
    }
    redis_secrets = [stack.data.redis_auth_secret.arn] if stack.data.redis else []
    stack.execution_role = role_with_policy(
        f"{name}-execution",
        name=f"{args.common.name_prefix}-agent-world-execution",
        description="ECS pulls the agent world image, writes its logs, reads the Redis token",
        trust=trust,
        tags=tags,
        opts=child,
        # The token's secret is encrypted with the stack's key.
        policy=execution_policy(
            [stack.image.repository.arn],
            list(stack.log_groups.values()),
            redis_secrets,
            [stack.data.key.arn] if redis_secrets else [],
        ),
    )


def create_services(
    stack: AgentWorldStack,
    name: str,
    args: AgentWorldArgs,
    trust: pulumi.Input[str],
    capacity: pulumi.Resource,
) -> None:
    """One ECS service per deployed role (``stack.services``, ``stack.target_groups``),
    its task role assumed by ``trust``, on the cluster's ``capacity`` providers."""
    stack.services = {}
    stack.target_groups = {}
    for index, role in enumerate(stack.deployed):
        _service(stack, name, role, index, args, trust, capacity)


def task_policy(stack: AgentWorldStack, role: Role, args: AgentWorldArgs):
    """The task role's policy: the role's tables and their key, snapshots, models, X-Ray."""
    serves = served_roles(role.name)
    region = args.common.region
    statements = []
    for table, actions in table_access([role.name]).items():
        if table == REGISTRY_TABLE and stack.data.redis is not None:
            continue  # issue 15: with Redis the registry is there, not in the table
        arn = stack.data.tables[table].arn
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
                [stack.data.key.arn],
                sid="TablesKeyThroughDynamodb",
                conditions=[
                    Condition(
                        test="StringEquals",
                        variable="kms:ViaService",
                        values=[f"dynamodb.{region}.amazonaws.com"],
                    )
                ],
            )
        )
    if "world-management" in serves:
        statements.append(
            allow(
                # Written, read back (restore) and deleted with their world.
                ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
                [stack.data.snapshots.arn.apply(lambda x: f"{x}/snapshots/*")],
                sid="ArchiveSnapshots",
            )
        )
    if any(r in serves for r in PUSHING_ROLES):
        # issue 15: the world's events, posted to its connections (post_to_connection) of
        # this API's stage only; a 410 needs no other action.
        statements.append(
            allow(
                ["execute-api:ManageConnections"],
                [apis.connections_arn(stack)],
                sid="PushToWebSocketConnections",
            )
        )
    if "llm-integration" in serves:
        statements.append(
            allow(
                ["bedrock:InvokeModel"],
                [
                    f"arn:aws:bedrock:{region}::foundation-model/{model}"
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


def environment(stack: AgentWorldStack, role: Role, args: AgentWorldArgs) -> dict:
    """The app container's variables: its role, tables, bucket, Redis, models."""
    variables = {
        "SERVICE_ROLE": role.name,
        "PORT": str(CONTAINER_PORT),
        "AWS_REGION": args.common.region,
        "SNAPSHOT_BUCKET": stack.data.snapshots.bucket_name,
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        **{spec.env: stack.data.tables[spec.stem].name for spec in TABLES},
    }
    if stack.shared:
        # A VPC link v2 may forward the stage and resource too (/v1/api/world/...).
        variables["API_BASE_PATHS"] = ",".join(
            f"/{STAGE}/api/{r.api_path}" for r in ROLES if r.name in served_roles(role.name)
        )
    if stack.data.redis is not None:
        variables |= {
            "REDIS_HOST": stack.data.redis.primary_endpoint_address,
            "REDIS_PORT": "6379",
            "REDIS_TLS": "true",
        }
    if any(r in served_roles(role.name) for r in PUSHING_ROLES):
        # issue 15: where the world's events are posted (the WebSocket stage's Management API).
        variables["WEBSOCKET_MANAGEMENT_URL"] = apis.management_endpoint(stack, args.common.region)
    if "llm-integration" in served_roles(role.name):
        variables["BEDROCK_MODEL_IDS"] = ",".join(args.agent_world.bedrock_model_ids)
        variables["LLM_PROVIDER"] = "agent_world.llm:BedrockProvider"
    return variables


def containers(stack: AgentWorldStack, role: Role, args: AgentWorldArgs) -> list[dict]:
    """The task's two containers: the app (read-only, unprivileged) and the X-Ray daemon."""
    log_group = stack.log_groups[role.name]
    region = args.common.region
    variables = environment(stack, role, args)
    secrets = []
    if stack.data.redis is not None:
        secrets.append({"name": "REDIS_AUTH_TOKEN", "valueFrom": stack.data.redis_auth_secret.arn})
    app = {
        "name": role.name,
        "image": stack.image.repo_digest,
        "essential": True,
        "user": f"{WORKER_UID}:{WORKER_UID}",
        "readonlyRootFilesystem": True,
        "privileged": False,
        "portMappings": [
            {"containerPort": CONTAINER_PORT, "hostPort": CONTAINER_PORT, "protocol": "tcp"}
        ],
        "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}],
        "environment": [{"name": k, "value": v} for k, v in sorted(variables.items())],
        **({"secrets": secrets} if secrets else {}),
        "stopTimeout": 30,
        "linuxParameters": {"initProcessEnabled": True},
        "logConfiguration": awslogs(log_group, region, "app"),
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
        "logConfiguration": awslogs(log_group, region, "xray"),
    }
    return [app, xray]


def _service(
    stack: AgentWorldStack,
    name: str,
    role: Role,
    index: int,
    args: AgentWorldArgs,
    trust: pulumi.Input[str],
    capacity: pulumi.Resource,
) -> None:
    a = args.agent_world
    tags = dict(args.common.tags)
    child = pulumi.ResourceOptions(parent=stack)
    base = f"{name}-{role.name}"
    # Physical names: per role, or the stack's own for the one service of them all.
    physical = names.agent_world_physical(args.common.name_prefix, role.name)
    task_definition = _task_definition(stack, base, physical, role, args, trust)
    target_group, route = private_path.route_to(stack, base, role, index, physical, args)
    stack.target_groups[role.name] = target_group
    service = aws.ecs.Service(
        f"{base}-service",
        name=physical,
        cluster=stack.cluster.arn,
        task_definition=task_definition.arn,
        desired_count=a.min_tasks,
        capacity_provider_strategies=queue_scaling.capacity_strategy(a.spot_percentage),
        network_configuration={
            "subnets": args.workload_subnet_ids,
            "security_groups": [stack.tasks_security_group.id],
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
            parent=stack, depends_on=[capacity, route], ignore_changes=["desiredCount"]
        ),
    )  # fmt: skip
    stack.services[role.name] = service
    target = ecs_scaling.service_target(
        f"{base}-scaling-target", stack.cluster.name, service.name,
        a.min_tasks, a.max_tasks, tags, child,
    )  # fmt: skip
    # Tracking only where there is room to scale (a.scales).
    for metric, value in (("CPU", 70), ("Memory", 80)) if a.scales else ():
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


def _task_definition(
    stack: AgentWorldStack,
    base: str,
    physical: str,
    role: Role,
    args: AgentWorldArgs,
    trust: pulumi.Input[str],
) -> aws.ecs.TaskDefinition:
    """The role's task role (its own policy) and its task definition."""
    a = args.agent_world
    tags = dict(args.common.tags)
    child = pulumi.ResourceOptions(parent=stack)
    task_role = role_with_policy(
        f"{base}-task",
        name=physical[:64],
        description=(
            "Agent world: every role's tables and models, nothing else"
            if role is ALL
            else f"Agent world {role.name}: its own tables and nothing else"
        ),
        trust=trust,
        tags=tags,
        opts=child,
        policy=task_policy(stack, role, args).json,
    )
    return aws.ecs.TaskDefinition(
        f"{base}-task",
        family=physical,
        requires_compatibilities=["FARGATE"],
        network_mode="awsvpc",
        cpu=str(a.task_cpu),
        memory=str(a.task_memory),
        runtime_platform=fargate.runtime_platform(args.common.cpu_architecture),
        execution_role_arn=stack.execution_role.arn,
        task_role_arn=task_role.arn,
        volumes=[{"name": "tmp"}],
        container_definitions=pulumi.Output.json_dumps(containers(stack, role, args)),
        tags=tags,
        opts=child,
    )
