"""TrainingStack: distributed CMA-ES on SQS and ECS Fargate Spot (replaces seed 000).

The coordinator (``services/cmaes_worker``, run from a laptop or CI) sends one task per
candidate to the task queue; workers on Fargate long-poll it, evaluate, send the fitness
to the result queue and only then delete the task, so a worker that dies mid-task loses
nothing: the task reappears after the visibility timeout. State pools and checkpoints
live in one S3 bucket under ``state-pools/`` and ``checkpoints/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.blocks.bucket import SecureBucket, SecureBucketArgs
from components.blocks.images import ServiceImage
from components.blocks.rotation import SecretRotator, SecretRotatorArgs, restart_statement
from components.config.settings import Settings, TrainingSettings
from components.lib import dashboards, fargate, names, queue_scaling
from components.lib.policies import (
    Principal,
    Statement,
    account_root,
    allow,
    deny_insecure_transport,
    list_prefix,
)
from components.parts import ecs_scaling, security_groups
from components.parts.ecs_tasks import awslogs, ecs_tasks_trust, execution_policy, fargate_cluster
from components.parts.iam import role_with_policy
from components.parts.secrets import secret_with_value
from components.stacks.common import StackCommon

WORKER_SERVICE = "cmaes_worker"
"""Directory under ``services/`` the worker image is built from."""
WORKER_UID = "10001"
"""The non-root user the worker image declares; the task definition enforces it too."""
SCRATCH_PATH = "/scratch"
"""The one writable path of the worker (the root filesystem is read-only)."""
STOP_TIMEOUT_SECONDS = 120
"""Most Fargate allows between SIGTERM and SIGKILL; a Spot interruption gives 120 s."""
STOP_GRACE_SECONDS = 110
"""How long the worker lets running evaluations finish after SIGTERM, inside the above."""
STATE_POOLS_PREFIX = "state-pools/"
CHECKPOINTS_PREFIX = "checkpoints/"
REDIS_PORT = 6379
PERIOD = ecs_scaling.PERIOD


@dataclass(frozen=True)
class TrainingArgs:
    """Inputs of :class:`TrainingStack`."""

    common: StackCommon
    """Name prefix, region, tags, log retention (of the worker log group), deletion
    protection (of the bucket and the Redis token) and the prebuilt worker image. Required."""
    vpc_id: pulumi.Input[str]
    """VPC of the workers. Required."""
    workload_subnet_ids: pulumi.Input[Sequence[str]]
    """Subnets the workers run in. Required."""
    private_subnet_ids: pulumi.Input[Sequence[str]]
    """Subnets of the optional Redis (never public). Required."""
    assign_public_ip: bool
    """Give workers a public IP (dev: public subnets, no NAT). Required."""
    training: TrainingSettings = field(default_factory=TrainingSettings)
    """Sizes, scaling, queue and lifecycle settings. Default: the settings' defaults."""
    alarm_topic_arn: pulumi.Input[str] | None = None
    """SNS topic the alarms notify. Default: alarms without actions."""

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        network,
        alarm_topic_arn: pulumi.Input[str] | None = None,
        audit=None,
    ) -> TrainingArgs:
        return cls(
            common=StackCommon.from_settings(settings, "training", audit),
            vpc_id=network.vpc_id,
            workload_subnet_ids=network.workload_subnet_ids,
            private_subnet_ids=network.private_subnet_ids,
            assign_public_ip=network.workloads_need_public_ip,
            training=settings.training,
            alarm_topic_arn=alarm_topic_arn,
        )


class TrainingStack(pulumi.ComponentResource):
    """Queues, bucket, ECS cluster and autoscaled Fargate Spot workers for CMA-ES.

    Creates:

    - SQS: the task queue (long polling, visibility from ``max_eval_seconds``, redrive to
      the dead-letter queue after ``max_receive_count`` deliveries), the result queue and
      the dead-letter queue (which only the task queue may redrive into); SSE on all
      three and policies that refuse requests without TLS.
    - S3: a :class:`SecureBucket` for ``state-pools/`` and ``checkpoints/``, with
      checkpoints moved to Standard-IA and later expired.
    - ECS: a cluster with Container Insights and the FARGATE and FARGATE_SPOT capacity
      providers; the worker task definition (non-root, read-only root filesystem with a
      scratch volume, awslogs with retention, 120 s stop timeout for Spot interruptions);
      the worker service, spread over Spot and on-demand by ``spot_percentage``.
    - Scaling: target tracking on visible tasks per running worker (scale-out only), a
      step policy that starts the first worker when tasks wait and none runs, and a step
      policy that scales in to ``min_workers`` only after the queue has had nothing
      visible or in flight for ``scale_in_idle_minutes``, so no busy worker is stopped.
    - IAM: execution role (this image, this log group), task role (consume the task
      queue, send results, read ``state-pools/``; the worker writes nothing to S3, so it
      may not: checkpoints are the coordinator's), a coordinator
      role for principals of this account to assume, and optionally a coordinator IAM
      user (through a group) whose access key is exported only as secrets.
    - Alarms: a task in the dead-letter queue; the oldest waiting task too old.
    - A CloudWatch dashboard (``dashboard``): tasks waiting, oldest task age, workers
      running, dead-letter depth, evaluations sent and completed.
    - Optionally an encrypted ElastiCache Redis reachable only from the workers, its
      AUTH token in Secrets Manager and injected as an ECS secret.
    """

    TYPE = "mlplatform:training:TrainingStack"

    task_queue: aws.sqs.Queue
    result_queue: aws.sqs.Queue
    dead_letter_queue: aws.sqs.Queue
    bucket: SecureBucket
    image: ServiceImage
    cluster: aws.ecs.Cluster
    task_definition: aws.ecs.TaskDefinition
    service: aws.ecs.Service
    coordinator_role: aws.iam.Role
    dashboard: aws.cloudwatch.Dashboard | None
    coordinator_access_key: aws.iam.AccessKey | None
    """The coordinator user's access key, when ``coordinator_user`` is on."""

    def __init__(self, name: str, args: TrainingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(self.TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        t = args.training
        tags = dict(args.common.tags)
        concurrency = queue_scaling.worker_concurrency(t.worker_cpu)

        self._queues(name, args, tags, child)
        self._bucket(name, args, tags, child)
        self._image_and_logs(name, args, tags, child)
        self._security_groups(name, args, tags, child)
        self.redis = None
        redis_secret = None
        if t.redis:
            self.redis, redis_secret = self._redis(name, args, tags, child)
        self.cluster, capacity = fargate_cluster(
            name, f"{args.common.name_prefix}-training", t.spot_percentage, tags, child
        )
        self._roles(name, args, redis_secret, tags, child)
        self._worker(name, args, concurrency, redis_secret, capacity, tags, child)
        service_arn = self._service_arn(args)
        if self.redis is not None and redis_secret is not None:
            self._redis_rotation(name, args, redis_secret, service_arn, tags, child)
        bucket_arn = self.bucket.arn
        self._scaling(name, args, concurrency, tags, child)
        self._alarms(name, args, tags, child)
        self._dashboard(name, args, child)
        self._coordinator(name, args, service_arn, bucket_arn, tags, child)

        self.register_outputs(
            {
                "ecr_repository_url": self.image.repository.repository_url,
                "s3_bucket_name": self.bucket.bucket_name,
                "sqs_task_queue_url": self.task_queue.url,
                "sqs_result_queue_url": self.result_queue.url,
                "sqs_dlq_url": self.dead_letter_queue.url,
                "ecs_cluster_name": self.cluster.name,
                "ecs_service_name": self.service.name,
                "coordinator_role_arn": self.coordinator_role.arn,
            }
        )

    # --- pieces ---------------------------------------------------------------------

    def _queues(self, name, args: TrainingArgs, tags, child) -> None:
        """The task, result and dead-letter queues: SSE, redrive, TLS-only policies."""
        t = args.training
        prefix = args.common.name_prefix
        retention = t.message_retention_days * 86400
        self.dead_letter_queue = aws.sqs.Queue(
            f"{name}-dlq",
            name=f"{prefix}-cmaes-tasks-dlq",
            message_retention_seconds=1_209_600,  # the SQS maximum: time to investigate
            sqs_managed_sse_enabled=True,
            tags=tags,
            opts=child,
        )
        self.task_queue = aws.sqs.Queue(
            f"{name}-task-queue",
            name=f"{prefix}-cmaes-tasks",
            visibility_timeout_seconds=queue_scaling.visibility_timeout(t.max_eval_seconds),
            receive_wait_time_seconds=queue_scaling.RECEIVE_WAIT_SECONDS,
            message_retention_seconds=retention,
            sqs_managed_sse_enabled=True,
            redrive_policy=pulumi.Output.json_dumps(
                {
                    "deadLetterTargetArn": self.dead_letter_queue.arn,
                    "maxReceiveCount": t.max_receive_count,
                }
            ),
            tags=tags,
            opts=child,
        )
        self.result_queue = aws.sqs.Queue(
            f"{name}-result-queue",
            name=f"{prefix}-cmaes-results",
            visibility_timeout_seconds=60,
            receive_wait_time_seconds=queue_scaling.RECEIVE_WAIT_SECONDS,
            message_retention_seconds=retention,
            sqs_managed_sse_enabled=True,
            tags=tags,
            opts=child,
        )
        aws.sqs.RedriveAllowPolicy(
            f"{name}-dlq-redrive-allow",
            queue_url=self.dead_letter_queue.url,
            redrive_allow_policy=pulumi.Output.json_dumps(
                {"redrivePermission": "byQueue", "sourceQueueArns": [self.task_queue.arn]}
            ),
            opts=child,
        )
        for role, queue in (
            ("task-queue", self.task_queue),
            ("result-queue", self.result_queue),
            ("dlq", self.dead_letter_queue),
        ):
            aws.sqs.QueuePolicy(
                f"{name}-{role}-tls-policy",
                queue_url=queue.url,
                policy=aws.iam.get_policy_document_output(
                    statements=[deny_insecure_transport(["sqs:*"], [queue.arn])]
                ).json,
                opts=child,
            )

    def _bucket(self, name, args: TrainingArgs, tags, child) -> None:
        """The state bucket: ``state-pools/``, and ``checkpoints/`` (to Standard-IA, expired)."""
        t = args.training
        prefix = args.common.name_prefix
        self.bucket = SecureBucket(
            f"{name}-state",
            SecureBucketArgs(
                bucket_prefix=f"{prefix}-training-",
                retain=args.common.deletion_protection,
                noncurrent_version_days=t.noncurrent_version_days,
                lifecycle_rules=[
                    aws.s3.BucketLifecycleConfigurationRuleArgs(
                        id="checkpoints-to-ia-then-expire",
                        status="Enabled",
                        filter={"prefix": CHECKPOINTS_PREFIX},
                        transitions=[
                            {"days": t.checkpoint_ia_days, "storage_class": "STANDARD_IA"}
                        ],
                        expiration={"days": t.checkpoint_expire_days},
                    )
                ],
                access_log_bucket=args.common.access_log_bucket,
                tags=tags,
            ),
            opts=child,
        )

    def _image_and_logs(self, name, args: TrainingArgs, tags, child) -> None:
        """The worker image and its log group."""
        prefix = args.common.name_prefix
        self.image = ServiceImage(
            f"{name}-worker-image",
            args.common.image_args(WORKER_SERVICE, architecture=args.common.cpu_architecture),
            opts=child,
        )
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-worker-logs",
            name=f"/ecs/{prefix}/cmaes-worker",
            retention_in_days=args.common.log_retention_days,
            kms_key_id=args.common.log_key_arn,
            tags=tags,
            opts=child,
        )

    def _security_groups(self, name, args: TrainingArgs, tags, child) -> None:
        """The worker group (HTTPS out, Redis out) and the optional Redis group."""
        t = args.training
        prefix = args.common.name_prefix
        # The Redis group has no inline rules: its one ingress rule names the worker group,
        # which names it back in its egress, and separate rule resources break the cycle.
        self.redis_security_group = None
        if t.redis:
            self.redis_security_group = aws.ec2.SecurityGroup(
                f"{name}-redis-sg",
                vpc_id=args.vpc_id,
                description="Training Redis: TLS on 6379 from the CMA-ES workers only",
                tags={**tags, "Name": f"{prefix}-training-redis"},
                opts=child,
            )
        egress = [
            aws.ec2.SecurityGroupEgressArgs(
                description="HTTPS to SQS, S3, ECR and CloudWatch Logs",
                protocol="tcp",
                from_port=443,
                to_port=443,
                cidr_blocks=["0.0.0.0/0"],
            )
        ]
        if self.redis_security_group is not None:
            egress.append(
                aws.ec2.SecurityGroupEgressArgs(
                    description="The training Redis",
                    protocol="tcp",
                    from_port=REDIS_PORT,
                    to_port=REDIS_PORT,
                    security_groups=[self.redis_security_group.id],
                )
            )
        self.worker_security_group = aws.ec2.SecurityGroup(
            f"{name}-worker-sg",
            vpc_id=args.vpc_id,
            description="CMA-ES workers: no inbound; HTTPS out to AWS APIs",
            ingress=[],
            egress=egress,
            tags={**tags, "Name": f"{prefix}-cmaes-workers"},
            opts=child,
        )

    def _roles(self, name, args: TrainingArgs, redis_secret, tags, child) -> None:
        """The execution role (image, logs, Redis token) and the worker task role."""
        prefix = args.common.name_prefix
        bucket_arn = self.bucket.arn

        trust = ecs_tasks_trust(args.common.region)
        self.execution_role = role_with_policy(
            f"{name}-execution",
            name=f"{prefix}-cmaes-execution",
            description="ECS pulls the worker image and writes its logs",
            trust=trust,
            tags=tags,
            opts=child,
            policy=execution_policy(
                [self.image.repository.arn],
                [self.log_group],
                [redis_secret.arn] if redis_secret is not None else None,
            ),
        )

        self.task_role = role_with_policy(
            f"{name}-task",
            name=f"{prefix}-cmaes-worker",
            description="CMA-ES worker: consume tasks, send results, read state pools",
            trust=trust,
            tags=tags,
            opts=child,
            policy=aws.iam.get_policy_document_output(
                statements=[
                    allow(
                        [
                            "sqs:ReceiveMessage",
                            "sqs:DeleteMessage",
                            "sqs:ChangeMessageVisibility",
                        ],
                        [self.task_queue.arn],
                        sid="ConsumeTasks",
                    ),
                    allow(["sqs:SendMessage"], [self.result_queue.arn], sid="SendResults"),
                    allow(
                        ["s3:GetObject"],
                        [bucket_arn.apply(lambda a: f"{a}/{STATE_POOLS_PREFIX}*")],
                        sid="ReadStatePools",
                    ),
                    list_prefix(bucket_arn, STATE_POOLS_PREFIX, "ListStatePools"),
                ]
            ).json,
        )

    def _worker(
        self, name, args: TrainingArgs, concurrency: int, redis_secret, capacity, tags, child
    ) -> None:
        """The worker task definition and service."""
        t = args.training
        prefix = args.common.name_prefix
        environment = {
            "SQS_TASK_QUEUE_URL": self.task_queue.url,
            "SQS_RESULT_QUEUE_URL": self.result_queue.url,
            "S3_BUCKET": self.bucket.bucket_name,
            "STATE_POOL_PREFIX": STATE_POOLS_PREFIX,
            "VISIBILITY_TIMEOUT_SECONDS": str(queue_scaling.visibility_timeout(t.max_eval_seconds)),
            "WORKER_CONCURRENCY": str(concurrency),
            "WAIT_TIME_SECONDS": str(queue_scaling.RECEIVE_WAIT_SECONDS),
            "SCRATCH_DIR": SCRATCH_PATH,
            "TMPDIR": SCRATCH_PATH,
            "STOP_GRACE_SECONDS": str(STOP_GRACE_SECONDS),
            "AWS_REGION": args.common.region,
        }
        secrets = []
        if self.redis is not None and redis_secret is not None:
            environment["REDIS_HOST"] = self.redis.primary_endpoint_address
            environment["REDIS_PORT"] = str(REDIS_PORT)
            environment["REDIS_TLS"] = "true"
            secrets.append({"name": "REDIS_AUTH_TOKEN", "valueFrom": redis_secret.arn})
        container = {
            "name": "worker",
            "image": self.image.repo_digest,
            "essential": True,
            "user": f"{WORKER_UID}:{WORKER_UID}",
            "readonlyRootFilesystem": True,
            "privileged": False,
            "mountPoints": [
                {"sourceVolume": "scratch", "containerPath": SCRATCH_PATH, "readOnly": False}
            ],
            "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
            "secrets": secrets,
            "stopTimeout": STOP_TIMEOUT_SECONDS,
            # An init process forwards SIGTERM to the worker and reaps children.
            "linuxParameters": {"initProcessEnabled": True},
            "logConfiguration": awslogs(self.log_group, args.common.region, "worker"),
        }
        self.task_definition = aws.ecs.TaskDefinition(
            f"{name}-worker-task",
            family=f"{prefix}-cmaes-worker",
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(t.worker_cpu),
            memory=str(t.worker_memory),
            runtime_platform=fargate.runtime_platform(args.common.cpu_architecture),
            execution_role_arn=self.execution_role.arn,
            task_role_arn=self.task_role.arn,
            volumes=[aws.ecs.TaskDefinitionVolumeArgs(name="scratch")],
            container_definitions=pulumi.Output.json_dumps([container]),
            tags=tags,
            opts=child,
        )
        self.service = aws.ecs.Service(
            f"{name}-worker-service",
            name=f"{prefix}-cmaes-worker",
            cluster=self.cluster.arn,
            task_definition=self.task_definition.arn,
            desired_count=t.min_workers,
            capacity_provider_strategies=queue_scaling.capacity_strategy(t.spot_percentage),
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=args.workload_subnet_ids,
                security_groups=[self.worker_security_group.id],
                assign_public_ip=args.assign_public_ip,
            ),
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(
                enable=True, rollback=True
            ),
            deployment_minimum_healthy_percent=0,
            deployment_maximum_percent=200,
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            enable_execute_command=False,
            tags=tags,
            # The autoscaling policies and the coordinator own the desired count.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[capacity], ignore_changes=["desiredCount"]
            ),
        )

    def _service_arn(self, args: TrainingArgs) -> pulumi.Output[str]:
        """The worker service's ARN (the coordinator may scale and describe it)."""
        identity = aws.get_caller_identity_output()
        partition = aws.get_partition_output().partition
        account = identity.account_id
        return pulumi.Output.concat(
            "arn:",
            partition,
            ":ecs:",
            args.common.region,
            ":",
            account,
            ":service/",
            self.cluster.name,
            "/",
            self.service.name,
        )

    def _scaling(self, name, args: TrainingArgs, concurrency: int, tags, child) -> None:
        """The scaling target of the worker service and its three policies."""
        t = args.training
        self.scaling_target = ecs_scaling.service_target(
            f"{name}-scaling-target", self.cluster.name, self.service.name,
            t.min_workers, t.max_workers, tags, child,
        )  # fmt: skip
        self._backlog_tracking(name, args, concurrency, child)
        self._wake_from_zero(name, args, tags, child)
        self._scale_in_when_idle(name, args, tags, child)

    def _backlog_tracking(self, name, args: TrainingArgs, concurrency: int, child) -> None:
        """Target tracking on tasks waiting per running worker (scale-out only)."""
        t = args.training
        target_ids = ecs_scaling.target_ids(self.scaling_target)
        queue_dimension = [{"name": "QueueName", "value": self.task_queue.name}]
        service_dimensions = [
            {"name": "ClusterName", "value": self.cluster.name},
            {"name": "ServiceName", "value": self.service.name},
        ]

        # Backlog per worker: visible tasks / running workers. Scale-out only: scale-in
        # by this metric could stop a worker in the middle of an evaluation.
        self.backlog_policy = aws.appautoscaling.Policy(
            f"{name}-backlog-tracking",
            name=f"{args.common.name_prefix}-cmaes-backlog-per-worker",
            policy_type="TargetTrackingScaling",
            **target_ids,
            target_tracking_scaling_policy_configuration={
                "target_value": queue_scaling.backlog_target(
                    t.acceptable_latency_seconds, t.eval_seconds, concurrency
                ),
                "disable_scale_in": True,
                "scale_out_cooldown": PERIOD,
                "customized_metric_specification": {
                    "metrics": [
                        {
                            "id": "visible",
                            "label": "Tasks waiting",
                            "return_data": False,
                            "metric_stat": {
                                "metric": {
                                    "namespace": "AWS/SQS",
                                    "metric_name": "ApproximateNumberOfMessagesVisible",
                                    "dimensions": queue_dimension,
                                },
                                "stat": "Sum",
                            },
                        },
                        {
                            "id": "running",
                            "label": "Running workers",
                            "return_data": False,
                            "metric_stat": {
                                "metric": {
                                    "namespace": "ECS/ContainerInsights",
                                    "metric_name": "RunningTaskCount",
                                    "dimensions": service_dimensions,
                                },
                                "stat": "Average",
                            },
                        },
                        {
                            "id": "backlog",
                            "label": "Tasks waiting per running worker",
                            "expression": "visible / running",
                            "return_data": True,
                        },
                    ]
                },
            },
            opts=child,
        )

    def _wake_from_zero(self, name, args: TrainingArgs, tags, child) -> None:
        """A step policy and its alarm that start the first worker when tasks wait."""
        # 0 -> 1: with no worker running the backlog per worker is undefined, so target
        # tracking cannot start the first one.
        self.wake_policy = ecs_scaling.step_policy(
            f"{name}-wake-from-zero", f"{args.common.name_prefix}-cmaes-wake-from-zero",
            self.scaling_target, "ChangeInCapacity", ecs_scaling.WAKE_STEP, child,
        )  # fmt: skip
        self.wake_alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-tasks-waiting-no-workers",
            name=f"{args.common.name_prefix}-cmaes-tasks-waiting-no-workers",
            alarm_description="Tasks are waiting and no worker runs: start one",
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=1,
            evaluation_periods=1,
            treat_missing_data="notBreaching",
            metric_queries=[
                _metric_query(
                    "visible",
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    {"QueueName": self.task_queue.name},
                    "Maximum",
                ),
                _metric_query(
                    "running",
                    "ECS/ContainerInsights",
                    "RunningTaskCount",
                    {"ClusterName": self.cluster.name, "ServiceName": self.service.name},
                    "Average",
                ),
                {
                    "id": "waiting",
                    "expression": "IF(FILL(running, 0) < 1, visible, 0)",
                    "label": "Tasks waiting with no worker",
                    "return_data": True,
                },
            ],
            alarm_actions=[self.wake_policy.arn],
            tags=tags,
            opts=child,
        )

    def _scale_in_when_idle(self, name, args: TrainingArgs, tags, child) -> None:
        """A step policy and its alarm that scale in to ``min_workers`` once the queue idles."""
        t = args.training
        # Scale in only when nothing is waiting and nothing is being evaluated (in-flight
        # tasks are held by busy workers) for the whole idle window. SQS stops publishing
        # metrics for a queue idle for hours, so missing data counts as idle.
        self.idle_policy = ecs_scaling.step_policy(
            f"{name}-scale-in-when-idle", f"{args.common.name_prefix}-cmaes-scale-in-when-idle",
            self.scaling_target, "ExactCapacity", ecs_scaling.idle_step(t.min_workers), child,
        )  # fmt: skip
        self.idle_alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-queue-idle",
            name=f"{args.common.name_prefix}-cmaes-queue-idle",
            alarm_description=(
                f"No task waiting or in flight for {t.scale_in_idle_minutes} minutes: "
                f"scale the workers in to {t.min_workers}"
            ),
            comparison_operator="LessThanOrEqualToThreshold",
            threshold=0,
            evaluation_periods=t.scale_in_idle_minutes,
            datapoints_to_alarm=t.scale_in_idle_minutes,
            treat_missing_data="breaching",
            metric_queries=[
                _metric_query(
                    "visible",
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    {"QueueName": self.task_queue.name},
                    "Maximum",
                ),
                _metric_query(
                    "inflight",
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesNotVisible",
                    {"QueueName": self.task_queue.name},
                    "Maximum",
                ),
                {
                    "id": "outstanding",
                    "expression": "visible + inflight",
                    "label": "Tasks waiting or in flight",
                    "return_data": True,
                },
            ],
            alarm_actions=[self.idle_policy.arn],
            tags=tags,
            opts=child,
        )

    def _alarms(self, name, args: TrainingArgs, tags, child) -> None:
        t = args.training
        actions = [args.alarm_topic_arn] if args.alarm_topic_arn is not None else []
        self.dlq_alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-dlq-not-empty",
            name=f"{args.common.name_prefix}-cmaes-dlq-not-empty",
            alarm_description=(
                f"A task failed {t.max_receive_count} deliveries and is in the dead-letter queue"
            ),
            namespace="AWS/SQS",
            metric_name="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": self.dead_letter_queue.name},
            statistic="Maximum",
            period=300,
            evaluation_periods=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=1,
            treat_missing_data="notBreaching",
            alarm_actions=actions,
            ok_actions=actions,
            tags=tags,
            opts=child,
        )
        self.oldest_task_alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-oldest-task-age",
            name=f"{args.common.name_prefix}-cmaes-oldest-task-age",
            alarm_description=(
                f"A task has waited more than {t.oldest_task_alarm_minutes} minutes: "
                "workers are not consuming the queue"
            ),
            namespace="AWS/SQS",
            metric_name="ApproximateAgeOfOldestMessage",
            dimensions={"QueueName": self.task_queue.name},
            statistic="Maximum",
            period=300,
            evaluation_periods=1,
            comparison_operator="GreaterThanThreshold",
            threshold=t.oldest_task_alarm_minutes * 60,
            treat_missing_data="notBreaching",
            alarm_actions=actions,
            ok_actions=actions,
            tags=tags,
            opts=child,
        )

    def _dashboard(self, name, args: TrainingArgs, child) -> None:
        """``self.dashboard`` (None unless ``training.dashboard``): queues and workers.

        The cluster enables Container Insights (``fargate_cluster``), so the running
        workers come from ``ECS/ContainerInsights`` ``RunningTaskCount``.
        """
        self.dashboard = None
        if not args.training.dashboard:
            return
        region = args.common.region

        def widgets(v):
            tasks, dlq, cluster, service = v
            sqs = "AWS/SQS"
            return dashboards.body([
                dashboards.widget("Tasks waiting", region, [
                    (sqs, "ApproximateNumberOfMessagesVisible", {"QueueName": tasks})], "Maximum"),
                dashboards.widget("Oldest task age (s)", region, [
                    (sqs, "ApproximateAgeOfOldestMessage", {"QueueName": tasks})], "Maximum"),
                dashboards.widget("Workers running", region, [
                    ("ECS/ContainerInsights", "RunningTaskCount",
                     {"ClusterName": cluster, "ServiceName": service})], "Average"),
                dashboards.widget("Dead-letter queue depth", region, [
                    (sqs, "ApproximateNumberOfMessagesVisible", {"QueueName": dlq})], "Maximum"),
                dashboards.widget("Evaluations sent and received", region, [
                    (sqs, "NumberOfMessagesSent", {"QueueName": tasks}),
                    (sqs, "NumberOfMessagesDeleted", {"QueueName": tasks})], "Sum"),
            ])  # fmt: skip

        body = pulumi.Output.all(
            self.task_queue.name, self.dead_letter_queue.name, self.cluster.name, self.service.name
        ).apply(widgets)
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=f"{args.common.name_prefix}-training",
            dashboard_body=pulumi.Output.json_dumps(body),
            opts=child,
        )

    def _coordinator(self, name, args: TrainingArgs, service_arn, bucket_arn, tags, child):
        identity = aws.get_caller_identity_output()
        partition = aws.get_partition_output().partition
        # Any principal of this account that IAM allows sts:AssumeRole on this role.
        trust = aws.iam.get_policy_document_output(
            statements=[
                Statement(
                    actions=["sts:AssumeRole"],
                    principals=[
                        Principal(
                            type="AWS", identifiers=[account_root(partition, identity.account_id)]
                        )
                    ],
                )
            ]
        )
        self.coordinator_role = aws.iam.Role(
            f"{name}-coordinator-role",
            name=f"{args.common.name_prefix}-cmaes-coordinator",
            description="CMA-ES coordinator: dispatch tasks, collect results, checkpoint, scale",
            assume_role_policy=trust.json,
            max_session_duration=43200,  # multi-hour runs without re-assuming
            tags=tags,
            opts=child,
        )
        # What the coordinator calls, plus the read-only calls of the runbook run with the
        # same identity (queue depths, the DLQ, service events: see the README).
        document = aws.iam.get_policy_document_output(
            statements=[
                allow(
                    ["sqs:SendMessage", "sqs:GetQueueAttributes"],
                    [self.task_queue.arn],
                    sid="DispatchTasks",
                ),
                allow(
                    [
                        "sqs:ReceiveMessage",
                        "sqs:DeleteMessage",
                        "sqs:GetQueueAttributes",
                    ],
                    [self.result_queue.arn],
                    sid="CollectResults",
                ),
                allow(["sqs:GetQueueAttributes"], [self.dead_letter_queue.arn], sid="InspectDlq"),
                allow(
                    ["s3:GetObject", "s3:PutObject"],
                    [
                        bucket_arn.apply(lambda a: f"{a}/{STATE_POOLS_PREFIX}*"),
                        bucket_arn.apply(lambda a: f"{a}/{CHECKPOINTS_PREFIX}*"),
                    ],
                    sid="ReadWritePoolsAndCheckpoints",
                ),
                allow(["s3:ListBucket"], [bucket_arn], sid="ListBucket"),
                allow(
                    ["ecs:UpdateService", "ecs:DescribeServices"],
                    [service_arn],
                    sid="ScaleWorkers",
                ),
            ]
        )
        self.coordinator_policy = aws.iam.Policy(
            f"{name}-coordinator-policy",
            name=f"{args.common.name_prefix}-cmaes-coordinator",
            description="Least privilege for the CMA-ES coordinator",
            policy=document.json,
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-coordinator-role-policy",
            role=self.coordinator_role.name,
            policy_arn=self.coordinator_policy.arn,
            opts=child,
        )

        self.coordinator_access_key = None
        if args.training.coordinator_user:
            self._coordinator_user(name, args, tags, child)

    def _coordinator_user(self, name, args: TrainingArgs, tags, child) -> None:
        """An IAM user in a group with the coordinator policy, and its access key (secret)."""
        # Permissions through a group, never attached to the user (AWS FSBP IAM.2).
        group = aws.iam.Group(
            f"{name}-coordinators",
            name=f"{args.common.name_prefix}-cmaes-coordinators",
            opts=child,
        )
        aws.iam.GroupPolicyAttachment(
            f"{name}-coordinators-policy",
            group=group.name,
            policy_arn=self.coordinator_policy.arn,
            opts=child,
        )
        user = aws.iam.User(
            f"{name}-coordinator-user",
            name=f"{args.common.name_prefix}-cmaes-coordinator",
            tags=tags,
            opts=child,
        )
        aws.iam.UserGroupMembership(
            f"{name}-coordinator-membership",
            user=user.name,
            groups=[group.name],
            opts=child,
        )
        self.coordinator_access_key = aws.iam.AccessKey(
            f"{name}-coordinator-key",
            user=user.name,
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["id", "secret"]),
        )

    def _redis_rotation(self, name, args: TrainingArgs, secret, service_arn, tags, child) -> None:
        """The Redis token rotates every 30 days: ROTATE (both tokens work), then a new
        deployment of the workers, which read it at start (``blocks/rotation.py``)."""
        assert self.redis is not None
        prefix = args.common.name_prefix
        self.redis_rotation = SecretRotator(
            f"{name}-redis-token-rotation",
            SecretRotatorArgs(
                secret=secret,
                function_name=names.rotation_function(prefix, "training-redis-token"),
                kind="redis-auth",
                description="Rotates the training Redis AUTH token (ROTATE, then redeploys)",
                environment={
                    "REPLICATION_GROUP_ID": self.redis.replication_group_id,
                    "RESTART_SERVICES": service_arn,
                },
                statements=[
                    allow(
                        [
                            "elasticache:DescribeReplicationGroups",
                            "elasticache:ModifyReplicationGroup",
                        ],
                        [self.redis.arn],
                        sid="ChangeTheToken",
                    ),
                    restart_statement([service_arn]),
                ],
                timeout=900,
                log_retention_days=args.common.log_retention_days,
                log_key_arn=args.common.log_key_arn,
                tags=tags,
            ),
            opts=child,
        )

    def _redis(self, name, args: TrainingArgs, tags, child):
        t = args.training
        prefix = args.common.name_prefix
        group = self.redis_security_group
        assert group is not None
        security_groups.ingress_from(
            f"{name}-redis-from-workers",
            group_id=group.id,
            source_id=self.worker_security_group.id,
            ports=REDIS_PORT,
            description="Redis from the CMA-ES workers",
            opts=child,
        )
        subnets = aws.elasticache.SubnetGroup(
            f"{name}-redis-subnets",
            name=f"{prefix}-training-redis",
            description="Private subnets of the training Redis",
            subnet_ids=args.private_subnet_ids,
            tags=tags,
            opts=child,
        )
        token = random.RandomPassword(f"{name}-redis-token", length=48, special=False, opts=child)
        secret = secret_with_value(
            f"{name}-redis-token-secret",
            value_name=f"{name}-redis-token-value",
            name=f"{prefix}/training/redis-auth-token",
            description="AUTH token of the training Redis",
            value=token.result,
            recovery_window_in_days=args.common.secret_recovery_days,
            tags=tags,
            opts=child,
        )
        redis = aws.elasticache.ReplicationGroup(
            f"{name}-redis",
            replication_group_id=names.replication_group(prefix, "training"),
            description="CMA-ES training cache",
            engine="redis",
            engine_version="7.1",
            node_type=t.redis_node_type,
            num_cache_clusters=1,
            port=REDIS_PORT,
            subnet_group_name=subnets.name,
            security_group_ids=[group.id],
            at_rest_encryption_enabled=True,
            transit_encryption_enabled=True,
            auth_token=token.result,
            auto_minor_version_upgrade=True,
            snapshot_retention_limit=1,
            apply_immediately=not args.common.deletion_protection,
            tags=tags,
            opts=child,
        )
        return redis, secret


def _metric_query(query_id: str, namespace: str, metric: str, dimensions, stat: str) -> dict:
    return {
        "id": query_id,
        "return_data": False,
        "metric": {
            "namespace": namespace,
            "metric_name": metric,
            "dimensions": dimensions,
            "period": PERIOD,
            "stat": stat,
        },
    }
