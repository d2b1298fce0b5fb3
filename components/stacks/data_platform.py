"""DataPlatformStack: MLflow on Fargate with RDS PostgreSQL and S3 (replaces seed 002).

MLflow runs behind the load balancer at ``/mlflow`` (its ``--static-prefix``), with its
backend store on RDS PostgreSQL and artifacts proxied to S3. The database password is
managed by RDS in Secrets Manager and reaches the container only as an ECS secret; the
container assembles the connection URI itself at start.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.blocks.bucket import SecureBucket, SecureBucketArgs
from components.blocks.images import ServiceImage
from components.blocks.load_balancer import (
    PublicLoadBalancer,
    PublicLoadBalancerArgs,
    http_health_check,
)
from components.blocks.rotation import (
    SecretRotator,
    SecretRotatorArgs,
    restart_statement,
    service_arn,
)
from components.config.data_platform import (
    IDP_RESPONSE_PATH,
    MLFLOW_CLIENT_PATHS,
    cognito_domain_prefix,
)
from components.config.settings import HOKUSAI_API_PATH, MLFLOW_PATH, DataPlatformSettings, Settings
from components.lib import dashboards, fargate, listener_rules, names, queue_scaling
from components.lib.policies import (
    account_administers_key,
    allow,
    list_prefix,
    service_trust,
)
from components.parts import security_groups
from components.parts.ecs_tasks import awslogs, ecs_tasks_trust, execution_policy, fargate_cluster
from components.parts.iam import role_with_policy
from components.parts.secrets import secret_with_value
from components.stacks.common import StackCommon

MLFLOW_SERVICE = names.MLFLOW_SERVICE_DIR
"""Directory under ``services/`` the MLflow image is built from."""
API_SERVICE = names.HOKUSAI_API_SERVICE_DIR
"""Directory under ``services/`` the Hokusai API image is built from."""
API_DB_NAME = "hokusai_api"
"""The API's own database on the MLflow server, created by the API at its first start."""
MLFLOW_PORT = 5000
MLFLOW_PREFIX = MLFLOW_PATH
"""Where the load balancer routes MLflow; MLflow serves every route under it."""
MLFLOW_HEALTH_PATH = f"{MLFLOW_PREFIX}/health"
"""MLflow's health route under the prefix; it answers 200 without credentials."""
API_PREFIX = HOKUSAI_API_PATH
API_PORT = 8000
API_HEALTH_PATH = f"{API_PREFIX}/health"
"""The API's health route (no credentials, no database call)."""
API_CPU, API_MEMORY = fargate.HOKUSAI_API_SIZE
"""CPU units and MiB of the one Hokusai API task (the quota plan counts its vCPUs too)."""
ARTIFACTS_PREFIX = "artifacts"
DB_NAME = "mlflow"
DB_PORT = 5432
DB_PARAMETERS = [
    {"name": "rds.force_ssl", "value": "1"},
    {"name": "log_connections", "value": "1"},
    {"name": "log_disconnections", "value": "1"},
    {"name": "log_statement", "value": "ddl"},
]
"""The database's fixed parameters (RDS or Aurora): TLS only; connections and every DDL
statement (CREATE, ALTER, DROP: who changed the schema) logged. All dynamic (applied
without a reboot)."""
RDS_LOG_EXPORTS = ("postgresql", "upgrade")
AURORA_LOG_EXPORTS = ("postgresql",)


def db_parameters(d: DataPlatformSettings) -> list[dict[str, str]]:
    """:data:`DB_PARAMETERS` and the slow-statement threshold of ``db_log_min_duration_ms``."""
    return [
        *DB_PARAMETERS,
        {"name": "log_min_duration_statement", "value": str(d.db_log_min_duration_ms)},
    ]


WORKER_UID = "10001"
AURORA_ENGINE = "aurora-postgresql"
AURORA_VERSIONS = {"16": "16.6", "17": "17.4"}
"""Aurora PostgreSQL version per major version; both can scale to 0 ACUs and pause."""
MLFLOW_RULE_PRIORITY = listener_rules.MLFLOW
"""Listener rule priorities of this stack; the inference services use 10, 20, ... below."""
API_RULE_PRIORITY = listener_rules.API
MLFLOW_API_RULE_PRIORITY = listener_rules.MLFLOW_API

# Database Insights / Performance Insights is not offered on the smallest burstable classes.
_NO_INSIGHTS = re.compile(r"db\.t[234]g?\.(micro|small)")


def performance_insights_supported(instance_class: str) -> bool:
    """False for the burstable micro and small classes RDS offers no Performance Insights on."""
    return not _NO_INSIGHTS.fullmatch(instance_class)


@dataclass(frozen=True)
class DataPlatformArgs:
    """Inputs of :class:`DataPlatformStack`."""

    common: StackCommon
    """Name prefix, environment (log groups ``/ecs/<environment>/<service>``), region, tags,
    log retention (log groups and access logs), deletion protection (of the database,
    buckets, load balancer and secrets) and prebuilt images. Required."""
    vpc_id: pulumi.Input[str]
    """The VPC. Required."""
    public_subnet_ids: pulumi.Input[Sequence[str]]
    """Subnets of an own load balancer. Required."""
    private_subnet_ids: pulumi.Input[Sequence[str]]
    """Subnets of the database (never public). Required."""
    workload_subnet_ids: pulumi.Input[Sequence[str]]
    """Subnets of the Fargate tasks. Required."""
    assign_public_ip: bool
    """Tasks need public IPs (dev: public subnets, no NAT). Required."""
    data_platform: DataPlatformSettings = field(default_factory=DataPlatformSettings)
    """Sizes, counts and switches. Default: the settings' defaults."""
    load_balancer: PublicLoadBalancer | None = None
    """A load balancer to share (the inference stack's). Default: an own one."""
    allowed_cidr_blocks: Sequence[str] = ("0.0.0.0/0",)
    """Ranges an own load balancer admits. Default anyone."""
    certificate_arn: str = ""
    """ACM certificate of an own load balancer. Default none (plain HTTP; dev only)."""
    host: str = ""
    """Host name of an own load balancer in ``zone_id`` (its own certificate and alias
    record, before ``certificate_arn``). Default none."""
    zone_id: str = ""
    """Route 53 hosted zone of ``host``. Default none."""
    web_acl_arn: pulumi.Input[str] | None = None
    """Regional AWS WAF web ACL of an own load balancer. Default none."""
    front_door: bool = False
    """An HTTP API front door before an own, internal load balancer in the private subnets
    (``ingress.front_door`` http_api). Default false: an internet-facing one."""
    alarm_topic_arn: pulumi.Input[str] | None = None
    """SNS topic the alarms notify. Default: alarms without actions."""

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        network,
        load_balancer: PublicLoadBalancer | None = None,
        alarm_topic_arn: pulumi.Input[str] | None = None,
        audit=None,
        web_acl_arn: pulumi.Input[str] | None = None,
    ) -> DataPlatformArgs:
        return cls(
            common=StackCommon.from_settings(settings, "data_platform", audit),
            vpc_id=network.vpc_id,
            public_subnet_ids=network.public_subnet_ids,
            private_subnet_ids=network.private_subnet_ids,
            workload_subnet_ids=network.workload_subnet_ids,
            assign_public_ip=network.workloads_need_public_ip,
            data_platform=settings.data_platform,
            load_balancer=load_balancer,
            allowed_cidr_blocks=settings.ingress.allowed_cidr_blocks,
            certificate_arn=settings.ingress.certificate_arn,
            host=settings.dns.mlflow_host,
            zone_id=settings.dns.zone_id,
            web_acl_arn=web_acl_arn,
            front_door=settings.ingress.http_api,
            alarm_topic_arn=alarm_topic_arn,
        )


def sign_in_host(args: DataPlatformArgs) -> str:
    """The host browsers reach MLflow's UI at: ``data_platform.sso_host``, else the host
    of the stack's certificate (``dns.mlflow_host``); empty: the load balancer's name."""
    return args.data_platform.sso_host or args.host


TMP_VOLUME = {"name": "tmp"}
"""The task's volume each service container mounts at ``/tmp`` (its read-only root's one
writable path)."""
API_TMP_VOLUME = {"name": "api-tmp"}
"""The API container's ``/tmp`` in MLflow's task (``api_placement: with_mlflow``)."""


@dataclass
class _Route:
    """A container served by the load balancer: its port, target group and listener rule."""

    container: dict
    port: int
    target_group: aws.lb.TargetGroup
    rule: aws.lb.ListenerRule


def _tasks_alarm(insights: bool, what: str, dims, desired: int) -> tuple:
    """The spec of a "fewer than ``desired`` tasks run" alarm. Without Container Insights
    (``insights`` false) no task count is published: the free AWS/ECS CPUUtilization has a
    datapoint each minute a task of the service runs, so 5 minutes without one mean none
    runs."""
    if insights:
        # No datapoint means no task runs at all: the worst case, not unknown.
        return (
            f"Fewer than {desired} {what} tasks run", "ECS/ContainerInsights", "RunningTaskCount",
            dims, "Minimum", 60, 5, "LessThanThreshold", desired, "breaching",
        )  # fmt: skip
    return (
        f"No {what} task runs", "AWS/ECS", "CPUUtilization", dims, "SampleCount", 60, 5,
        "LessThanThreshold", 1, "breaching",
    )  # fmt: skip


class DataPlatformStack(pulumi.ComponentResource):
    """MLflow with a PostgreSQL backend and S3 artifacts, behind HTTPS, with alarms.

    Creates:

    - RDS PostgreSQL in the private subnets: its own subnet group; the master password
      managed by RDS in Secrets Manager; storage encrypted with a customer-managed KMS
      key (rotated); not publicly accessible; a security group admitting only the MLflow
      (and API) tasks on 5432; a parameter group forcing SSL and logging connections,
      DDL and slow statements;
      automated backups, log exports, enhanced monitoring, Performance Insights where the
      class offers it, IAM authentication and automatic minor upgrades, no extended
      support. With deletion protection: multi-AZ as configured, deletion protection, a
      final snapshot and ``protect``. Or, with ``db_engine: aurora-postgresql``, an Aurora
      Serverless v2 cluster with the same guarantees (cluster parameter group, instances
      of ``db.serverless``, a reader with ``multi_az``) that at 0 ACUs pauses when idle.
    - S3: the MLflow artifacts and the pipeline data :class:`SecureBucket` s.
    - MLflow on Fargate (Spot by ``spot_percentage``): the image from
      ``services/mlflow``; the RDS secret, the admin password and the Flask secret key as
      ECS secrets; artifacts proxied to S3 by a task role that may touch only
      ``artifacts/`` of the artifacts bucket; served at ``/mlflow`` of the load balancer
      (its own, or the inference stack's when shared).
    - Optionally (``api``) the Hokusai API at ``/api``: the image from
      ``services/hokusai_api`` (or ``api_image`` / ``images.hokusai_api``); its own
      database ``hokusai_api`` on the same server, reached with the RDS master secret as
      MLflow does; MLflow's registry through the load balancer with the MLflow admin
      password; its generated bootstrap admin key (``api-secret-key``, created only with
      the API). All three as ECS secrets. By ``api_placement``: its own task and service
      (``own_service``; no task role, it calls no AWS API), or a second essential container
      of each MLflow task (``with_mlflow``: its own port, target group, log stream,
      secrets and ``/tmp``; MLflow's task role and security group, one network interface
      and public IPv4 for both; the task's size covers both).
    - Alarms to the alarm topic: unhealthy MLflow (and API) targets, their target 5xx,
      RDS CPU, free storage and connections, MLflow (and API) tasks below the desired count.
    - With ``sso`` (single sign-on): MLflow's catch-all rule signs the browser in first
      (``authenticate-cognito`` or ``authenticate-oidc``, then forward), a rule before it
      forwards the client paths (``/mlflow/api/*``...) straight to MLflow's basic auth, the
      load balancer may reach the IdP on 443, and MLflow accepts the user the load balancer
      signed (``MLFLOW_SSO_SIGNER``). ``cognito`` adds the user pool (TOTP MFA, users
      created by an admin only), its domain and the load balancer's app client.
    """

    TYPE = "mlplatform:data:DataPlatformStack"

    database: aws.rds.Instance | aws.rds.Cluster
    """The RDS instance, or the Aurora cluster (``db_engine: aurora-postgresql``)."""
    artifacts: SecureBucket
    pipeline_data: SecureBucket
    load_balancer: PublicLoadBalancer
    mlflow_service: aws.ecs.Service
    dashboard: aws.cloudwatch.Dashboard | None
    api_service: aws.ecs.Service | None
    """The service running the Hokusai API: its own, or MLflow's (``api_placement:
    with_mlflow``); None without ``api``."""
    api_target_group: aws.lb.TargetGroup | None
    api_key_secret: aws.secretsmanager.Secret | None
    mlflow_endpoint: pulumi.Output[str]
    api_endpoint: pulumi.Output[str] | None
    db_endpoint: pulumi.Output[str]

    def __init__(
        self, name: str, args: DataPlatformArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__(self.TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        d = args.data_platform
        tags = dict(args.common.tags)

        self._load_balancer(name, args, tags, child)
        self._buckets(name, args, tags, child)
        # Rules are separate resources: the groups reference each other.
        self.db_security_group = self._security_group(
            name, args, "db", "MLflow database: PostgreSQL from its clients only"
        )
        # With the API in MLflow's tasks (api_placement with_mlflow) it admits 8000 too; the
        # description stays, as EC2 fixes it at creation (a new one replaces the group).
        self.mlflow_security_group = self._security_group(
            name,
            args,
            "mlflow",
            "MLflow tasks: the load balancer on 5000; HTTPS and PostgreSQL out",
        )
        self._database(name, args, tags, child)
        self._secrets(name, args, child)
        capacity = self._images_logs_cluster(name, args, tags, child)
        self._roles(name, args, tags, child)
        self.mlflow_endpoint = self._mlflow_endpoint(args)
        self.api_service = None
        self.api_endpoint = None
        self.api_target_group = None
        colocated = d.api_with_mlflow
        # With api_placement with_mlflow the API is a second container of MLflow's task, so
        # its target group and rule exist before MLflow's service, which registers both.
        api = self._api_route(name, args, child) if d.api else None
        self._mlflow(name, args, capacity, child, api if colocated else None)
        clients = [self.mlflow_security_group]
        if api is not None and not colocated:
            clients.append(self._api(name, args, capacity, child, api))
        self._database_clients(name, clients, child)
        self._rotations(name, args, child)
        self._alarms(name, args, child)
        self._dashboard(name, args, child)

        self.register_outputs(
            {
                "mlflow_endpoint": self.mlflow_endpoint,
                "db_endpoint": self.db_endpoint,
                "artifacts_bucket": self.artifacts.bucket_name,
                "pipeline_bucket": self.pipeline_data.bucket_name,
            }
        )

    # --- the parts, in the order they are created -------------------------------------------

    def _load_balancer(self, name, args: DataPlatformArgs, tags, child) -> None:
        """The load balancer: its own, or the inference stack's when shared."""
        prefix = args.common.name_prefix
        if args.load_balancer is not None:
            self.load_balancer = args.load_balancer
        else:
            self.load_balancer = PublicLoadBalancer(
                f"{name}-lb",
                PublicLoadBalancerArgs(
                    name_prefix=prefix,
                    lb_name=names.load_balancer(prefix, "data"),
                    vpc_id=args.vpc_id,
                    subnet_ids=args.public_subnet_ids,
                    allowed_cidr_blocks=args.allowed_cidr_blocks,
                    certificate_arn=args.certificate_arn,
                    host=args.host,
                    zone_id=args.zone_id,
                    web_acl_arn=args.web_acl_arn,
                    front_door=args.front_door,
                    private_subnet_ids=args.private_subnet_ids,
                    log_key_arn=args.common.log_key_arn,
                    deletion_protection=args.common.deletion_protection,
                    access_logs=args.common.deletion_protection,
                    log_retention_days=args.common.log_retention_days,
                    access_log_bucket=args.common.access_log_bucket,
                    tags=tags,
                ),
                opts=child,
            )

    def _buckets(self, name, args: DataPlatformArgs, tags, child) -> None:
        """The MLflow artifacts and the pipeline data buckets, both to Standard-IA."""
        d = args.data_platform
        prefix = args.common.name_prefix

        def to_ia(prefix_filter: str) -> aws.s3.BucketLifecycleConfigurationRuleArgs:
            return aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="to-standard-ia",
                status="Enabled",
                filter={"prefix": prefix_filter},
                transitions=[{"days": d.artifact_ia_days, "storage_class": "STANDARD_IA"}],
            )

        self.artifacts = SecureBucket(
            f"{name}-artifacts",
            SecureBucketArgs(
                bucket_prefix=f"{prefix}-mlflow-artifacts-",
                retain=args.common.deletion_protection,
                lifecycle_rules=[to_ia(f"{ARTIFACTS_PREFIX}/")],
                access_log_bucket=args.common.access_log_bucket,
                tags=tags,
            ),
            opts=child,
        )
        self.pipeline_data = SecureBucket(
            f"{name}-pipeline-data",
            SecureBucketArgs(
                bucket_prefix=f"{prefix}-pipeline-data-",
                retain=args.common.deletion_protection,
                lifecycle_rules=[to_ia("")],
                access_log_bucket=args.common.access_log_bucket,
                tags=tags,
            ),
            opts=child,
        )

    def _security_group(
        self, name, args: DataPlatformArgs, role: str, description: str
    ) -> aws.ec2.SecurityGroup:
        """An empty group of ``role``; its rules are separate resources."""
        return aws.ec2.SecurityGroup(
            f"{name}-{role}-sg",
            vpc_id=args.vpc_id,
            description=description,
            tags={**args.common.tags, "Name": f"{args.common.name_prefix}-{role}"},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _database(self, name, args: DataPlatformArgs, tags, child) -> None:
        """The KMS key, subnet group and database (RDS or Aurora), its secret and endpoint."""
        d = args.data_platform
        prefix = args.common.name_prefix
        identity = aws.get_caller_identity_output()
        partition = aws.get_partition_output().partition
        account = identity.account_id
        self.db_key = aws.kms.Key(
            f"{name}-db-key",
            description=f"{prefix} MLflow database storage",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=aws.iam.get_policy_document_output(
                statements=[account_administers_key(partition, account)]
            ).json,
            tags=tags,
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-db-key-alias",
            name=f"alias/{prefix}-mlflow-db",
            target_key_id=self.db_key.key_id,
            opts=child,
        )
        subnets = aws.rds.SubnetGroup(
            f"{name}-db-subnets",
            name=f"{prefix}-mlflow-db",
            description="Private subnets of the MLflow database",
            subnet_ids=args.private_subnet_ids,
            tags=tags,
            opts=child,
        )
        if d.db_engine == AURORA_ENGINE:
            self._aurora_serverless(name, args, subnets, child)
        else:
            self._rds_instance(name, args, subnets, partition, account, child)
        self.db_secret_arn = self.database.master_user_secrets.apply(lambda s: s[0].secret_arn)
        self.db_endpoint = pulumi.Output.concat(self.db_host, ":", str(DB_PORT))

    def _secrets(self, name, args: DataPlatformArgs, child) -> None:
        """The generated admin password, Flask secret key and (with the API) API secret key."""
        d = args.data_platform
        self.admin_password_secret = self._generated_secret(
            name, "mlflow-admin-password", "MLflow admin password (basic auth)", args, child
        )
        self.flask_key_secret = self._generated_secret(
            name, "mlflow-flask-secret-key", "MLflow's Flask secret key (sessions, CSRF)", args,
            child,
        )  # fmt: skip
        self.api_key_secret = None
        if d.api:
            self.api_key_secret = self._generated_secret(
                name, "api-secret-key", "Hokusai API secret key", args, child
            )

    def _images_logs_cluster(self, name, args: DataPlatformArgs, tags, child):
        """The MLflow image, the log groups and the cluster; returns its capacity providers."""
        d = args.data_platform
        prefix = args.common.name_prefix
        self.mlflow_image = ServiceImage(
            f"{name}-mlflow-image",
            args.common.image_args(MLFLOW_SERVICE, architecture=args.common.cpu_architecture),
            opts=child,
        )
        self.mlflow_logs = aws.cloudwatch.LogGroup(
            f"{name}-mlflow-logs",
            name=f"/ecs/{args.common.environment}/mlflow",
            retention_in_days=args.common.log_retention_days,
            kms_key_id=args.common.log_key_arn,
            tags=tags,
            opts=child,
        )
        self.api_logs = None
        self.api_image = None
        if d.api:
            self.api_image = ServiceImage(
                f"{name}-api-image",
                args.common.image_args(
                    API_SERVICE, d.api_image or None, args.common.cpu_architecture
                ),
                opts=child,
            )
            self.api_logs = aws.cloudwatch.LogGroup(
                f"{name}-api-logs",
                name=f"/ecs/{args.common.environment}/hokusai-api",
                retention_in_days=args.common.log_retention_days,
                kms_key_id=args.common.log_key_arn,
                tags=tags,
                opts=child,
            )
        self.cluster, capacity = fargate_cluster(
            name, f"{prefix}-data", d.spot_percentage, tags, child,
            container_insights=d.container_insights,
        )  # fmt: skip
        self._strategy = queue_scaling.capacity_strategy(d.spot_percentage)
        return capacity

    def _roles(self, name, args: DataPlatformArgs, tags, child) -> None:
        """The execution role and the MLflow task role (artifacts only)."""
        prefix = args.common.name_prefix
        trust = ecs_tasks_trust(args.common.region)
        secrets = [self.db_secret_arn, self.admin_password_secret.arn, self.flask_key_secret.arn]
        pull = [self.mlflow_image.repository.arn]
        log_groups = [self.mlflow_logs]
        if self.api_key_secret is not None and self.api_logs is not None:
            assert self.api_image is not None  # made with the logs
            secrets.append(self.api_key_secret.arn)
            log_groups.append(self.api_logs)
            pull.append(self.api_image.repository.arn)
        self.execution_role = role_with_policy(
            f"{name}-execution",
            name=f"{prefix}-data-execution",
            description="ECS pulls the data platform images, writes their logs, reads secrets",
            trust=trust,
            tags=tags,
            opts=child,
            policy=execution_policy(pull, log_groups, secrets),
        )
        artifacts_arn = self.artifacts.arn
        self.mlflow_task_role = role_with_policy(
            f"{name}-mlflow-task",
            name=f"{prefix}-mlflow",
            description="MLflow server: proxy artifacts to and from its bucket",
            trust=trust,
            tags=tags,
            opts=child,
            policy=aws.iam.get_policy_document_output(
                statements=[
                    # AbortMultipartUpload: boto3 aborts a failed multipart upload of a large
                    # artifact, and MLflow's proxied multipart API has an abort route.
                    allow(
                        [
                            "s3:GetObject",
                            "s3:PutObject",
                            "s3:DeleteObject",
                            "s3:AbortMultipartUpload",
                        ],
                        [artifacts_arn.apply(lambda a: f"{a}/{ARTIFACTS_PREFIX}/*")],
                        sid="ReadWriteArtifacts",
                    ),
                    list_prefix(artifacts_arn, f"{ARTIFACTS_PREFIX}/", "ListArtifacts"),
                ]
            ).json,
        )

    def _mlflow(self, name, args: DataPlatformArgs, capacity, child, api: _Route | None) -> None:
        """The MLflow task and service at ``/mlflow`` of the load balancer; with ``api`` (the
        API's route, ``api_placement: with_mlflow``) the task runs the API's container too,
        and the service registers it in the API's target group."""
        d = args.data_platform
        prefix = args.common.name_prefix
        self._rule(f"{name}-mlflow", self.mlflow_security_group, MLFLOW_PORT, child)
        sign_in = self._sign_in(name, args, child) if d.sso != "none" else None
        mlflow_container = self._mlflow_container(args)
        route = self._route(
            f"{name}-mlflow",
            args,
            target_group_name=names.target_group(prefix, "mlflow"),
            container=mlflow_container,
            port=MLFLOW_PORT,
            health_path=MLFLOW_HEALTH_PATH,
            path_patterns=[MLFLOW_PREFIX, f"{MLFLOW_PREFIX}/*"],
            priority=MLFLOW_RULE_PRIORITY,
            child=child,
            sign_in=sign_in,
        )
        self.mlflow_target_group = route.target_group
        routes = [route]
        volumes = [TMP_VOLUME]
        if api is not None:
            # One task, two essential containers: the task's size covers both, and each
            # reserves what it needs, together within the task's memory (ECS:
            # ContainerDefinition memory; checked by the config and preflight/documented.py).
            mlflow_container["memoryReservation"] = fargate.mlflow_memory_need(d.mlflow_workers)
            api.container["memoryReservation"] = fargate.API_RESERVATION_MIB
            routes.append(api)
            volumes.append(API_TMP_VOLUME)
            self._rule(f"{name}-api", self.mlflow_security_group, API_PORT, child, https=False)
            self._api_http_out(name, args, self.mlflow_security_group, child)
        self.mlflow_service = self._fargate_service(
            f"{name}-mlflow",
            args,
            family=f"{prefix}-mlflow",
            routes=routes,
            volumes=volumes,
            cpu=d.mlflow_cpu,
            memory=d.mlflow_memory,
            task_role_arn=self.mlflow_task_role.arn,
            security_group=self.mlflow_security_group,
            desired_count=d.mlflow_desired_count,
            capacity=capacity,
        )
        if api is not None:
            self.api_service = self.mlflow_service
        self.mlflow_client_rule = None
        if sign_in is not None:
            self.mlflow_client_rule = aws.lb.ListenerRule(
                f"{name}-mlflow-client-rule",
                listener_arn=self.load_balancer.listener.arn,
                priority=MLFLOW_API_RULE_PRIORITY,
                conditions=[{"path_pattern": {"values": list(MLFLOW_CLIENT_PATHS)}}],
                actions=[{"type": "forward", "target_group_arn": self.mlflow_target_group.arn}],
                tags=dict(args.common.tags),
                opts=child,
            )

    def _mlflow_container(self, args: DataPlatformArgs) -> dict:
        """MLflow's container definition: port 5000, the database and artifacts, its hosts."""
        d = args.data_platform
        host = sign_in_host(args)
        sso_hosts = [host] if host and host not in d.allowed_hosts else []
        allowed_hosts = pulumi.Output.all(
            *self.load_balancer.hosts, *d.allowed_hosts, *sso_hosts
        ).apply(lambda hosts: ",".join(hosts))
        return {
            "name": "mlflow",
            "image": self.mlflow_image.repo_digest,
            "essential": True,
            "user": f"{WORKER_UID}:{WORKER_UID}",
            "readonlyRootFilesystem": True,
            "privileged": False,
            "portMappings": [
                {"containerPort": MLFLOW_PORT, "hostPort": MLFLOW_PORT, "protocol": "tcp"}
            ],
            "mountPoints": [
                {"sourceVolume": TMP_VOLUME["name"], "containerPath": "/tmp", "readOnly": False}
            ],
            "environment": [
                {"name": k, "value": v}
                for k, v in {
                    "DB_HOST": self.db_host,
                    "DB_PORT": str(DB_PORT),
                    "DB_NAME": DB_NAME,
                    "DB_SSLMODE": "require",
                    "ARTIFACTS_DESTINATION": self.artifacts.bucket_name.apply(
                        lambda b: f"s3://{b}/{ARTIFACTS_PREFIX}"
                    ),
                    "ALLOWED_HOSTS": allowed_hosts,
                    "STATIC_PREFIX": MLFLOW_PREFIX,
                    "PUBLIC_SCHEME": self.load_balancer.url.apply(lambda u: u.split(":", 1)[0]),
                    "MLFLOW_AUTH": "true",
                    "AWS_REGION": args.common.region,
                    "MLFLOW_WORKERS": str(d.mlflow_workers),
                    **self._pool_setting(d),
                    **self._sso_setting(d),
                }.items()
            ],
            "secrets": [
                {"name": "DB_SECRET", "valueFrom": self.db_secret_arn},
                {"name": "MLFLOW_ADMIN_PASSWORD", "valueFrom": self.admin_password_secret.arn},
                {"name": "MLFLOW_FLASK_SERVER_SECRET_KEY", "valueFrom": self.flask_key_secret.arn},
            ],
            "stopTimeout": 30,
            "linuxParameters": {"initProcessEnabled": True},
            "logConfiguration": awslogs(self.mlflow_logs, args.common.region, "mlflow"),
        }

    def _mlflow_endpoint(self, args: DataPlatformArgs) -> pulumi.Output[str]:
        """MLflow's URL: at the sign-in host when there is one, else the load balancer's."""
        if host := sign_in_host(args):
            return pulumi.Output.from_input(f"https://{host}{MLFLOW_PREFIX}/")
        return self.load_balancer.url.apply(lambda u: f"{u}{MLFLOW_PREFIX}/")

    def _api(
        self, name, args: DataPlatformArgs, capacity, child, route: _Route
    ) -> aws.ec2.SecurityGroup:
        """The Hokusai API's own task and service (``api_placement: own_service``); returns
        its security group (a database client)."""
        api_sg = self._security_group(
            name, args, "api", "Hokusai API tasks: the load balancer on 8000; HTTPS out"
        )
        self._rule(f"{name}-api", api_sg, API_PORT, child)
        self._api_http_out(name, args, api_sg, child)
        self.api_service = self._fargate_service(
            f"{name}-api",
            args,
            family=f"{args.common.name_prefix}-hokusai-api",
            routes=[route],
            volumes=[TMP_VOLUME],
            cpu=API_CPU,
            memory=API_MEMORY,
            task_role_arn=None,
            security_group=api_sg,
            desired_count=1,
            capacity=capacity,
        )
        return api_sg

    def _api_http_out(self, name, args: DataPlatformArgs, group, child) -> None:
        """Port 80 out of the API's tasks when the load balancer serves plain HTTP to the
        internet (no certificate, no front door): the API reaches MLflow at the load
        balancer's URL; with a certificate, or through dev's HTTPS front door, the HTTPS
        rule of the tasks covers it."""
        if self.load_balancer.https or self.load_balancer.front_door is not None:
            return
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-api-http-out",
            security_group_id=group.id,
            cidr_ipv4="0.0.0.0/0",
            ip_protocol="tcp",
            from_port=80,
            to_port=80,
            description="MLflow at the load balancer HTTP listener (no certificate)",
            opts=child,
        )

    def _api_route(self, name, args: DataPlatformArgs, child) -> _Route:
        """The Hokusai API's container at ``/api``, its target group and listener rule,
        wherever it runs (its own service, or MLflow's task)."""
        assert self.api_key_secret is not None and self.api_logs is not None  # d.api is on
        assert self.api_image is not None
        d = args.data_platform
        colocated = d.api_with_mlflow
        environment = {
            "DB_HOST": self.db_host,
            "DB_PORT": str(DB_PORT),
            "DB_NAME": API_DB_NAME,
            "DB_MAINTENANCE_NAME": DB_NAME,
            "DB_SSLMODE": "require",
            # Beside MLflow in one task (awsvpc: one network namespace), over the task's
            # loopback, which MLflow's allowed hosts admit; else at MLflow's public URL.
            "MLFLOW_TRACKING_URI": (
                f"http://localhost:{MLFLOW_PORT}{MLFLOW_PREFIX}/"
                if colocated
                else self.mlflow_endpoint
            ),
            "MLFLOW_TRACKING_USERNAME": "admin",
            "BASE_PATH": API_PREFIX,
            "PORT": str(API_PORT),
        }
        if self._pool_setting(d):  # a database that may pause: no idle connections kept
            environment["DB_NULL_POOL"] = "true"
        api_container = {
            "name": "api",
            "image": self.api_image.repo_digest,
            "essential": True,
            "user": f"{WORKER_UID}:{WORKER_UID}",
            "readonlyRootFilesystem": True,
            "privileged": False,
            "portMappings": [{"containerPort": API_PORT, "hostPort": API_PORT, "protocol": "tcp"}],
            # Beside MLflow, a /tmp of its own: the containers share no files.
            "mountPoints": [
                {
                    "sourceVolume": API_TMP_VOLUME["name"] if colocated else TMP_VOLUME["name"],
                    "containerPath": "/tmp",
                    "readOnly": False,
                }
            ],
            "environment": [{"name": k, "value": v} for k, v in environment.items()],
            "secrets": [
                {"name": "API_SECRET_KEY", "valueFrom": self.api_key_secret.arn},
                {"name": "DB_SECRET", "valueFrom": self.db_secret_arn},
                {"name": "MLFLOW_TRACKING_PASSWORD", "valueFrom": self.admin_password_secret.arn},
            ],
            "stopTimeout": 30,
            "linuxParameters": {"initProcessEnabled": True},
            "logConfiguration": awslogs(self.api_logs, args.common.region, "api"),
        }
        route = self._route(
            f"{name}-api",
            args,
            # The name it had as the API service's own group: kept wherever the API runs.
            target_group_name=names.target_group(args.common.name_prefix, "hokusai-api"),
            container=api_container,
            port=API_PORT,
            health_path=API_HEALTH_PATH,
            path_patterns=[API_PREFIX, f"{API_PREFIX}/*"],
            priority=API_RULE_PRIORITY,
            child=child,
        )
        self.api_target_group = route.target_group
        self.api_endpoint = self.load_balancer.url.apply(lambda u: f"{u}{API_PREFIX}")
        return route

    def _database_clients(self, name, clients: list[aws.ec2.SecurityGroup], child) -> None:
        """PostgreSQL from the tasks that use it, and nothing else."""
        for client in clients:
            role = "mlflow" if client is self.mlflow_security_group else "api"
            security_groups.ingress_from(
                f"{name}-db-from-{role}",
                group_id=self.db_security_group.id,
                source_id=client.id,
                ports=DB_PORT,
                description=f"PostgreSQL from the {role} tasks",
                opts=child,
            )
            security_groups.egress_to(
                f"{name}-{role}-to-db",
                group_id=client.id,
                target_id=self.db_security_group.id,
                ports=DB_PORT,
                description="To the MLflow database",
                opts=child,
            )

    # --- the database: an RDS instance, or Aurora Serverless v2 -----------------------------

    def _rds_instance(self, name, args: DataPlatformArgs, subnets, partition, account, child):
        """RDS for PostgreSQL on ``db_instance_class``, with enhanced monitoring."""
        d = args.data_platform
        tags = dict(args.common.tags)
        prefix = args.common.name_prefix
        parameters = aws.rds.ParameterGroup(
            f"{name}-db-parameters",
            name=f"{prefix}-mlflow-postgres{d.postgres_version}",
            family=f"postgres{d.postgres_version}",
            description="MLflow database: TLS only, connections, DDL and slow statements logged",
            parameters=db_parameters(d),
            tags=tags,
            opts=child,
        )
        monitoring_role = aws.iam.Role(
            f"{name}-db-monitoring-role",
            name=f"{prefix}-mlflow-db-monitoring",
            description="RDS enhanced monitoring of the MLflow database",
            assume_role_policy=aws.iam.get_policy_document_output(
                statements=[service_trust("monitoring.rds.amazonaws.com", account)]
            ).json,
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-db-monitoring-policy",
            role=monitoring_role.name,
            policy_arn=pulumi.Output.concat(
                "arn:", partition, ":iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
            ),
            opts=child,
        )
        insights = performance_insights_supported(d.db_instance_class)
        identifier = f"{prefix}-mlflow"
        exports = self._export_log_groups(name, args, "instance", identifier, RDS_LOG_EXPORTS)
        self.database = aws.rds.Instance(
            f"{name}-db",
            identifier=identifier,
            engine="postgres",
            engine_version=d.postgres_version,
            engine_lifecycle_support="open-source-rds-extended-support-disabled",
            instance_class=d.db_instance_class,
            allocated_storage=d.db_storage_gib,
            max_allocated_storage=d.db_max_storage_gib,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=self.db_key.arn,
            db_name=DB_NAME,
            username="mlflow_admin",
            manage_master_user_password=True,
            port=DB_PORT,
            db_subnet_group_name=subnets.name,
            parameter_group_name=parameters.name,
            vpc_security_group_ids=[self.db_security_group.id],
            publicly_accessible=False,
            multi_az=d.multi_az,
            iam_database_authentication_enabled=True,
            ca_cert_identifier="rds-ca-rsa2048-g1",
            backup_retention_period=d.backup_retention_days,
            backup_window="03:00-04:00",
            maintenance_window="sun:04:30-sun:05:30",
            copy_tags_to_snapshot=True,
            delete_automated_backups=not args.common.deletion_protection,
            enabled_cloudwatch_logs_exports=list(RDS_LOG_EXPORTS),
            monitoring_interval=60,
            monitoring_role_arn=monitoring_role.arn,
            performance_insights_enabled=insights,
            performance_insights_kms_key_id=self.db_key.arn if insights else None,
            performance_insights_retention_period=7 if insights else None,
            auto_minor_version_upgrade=True,
            deletion_protection=args.common.deletion_protection,
            skip_final_snapshot=not args.common.deletion_protection,
            final_snapshot_identifier=(
                f"{prefix}-mlflow-final" if args.common.deletion_protection else None
            ),
            apply_immediately=not args.common.deletion_protection,
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self, protect=args.common.deletion_protection, depends_on=exports
            ),
        )
        self.db_host = self.database.address

    def _aurora_serverless(self, name, args: DataPlatformArgs, subnets, child):
        """An Aurora PostgreSQL Serverless v2 cluster and its instance(s).

        Between ``db_min_acu`` and ``db_max_acu`` capacity units; at 0 the instance pauses
        after ``db_auto_pause_minutes`` without a connection and bills only storage until the
        next connection resumes it (about 15 s). No enhanced monitoring or Performance
        Insights: this mode is for light, intermittent use (dev).
        """
        d = args.data_platform
        tags = dict(args.common.tags)
        prefix = args.common.name_prefix
        version = AURORA_VERSIONS[d.postgres_version]
        identifier = f"{prefix}-mlflow"
        exports = self._export_log_groups(name, args, "cluster", identifier, AURORA_LOG_EXPORTS)
        parameters = aws.rds.ClusterParameterGroup(
            f"{name}-db-cluster-parameters",
            name=f"{prefix}-mlflow-aurora-postgresql{d.postgres_version}",
            family=f"aurora-postgresql{d.postgres_version}",
            description="MLflow database: TLS only, connections, DDL and slow statements logged",
            parameters=db_parameters(d),
            tags=tags,
            opts=child,
        )
        self.database = aws.rds.Cluster(
            f"{name}-db-cluster",
            cluster_identifier=identifier,
            engine=AURORA_ENGINE,
            engine_mode="provisioned",
            engine_version=version,
            database_name=DB_NAME,
            master_username="mlflow_admin",
            manage_master_user_password=True,
            port=DB_PORT,
            db_subnet_group_name=subnets.name,
            db_cluster_parameter_group_name=parameters.name,
            vpc_security_group_ids=[self.db_security_group.id],
            storage_encrypted=True,
            kms_key_id=self.db_key.arn,
            iam_database_authentication_enabled=True,
            serverlessv2_scaling_configuration={
                "min_capacity": d.db_min_acu,
                "max_capacity": d.db_max_acu,
                "seconds_until_auto_pause": (
                    d.db_auto_pause_minutes * 60 if d.db_min_acu == 0 else None
                ),
            },
            backup_retention_period=d.backup_retention_days,
            preferred_backup_window="03:00-04:00",
            preferred_maintenance_window="sun:04:30-sun:05:30",
            copy_tags_to_snapshot=True,
            delete_automated_backups=not args.common.deletion_protection,
            enabled_cloudwatch_logs_exports=list(AURORA_LOG_EXPORTS),
            deletion_protection=args.common.deletion_protection,
            skip_final_snapshot=not args.common.deletion_protection,
            final_snapshot_identifier=(
                f"{prefix}-mlflow-final" if args.common.deletion_protection else None
            ),
            apply_immediately=not args.common.deletion_protection,
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.common.deletion_protection,
                # Minor versions are upgraded by AWS (auto_minor_version_upgrade below).
                ignore_changes=["engineVersion"],
                depends_on=exports,
            ),
        )
        self.db_instances = [
            aws.rds.ClusterInstance(
                f"{name}-db-instance-{i}",
                identifier=f"{prefix}-mlflow-{i}",
                cluster_identifier=self.database.id,
                instance_class="db.serverless",
                engine=AURORA_ENGINE,
                engine_version=self.database.engine_version,
                db_subnet_group_name=subnets.name,
                publicly_accessible=False,
                ca_cert_identifier="rds-ca-rsa2048-g1",
                auto_minor_version_upgrade=True,
                copy_tags_to_snapshot=True,
                apply_immediately=not args.common.deletion_protection,
                tags=tags,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    protect=args.common.deletion_protection,
                    ignore_changes=["engineVersion"],
                ),
            )
            for i in range(2 if d.multi_az else 1)  # a reader in another AZ takes over
        ]
        self.db_host = self.database.endpoint

    # --- pieces ---------------------------------------------------------------------------

    def _export_log_groups(
        self, name, args: DataPlatformArgs, kind: str, identifier: str, exports
    ) -> list[aws.cloudwatch.LogGroup]:
        """The log groups RDS exports the database's logs to, named as RDS names them
        (``/aws/rds/<kind>/<identifier>/<log>``, ``kind`` ``instance`` or ``cluster``) and
        created before the database with retention and the logs key: RDS would create them
        unencrypted and keep them forever."""
        role = "db" if kind == "instance" else "db-cluster"
        return [
            aws.cloudwatch.LogGroup(
                f"{name}-{role}-{log}-logs",
                name=f"/aws/rds/{kind}/{identifier}/{log}",
                retention_in_days=args.common.log_retention_days,
                kms_key_id=args.common.log_key_arn,
                tags=dict(args.common.tags),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for log in exports
        ]

    @staticmethod
    def _pool_setting(d: DataPlatformSettings) -> dict[str, str]:
        """MLflow's SQLAlchemy pool keeps connections open, which would keep a database that
        may pause (Aurora at 0 ACUs) awake: without a pool it can pause when MLflow idles."""
        if d.db_engine == AURORA_ENGINE and d.db_min_acu == 0:
            return {"MLFLOW_SQLALCHEMYSTORE_POOLCLASS": "NullPool"}
        return {}

    def _sso_setting(self, d: DataPlatformSettings) -> dict[str, pulumi.Input[str]]:
        """With single sign-on, MLflow trusts the user claims only when signed by this load
        balancer (services/mlflow: the ``x-amzn-oidc-data`` JWT's ``signer``)."""
        if d.sso == "none":
            return {}
        return {
            "MLFLOW_SSO_SIGNER": self.load_balancer.load_balancer.arn,
            "MLFLOW_SSO_USERNAME_CLAIM": d.sso_username_claim,
        }

    def _sign_in(self, name, args: DataPlatformArgs, child) -> dict:
        """The sign-in action of MLflow's catch-all rule (``authenticate-cognito`` with the
        user pool this creates, or ``authenticate-oidc`` with the configured IdP), and the
        load balancer's way out to the IdP.

        The load balancer itself calls the IdP's token and user info endpoints (ELB user
        guide, "Authenticate users using an Application Load Balancer": an outbound rule to
        the IdP on 443); their addresses are the IdP's and not known here, so HTTPS out to
        anywhere, from the load balancer's group only.
        """
        d = args.data_platform
        security_groups.https_out(
            f"{name}-alb-idp-out",
            self.load_balancer.security_group.id,
            description="HTTPS to the IdP token and user info endpoints (MLflow sign-in)",
            opts=child,
        )
        common = {
            "scope": d.sso_scope,
            "session_timeout": d.sso_session_timeout,
            "on_unauthenticated_request": "authenticate",
        }
        if d.sso == "oidc":
            secret = aws.secretsmanager.get_secret_version_output(secret_id=d.oidc_client_secret_id)
            return {
                "type": "authenticate-oidc",
                "authenticate_oidc": {
                    "issuer": d.oidc_issuer,
                    "authorization_endpoint": d.oidc_authorization_endpoint,
                    "token_endpoint": d.oidc_token_endpoint,
                    "user_info_endpoint": d.oidc_user_info_endpoint,
                    "client_id": d.oidc_client_id,
                    "client_secret": pulumi.Output.secret(secret.secret_string),
                    **common,
                },
            }
        pool, client, domain = self._user_pool(name, args, child)
        return {
            "type": "authenticate-cognito",
            "authenticate_cognito": {
                "user_pool_arn": pool.arn,
                "user_pool_client_id": client.id,
                "user_pool_domain": domain.domain,
                **common,
            },
        }

    def _user_pool(self, name, args: DataPlatformArgs, child):
        """The MLflow users' Cognito user pool, its hosted sign-in domain and the load
        balancer's app client; returns the three.

        Users are created by an admin only (``aws cognito-idp admin-create-user``) and sign
        in by e-mail address; MFA by a TOTP app (``cognito_mfa: ON``: enrolled at the first
        sign-in). The Lite tier (free up to 10,000 monthly active users) unless
        ``cognito_threat_protection`` asks for the Plus tier's threat protection, which
        bills every active user.
        """
        d = args.data_platform
        prefix = args.common.name_prefix
        tags = dict(args.common.tags)
        plus = d.cognito_threat_protection
        self.user_pool = aws.cognito.UserPool(
            f"{name}-user-pool",
            name=f"{prefix}-mlflow",
            user_pool_tier="PLUS" if plus else "LITE",
            user_pool_add_ons={"advanced_security_mode": "ENFORCED"} if plus else None,
            username_attributes=["email"],
            auto_verified_attributes=["email"],
            admin_create_user_config={"allow_admin_create_user_only": True},
            mfa_configuration=d.cognito_mfa,
            software_token_mfa_configuration={"enabled": True},
            password_policy={
                "minimum_length": 14,
                "require_lowercase": True,
                "require_uppercase": True,
                "require_numbers": True,
                "require_symbols": True,
                "temporary_password_validity_days": 3,
            },
            account_recovery_setting={
                "recovery_mechanisms": [{"name": "verified_email", "priority": 1}]
            },
            deletion_protection="ACTIVE" if args.common.deletion_protection else "INACTIVE",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.common.deletion_protection),
        )
        self.user_pool_domain = aws.cognito.UserPoolDomain(
            f"{name}-user-pool-domain",
            domain=cognito_domain_prefix(d, prefix),
            user_pool_id=self.user_pool.id,
            opts=child,
        )
        self.user_pool_client = aws.cognito.UserPoolClient(
            f"{name}-user-pool-client",
            name=f"{prefix}-mlflow-alb",
            user_pool_id=self.user_pool.id,
            generate_secret=True,
            allowed_oauth_flows_user_pool_client=True,
            allowed_oauth_flows=["code"],
            allowed_oauth_scopes=d.sso_scope.split(" "),
            callback_urls=[f"https://{sign_in_host(args)}{IDP_RESPONSE_PATH}"],
            supported_identity_providers=["COGNITO"],
            explicit_auth_flows=["ALLOW_REFRESH_TOKEN_AUTH"],
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            opts=child,
        )
        return self.user_pool, self.user_pool_client, self.user_pool_domain

    def _rotations(self, name, args: DataPlatformArgs, child) -> None:
        """Each generated secret rotates every 30 days (the RDS-managed master secret is
        rotated by RDS): the admin password through MLflow's REST API, the Flask secret key
        and the API secret key with a new deployment of the service that reads it at start."""
        prefix = args.common.name_prefix
        region = args.common.region
        common = {
            "log_retention_days": args.common.log_retention_days,
            "log_key_arn": args.common.log_key_arn,
            "tags": dict(args.common.tags),
        }
        self.rotators = {
            "mlflow-admin-password": SecretRotator(
                f"{name}-mlflow-admin-password-rotation",
                SecretRotatorArgs(
                    secret=self.admin_password_secret,
                    function_name=names.rotation_function(prefix, "mlflow-admin-password"),
                    kind="mlflow-admin",
                    description="Rotates the MLflow admin password (users/update-password)",
                    environment={"MLFLOW_URL": self.mlflow_endpoint},
                    **common,
                ),
                opts=child,
            )
        }
        restarts = {"mlflow-flask-secret-key": (self.flask_key_secret, self.mlflow_service)}
        if self.api_key_secret is not None and self.api_service is not None:
            restarts["api-secret-key"] = (self.api_key_secret, self.api_service)
        for role, (secret, service) in restarts.items():
            arn = service_arn(self.cluster.name, service.name, region)
            self.rotators[role] = SecretRotator(
                f"{name}-{role}-rotation",
                SecretRotatorArgs(
                    secret=secret,
                    function_name=names.rotation_function(prefix, role),
                    kind="random",
                    description=f"Rotates the {role} and redeploys the service reading it",
                    environment={"RESTART_SERVICES": arn},
                    statements=[restart_statement([arn])],
                    **common,
                ),
                opts=child,
            )

    def _generated_secret(self, name, role, description, args: DataPlatformArgs, child):
        value = random.RandomPassword(f"{name}-{role}", length=40, special=False, opts=child)
        return secret_with_value(
            f"{name}-{role}-secret",
            value_name=f"{name}-{role}-value",
            name=f"{args.common.name_prefix}/data-platform/{role}",
            description=description,
            value=value.result,
            recovery_window_in_days=args.common.secret_recovery_days,
            tags=args.common.tags,
            opts=child,
        )

    def _rule(
        self, name, task_sg: aws.ec2.SecurityGroup, port: int, child, https: bool = True
    ) -> None:
        """The load balancer to ``task_sg`` on ``port``, and (``https``) HTTPS out of the
        tasks: once per group, as EC2 refuses a second rule equal to one it has."""
        alb_sg = self.load_balancer.security_group
        security_groups.ingress_from(
            f"{name}-from-alb",
            group_id=task_sg.id,
            source_id=alb_sg.id,
            ports=port,
            description="From the load balancer",
            opts=child,
        )
        security_groups.egress_to(
            f"{name}-alb-out",
            group_id=alb_sg.id,
            target_id=task_sg.id,
            ports=port,
            description="To the data platform tasks",
            opts=child,
        )
        if not https:
            return
        security_groups.https_out(
            f"{name}-https-out",
            task_sg.id,
            description="S3, ECR, CloudWatch Logs, Secrets Manager",
            opts=child,
        )

    @staticmethod
    def _forward(target_group: aws.lb.TargetGroup, sign_in: dict | None) -> list[dict]:
        """Forward to ``target_group``, after the ``sign_in`` action when there is one."""
        forward = {"type": "forward", "target_group_arn": target_group.arn}
        if sign_in is None:
            return [forward]  # ELB wants an order on each of several actions only
        return [{**sign_in, "order": 1}, {**forward, "order": 2}]

    def _route(
        self,
        base: str,
        args: DataPlatformArgs,
        *,
        target_group_name: str,
        container: dict,
        port: int,
        health_path: str,
        path_patterns: list[str],
        priority: int,
        child,
        sign_in: dict | None = None,
    ) -> _Route:
        """``container``'s target group (``<base>-tg``) and listener rule (``<base>-rule``)."""
        tags = dict(args.common.tags)
        target_group = aws.lb.TargetGroup(
            f"{base}-tg",
            name=target_group_name,
            vpc_id=args.vpc_id,
            port=port,
            protocol="HTTP",
            target_type="ip",
            deregistration_delay=30,
            health_check=http_health_check(health_path),
            tags=tags,
            opts=child,
        )
        rule = aws.lb.ListenerRule(
            f"{base}-rule",
            listener_arn=self.load_balancer.listener.arn,
            priority=priority,
            conditions=[{"path_pattern": {"values": path_patterns}}],
            actions=self._forward(target_group, sign_in),
            tags=tags,
            opts=child,
        )
        return _Route(container, port, target_group, rule)

    def _fargate_service(
        self,
        base: str,
        args: DataPlatformArgs,
        *,
        family: str,
        routes: list[_Route],
        volumes: list[dict],
        cpu: int,
        memory: int,
        task_role_arn,
        security_group: aws.ec2.SecurityGroup,
        desired_count: int,
        capacity,
    ) -> aws.ecs.Service:
        """A task of each route's container (``<base>-task``) and its service
        (``<base>-service``), which registers each container in its route's target group."""
        tags = dict(args.common.tags)
        task_definition = aws.ecs.TaskDefinition(
            f"{base}-task",
            family=family,
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(cpu),
            memory=str(memory),
            runtime_platform=fargate.runtime_platform(args.common.cpu_architecture),
            execution_role_arn=self.execution_role.arn,
            task_role_arn=task_role_arn,
            volumes=volumes,
            container_definitions=pulumi.Output.json_dumps([r.container for r in routes]),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return aws.ecs.Service(
            f"{base}-service",
            name=family,
            cluster=self.cluster.arn,
            task_definition=task_definition.arn,
            desired_count=desired_count,
            capacity_provider_strategies=self._strategy,
            network_configuration={
                "subnets": args.workload_subnet_ids,
                "security_groups": [security_group.id],
                "assign_public_ip": args.assign_public_ip,
            },
            # Up to 5 target groups per service (ECS developer guide, "Registering multiple
            # target groups with a service"; the ECS deployment controller, the default).
            load_balancers=[
                {
                    "target_group_arn": r.target_group.arn,
                    "container_name": r.container["name"],
                    "container_port": r.port,
                }
                for r in routes
            ],
            health_check_grace_period_seconds=120,
            deployment_circuit_breaker={"enable": True, "rollback": True},
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            enable_execute_command=False,
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[capacity, *(r.rule for r in routes)]
            ),
        )

    def _dashboard(self, name: str, args: DataPlatformArgs, child) -> None:
        """``self.dashboard`` (None unless ``data_platform.dashboard``): MLflow and the DB."""
        self.dashboard = None
        if not args.data_platform.dashboard:
            return
        region = args.common.region
        aurora = args.data_platform.db_engine == AURORA_ENGINE
        database = self.database.cluster_identifier if aurora else self.database.identifier
        body = pulumi.Output.all(
            self.load_balancer.load_balancer.arn_suffix,
            self.mlflow_target_group.arn_suffix,
            database,
        ).apply(
            lambda v: dashboards.body(
                dashboards.data_platform_widgets(region, v[0], v[1], aurora, v[2])
            )
        )
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=f"{args.common.name_prefix}-data-platform",
            dashboard_body=pulumi.Output.json_dumps(body),
            opts=child,
        )

    def _alarms(self, name: str, args: DataPlatformArgs, child) -> None:
        d = args.data_platform
        tags = dict(args.common.tags)
        actions = [args.alarm_topic_arn] if args.alarm_topic_arn is not None else []
        lb = {
            "LoadBalancer": self.load_balancer.load_balancer.arn_suffix,
            "TargetGroup": self.mlflow_target_group.arn_suffix,
        }
        aurora = d.db_engine == AURORA_ENGINE
        if aurora:
            db = {"DBClusterIdentifier": self.database.cluster_identifier}
        else:
            db = {"DBInstanceIdentifier": self.database.identifier}
        service = {"ClusterName": self.cluster.name, "ServiceName": self.mlflow_service.name}
        # role: (description, namespace, metric, dimensions, statistic, period, periods,
        #        comparison, threshold, missing data)
        specs = {
            "mlflow-unhealthy-hosts": (
                "An MLflow target fails its health check", "AWS/ApplicationELB",
                "UnHealthyHostCount", lb, "Maximum", 60, 5, "GreaterThanOrEqualToThreshold", 1,
                "notBreaching",
            ),
            "mlflow-5xx": (
                "MLflow answers server errors", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count",
                lb, "Sum", 300, 1, "GreaterThanOrEqualToThreshold", 10, "notBreaching",
            ),
            "db-cpu": (
                "The MLflow database is CPU-bound", "AWS/RDS", "CPUUtilization", db, "Average",
                300, 3, "GreaterThanThreshold", 80, "missing",
            ),
"db-connections": (
                f"The MLflow database has more than {d.db_connections_alarm} connections",
                "AWS/RDS", "DatabaseConnections", db, "Maximum", 300, 1, "GreaterThanThreshold",
                d.db_connections_alarm, "missing",
            ),
        }  # fmt: skip
        if not aurora:  # Aurora's storage grows by itself
            specs["db-free-storage"] = (
                "The MLflow database has under 10 % of its storage free", "AWS/RDS",
                "FreeStorageSpace", db, "Minimum", 300, 1, "LessThanThreshold",
                d.db_storage_gib * 1024**3 // 10, "missing",
            )  # fmt: skip
        colocated = self.api_service is not None and self.api_service is self.mlflow_service

        if d.mlflow_desired_count > 0:
            what = "MLflow (and Hokusai API)" if colocated else "MLflow"
            specs["mlflow-tasks-below-desired"] = _tasks_alarm(
                d.container_insights, what, service, d.mlflow_desired_count
            )
        if self.api_target_group is not None and self.api_service is not None:
            api_lb = {**lb, "TargetGroup": self.api_target_group.arn_suffix}
            specs["api-unhealthy-hosts"] = (
                "A Hokusai API target fails its health check", "AWS/ApplicationELB",
                "UnHealthyHostCount", api_lb, "Maximum", 60, 5, "GreaterThanOrEqualToThreshold",
                1, "notBreaching",
            )  # fmt: skip
            specs["api-5xx"] = (
                "The Hokusai API answers server errors", "AWS/ApplicationELB",
                "HTTPCode_Target_5XX_Count", api_lb, "Sum", 300, 1,
                "GreaterThanOrEqualToThreshold", 10, "notBreaching",
            )  # fmt: skip
            if not colocated:  # with MLflow, MLflow's service alarm counts the API's tasks
                api_service = {**service, "ServiceName": self.api_service.name}
                specs["api-tasks-below-desired"] = _tasks_alarm(
                    d.container_insights, "Hokusai API", api_service, 1
                )
        self.alarms = {}
        for role, spec in specs.items():
            description, namespace, metric, dims, stat, period, periods, op, threshold, missing = (
                spec
            )
            self.alarms[role] = aws.cloudwatch.MetricAlarm(
                f"{name}-{role}",
                name=f"{args.common.name_prefix}-data-{role}",
                alarm_description=description,
                namespace=namespace,
                metric_name=metric,
                dimensions=dims,
                statistic=stat,
                period=period,
                evaluation_periods=periods,
                comparison_operator=op,
                threshold=threshold,
                treat_missing_data=missing,
                alarm_actions=actions,
                ok_actions=actions,
                tags=tags,
                opts=child,
            )
