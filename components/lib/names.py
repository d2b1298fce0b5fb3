"""Every explicit physical name the program gives AWS, computed from the settings alone.

The components name their resources through the templates below, and
:func:`physical_names` lists, for a given configuration, every name the enabled stacks
will send (type token, property, value and the config key that shapes it), so the settings
check can hold each one to AWS's limit (``preflight/naming.py``) and refuse a collision
before any resource exists. ``tests/lib/test_names.py`` proves the list is exactly what the
program registers for dev, prod and a stack with every optional part on.

A physical name must never change: AWS replaces the resource. Where a template truncates
(``[:32]``), it did so before this module existed and keeps doing so; the check then
refuses a truncation that collides or ends in ``-``.

Lib: pure, no resources; imported by components and settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from components.lib import agent_world_roles, agent_world_schema

if TYPE_CHECKING:
    from components.config.settings import Settings

ENVIRONMENT_KEY = "mlplatform:environment"

TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
REPOSITORY = "aws:ecr/repository:Repository"

# The agent world's fixed parts (components/stacks/agent_world/); its tables are the
# service's own definition (components/lib/agent_world_schema.py).
AGENT_WORLD_SERVICE_DIR = "agent_world"
AGENT_WORLD_ROLES = tuple(role.name for role in agent_world_roles.ROLES)
AGENT_WORLD_ALL = agent_world_roles.ALL.name
MLFLOW_SERVICE_DIR = "mlflow"
HOKUSAI_API_SERVICE_DIR = "hokusai_api"
TRAINING_SERVICE_DIR = "cmaes_worker"


@dataclass(frozen=True)
class PhysicalName:
    """One name the program sends to AWS."""

    type: str
    """Pulumi type token of the resource."""
    property: str
    """Its input property (camelCase)."""
    value: str
    key: str = ENVIRONMENT_KEY
    """The config key whose value the name is built from (besides the environment)."""


# --- templates the components call ---------------------------------------------------


def target_group(prefix: str, service: str) -> str:
    """An ALB/NLB target group: ``<prefix>-<service>``, cut to ELB's 32 characters."""
    return f"{prefix}-{service}"[:32]


def function_target_group(prefix: str, service: str) -> str:
    """The target group of type ``lambda`` of a ``runtime: lambda`` service:
    ``<prefix>-<service>-fn``, cut to 32. Not the ECS form's name: a target group's type
    cannot change, so moving a service between runtimes creates the other group (and the
    listener rule moves to it) before the old one is deleted, which one name would forbid.
    The base is cut first, so the ``-fn`` always survives and no name ends in ``-``, which
    ELB refuses."""
    return f"{f'{prefix}-{service}'[:29].rstrip('-')}-fn"


def load_balancer(prefix: str, role: str) -> str:
    """A load balancer: ``<prefix>-<role>``, cut to ELB's 32 characters."""
    return f"{prefix}-{role}"[:32]


def front_door(load_balancer_name: str) -> str:
    """The HTTP API front door of a load balancer, its VPC link and (under
    ``/aws/apigateway/``) its access-log group: ``<load balancer name>-front-door``."""
    return f"{load_balancer_name}-front-door"


def repository(prefix: str, source: str) -> str:
    """The ECR repository of the image built from ``services/<source>``."""
    return f"{prefix}/{source}"


def replication_group(prefix: str, role: str) -> str:
    """An ElastiCache replication group ID, cut to its 40 characters."""
    return f"{prefix}-{role}"[:40]


def agent_world_physical(prefix: str, role: str) -> str:
    """Service, task family, task role and target group stem of an agent world role."""
    return f"{prefix}-agent-world" if role == AGENT_WORLD_ALL else f"{prefix}-{role}"


def web_acl(prefix: str, role: str) -> str:
    """A WAF web ACL (``regional`` or ``cdn``); its log group and that group's resource
    policy are ``aws-waf-logs-<this>`` (WAF delivers only under that prefix)."""
    return f"{prefix}-{role}"


WAF_LOGS_PREFIX = "aws-waf-logs-"


def response_headers_policy(prefix: str) -> str:
    """The agent world distribution's security-headers policy."""
    return f"{prefix}-agent-world-security-headers"


def rotation_function(prefix: str, secret: str) -> str:
    """The rotation function (and its role) of a secret: ``<prefix>-rotate-<secret>``."""
    return f"{prefix}-rotate-{secret}"


def service_function(prefix: str, service: str) -> str:
    """The Lambda function (and its role) of an inference service with ``runtime: lambda``:
    ``<prefix>-<service>``, the name its ECS service would have."""
    return f"{prefix}-{service}"


def websocket_authorizer(prefix: str) -> str:
    """The agent world's ``$connect`` authorizer function (and its role)."""
    return f"{prefix}-agent-world-ws-authorizer"


# --- the enumeration -------------------------------------------------------------------


def physical_names(s: Settings) -> list[PhysicalName]:
    """Every explicit physical name the enabled stacks of ``s`` send to AWS."""
    names: list[PhysicalName] = []
    on = s.stacks
    if on.network or on.training or on.inference or on.data_platform or on.agent_world:
        names += _audit(s)
    if s.stacks.network:
        names += _network(s)
    if s.stacks.training or s.stacks.data_platform or s.stacks.agent_world:
        names += _alerts(s)
    if s.stacks.training:
        names += _training(s)
    if s.stacks.inference:
        names += _inference(s)
    if s.stacks.data_platform:
        names += _data_platform(s)
    if s.stacks.agent_world:
        names += _agent_world(s)
    names += _waf(s)
    names += _functions(s)
    return names


def _waf(s: Settings) -> Iterator[PhysicalName]:
    """The web ACLs of ``security.waf``: the regional one, and CloudFront's."""
    if not s.security.waf:
        return
    roles = []
    if s.stacks.inference or s.stacks.data_platform or s.stacks.agent_world:
        roles.append("regional")
    if s.stacks.agent_world:
        roles.append("cdn")
    for role in roles:
        acl = web_acl(s.prefix(), role)
        yield _n("wafv2/webAcl:WebAcl", "name", acl)
        yield _n("cloudwatch/logGroup:LogGroup", "name", f"{WAF_LOGS_PREFIX}{acl}")
        yield _n("cloudwatch/logResourcePolicy:LogResourcePolicy", "policyName",
                 f"{WAF_LOGS_PREFIX}{acl}")  # fmt: skip
        if role == "regional" and s.stacks.agent_world and s.agent_world.share_load_balancer:
            yield _n("wafv2/ipSet:IpSet", "name", f"{acl}-uncounted")


def _n(type_suffix: str, prop: str, value: str, key: str = ENVIRONMENT_KEY) -> PhysicalName:
    return PhysicalName(f"aws:{type_suffix}", prop, value, key)


def _cluster(physical: str) -> Iterator[PhysicalName]:
    yield _n("ecs/cluster:Cluster", "name", physical)
    yield _n("ecs/clusterCapacityProviders:ClusterCapacityProviders", "clusterName", physical)


def _load_balancer(
    prefix: str, role: str, access_logs: bool, http_api: bool
) -> Iterator[PhysicalName]:
    yield _n("lb/loadBalancer:LoadBalancer", "name", load_balancer(prefix, role))
    if access_logs:
        yield _n("s3/bucket:Bucket", "bucketPrefix", f"{prefix}-alb-logs-")
    if http_api:
        door, key = front_door(load_balancer(prefix, role)), "mlplatform:ingress.front_door"
        yield _n("apigatewayv2/vpcLink:VpcLink", "name", door, key)
        yield _n("apigatewayv2/api:Api", "name", door, key)
        yield _n("cloudwatch/logGroup:LogGroup", "name", f"/aws/apigateway/{door}", key)


def _network(s: Settings) -> Iterator[PhysicalName]:
    yield _n("cloudwatch/logGroup:LogGroup", "name", f"/vpc/{s.prefix()}/flow-logs")


def _audit(s: Settings) -> Iterator[PhysicalName]:
    p = s.prefix()
    yield _n("kms/alias:Alias", "name", f"alias/{p}-logs")
    if s.stacks.training or s.stacks.data_platform or s.stacks.agent_world:  # data buckets
        yield _n("s3/bucket:Bucket", "bucketPrefix", f"{p}-access-logs-")


def _alerts(s: Settings) -> Iterator[PhysicalName]:
    # Encrypted with the logs key of the audit block: no key of its own.
    yield _n("sns/topic:Topic", "name", f"{s.prefix()}-alarms")


def _training(s: Settings) -> Iterator[PhysicalName]:
    p, t = s.prefix(), s.training
    for queue in ("cmaes-tasks-dlq", "cmaes-tasks", "cmaes-results"):
        yield _n("sqs/queue:Queue", "name", f"{p}-{queue}")
    yield _n("s3/bucket:Bucket", "bucketPrefix", f"{p}-training-")
    yield _n("ecr/repository:Repository", "name", repository(p, TRAINING_SERVICE_DIR))
    yield from _cluster(f"{p}-training")
    yield _n("cloudwatch/logGroup:LogGroup", "name", f"/ecs/{p}/cmaes-worker")
    for role in ("cmaes-execution", "cmaes-worker", "cmaes-coordinator"):
        yield _n("iam/role:Role", "name", f"{p}-{role}")
    yield _n("iam/policy:Policy", "name", f"{p}-cmaes-coordinator")
    yield _n("ecs/taskDefinition:TaskDefinition", "family", f"{p}-cmaes-worker")
    yield _n("ecs/service:Service", "name", f"{p}-cmaes-worker")
    for policy in ("cmaes-backlog-per-worker", "cmaes-wake-from-zero", "cmaes-scale-in-when-idle"):
        yield _n("appautoscaling/policy:Policy", "name", f"{p}-{policy}")
    for alarm in ("cmaes-tasks-waiting-no-workers", "cmaes-queue-idle", "cmaes-dlq-not-empty",
                  "cmaes-oldest-task-age"):  # fmt: skip
        yield _n("cloudwatch/metricAlarm:MetricAlarm", "name", f"{p}-{alarm}")
    if t.dashboard:
        yield _n("cloudwatch/dashboard:Dashboard", "dashboardName", f"{p}-training")
    if t.coordinator_user:
        yield _n("iam/group:Group", "name", f"{p}-cmaes-coordinators")
        yield _n("iam/user:User", "name", f"{p}-cmaes-coordinator")
    if t.redis:
        yield _n("elasticache/subnetGroup:SubnetGroup", "name", f"{p}-training-redis")
        yield _n("secretsmanager/secret:Secret", "name", f"{p}/training/redis-auth-token")
        yield _n("elasticache/replicationGroup:ReplicationGroup", "replicationGroupId",
                 replication_group(p, "training"))  # fmt: skip


def _inference(s: Settings) -> Iterator[PhysicalName]:
    p, i = s.prefix(), s.inference
    yield from _load_balancer(p, "inference", i.access_logs, s.ingress.http_api)
    yield from _cluster(f"{p}-inference")
    if i.dashboard:
        yield _n("cloudwatch/dashboard:Dashboard", "dashboardName", f"{p}-inference")
    if any(svc.gpu for svc in i.services):
        for kind in ("iam/role:Role", "iam/instanceProfile:InstanceProfile"):
            yield _n(kind, "name", f"{p}-gpu-instance")
        yield _n("ec2/launchTemplate:LaunchTemplate", "namePrefix", f"{p}-gpu-")
        yield _n("autoscaling/group:Group", "namePrefix", f"{p}-gpu-")
        yield _n("ecs/capacityProvider:CapacityProvider", "name", f"{p}-gpu")
    yield _n("secretsmanager/secret:Secret", "name", f"{p}/inference/api-key")
    yield _n("iam/role:Role", "name", f"{p}-inference-execution")
    for n, svc in enumerate(i.services):
        key = f"mlplatform:inference.services[{n}].name"
        # A repository per service, built or not (ServiceImage keeps one for a prebuilt
        # image too).
        yield _n("ecr/repository:Repository", "name", repository(p, svc.source_dir()),
                 f"mlplatform:inference.services[{n}].source")  # fmt: skip
        if svc.on_lambda:
            yield _n("lb/targetGroup:TargetGroup", "name", function_target_group(p, svc.name), key)
            physical = service_function(p, svc.name)
            yield _n("lambda/function:Function", "name", physical, key)
            yield _n("iam/role:Role", "name", physical, key)
            yield _n("cloudwatch/metricAlarm:MetricAlarm", "name", f"{p}-{svc.name}-errors",
                     key)  # fmt: skip
            yield _n("cloudwatch/logGroup:LogGroup", "name", f"/aws/lambda/{physical}", key)
            continue
        yield _n("lb/targetGroup:TargetGroup", "name", target_group(p, svc.name), key)
        yield _n("cloudwatch/logGroup:LogGroup", "name", f"/ecs/{s.environment}/{svc.name}", key)
        yield _n("ecs/taskDefinition:TaskDefinition", "family", f"{p}-{svc.name}", key)
        yield _n("ecs/service:Service", "name", f"{p}-{svc.name}", key)
        for metric in ("cpu", "memory") if svc.tracks else ():
            yield _n("appautoscaling/policy:Policy", "name", f"{p}-{svc.name}-{metric}", key)
        if svc.min_count == 0:
            for policy in ("wake-from-zero", "scale-in-when-idle"):
                yield _n("appautoscaling/policy:Policy", "name", f"{p}-{svc.name}-{policy}", key)
            for alarm in ("requests-no-tasks", "idle"):
                yield _n("cloudwatch/metricAlarm:MetricAlarm", "name", f"{p}-{svc.name}-{alarm}",
                         key)  # fmt: skip


def _data_platform(s: Settings) -> Iterator[PhysicalName]:
    p, d, env = s.prefix(), s.data_platform, s.environment
    if not d.share_load_balancer:
        yield from _load_balancer(p, "data", True, s.ingress.http_api)
    yield from _cluster(f"{p}-data")
    if d.dashboard:
        yield _n("cloudwatch/dashboard:Dashboard", "dashboardName", f"{p}-data-platform")
    for bucket in ("mlflow-artifacts", "pipeline-data"):
        yield _n("s3/bucket:Bucket", "bucketPrefix", f"{p}-{bucket}-")
    yield _n("kms/alias:Alias", "name", f"alias/{p}-mlflow-db")
    yield _n("rds/subnetGroup:SubnetGroup", "name", f"{p}-mlflow-db")
    if d.db_engine == "aurora-postgresql":
        yield _n("rds/clusterParameterGroup:ClusterParameterGroup", "name",
                 f"{p}-mlflow-aurora-postgresql{d.postgres_version}")  # fmt: skip
        yield _n("rds/cluster:Cluster", "clusterIdentifier", f"{p}-mlflow")
        yield _n("cloudwatch/logGroup:LogGroup", "name",
                 f"/aws/rds/cluster/{p}-mlflow/postgresql")  # fmt: skip
        for n in range(2 if d.multi_az else 1):
            yield _n("rds/clusterInstance:ClusterInstance", "identifier", f"{p}-mlflow-{n}")
    else:
        yield _n("rds/parameterGroup:ParameterGroup", "name",
                 f"{p}-mlflow-postgres{d.postgres_version}")  # fmt: skip
        yield _n("iam/role:Role", "name", f"{p}-mlflow-db-monitoring")
        yield _n("rds/instance:Instance", "identifier", f"{p}-mlflow")
        for log in ("postgresql", "upgrade"):
            yield _n("cloudwatch/logGroup:LogGroup", "name", f"/aws/rds/instance/{p}-mlflow/{log}")
    secrets = ["mlflow-admin-password", "mlflow-flask-secret-key"]
    if d.api:
        secrets.append("api-secret-key")
    for secret in secrets:
        yield _n("secretsmanager/secret:Secret", "name", f"{p}/data-platform/{secret}")
    yield _n("ecr/repository:Repository", "name", repository(p, MLFLOW_SERVICE_DIR))
    yield _n("cloudwatch/logGroup:LogGroup", "name", f"/ecs/{env}/mlflow")
    yield _n("iam/role:Role", "name", f"{p}-data-execution")
    yield _n("iam/role:Role", "name", f"{p}-mlflow")
    services = ["mlflow"]
    groups = ["mlflow"]
    alarms = ["mlflow-unhealthy-hosts", "mlflow-5xx", "db-cpu", "db-connections"]
    if d.api:
        yield _n("ecr/repository:Repository", "name", repository(p, HOKUSAI_API_SERVICE_DIR))
        yield _n("cloudwatch/logGroup:LogGroup", "name", f"/ecs/{env}/hokusai-api")
        groups.append("hokusai-api")
        alarms += ["api-unhealthy-hosts", "api-5xx"]
        if not d.api_with_mlflow:  # else a container of MLflow's tasks
            services.append("hokusai-api")
            alarms.append("api-tasks-below-desired")
    for group in groups:
        yield _n("lb/targetGroup:TargetGroup", "name", target_group(p, group))
    for service in services:
        yield _n("ecs/taskDefinition:TaskDefinition", "family", f"{p}-{service}")
        yield _n("ecs/service:Service", "name", f"{p}-{service}")
    if d.db_engine != "aurora-postgresql":
        alarms.append("db-free-storage")
    if d.mlflow_desired_count > 0:
        alarms.append("mlflow-tasks-below-desired")
    for alarm in alarms:
        yield _n("cloudwatch/metricAlarm:MetricAlarm", "name", f"{p}-data-{alarm}")


def _agent_world(s: Settings) -> Iterator[PhysicalName]:
    p, a, env = s.prefix(), s.agent_world, s.environment
    shared = a.share_load_balancer
    # AgentWorldData: key, tables, buckets, Redis.
    yield _n("kms/alias:Alias", "name", f"alias/{p}-agent-world")
    for table in agent_world_schema.TABLES:
        yield _n("dynamodb/table:Table", "name", f"{p}-{table.stem}")
    for bucket in ("world-snapshots", "world-assets"):
        yield _n("s3/bucket:Bucket", "bucketPrefix", f"{p}-{bucket}-")
    if a.redis:
        yield _n("elasticache/subnetGroup:SubnetGroup", "name", f"{p}-agent-world-redis")
        yield _n("secretsmanager/secret:Secret", "name", f"{p}/agent-world/redis-auth-token")
        yield _n("elasticache/replicationGroup:ReplicationGroup", "replicationGroupId",
                 replication_group(p, "world"))  # fmt: skip
    yield from _cluster(f"{p}-agent-world")
    yield _n("ecr/repository:Repository", "name", repository(p, AGENT_WORLD_SERVICE_DIR))
    deployed = (AGENT_WORLD_ALL,) if a.single_service else AGENT_WORLD_ROLES
    for role in deployed:
        yield _n("cloudwatch/logGroup:LogGroup", "name", f"/ecs/{env}/agent-world/{role}")
    yield _n("iam/role:Role", "name", f"{p}-agent-world-execution")
    if shared:
        yield _n("apigatewayv2/vpcLink:VpcLink", "name", f"{p}-agent-world")
    else:
        yield _n("lb/loadBalancer:LoadBalancer", "name", load_balancer(p, "world-nlb"))
    for role in deployed:
        physical = agent_world_physical(p, role)
        yield _n("iam/role:Role", "name", physical[:64])
        yield _n("ecs/taskDefinition:TaskDefinition", "family", physical)
        yield _n("lb/targetGroup:TargetGroup", "name", physical[:32])
        yield _n("ecs/service:Service", "name", physical)
        for metric in ("cpu", "memory") if a.scales else ():
            yield _n("appautoscaling/policy:Policy", "name", f"{physical}-{metric}")
    yield _n("iam/role:Role", "name", f"{p}-apigateway-cloudwatch")
    for api in ("rest", "websocket"):
        yield _n("cloudwatch/logGroup:LogGroup", "name", f"/aws/apigateway/{p}-agent-world-{api}")
    if a.execution_log_level != "OFF":
        # Named by API Gateway after each API's ID (10 characters); the API's name stands
        # in for it here, never shorter, so the limit check holds for the real name.
        stage = agent_world_roles.STAGE
        yield _n("cloudwatch/logGroup:LogGroup", "name",
                 f"API-Gateway-Execution-Logs_{p}-agent-world/{stage}")  # fmt: skip
        yield _n("cloudwatch/logGroup:LogGroup", "name",
                 f"/aws/apigateway/{p}-agent-world-ws/{stage}")  # fmt: skip
    yield _n("secretsmanager/secret:Secret", "name", f"{p}/agent-world/api-key")
    yield _n("apigatewayv2/api:Api", "name", f"{p}-agent-world-ws")
    yield _n("cloudfront/originAccessControl:OriginAccessControl", "name", f"{p}-world-assets")
    yield _n("cloudfront/responseHeadersPolicy:ResponseHeadersPolicy", "name",
             response_headers_policy(p))  # fmt: skip
    if s.deletion_protection:
        yield _n("cloudwatch/logGroup:LogGroup", "name", f"/aws/cloudfront/{p}-agent-world")
        yield _n("cloudwatch/logDeliverySource:LogDeliverySource", "name", f"{p}-agent-world-cdn")
        yield _n("cloudwatch/logDeliveryDestination:LogDeliveryDestination", "name",
                 f"{p}-agent-world-cdn")  # fmt: skip
    if a.dashboard:
        yield _n("cloudwatch/dashboard:Dashboard", "dashboardName", f"{p}-agent-world")
    alarms = ["api-5xx"] + (["redis-cpu"] if a.redis else [])
    alarms += [f"{table.stem}-throttles" for table in agent_world_schema.TABLES]
    for alarm in alarms:
        yield _n("cloudwatch/metricAlarm:MetricAlarm", "name", f"{p}-agent-world-{alarm}")


def _function(physical: str) -> Iterator[PhysicalName]:
    """A LambdaFunction's three names: the function, its role and its log group."""
    yield _n("lambda/function:Function", "name", physical)
    yield _n("iam/role:Role", "name", physical)
    yield _n("cloudwatch/logGroup:LogGroup", "name", f"/aws/lambda/{physical}")


def _functions(s: Settings) -> Iterator[PhysicalName]:
    """The rotation function of every secret the stacks create, the inference tasks' role
    (it reads the API key's stages), the bridge key's secret and the WebSocket authorizer."""
    p, a = s.prefix(), s.agent_world
    rotated = []
    if s.stacks.training and s.training.redis:
        rotated.append("training-redis-token")
    if s.stacks.inference:
        rotated.append("inference-api-key")
        yield _n("iam/role:Role", "name", f"{p}-inference-task")
    if s.stacks.data_platform:
        rotated += ["mlflow-admin-password", "mlflow-flask-secret-key"]
        rotated += ["api-secret-key"] if s.data_platform.api else []
    if s.stacks.agent_world:
        rotated.append("agent-world-api-key")
        if a.share_load_balancer:
            yield _n("secretsmanager/secret:Secret", "name", f"{p}/agent-world/bridge-key")
            rotated.append("agent-world-bridge-key")
        if a.redis:
            rotated.append("agent-world-redis-token")
        yield from _function(websocket_authorizer(p))
        yield _n("apigatewayv2/authorizer:Authorizer", "name", f"{p}-agent-world-api-key")
    for secret in rotated:
        yield from _function(rotation_function(p, secret))
