"""Stack configuration, read once and validated before any resource exists.

Every key of the ``mlplatform`` config namespace is a field of a frozen dataclass below;
its default, its documentation and its check live on the field, so the parser, the
``Pulumi.yaml`` declarations (see ``tests/test_project_files.py``) and the README's
config reference all follow one definition.

The Pulumi engine hands a Python program its config as strings: a scalar key as its text
(``"true"``, ``"30"``), a structured key as JSON. :func:`parse` takes exactly that map, so
the unit tests and the offline plan feed it what ``pulumi up`` would, and reports every
bad key at once in a single :class:`ConfigError`.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import json
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.lib import cidr as cidr_math
from components.lib import fargate, instance_types, listener_rules, names, queue_scaling
from preflight import naming

PROJECT = "mlplatform"
SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"
PRICES_FILE = Path(__file__).resolve().parents[2] / "offline" / "prices-us-east-1.json"
"""The dated price list the offline plan prices with; the one list of the RDS instance
classes and ElastiCache node types a stack may use."""
MLFLOW_PATH = "/mlflow"
"""Where the data platform serves MLflow on its load balancer (its own or the shared one)."""
HOKUSAI_API_PATH = "/api"
"""Where the data platform serves the Hokusai API (``data_platform.api``)."""

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

MAX_TAGS = 50
"""Tags per resource every service allows (AWS tagging best practices)."""

Check = Callable[[Any], "str | None"]
"""A check returns None for a good value, else the accepted form in words."""


class ConfigError(Exception):
    """Invalid stack configuration; the message names every bad key and what it accepts."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        noun = "problem" if len(problems) == 1 else "problems"
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"Invalid stack configuration ({len(problems)} {noun}):\n{lines}")


def setting(
    default: Any,
    doc: str,
    check: Check | None = None,
    required: bool = False,
    secret: bool = False,
) -> Any:
    """A config field: its default, one line of documentation and an optional check.

    A ``secret`` field must be set with ``pulumi config set --secret`` and is left out of
    the settings' repr, so it never lands in a log or an error message.
    """
    if isinstance(default, (dict, list)):
        raise TypeError("use tuples and MappingProxyType for defaults; settings are frozen")
    metadata = {"doc": doc, "check": check, "required": required, "secret": secret}
    if isinstance(default, Mapping):  # read-only, but unhashable: dataclasses want a factory
        frozen = types.MappingProxyType(dict(default))
        return field(default_factory=lambda: frozen, metadata=metadata, repr=not secret)
    return field(default=default, metadata=metadata, repr=not secret)


# --- checks -------------------------------------------------------------------------


def one_of(*choices: Any) -> Check:
    def check(value: Any) -> str | None:
        return None if value in choices else "one of " + ", ".join(map(str, choices))

    return check


def int_range(low: int, high: int) -> Check:
    def check(value: int) -> str | None:
        return None if low <= value <= high else f"an integer from {low} to {high}"

    return check


def matches(pattern: str, form: str) -> Check:
    compiled = re.compile(pattern)

    def check(value: str) -> str | None:
        return None if compiled.fullmatch(value) else form

    return check


def _cidr_error(value: str, min_prefix: int = 0, max_prefix: int = 32) -> str | None:
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError:
        return f"an IPv4 CIDR such as 10.0.0.0/16 (got {value!r})"
    if not min_prefix <= network.prefixlen <= max_prefix:
        return f"a prefix from /{min_prefix} to /{max_prefix} (got /{network.prefixlen})"
    return None


def vpc_cidr(value: str) -> str | None:
    error = _cidr_error(value, cidr_math.MIN_PREFIX, cidr_math.MAX_PREFIX)
    if error is None and not ipaddress.IPv4Network(value).is_private:
        return f"a private (RFC 1918) range such as 10.0.0.0/16 (got {value!r})"
    return error


def cidr_list(value: tuple[str, ...]) -> str | None:
    if not value:
        return "at least one IPv4 CIDR"
    seen: set[ipaddress.IPv4Network] = set()
    for item in value:
        if error := _cidr_error(item):
            return error
        # ipaddress reads a bare address as a /32; a security group rule needs the prefix.
        if "/" not in item:
            return f"an IPv4 CIDR with its prefix length, such as {item}/32 (got {item!r})"
        network = ipaddress.IPv4Network(item)
        if network in seen:
            return f"IPv4 CIDRs without duplicates (got {item!r} twice)"
        seen.add(network)
    return None


def gpu_instance_type(value: str) -> str | None:
    if instance_types.gpu_count(value) > 0:
        return None
    return (
        f"a GPU instance type of the families {', '.join(instance_types.GPU_FAMILIES)}, "
        f"such as g4dn.xlarge (got {value!r})"
    )


def alb_path_patterns(value: tuple[str, ...]) -> str | None:
    # An ALB path-pattern condition takes at most 5 values of up to 128 characters.
    if not 1 <= len(value) <= 5 or not all(
        re.fullmatch(r"/[A-Za-z0-9_\-.$/~\"'@:+*?&]{0,127}", v) for v in value
    ):
        return "1-5 URL paths starting with '/', each at most 128 characters (* and ? allowed)"
    return None


def min_length(n: int) -> Check:
    def check(value: str) -> str | None:
        return None if value == "" or len(value) >= n else f"empty, or at least {n} characters"

    return check


DNS_NAME = re.compile(
    r"(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?"
)
"""A host name: lowercase labels of up to 63 characters, optionally a leading ``*.``."""
SERVICE_NAME = matches(
    r"[a-z][a-z0-9-]{1,19}", "2-20 lowercase letters, digits or '-', starting with a letter"
)
URL_PATH = matches(r"/[A-Za-z0-9_\-./]{0,127}", "a URL path starting with '/'")
ENVIRONMENT_NAME = matches(
    r"[a-z][a-z0-9-]*[a-z0-9]",
    "2 or more lowercase letters, digits or '-', starting with a letter, not ending in '-' "
    "(its length is bounded by the physical names it derives)",
)
ACM_CERTIFICATE_ARN = matches(
    r"(arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36})?",
    "an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<uuid>) or empty",
)
EMAIL = matches(r"([^@\s]+@[^@\s]+\.[a-z]{2,})?", "an e-mail address or empty")
IMAGE_URI = re.compile(
    r"[a-z0-9.-]+(:\d+)?(/[a-z0-9._-]+)+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?"
)


@functools.cache
def aws_regions() -> frozenset[str]:
    """Every region of every partition in botocore's endpoint data (``endpoints.json``)."""
    import botocore.loaders

    endpoints = botocore.loaders.create_loader().load_data("endpoints")
    return frozenset(r for partition in endpoints["partitions"] for r in partition["regions"])


@functools.cache
def priced(kind: str) -> tuple[str, ...]:
    """The sizes of ``kind`` (``rds``, ``elasticache``, ``ec2``) the price file lists."""
    return tuple(sorted(json.loads(PRICES_FILE.read_text())["hourly"][kind]))


def priced_size(kind: str, form: str) -> Check:
    def check(value: str) -> str | None:
        if value in priced(kind):
            return None
        return f"{form} listed in offline/{PRICES_FILE.name}: {', '.join(priced(kind))}"

    return check


DB_INSTANCE_CLASS = priced_size("rds", "an RDS instance class (db.<family>.<size>)")
CACHE_NODE_TYPE = priced_size("elasticache", "an ElastiCache node type (cache.<family>.<size>)")


# --- the schema ---------------------------------------------------------------------


@dataclass(frozen=True)
class StackSwitches:
    """Which stacks this environment deploys."""

    network: bool = setting(True, "VPC, subnets, NAT, endpoints and flow logs.")
    training: bool = setting(False, "Distributed CMA-ES training on SQS and Fargate Spot.")
    inference: bool = setting(False, "GPU inference behind an ALB on ECS with g4dn instances.")
    data_platform: bool = setting(False, "MLflow on Fargate with RDS PostgreSQL and S3.")
    agent_world: bool = setting(False, "DynamoDB, ECS, API Gateway, CloudFront and Redis.")


@dataclass(frozen=True)
class NetworkSettings:
    """The VPC every other stack runs in."""

    cidr: str = setting("10.0.0.0/16", "VPC IPv4 range, a private /16 to /24.", vpc_cidr)
    az_count: int = setting(
        3, "Availability zones the subnets span.", int_range(cidr_math.MIN_AZS, cidr_math.MAX_AZS)
    )
    nat_strategy: str = setting(
        "one_per_az",
        "NAT gateways for private subnets: none (dev: workloads use public subnets), "
        "single, or one_per_az (prod: no cross-AZ dependency).",
        one_of("none", "single", "one_per_az"),
    )
    interface_endpoints: bool = setting(
        True,
        "Interface endpoints (ECR api and dkr, CloudWatch Logs, Secrets Manager, SQS) in the "
        "private subnets, so tasks reach AWS without NAT. About $7.30/month each per AZ.",
    )
    flow_log_traffic_type: str = setting(
        "ALL", "Traffic the VPC flow log records.", one_of("ALL", "ACCEPT", "REJECT")
    )


@dataclass(frozen=True)
class IngressSettings:
    """How the public load balancers of the HTTP stacks accept traffic."""

    allowed_cidr_blocks: tuple[str, ...] = setting(
        ("0.0.0.0/0",),
        "IPv4 ranges (CIDRs with their prefix length, no duplicates) allowed to reach the load "
        "balancers.",
        cidr_list,
    )
    certificate_arn: str = setting(
        "", "ACM certificate for the HTTPS listeners; empty for none.", ACM_CERTIFICATE_ARN
    )
    allow_http: bool = setting(
        False, "Serve plain HTTP when no certificate is set (dev only); else HTTP redirects."
    )


@dataclass(frozen=True)
class TrainingSettings:
    """Distributed CMA-ES: task and result queues, Fargate Spot workers, state bucket."""

    worker_cpu: int = setting(
        2048, "CPU units per worker task (1024 = 1 vCPU).", one_of(*fargate.cpu_choices())
    )
    worker_memory: int = setting(
        4096, "Memory per worker task in MiB; must pair with worker_cpu as Fargate accepts."
    )
    min_workers: int = setting(
        0, "Fewest worker tasks; 0 lets the workers scale to zero.", int_range(0, 1000)
    )
    max_workers: int = setting(10, "Most worker tasks.", int_range(1, 1000))
    spot_percentage: int = setting(
        80, "Share of workers on Fargate Spot, 0-100.", int_range(0, 100)
    )
    eval_seconds: int = setting(
        60,
        "Typical time to evaluate one candidate; sizes the backlog the workers scale on.",
        int_range(1, queue_scaling.MAX_EVAL_SECONDS),
    )
    max_eval_seconds: int = setting(
        900,
        "Longest one evaluation may take; the task queue's visibility timeout is this plus "
        "a margin, so a dead worker's task is retried after it.",
        int_range(10, queue_scaling.MAX_EVAL_SECONDS),
    )
    acceptable_latency_seconds: int = setting(
        300,
        "How long a task may wait for a worker; the backlog target per worker is this "
        "divided by eval_seconds.",
        int_range(10, 86400),
    )
    scale_in_idle_minutes: int = setting(
        15,
        "Minutes the task queue must be empty with nothing in flight before the workers "
        "scale in to min_workers.",
        int_range(1, 1440),
    )
    max_receive_count: int = setting(
        5, "Deliveries of a task before it moves to the dead-letter queue.", int_range(1, 1000)
    )
    message_retention_days: int = setting(
        14, "Days the queues keep unconsumed messages (SQS allows 1-14).", int_range(1, 14)
    )
    oldest_task_alarm_minutes: int = setting(
        60, "Alarm when the oldest waiting task is older than this.", int_range(1, 20160)
    )
    checkpoint_ia_days: int = setting(
        30,
        "Days before checkpoints move to S3 Standard-IA (S3 requires at least 30).",
        int_range(30, 3650),
    )
    checkpoint_expire_days: int = setting(
        365,
        "Days before checkpoints are deleted; more than checkpoint_ia_days.",
        int_range(31, 36500),
    )
    noncurrent_version_days: int = setting(
        30, "Days an overwritten or deleted object's old version is kept.", int_range(1, 3650)
    )
    coordinator_user: bool = setting(
        False,
        "Also create an IAM user for the coordinator and export its access key (as "
        "secrets), for the seed's workflow; the default is a role to assume.",
    )
    redis: bool = setting(False, "An ElastiCache Redis for the workers (seed 000's redis.tf).")
    redis_node_type: str = setting(
        "cache.t4g.micro",
        "Node type of the training Redis, one the price file (offline/prices-us-east-1.json) "
        "lists.",
        CACHE_NODE_TYPE,
    )


@dataclass(frozen=True)
class InferenceServiceSettings:
    """One HTTP service behind the inference load balancer."""

    name: str = setting(
        "",
        "Service name: ECS service, log group /ecs/<env>/<name>, target group.",
        SERVICE_NAME,
        required=True,
    )
    source: str = setting(
        "", "Directory under services/ its image is built from; empty: the name with - as _."
    )
    image: str = setting(
        "", "Prebuilt image URI instead of a build; empty: build (or images.<source>)."
    )
    container_port: int = setting(8000, "Port the container listens on.", int_range(1, 65535))
    health_path: str = setting("/health", "Path the load balancer health check requests.", URL_PATH)
    path_patterns: tuple[str, ...] = setting(
        (),
        "Paths the load balancer routes to this service (ALB path patterns).",
        alb_path_patterns,
        required=True,
    )
    gpu: int = setting(
        0,
        "GPUs per task; 0 runs the service on Fargate, more on the GPU instances.",
        int_range(0, 8),
    )
    cpu: int = setting(1024, "CPU units per task (1024 = 1 vCPU).", int_range(128, 196608))
    memory: int = setting(2048, "Memory per task in MiB.", int_range(512, 2_000_000))
    desired_count: int = setting(1, "Tasks at deployment.", int_range(0, 100))
    min_count: int = setting(
        1,
        "Fewest tasks; 0 lets the service (and its GPU instances) scale to zero.",
        int_range(0, 100),
    )
    max_count: int = setting(2, "Most tasks.", int_range(1, 100))
    cpu_target: int = setting(70, "Average CPU % the service scales to hold.", int_range(1, 100))
    memory_target: int = setting(
        80, "Average memory % the service scales to hold.", int_range(1, 100)
    )

    def source_dir(self) -> str:
        """The directory under ``services/`` the image is built from."""
        return self.source or self.name.replace("-", "_")


@dataclass(frozen=True)
class InferenceSettings:
    """GPU inference: services behind one ALB, on g4dn instances or Fargate."""

    instance_type: str = setting("g4dn.xlarge", "GPU instance type.", gpu_instance_type)
    min_instances: int = setting(
        0, "Fewest GPU instances; 0 lets them scale to zero.", int_range(0, 100)
    )
    max_instances: int = setting(2, "Most GPU instances.", int_range(1, 100))
    spot_percentage: int = setting(
        0, "Share of GPU instances and Fargate tasks on Spot, 0-100.", int_range(0, 100)
    )
    root_volume_gib: int = setting(
        60,
        "Encrypted gp3 root volume of each GPU instance (the GPU AMI needs 30+).",
        int_range(30, 16384),
    )
    scale_in_idle_minutes: int = setting(
        30,
        "For a service with min_count 0: minutes without a request before it scales to zero.",
        int_range(1, 1440),
    )
    access_logs: bool = setting(
        True, "Load balancer access logs to an S3 bucket (kept log_retention_days)."
    )
    services: tuple[InferenceServiceSettings, ...] = setting(
        (
            InferenceServiceSettings(
                name="vision-validator",
                path_patterns=("/validate", "/validate/*", "/health"),
                gpu=1,
                cpu=2048,
                memory=8192,
                desired_count=1,
                min_count=1,
                max_count=2,
            ),
            InferenceServiceSettings(
                name="ai-inference",
                path_patterns=("/move", "/move/*"),
                gpu=0,
                cpu=512,
                memory=1024,
                desired_count=1,
                min_count=1,
                max_count=4,
            ),
        ),
        "The services, a list of objects with the keys below.",
    )


@dataclass(frozen=True)
class DataPlatformSettings:
    """MLflow on Fargate with RDS PostgreSQL and S3 (seed 002)."""

    multi_az: bool = setting(
        True, "Run the database with a standby (Aurora: a reader) in a second AZ."
    )
    db_engine: str = setting(
        "postgres",
        "postgres: an RDS for PostgreSQL instance of db_instance_class. aurora-postgresql: "
        "Aurora Serverless v2 between db_min_acu and db_max_acu, which at 0 pauses when idle "
        "(dev).",
        one_of("postgres", "aurora-postgresql"),
    )
    db_min_acu: int = setting(
        0,
        "Aurora: fewest capacity units; 0 pauses the database after db_auto_pause_minutes "
        "without a connection (it bills storage only until the next one resumes it).",
        int_range(0, 256),
    )
    db_max_acu: int = setting(4, "Aurora: most capacity units.", int_range(1, 256))
    db_auto_pause_minutes: int = setting(
        15, "Aurora with db_min_acu 0: idle minutes before it pauses.", int_range(5, 1440)
    )
    db_instance_class: str = setting(
        "db.t4g.medium",
        "RDS instance class, one the price file (offline/prices-us-east-1.json) lists.",
        DB_INSTANCE_CLASS,
    )
    backup_retention_days: int = setting(
        14, "Days of automated RDS backups, 7-35 (production: at least 14).", int_range(7, 35)
    )
    postgres_version: str = setting(
        "17",
        "PostgreSQL major version; minor versions are upgraded automatically.",
        one_of("14", "15", "16", "17"),
    )
    db_storage_gib: int = setting(20, "Allocated gp3 storage in GiB.", int_range(20, 65536))
    db_max_storage_gib: int = setting(
        100, "Storage autoscaling ceiling in GiB; at least db_storage_gib.", int_range(20, 65536)
    )
    mlflow_cpu: int = setting(
        1024, "CPU units of an MLflow task (1024 = 1 vCPU).", one_of(*fargate.cpu_choices())
    )
    mlflow_memory: int = setting(
        2048, "Memory of an MLflow task in MiB; a pair Fargate accepts with mlflow_cpu."
    )
    mlflow_desired_count: int = setting(1, "MLflow tasks.", int_range(0, 20))
    spot_percentage: int = setting(
        0, "Share of MLflow (and API) tasks on Fargate Spot, 0-100.", int_range(0, 100)
    )
    share_load_balancer: bool = setting(
        False,
        "Serve MLflow (and the API) from the inference stack's load balancer instead of an own "
        "one, saving one load balancer's hourly charge; needs stacks.inference.",
    )
    allowed_hosts: tuple[str, ...] = setting(
        (), "Extra host names MLflow answers to (a custom DNS name in front of the ALB)."
    )
    artifact_ia_days: int = setting(
        90,
        "Days before MLflow artifacts and pipeline data move to S3 Standard-IA.",
        int_range(30, 3650),
    )
    api: bool = setting(False, "Also run the Hokusai API service (seed 002) at /api.")
    api_image: str = setting("", "Image URI of the Hokusai API; required with api.")
    db_connections_alarm: int = setting(
        80, "Alarm when the database has more connections than this.", int_range(1, 100000)
    )


@dataclass(frozen=True)
class AgentWorldSettings:
    """The agent world services (filled in by the agent world stack)."""

    redis: bool = setting(
        True,
        "An ElastiCache Redis (seed 004's cache), its token injected into the services. They "
        "do not use it yet, so dev leaves it off.",
    )
    redis_multi_az: bool = setting(True, "Redis with a replica and automatic failover.")
    redis_node_type: str = setting(
        "cache.t4g.small",
        "ElastiCache node type, one the price file (offline/prices-us-east-1.json) lists.",
        CACHE_NODE_TYPE,
    )
    snapshot_glacier_days: int = setting(
        30,
        "Days before archived world snapshots move to S3 Glacier Flexible Retrieval.",
        int_range(1, 3650),
    )
    task_cpu: int = setting(
        256, "CPU units of each agent world service task.", one_of(*fargate.cpu_choices())
    )
    task_memory: int = setting(512, "Memory of each service task in MiB (a Fargate pair).")
    min_tasks: int = setting(
        1, "Fewest tasks per service (the APIs must answer).", int_range(1, 100)
    )
    single_service: bool = setting(
        False,
        "Run the three roles in one service (SERVICE_ROLE=all): one idle task instead of "
        "three (dev).",
    )
    share_load_balancer: bool = setting(
        False,
        "Reach the services through the inference stack's load balancer over a VPC link v2 "
        "instead of an internal NLB of their own, saving the NLB's hourly charge; the "
        "WebSocket API then reaches them through the REST API. Needs stacks.inference and "
        "no ingress.certificate_arn (dev).",
    )
    dashboard: bool = setting(True, "A CloudWatch dashboard of the stack ($3 a month).")
    max_tasks: int = setting(4, "Most tasks per service.", int_range(1, 100))
    spot_percentage: int = setting(
        0, "Share of the service tasks on Fargate Spot, 0-100.", int_range(0, 100)
    )
    api_throttle_rate: int = setting(
        50, "Steady requests per second the APIs accept (stage throttling).", int_range(1, 10000)
    )
    api_throttle_burst: int = setting(
        100, "Request burst the APIs accept (stage throttling).", int_range(1, 5000)
    )
    bedrock_model_ids: tuple[str, ...] = setting(
        ("anthropic.claude-3-haiku-20240307-v1:0",),
        "Bedrock foundation models llm-integration may invoke (nothing else).",
    )
    price_class: str = setting(
        "PriceClass_100",
        "CloudFront price class (edge locations served).",
        one_of("PriceClass_100", "PriceClass_200", "PriceClass_All"),
    )
    domain_names: tuple[str, ...] = setting(
        (),
        "Custom domain names (DNS names, not URLs) of the CloudFront distribution; empty: its "
        "own domain.",
    )
    cdn_certificate_arn: str = setting(
        "",
        "ACM certificate in us-east-1 for domain_names (CloudFront requires us-east-1).",
        ACM_CERTIFICATE_ARN,
    )


@dataclass(frozen=True)
class QuotaSettings:
    """The Service Quotas the stacks' vCPUs draw on (computed in ``components/lib/quotas.py``)."""

    request: bool = setting(
        False,
        "Request from Service Quotas each EC2 GPU and Fargate vCPU quota the stacks can use "
        "at their maximum, where the account's value is lower (it never lowers one).",
    )


@dataclass(frozen=True)
class Settings:
    """Everything the program reads from config. Build with :func:`parse` or :func:`load`."""

    environment: str = setting(
        "",
        "Environment name used in resource names and tags: lowercase letters, digits and '-', "
        "not ending in '-', short enough for every physical name it derives (the check names "
        "the longest).",
        ENVIRONMENT_NAME,
        required=True,
    )
    production: bool = setting(
        False,
        "A production stack: refuses ingress.allow_http, log_retention_days under 365, "
        "deletion_protection false and data_platform.backup_retention_days under 14.",
    )
    deletion_protection: bool = setting(
        True, "Protect stateful resources from deletion; required in production."
    )
    log_retention_days: int = setting(
        365, "Retention of every CloudWatch log group.", one_of(*LOG_RETENTION_DAYS)
    )
    tags: Mapping[str, str] = setting(
        types.MappingProxyType({}),
        "Extra tags on every taggable resource: keys and values of the characters every service "
        "accepts (letters, digits, spaces and _.:/=+-@).",
    )
    alarm_email: str = setting(
        "", "E-mail address subscribed to the stacks' alarm topics; empty for none.", EMAIL
    )
    inference_api_key: str = setting(
        "",
        "API key the inference services require; set it with `pulumi config set --secret`. "
        "Empty: a random key is generated and kept in Secrets Manager.",
        min_length(16),
        secret=True,
    )
    images: Mapping[str, str] = setting(
        types.MappingProxyType({}),
        "Prebuilt image URI per service (directory under services/); a listed service is "
        "not built, so `pulumi preview` needs no Docker.",
    )
    stacks: StackSwitches = setting(StackSwitches(), "Which stacks to deploy.")
    network: NetworkSettings = setting(NetworkSettings(), "The VPC.")
    ingress: IngressSettings = setting(IngressSettings(), "Public load balancer ingress.")
    training: TrainingSettings = setting(TrainingSettings(), "Training stack.")
    inference: InferenceSettings = setting(InferenceSettings(), "GPU inference stack.")
    data_platform: DataPlatformSettings = setting(DataPlatformSettings(), "Data platform stack.")
    agent_world: AgentWorldSettings = setting(AgentWorldSettings(), "Agent world stack.")
    quotas: QuotaSettings = setting(QuotaSettings(), "Service Quotas requests.")

    # Not config keys: filled in from the engine.
    project: str = field(default=PROJECT, metadata={"config": False})
    stack: str = field(default="", metadata={"config": False})
    region: str = field(default="", metadata={"config": False})

    def base_tags(self, component: str) -> dict[str, str]:
        """The tag map every taggable resource of ``component`` carries."""
        return {
            **self.tags,
            "project": self.project,
            "stack": self.stack,
            "environment": self.environment,
            "component": component,
            "managed-by": "pulumi",
        }

    def prefix(self) -> str:
        """Physical-name prefix, e.g. ``mlplatform-dev``."""
        return f"{self.project}-{self.environment}"


# --- parsing ------------------------------------------------------------------------


def config_fields(cls: type) -> list[dataclasses.Field]:
    """The fields of a settings class that are config keys."""
    return [f for f in dataclasses.fields(cls) if f.metadata.get("config", True)]


def _is_section(tp: Any) -> bool:
    return dataclasses.is_dataclass(tp)


def _section_list_item(tp: Any) -> Any:
    """The section type of a ``tuple[Section, ...]`` field, else None."""
    if typing.get_origin(tp) is tuple:
        (item, *_rest) = typing.get_args(tp)
        if _is_section(item):
            return item
    return None


def _type_name(tp: Any) -> str:
    if tp is bool:
        return "a boolean"
    if tp is int:
        return "an integer"
    if tp is str:
        return "a string"
    if _section_list_item(tp):
        return "a list of objects"
    if typing.get_origin(tp) is tuple:
        return "a list of strings"
    if _is_section(tp):
        return "an object"
    return "an object of string values"


def _coerce(tp: Any, value: Any, from_text: bool) -> tuple[bool, Any]:
    """Check ``value`` is of type ``tp``; ``from_text`` accepts the engine's string forms."""
    if from_text and isinstance(value, str):
        if tp is bool and value in ("true", "false"):
            return True, value == "true"
        if tp is int and re.fullmatch(r"-?\d+", value):
            return True, int(value)
        if tp is not str:
            try:
                value = json.loads(value)
            except ValueError:
                return False, None
            return _coerce(tp, value, from_text=False)
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is str:
        return isinstance(value, str), value
    if _section_list_item(tp):
        ok = isinstance(value, list) and all(isinstance(v, dict) for v in value)
        return ok, value if ok else None
    if typing.get_origin(tp) is tuple:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return ok, tuple(value) if ok else None
    if _is_section(tp):
        return isinstance(value, dict), value
    ok = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    return ok, types.MappingProxyType(dict(value)) if ok else None


def _parse_section(cls: type, raw: Mapping[str, Any], path: str, problems: list[str],
                   from_text: bool = False) -> Any:  # fmt: skip
    hints = typing.get_type_hints(cls)
    fields = config_fields(cls)
    known = {f.name for f in fields}
    for key in sorted(set(raw) - known):
        problems.append(f"{path}{key}: unknown key; accepted keys: {', '.join(sorted(known))}")
    values: dict[str, Any] = {}
    for f in fields:
        key, tp = f"{path}{f.name}", hints[f.name]
        if f.name not in raw:
            if f.metadata.get("required"):
                problems.append(f"{key}: required; {_accepted(f, tp)}")
            continue
        ok, value = _coerce(tp, raw[f.name], from_text)
        if not ok:
            problems.append(f"{key}: expected {_type_name(tp)}, got {raw[f.name]!r}")
            continue
        if _is_section(tp):
            values[f.name] = _parse_section(tp, value, f"{key}.", problems)
            continue
        if item := _section_list_item(tp):
            values[f.name] = tuple(
                _parse_section(item, v, f"{key}[{i}].", problems) for i, v in enumerate(value)
            )
            continue
        check = f.metadata.get("check")
        if check and (accepted := check(value)):
            got = "" if "(got " in accepted else f" (got {_shown(value)})"
            problems.append(f"{key}: expected {accepted}{got}")
            continue
        values[f.name] = value
    return cls(**values)


def _shown(value: Any) -> str:
    return repr(list(value)) if isinstance(value, tuple) else repr(value)


def _accepted(f: dataclasses.Field, tp: Any) -> str:
    check = f.metadata.get("check")
    bad = check("") if check else None
    return f"expected {bad}" if bad else f"expected {_type_name(tp)}"


def _cross_checks(s: Settings, problems: list[str], known_services: frozenset[str]) -> None:
    """Rules that involve more than one key."""
    ns = f"{PROJECT}:"
    for name in config_fields(StackSwitches):
        enabled = getattr(s.stacks, name.name)
        if enabled and name.name != "network" and not s.stacks.network:
            problems.append(f"{ns}stacks.{name.name}: needs stacks.network true")
    _check_production(s, problems)
    if not s.ingress.certificate_arn and not s.ingress.allow_http:
        problems.append(
            f"{ns}ingress.certificate_arn: expected an ACM certificate ARN, "
            "or ingress.allow_http true to serve plain HTTP (dev only)"
        )
    t = s.training
    cpu_refused = any(p.startswith(f"{ns}training.worker_cpu:") for p in problems)
    if not cpu_refused and not fargate.is_valid(t.worker_cpu, t.worker_memory):
        problems.append(f"{ns}training.worker_memory: expected {fargate.describe(t.worker_cpu)}")
    if t.eval_seconds > t.max_eval_seconds:
        problems.append(
            f"{ns}training.eval_seconds: expected at most max_eval_seconds ({t.max_eval_seconds})"
        )
    if t.checkpoint_expire_days <= t.checkpoint_ia_days:
        problems.append(
            f"{ns}training.checkpoint_expire_days: expected more than checkpoint_ia_days "
            f"({t.checkpoint_ia_days})"
        )
    if t.max_workers < t.min_workers:
        problems.append(
            f"{ns}training.max_workers: expected at least min_workers ({t.min_workers})"
        )
    _check_data_platform(s, problems)
    _check_agent_world(s, problems)
    i = s.inference
    if i.max_instances < i.min_instances:
        problems.append(
            f"{ns}inference.max_instances: expected at least min_instances ({i.min_instances})"
        )
    _check_inference_services(s, problems, known_services)
    for service, uri in s.images.items():
        if service not in known_services:
            problems.append(
                f"{ns}images.{service}: unknown service; expected one of the directories under "
                f"services/ with a Dockerfile ({', '.join(sorted(known_services)) or 'none yet'})"
            )
        elif not IMAGE_URI.fullmatch(uri):
            problems.append(
                f"{ns}images.{service}: expected an image URI such as "
                f"123456789012.dkr.ecr.us-east-1.amazonaws.com/name:tag or ...@sha256:<digest>"
            )
    _check_tags(s, problems)
    _check_certificate_region(s, problems)
    _check_shared_load_balancer_paths(s, problems)
    _check_physical_names(s, problems)


def _check_production(s: Settings, problems: list[str]) -> None:
    """What a production stack may not do; ``production`` is a setting, not a stack name."""
    if not s.production:
        return
    ns = f"{PROJECT}:"
    if not s.deletion_protection:
        problems.append(f"{ns}deletion_protection: expected true when production is true")
    if s.ingress.allow_http:
        problems.append(
            f"{ns}ingress.allow_http: expected false when production is true (HTTPS only; set "
            "ingress.certificate_arn)"
        )
    if s.log_retention_days < 365:
        problems.append(
            f"{ns}log_retention_days: expected at least 365 when production is true "
            f"(got {s.log_retention_days})"
        )


def _check_tags(s: Settings, problems: list[str]) -> None:
    ns = f"{PROJECT}:tags"
    for key, value in s.tags.items():
        for problem in (naming.tag_key_problem(key), naming.tag_value_problem(value)):
            if problem:
                problems.append(
                    f"{ns}.{key}: expected {problem}, the characters every service accepts "
                    f"in tags [{naming.TAG_SOURCE}]"
                )
    # The base tags, and the Name tag some resources (security groups) add.
    own = set(dataclasses.replace(s, tags=types.MappingProxyType({})).base_tags("")) | {"Name"}
    if len(set(s.tags) | own) > MAX_TAGS:
        problems.append(
            f"{ns}: expected at most {MAX_TAGS - len(own)} tags besides the {len(own)} the "
            f"program sets ({', '.join(sorted(own))}); AWS allows {MAX_TAGS} per resource"
        )


def _check_certificate_region(s: Settings, problems: list[str]) -> None:
    # A load balancer's listener takes an ACM certificate of its own region only:
    # https://docs.aws.amazon.com/acm/latest/userguide/acm-regions.html
    arn = s.ingress.certificate_arn
    parts = arn.split(":")
    if arn and len(parts) > 3 and s.region and parts[3] != s.region:
        problems.append(
            f"{PROJECT}:ingress.certificate_arn: expected an ACM certificate in the stack's "
            f"region {s.region}, where the load balancers are (got one in {parts[3]})"
        )


def patterns_overlap(a: str, b: str) -> bool:
    """True when some request path matches both ALB path patterns (``*``: any run of
    characters, ``?``: one character; ALB matches case-sensitively)."""

    @functools.cache
    def overlap(i: int, j: int) -> bool:
        if i == len(a):
            return all(c == "*" for c in b[j:])
        if j == len(b):
            return all(c == "*" for c in a[i:])
        if a[i] == "*":
            return overlap(i + 1, j) or overlap(i, j + 1)
        if b[j] == "*":
            return overlap(i, j + 1) or overlap(i + 1, j)
        if a[i] == "?" or b[j] == "?" or a[i] == b[j]:
            return overlap(i + 1, j + 1)
        return False

    return overlap(0, 0)


def shared_load_balancer_routes(s: Settings) -> dict[str, tuple[str, ...]]:
    """Path patterns the other stacks route on the inference load balancer, by config key.

    The agent world's rules there match a header and the VPC's range, not a path, so they
    take no path from the inference services (components/stacks/agent_world/stack.py).
    """
    d = s.data_platform
    if not (s.stacks.inference and s.stacks.data_platform and d.share_load_balancer):
        return {}
    routes = {f"{PROJECT}:data_platform.share_load_balancer": (MLFLOW_PATH, f"{MLFLOW_PATH}/*")}
    if d.api:
        routes[f"{PROJECT}:data_platform.api"] = (HOKUSAI_API_PATH, f"{HOKUSAI_API_PATH}/*")
    return routes


def _check_shared_load_balancer_paths(s: Settings, problems: list[str]) -> None:
    most = listener_rules.MAX_INFERENCE_SERVICES_BEFORE_DATA_PLATFORM
    if shared_load_balancer_routes(s) and len(s.inference.services) > most:
        problems.append(
            f"{PROJECT}:inference.services: expected at most {most} services while "
            "data_platform.share_load_balancer is true: the next one's listener rule takes "
            f"priority {listener_rules.inference(most)}, which comes after MLflow's "
            f"({listener_rules.MLFLOW}) on the shared listener"
        )
    for other_key, theirs in shared_load_balancer_routes(s).items():
        for n, svc in enumerate(s.inference.services):
            for pattern in svc.path_patterns:
                clash = [p for p in theirs if patterns_overlap(pattern, p)]
                if clash:
                    problems.append(
                        f"{PROJECT}:inference.services[{n}].path_patterns: expected paths the "
                        f"shared load balancer does not route to another stack: {pattern!r} "
                        f"overlaps {clash[0]!r} ({other_key})"
                    )


def _check_physical_names(s: Settings, problems: list[str]) -> None:
    """Every physical name the configuration derives, held to AWS's limit for its type;
    no two services may share a target group or an ECR repository."""
    built_from = re.compile(
        rf"{PROJECT}:(environment|inference\.services(\[\d+\]\.(name|source))?):"
    )
    if not s.environment or any(built_from.match(p) for p in problems):
        return  # the names would be built from a value already reported
    by_key: dict[str, list[tuple[int, str]]] = {}
    overflow: dict[str, int] = {}
    seen: dict[tuple[str, str], str] = {}
    collisions: dict[str, None] = {}
    for name in names.physical_names(s):
        if problem := naming.problem(name.type, name.property, name.value):
            rule = naming.rule_for(name.type, name.property).resolved()
            excess = len(name.value) - rule.max_value_length()
            overflow[name.key] = max(overflow.get(name.key, 0), excess)
            shown = f"{name.value!r} ({name.type} {name.property}): expected {problem}"
            by_key.setdefault(name.key, []).append((-excess, f"{shown} [{rule.source}]"))
        if name.type in (names.TARGET_GROUP, names.REPOSITORY):
            first = seen.setdefault((name.type, name.value), name.key)
            if first == name.key:
                continue
            kind = "target group" if name.type == names.TARGET_GROUP else "ECR repository"
            if len(name.value) <= len(s.prefix()) + 1:  # the cut left nothing of the service
                collisions.setdefault(
                    f"{names.ENVIRONMENT_KEY}: expected a shorter environment: {kind} names "
                    f"are cut to 32 characters, and {name.value!r} leaves no room for the "
                    "service names that tell them apart"
                )
            else:
                collisions.setdefault(
                    f"{name.key}: expected a name no other service maps to: its {kind} "
                    f"{name.value!r} is also {first}'s"
                )
    problems.extend(collisions)
    for key, found_by_excess in by_key.items():
        found = [text for _, text in sorted(found_by_excess)]  # the longest first
        shown = "; ".join(found[:3]) + (f"; and {len(found) - 3} more" if len(found) > 3 else "")
        value = s.environment if key == names.ENVIRONMENT_KEY else _value_of(s, key)
        longest = (
            f", at most {len(value) - overflow[key]} characters here"
            if overflow.get(key, 0) > 0 and value
            else ""
        )
        problems.append(
            f"{key}: expected a value that keeps every physical name it derives within AWS's "
            f"limits{longest}: {shown}"
        )


def _value_of(s: Settings, key: str) -> str:
    """The value of an ``inference.services[<n>].<field>`` key (or empty)."""
    match = re.fullmatch(rf"{PROJECT}:inference\.services\[(\d+)\]\.(\w+)", key)
    if not match:
        return ""
    svc = s.inference.services[int(match[1])]
    return svc.source_dir() if match[2] == "source" else str(getattr(svc, match[2]))


def _check_agent_world(s: Settings, problems: list[str]) -> None:
    ns = f"{PROJECT}:agent_world."
    a = s.agent_world
    cpu_refused = any(p.startswith(f"{ns}task_cpu:") for p in problems)
    if not cpu_refused and not fargate.is_valid(a.task_cpu, a.task_memory):
        problems.append(f"{ns}task_memory: expected {fargate.describe(a.task_cpu)}")
    if a.max_tasks < a.min_tasks:
        problems.append(f"{ns}max_tasks: expected at least min_tasks ({a.min_tasks})")
    if a.domain_names and not a.cdn_certificate_arn.startswith("arn:aws:acm:us-east-1:"):
        problems.append(
            f"{ns}cdn_certificate_arn: expected an ACM certificate ARN in us-east-1 when "
            "domain_names is set"
        )
    if a.share_load_balancer and s.stacks.agent_world:
        if not s.stacks.inference:
            problems.append(
                f"{ns}share_load_balancer: expected false unless stacks.inference is true"
            )
        if s.ingress.certificate_arn:
            problems.append(
                f"{ns}share_load_balancer: expected false when ingress.certificate_arn is set "
                "(the VPC link reaches the shared listener over plain HTTP inside the VPC)"
            )
    for name in a.domain_names:
        if not DNS_NAME.fullmatch(name) or len(name) > 253:
            problems.append(
                f"{ns}domain_names: expected DNS names such as app.example.com (a CloudFront "
                f"alias is a host name, not a URL; got {name!r})"
            )
    if len(set(a.domain_names)) != len(a.domain_names):
        problems.append(f"{ns}domain_names: expected DNS names without duplicates")
    for model in a.bedrock_model_ids:
        if not re.fullmatch(r"[a-z0-9-]+\.[A-Za-z0-9._:-]+", model):
            problems.append(f"{ns}bedrock_model_ids: expected Bedrock model IDs (got {model!r})")


def _check_data_platform(s: Settings, problems: list[str]) -> None:
    ns = f"{PROJECT}:data_platform."
    d = s.data_platform
    if s.production and d.backup_retention_days < 14:
        problems.append(
            f"{ns}backup_retention_days: expected at least 14 when production is true "
            f"(got {d.backup_retention_days})"
        )
    if d.db_engine == "aurora-postgresql":
        if d.db_max_acu < d.db_min_acu:
            problems.append(f"{ns}db_max_acu: expected at least db_min_acu ({d.db_min_acu})")
        if d.postgres_version not in ("16", "17"):
            problems.append(
                f"{ns}postgres_version: expected 16 or 17 with db_engine aurora-postgresql "
                f"(got {d.postgres_version})"
            )
    if d.db_max_storage_gib < d.db_storage_gib:
        problems.append(
            f"{ns}db_max_storage_gib: expected at least db_storage_gib ({d.db_storage_gib})"
        )
    cpu_refused = any(p.startswith(f"{ns}mlflow_cpu:") for p in problems)
    if not cpu_refused and not fargate.is_valid(d.mlflow_cpu, d.mlflow_memory):
        problems.append(f"{ns}mlflow_memory: expected {fargate.describe(d.mlflow_cpu)}")
    if d.share_load_balancer and s.stacks.data_platform and not s.stacks.inference:
        problems.append(f"{ns}share_load_balancer: expected false unless stacks.inference is true")
    if d.api and not d.api_image:
        problems.append(f"{ns}api_image: expected an image URI when data_platform.api is true")
    if d.api_image and not IMAGE_URI.fullmatch(d.api_image):
        problems.append(f"{ns}api_image: expected an image URI or empty (got {d.api_image!r})")
    for host in d.allowed_hosts:
        if not re.fullmatch(
            r"[a-z0-9*]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+", host
        ):
            problems.append(f"{ns}allowed_hosts: expected DNS names (got {host!r})")


def _check_inference_services(
    s: Settings, problems: list[str], known_services: frozenset[str]
) -> None:
    ns = f"{PROJECT}:inference."
    i = s.inference
    gpus = instance_types.gpu_count(i.instance_type)
    cpu_cap, memory_cap = instance_types.task_capacity(i.instance_type)
    if not i.services:
        problems.append(f"{ns}services: expected at least one service")
    seen_names: set[str] = set()
    seen_paths: dict[str, str] = {}
    gpu_tasks_at_min = 0
    for n, svc in enumerate(i.services):
        key = f"{ns}services[{n}]"
        if not svc.name:  # already reported as required
            continue
        if svc.name in seen_names:
            problems.append(f"{key}.name: expected a name no other service has (got {svc.name!r})")
        seen_names.add(svc.name)
        for pattern in svc.path_patterns:
            if pattern in seen_paths:
                problems.append(
                    f"{key}.path_patterns: {pattern!r} is already routed to {seen_paths[pattern]}"
                )
            seen_paths.setdefault(pattern, svc.name)
        if svc.gpu > gpus:
            problems.append(
                f"{key}.gpu: expected at most {gpus}, the GPUs of one {i.instance_type} "
                f"(got {svc.gpu}); choose a larger inference.instance_type"
            )
        elif svc.gpu and (svc.cpu > cpu_cap or svc.memory > memory_cap):
            problems.append(
                f"{key}.memory: expected cpu at most {cpu_cap} and memory at most {memory_cap} "
                f"MiB to fit on one {i.instance_type} (got cpu {svc.cpu}, memory {svc.memory})"
            )
        elif not svc.gpu and not fargate.is_valid(svc.cpu, svc.memory):
            problems.append(
                f"{key}.memory: expected a Fargate size for a service without GPU: "
                f"{fargate.describe(svc.cpu)} (got cpu {svc.cpu}, memory {svc.memory})"
            )
        if not svc.min_count <= svc.desired_count <= svc.max_count:
            problems.append(
                f"{key}.desired_count: expected min_count <= desired_count <= max_count "
                f"(got {svc.min_count}, {svc.desired_count}, {svc.max_count})"
            )
        if svc.gpu and svc.gpu <= gpus:
            gpu_tasks_at_min += svc.min_count * svc.gpu
            if gpu_tasks_at_min > gpus * i.max_instances:
                problems.append(
                    f"{key}.min_count: expected the GPU services' min_count tasks to fit on "
                    f"inference.max_instances ({i.max_instances}) {i.instance_type} with {gpus} "
                    f"GPU(s) each: {gpus * i.max_instances} GPUs, these need {gpu_tasks_at_min} "
                    f"(got min_count {svc.min_count}); raise max_instances or lower min_count"
                )
        if svc.image and not IMAGE_URI.fullmatch(svc.image):
            problems.append(f"{key}.image: expected an image URI or empty (got {svc.image!r})")
        elif (
            not svc.image
            and svc.source_dir() not in s.images
            and svc.source_dir() not in known_services
        ):
            problems.append(
                f"{key}.source: expected a directory under services/ with a Dockerfile "
                f"(got {svc.source_dir()!r}; known: {', '.join(sorted(known_services))}), "
                "or an image URI in image"
            )


def discover_services(services_dir: Path = SERVICES_DIR) -> frozenset[str]:
    """Service names: the directories under ``services/`` that hold a Dockerfile."""
    if not services_dir.is_dir():
        return frozenset()
    return frozenset(p.parent.name for p in services_dir.glob("*/Dockerfile"))


def parse(
    config: Mapping[str, str],
    stack: str,
    known_services: frozenset[str] | None = None,
    secret_keys: frozenset[str] = frozenset(),
) -> Settings:
    """Build settings from the engine's config map (``"mlplatform:key"`` / ``"aws:region"``
    to string), raising one :class:`ConfigError` that lists every problem.

    ``secret_keys`` are the keys the engine holds encrypted; a secret field set in plain
    text is refused.
    """
    problems: list[str] = []
    ns = f"{PROJECT}:"
    raw = {k[len(ns) :]: v for k, v in config.items() if k.startswith(ns)}
    settings = _parse_section(Settings, raw, ns, problems, from_text=True)
    for f in config_fields(Settings):
        if f.metadata.get("secret") and raw.get(f.name) and f"{ns}{f.name}" not in secret_keys:
            problems.append(
                f"{ns}{f.name}: expected a secret value: pulumi config set --secret {f.name} ..."
            )
    region = config.get("aws:region", "")
    if region not in aws_regions():
        problems.append(
            f"aws:region: expected an AWS region such as us-east-1, one of botocore's endpoint "
            f"data (got {region!r})"
        )
    settings = dataclasses.replace(settings, stack=stack, region=region)
    if known_services is None:
        known_services = discover_services()
    _cross_checks(settings, problems, known_services)
    if problems:
        raise ConfigError(problems)
    return settings


def load() -> Settings:
    """Read the running program's config through the Pulumi SDK and :func:`parse` it."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    # Older engines pass keys as "<namespace>:config:<key>".
    normalized = {k.replace(":config:", ":", 1): v for k, v in merged.items()}
    secret = {k for k in merged if runtime_config.is_config_secret(k)}
    secret |= set(runtime_config.get_config_secret_keys_env())
    secret_keys = frozenset(k.replace(":config:", ":", 1) for k in secret)
    return parse(normalized, pulumi.get_stack(), secret_keys=secret_keys)


def defaults_as_config(cls: type = Settings) -> dict[str, Any]:
    """The default of every config key, as it would be written in a stack file."""
    out: dict[str, Any] = {}
    for f in config_fields(cls):
        if f.metadata.get("required"):
            continue
        default = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
        out[f.name] = _plain(default)
    return out


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in config_fields(type(value))}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value
