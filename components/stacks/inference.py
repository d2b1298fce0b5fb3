"""InferenceStack: HTTP model services behind one ALB, on GPU instances or Fargate.

Replaces seed 001 (the vision validator on g4dn behind an ALB) and serves seed 003's
``/move`` API. Each service in ``inference.services`` gets an image, a log group, a task
definition, a target group, a listener rule by path and an autoscaled ECS service. A
service that needs a GPU runs in bridge mode on the GPU capacity provider; one that does
not runs on Fargate, so it never holds a GPU instance up, or, with ``runtime: lambda``, as
a Lambda function from the same image behind a target group of type ``lambda``, which
costs nothing while no request comes.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.blocks.function import LambdaFunction, LambdaFunctionArgs
from components.blocks.gpu_capacity import DYNAMIC_PORTS, GpuCapacity, GpuCapacityArgs
from components.blocks.images import ServiceImage
from components.blocks.load_balancer import (
    PublicLoadBalancer,
    PublicLoadBalancerArgs,
    http_health_check,
)
from components.blocks.rotation import SecretRotator, SecretRotatorArgs
from components.config.inference import (
    VISION_SOURCE,
    lambda_timeout,
    scheduled_services,
    validate_deadline,
)
from components.config.settings import InferenceServiceSettings, InferenceSettings, Settings
from components.lib import (
    dashboards,
    instance_types,
    listener_rules,
    names,
    queue_scaling,
    schedules,
)
from components.lib.policies import allow
from components.lib.provider_keys import NOT_ROTATED_TAG, PROVIDER_KEYS, secret_logical_name
from components.parts import ecs_scaling, security_groups
from components.parts.ecs_tasks import awslogs, ecs_tasks_trust, execution_policy
from components.parts.iam import role_with_policy
from components.parts.secrets import first_value, secret_with_value
from components.stacks.common import StackCommon

WORKER_UID = "10001"
TMP_PATH = "/tmp"
PERIOD = ecs_scaling.PERIOD
# The seed's endpoints, exported when a service routes them.
ENDPOINTS = {"validation_endpoint": "/validate", "move_endpoint": "/move"}
_ECR_URI = re.compile(
    r"(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/"
    r"(?P<repo>[a-z0-9._/-]+?)(:[^@]+)?(@sha256:[0-9a-f]{64})?"
)


def ecr_repository_arn(image_uri: str, partition: str = "aws") -> str | None:
    """The ECR repository ARN of an ECR image URI; None for any other registry."""
    match = _ECR_URI.fullmatch(image_uri)
    if not match:
        return None
    return f"arn:{partition}:ecr:{match['region']}:{match['account']}:repository/{match['repo']}"


def routes(service: InferenceServiceSettings, path: str) -> bool:
    """True when one of the service's ALB path patterns matches ``path``."""
    return any(fnmatch.fnmatchcase(path, p) for p in service.path_patterns)


def minimum_healthy_percent(
    gpu: int, max_count: int, gpus_per_instance: int, max_instances: int
) -> int:
    """How much of a GPU service a rolling deployment keeps running.

    At 100 % ECS keeps every old task until a new one is healthy, which needs a spare GPU
    even at ``max_count``. Without one it would wait for ever, so half the tasks are
    replaced at a time, or, for a service of at most one task, the old task stops first.
    """
    if gpu == 0 or gpus_per_instance * max_instances >= (max_count + 1) * gpu:
        return 100
    return 0 if max_count <= 1 else 50


@dataclass(frozen=True)
class InferenceArgs:
    """Inputs of :class:`InferenceStack`."""

    common: StackCommon
    """Name prefix, environment (log groups ``/ecs/<environment>/<service>``), region, tags,
    log retention (log groups and access logs), deletion protection (of the load balancer,
    the API key's recovery window, images on destroy) and prebuilt images. Required."""
    vpc_id: pulumi.Input[str]
    """The VPC. Required."""
    public_subnet_ids: pulumi.Input[Sequence[str]]
    """Subnets of the load balancer. Required."""
    workload_subnet_ids: pulumi.Input[Sequence[str]]
    """Subnets of the instances and Fargate tasks. Required."""
    assign_public_ip: bool
    """Workloads need public IPs (dev: public subnets, no NAT). Required."""
    inference: InferenceSettings = field(default_factory=InferenceSettings)
    """Instance type, counts, Spot share and the services. Default: the settings' defaults."""
    allowed_cidr_blocks: Sequence[str] = ("0.0.0.0/0",)
    """Ranges admitted by the load balancer. Default anyone."""
    certificate_arn: str = ""
    """ACM certificate for HTTPS. Default none (plain HTTP; dev only)."""
    host: str = ""
    """Host name of the load balancer in ``zone_id`` (its own certificate and alias record,
    before ``certificate_arn``). Default none."""
    zone_id: str = ""
    """Route 53 hosted zone of ``host``. Default none."""
    web_acl_arn: pulumi.Input[str] | None = None
    """Regional AWS WAF web ACL of the load balancer. Default none."""
    front_door: bool = False
    """An HTTP API front door before an internal load balancer in ``private_subnet_ids``
    (``ingress.front_door`` http_api). Default false: an internet-facing one."""
    private_subnet_ids: pulumi.Input[Sequence[str]] | None = None
    """Subnets of the internal load balancer, with ``front_door``. Default none."""
    api_key: pulumi.Input[str] | None = None
    """The services' API key (a secret). Default: generated."""
    provider_keys: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    """The AI providers' API keys by config key (``openai_api_key``, ``gemini_api_key``;
    secrets), for the vision validator. Default none: it answers 503 to validations."""
    backend_url: str = ""
    """The seed's Fabrikator backend URL, the vision validator's ``BACKEND_URL``. Default
    none."""
    alarm_topic_arn: pulumi.Input[str] | None = None
    """SNS topic of the alarms that need a person: a ``runtime: lambda`` service's errors.
    Default none (the alarms have no action)."""

    @classmethod
    def from_settings(
        cls, settings: Settings, network, audit=None, web_acl_arn=None, alarm_topic_arn=None
    ) -> InferenceArgs:
        key = settings.inference_api_key
        return cls(
            common=StackCommon.from_settings(settings, "inference", audit),
            vpc_id=network.vpc_id,
            public_subnet_ids=network.public_subnet_ids,
            workload_subnet_ids=network.workload_subnet_ids,
            assign_public_ip=network.workloads_need_public_ip,
            inference=settings.inference,
            allowed_cidr_blocks=settings.ingress.allowed_cidr_blocks,
            certificate_arn=settings.ingress.certificate_arn,
            host=settings.dns.inference_host,
            zone_id=settings.dns.zone_id,
            web_acl_arn=web_acl_arn,
            front_door=settings.ingress.http_api,
            private_subnet_ids=network.private_subnet_ids,
            api_key=pulumi.Output.secret(key) if key else None,
            provider_keys={
                k.config_key: pulumi.Output.secret(getattr(settings, k.config_key))
                for k in PROVIDER_KEYS
                if getattr(settings, k.config_key)
            },
            backend_url=settings.backend_url,
            alarm_topic_arn=alarm_topic_arn,
        )


class InferenceStack(pulumi.ComponentResource):
    """Model services behind one public ALB, scaled on CPU and memory.

    Creates: a :class:`PublicLoadBalancer`; an ECS cluster with Container Insights and
    the FARGATE, FARGATE_SPOT and GPU capacity providers; :class:`GpuCapacity` when a
    service needs a GPU; the API key in Secrets Manager (generated unless configured),
    given to every container as the ``API_KEY`` ECS secret; the configured AI providers'
    keys (``openai_api_key``, ``gemini_api_key``) in Secrets Manager, not rotated (the
    provider issues them), given to the vision validator only as ECS secrets, with
    ``BACKEND_URL`` when ``backend_url`` is set; one execution role allowed to pull these
    images, write these log groups and read those secrets. Per service:
    its image, log group ``/ecs/<env>/<name>``, task definition (non-root, read-only root
    filesystem with a ``/tmp`` volume, GPU ``resourceRequirements``, a task role that may
    only read the API key's secret, whose stages the services accept during a rotation),
    target group with the health path, listener rule by path,
    ECS service with circuit breaker and rollback, and target tracking on CPU and memory;
    a service with ``min_count`` 0 also starts from zero on the first request and stops
    after ``scale_in_idle_minutes`` without one, and with ``inference.schedule`` a GPU one
    keeps a task in working hours (two scheduled actions). The dashboard adds the GPU
    instances' utilisation and memory (the CloudWatch agent's, :class:`GpuCapacity`).
    A service with ``runtime: lambda`` gets,
    instead of the task definition, ECS service and scaling, a :class:`LambdaFunction`
    running its image (its own role reading the API key's stages, its own log group), a
    target group of type ``lambda`` with the function as its target and the load balancer's
    permission to invoke it (:meth:`_lambda_service`).
    """

    TYPE = "mlplatform:inference:InferenceStack"

    load_balancer: PublicLoadBalancer
    cluster: aws.ecs.Cluster
    gpu_capacity: GpuCapacity | None
    api_key_secret: aws.secretsmanager.Secret
    provider_key_secrets: dict[str, aws.secretsmanager.Secret]
    """The configured AI providers' API keys, by container variable (``OPENAI_API_KEY`` …)."""
    services: dict[str, aws.ecs.Service]
    """ECS service per configured service name (``runtime: ecs``)."""
    functions: dict[str, LambdaFunction]
    """Lambda function per configured service name (``runtime: lambda``)."""
    dashboard: aws.cloudwatch.Dashboard | None
    endpoints: dict[str, pulumi.Output[str]]
    """The seed's endpoint URLs the configured services route."""

    def __init__(self, name: str, args: InferenceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(self.TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        i = args.inference
        tags = dict(args.common.tags)

        self._load_balancer(name, args, tags, child)
        self._api_key(name, args, tags, child)
        self._provider_keys(name, args, tags, child)
        # The images before the cluster: the GPU instances pre-pull the GPU services' ones.
        images, log_groups = self._images_and_execution_role(name, args, tags, child)
        capacity = self._cluster(name, args, tags, images, child)

        self.services = {}
        self.functions: dict[str, LambdaFunction] = {}
        self.target_groups: dict[str, aws.lb.TargetGroup] = {}
        for index, svc in enumerate(i.services):
            if svc.on_lambda:
                self._lambda_service(name, args, svc, index, images[svc.name], child)
                continue
            self._service(
                name, args, svc, index, images[svc.name], log_groups[svc.name], capacity, child
            )

        self._dashboard(name, args, child)

        url = self.load_balancer.url
        self.endpoints = {
            output: url.apply(lambda u, p=path: f"{u}{p}")
            for output, path in ENDPOINTS.items()
            if any(routes(s, path) for s in i.services)
        }
        self.alb_url = url
        self.health_check_url = url.apply(lambda u: f"{u}/health")

        self.register_outputs(
            {
                "alb_url": self.alb_url,
                "health_check_url": self.health_check_url,
                **self.endpoints,
                "cluster_name": self.cluster.name,
            }
        )

    # --- the parts, in the order they are created -------------------------------------

    def _dashboard(self, name, args: InferenceArgs, child) -> None:
        """``self.dashboard`` (None unless ``inference.dashboard``): the ALB per service, and
        the GPU instances' utilisation and memory when there are GPU instances."""
        self.dashboard = None
        if not args.inference.dashboard:
            return
        region = args.common.region
        gpu = (
            dashboards.gpu_widgets(region, self.gpu_capacity.metric_namespace)
            if self.gpu_capacity
            else []
        )
        body = pulumi.Output.all(
            self.load_balancer.load_balancer.arn_suffix,
            {svc: tg.arn_suffix for svc, tg in self.target_groups.items()},
        ).apply(
            lambda v: dashboards.body(
                [*dashboards.load_balancer_widgets(region, v[0], v[1], "API"), *gpu]
            )
        )
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=f"{args.common.name_prefix}-inference",
            dashboard_body=pulumi.Output.json_dumps(body),
            opts=child,
        )

    def _load_balancer(self, name, args: InferenceArgs, tags, child) -> None:
        """The public load balancer of every service."""
        i = args.inference
        prefix = args.common.name_prefix
        self.load_balancer = PublicLoadBalancer(
            f"{name}-lb",
            PublicLoadBalancerArgs(
                name_prefix=prefix,
                lb_name=names.load_balancer(prefix, "inference"),
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
                # Longer than any answer a service gives: the vision validator's deadline
                # is derived from it (components/config/inference.py).
                idle_timeout=i.request_timeout_seconds,
                access_logs=i.access_logs,
                log_retention_days=args.common.log_retention_days,
                access_log_bucket=args.common.access_log_bucket,
                tags=tags,
            ),
            opts=child,
        )

    def _cluster(
        self, name, args: InferenceArgs, tags, images: dict[str, ServiceImage], child
    ) -> aws.ecs.ClusterCapacityProviders:
        """The cluster, the GPU capacity when a service needs a GPU (its warm pool pre-pulling
        the GPU services' images), and the capacity providers."""
        i = args.inference
        prefix = args.common.name_prefix
        alb_sg = self.load_balancer.security_group
        self.cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            name=f"{prefix}-inference",
            settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value="enabled")],
            tags=tags,
            opts=child,
        )

        self.gpu_capacity = None
        providers = ["FARGATE", "FARGATE_SPOT"]
        if any(s.gpu for s in i.services):
            self.gpu_capacity = GpuCapacity(
                f"{name}-gpu",
                GpuCapacityArgs(
                    name_prefix=prefix,
                    region=args.common.region,
                    cluster_name=self.cluster.name,
                    vpc_id=args.vpc_id,
                    subnet_ids=args.workload_subnet_ids,
                    load_balancer_security_group_id=alb_sg.id,
                    instance_type=i.instance_type,
                    min_instances=i.min_instances,
                    max_instances=i.max_instances,
                    spot_percentage=i.spot_percentage,
                    root_volume_gib=i.root_volume_gib,
                    warm_pool_size=i.warm_pool_size,
                    assign_public_ip=args.assign_public_ip,
                    prepull_images=[images[s.name].repo_digest for s in i.services if s.gpu],
                    prepull_repository_arns=self._gpu_repositories(args, images),
                    tags=tags,
                ),
                opts=child,
            )
            providers.append(self.gpu_capacity.capacity_provider.name)
            low, high = DYNAMIC_PORTS
            security_groups.egress_to(
                f"{name}-alb-to-gpu",
                group_id=alb_sg.id,
                target_id=self.gpu_capacity.security_group.id,
                ports=(low, high),
                description="To the bridge-mode tasks on the GPU instances",
                opts=child,
            )
        capacity = aws.ecs.ClusterCapacityProviders(
            f"{name}-capacity-providers",
            cluster_name=self.cluster.name,
            capacity_providers=providers,
            default_capacity_provider_strategies=queue_scaling.capacity_strategy(i.spot_percentage),
            opts=child,
        )
        return capacity

    @staticmethod
    def _gpu_repositories(args: InferenceArgs, images: dict[str, ServiceImage]) -> list:
        """The ECR repositories the GPU services' images come from (a prebuilt image's, else
        the built one's); a prebuilt image of another registry needs none."""
        arns: list[pulumi.Input[str]] = []
        for svc in args.inference.services:
            if not svc.gpu:
                continue
            prebuilt = args.common.image_args(svc.source_dir(), svc.image).prebuilt_uri
            if not prebuilt:
                arns.append(images[svc.name].repository.arn)
            elif arn := ecr_repository_arn(prebuilt):
                arns.append(arn)
        return arns

    def _api_key(self, name, args: InferenceArgs, tags, child) -> None:
        """The API key (generated unless configured) in Secrets Manager."""
        prefix = args.common.name_prefix
        api_key = args.api_key
        if api_key is None:
            api_key = random.RandomPassword(
                f"{name}-api-key", length=48, special=False, opts=child
            ).result
        self.api_key_secret = secret_with_value(
            f"{name}-api-key-secret",
            value_name=f"{name}-api-key-value",
            name=f"{prefix}/inference/api-key",
            description="API key of the inference services (X-API-Key or Bearer)",
            value=pulumi.Output.secret(api_key),
            recovery_window_in_days=args.common.secret_recovery_days,
            tags=tags,
            opts=child,
        )
        self.api_key_rotation = SecretRotator(
            f"{name}-api-key-rotation",
            SecretRotatorArgs(
                secret=self.api_key_secret,
                function_name=names.rotation_function(prefix, "inference-api-key"),
                kind="random",
                description="Rotates the inference API key (the services read its stages)",
                environment={"VALUE_LENGTH": "48"},
                log_retention_days=args.common.log_retention_days,
                log_key_arn=args.common.log_key_arn,
                tags=tags,
            ),
            opts=child,
        )
        # The services accept the key's current, previous and pending values, read at run
        # time (an ECS secret is fixed at task start): the task role may read its stages.
        self.task_role = role_with_policy(
            f"{name}-task",
            name=f"{prefix}-inference-task",
            description="Inference services: read the API key's versions during a rotation",
            trust=ecs_tasks_trust(args.common.region),
            tags=tags,
            opts=child,
            policy=aws.iam.get_policy_document_output(
                statements=[
                    allow(
                        ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
                        [self.api_key_secret.arn],
                        sid="ReadTheApiKeyStages",
                    )
                ]
            ).json,
        )

    def _provider_keys(self, name, args: InferenceArgs, tags, child) -> None:
        """The configured AI providers' API keys in Secrets Manager, for the vision validator.

        Not rotated (``components/lib/provider_keys.py`` says why; the policy pack's
        ``secrets-rotate`` rule exempts exactly these): the operator replaces the value."""
        prefix = args.common.name_prefix
        self.provider_key_secrets = {}
        for key in PROVIDER_KEYS:
            value = args.provider_keys.get(key.config_key)
            if value is None:
                continue
            self.provider_key_secrets[key.variable] = secret_with_value(
                secret_logical_name(name, key),
                value_name=f"{name}-{key.role}-value",
                name=f"{prefix}/inference/{key.role}",
                description=f"{key.variable} of the vision validator (the provider's key; "
                "rotated at the provider, not here)",
                value=pulumi.Output.secret(value),
                recovery_window_in_days=args.common.secret_recovery_days,
                tags={**tags, NOT_ROTATED_TAG[0]: NOT_ROTATED_TAG[1]},
                opts=child,
            )

    def _images_and_execution_role(self, name, args: InferenceArgs, tags, child):
        """Each service's image and log group, and the one execution role of them all."""
        i = args.inference
        prefix = args.common.name_prefix
        images: dict[str, ServiceImage] = {}
        log_groups: dict[str, aws.cloudwatch.LogGroup] = {}
        pull_from: list[pulumi.Input[str]] = []
        for svc in i.services:
            source = svc.source_dir()
            image_args = args.common.image_args(source, svc.image)
            if svc.on_lambda:
                # Lambda pulls the image itself, for this function only; no ECS log group
                # or execution role grant (the function has its own of both).
                image_args = dataclasses.replace(
                    image_args, lambda_function_arn=self._function_arn(args, svc)
                )
                images[svc.name] = ServiceImage(f"{name}-{svc.name}-image", image_args, opts=child)
                continue
            images[svc.name] = ServiceImage(f"{name}-{svc.name}-image", image_args, opts=child)
            pull_from.append(images[svc.name].repository.arn)
            prebuilt = image_args.prebuilt_uri
            if prebuilt and (arn := ecr_repository_arn(prebuilt)):
                pull_from.append(arn)
            log_groups[svc.name] = aws.cloudwatch.LogGroup(
                f"{name}-{svc.name}-logs",
                name=f"/ecs/{args.common.environment}/{svc.name}",
                retention_in_days=args.common.log_retention_days,
                kms_key_id=args.common.log_key_arn,
                tags=tags,
                opts=child,
            )
        self.execution_role = role_with_policy(
            f"{name}-execution",
            name=f"{prefix}-inference-execution",
            description="ECS pulls the inference images, writes their logs, reads the API key",
            trust=ecs_tasks_trust(args.common.region),
            tags=tags,
            opts=child,
            policy=execution_policy(
                pull_from,
                list(log_groups.values()),
                [self.api_key_secret.arn, *(s.arn for s in self.provider_key_secrets.values())],
            ),
        )
        return images, log_groups

    def _service(
        self,
        name: str,
        args: InferenceArgs,
        svc: InferenceServiceSettings,
        index: int,
        image: ServiceImage,
        log_group: aws.cloudwatch.LogGroup,
        capacity: aws.ecs.ClusterCapacityProviders,
        child: pulumi.ResourceOptions,
    ) -> None:
        i = args.inference
        tags = dict(args.common.tags)
        prefix = args.common.name_prefix
        base = f"{name}-{svc.name}"
        on_gpu = svc.gpu > 0

        target_group, rule = self._target(base, args, svc, index, child)
        task_definition = self._task_definition(base, args, svc, image, log_group, child)
        network, strategy = self._placement(base, args, svc, child)
        service = aws.ecs.Service(
            f"{base}-service",
            name=f"{prefix}-{svc.name}",
            cluster=self.cluster.arn,
            task_definition=task_definition.arn,
            desired_count=svc.desired_count,
            capacity_provider_strategies=strategy,
            network_configuration=network,
            load_balancers=[
                {
                    "target_group_arn": target_group.arn,
                    "container_name": svc.name,
                    "container_port": svc.container_port,
                }
            ],
            health_check_grace_period_seconds=120 if on_gpu else 30,
            deployment_circuit_breaker={"enable": True, "rollback": True},
            deployment_minimum_healthy_percent=minimum_healthy_percent(
                svc.gpu,
                svc.max_count,
                instance_types.gpu_count(i.instance_type),
                i.max_instances,
            ),
            deployment_maximum_percent=200,
            ordered_placement_strategies=(
                [{"type": "binpack", "field": "memory"}] if on_gpu else None
            ),
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            enable_execute_command=False,
            tags=tags,
            # Autoscaling owns the desired count once deployed.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[capacity, rule], ignore_changes=["desiredCount"]
            ),
        )
        self.services[svc.name] = service
        self._scaling(base, args, svc, service, target_group, child)

    def _target(self, base, args: InferenceArgs, svc: InferenceServiceSettings, index: int, child):
        """The service's target group and its listener rule by path."""
        tags = dict(args.common.tags)
        prefix = args.common.name_prefix
        on_gpu = svc.gpu > 0
        if svc.on_lambda:
            # No VPC, port or protocol: the load balancer invokes the function. Health checks
            # stay off (AWS's default for this type): the one target cannot be taken out of
            # rotation (a group whose targets are all unhealthy routes to them anyway), so
            # a check would change no routing, only invoke the function every interval;
            # a failing function shows in its own Errors and Throttles metrics instead.
            # Its own names: see names.function_target_group.
            target_group = aws.lb.TargetGroup(
                f"{base}-fn-tg",
                name=names.function_target_group(prefix, svc.name),
                target_type="lambda",
                health_check={"enabled": False},
                tags=tags,
                opts=child,
            )
        else:
            target_group = aws.lb.TargetGroup(
                f"{base}-tg",
                name=names.target_group(prefix, svc.name),
                vpc_id=args.vpc_id,
                port=svc.container_port,
                protocol="HTTP",
                # Bridge-mode tasks are registered by instance and host port, awsvpc ones by IP.
                target_type="instance" if on_gpu else "ip",
                deregistration_delay=30,
                health_check=http_health_check(svc.health_path),
                tags=tags,
                opts=child,
            )
        self.target_groups[svc.name] = target_group
        rule = aws.lb.ListenerRule(
            f"{base}-rule",
            listener_arn=self.load_balancer.listener.arn,
            priority=listener_rules.inference(index),
            conditions=[{"path_pattern": {"values": list(svc.path_patterns)}}],
            actions=[{"type": "forward", "target_group_arn": target_group.arn}],
            tags=tags,
            opts=child,
        )
        return target_group, rule

    @staticmethod
    def _function_arn(args: InferenceArgs, svc: InferenceServiceSettings) -> pulumi.Output[str]:
        """The ARN the service's function will have, known before it exists: its image's
        repository policy names it, and Lambda checks that policy when it is created."""
        name = names.service_function(args.common.name_prefix, svc.name)
        return pulumi.Output.concat(
            "arn:", aws.get_partition_output().partition, ":lambda:", args.common.region,
            ":", aws.get_caller_identity_output().account_id, ":function:", name,
        )  # fmt: skip

    def _lambda_service(
        self, name, args: InferenceArgs, svc: InferenceServiceSettings, index: int,
        image: ServiceImage, child,
    ) -> None:  # fmt: skip
        """A ``runtime: lambda`` service: its function (the service image, run by the Lambda
        runtime interface client, the handler adapting load balancer events to the app), a
        target group of type ``lambda`` with the function as its one target, the listener
        rule, and the load balancer's permission to invoke the function (for that target
        group only). No security group (the function runs outside the VPC: it calls only
        Secrets Manager and CloudWatch Logs, over Lambda's own network), no public address,
        no scaling: Lambda runs an execution per concurrent request, up to ``concurrency``
        when one is reserved."""
        i = args.inference
        base = f"{name}-{svc.name}"
        target_group, _rule = self._target(base, args, svc, index, child)
        assert image.repository_policy is not None  # set for every lambda service's image
        # The function's image after its repository policy: CreateFunction checks that
        # Lambda may pull it.
        image_uri = pulumi.Output.all(image.repo_digest, image.repository_policy.id).apply(
            lambda v: v[0]
        )
        function = LambdaFunction(
            f"{base}-fn",
            LambdaFunctionArgs(
                function_name=names.service_function(args.common.name_prefix, svc.name),
                package=svc.source_dir(),
                handler=svc.lambda_handler(),
                description=f"{svc.name}: the inference load balancer's target for "
                f"{', '.join(svc.path_patterns)}",
                # What the ECS task role may do (the API key's stages), nothing more: the
                # models ship in the image.
                statements=[
                    allow(
                        ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
                        [self.api_key_secret.arn],
                        sid="ReadTheApiKeyStages",
                    )
                ],
                # The ECS task's environment but AWS_REGION (Lambda sets it and refuses it as
                # a reserved variable) and PORT (nothing listens). No API_KEY: an ECS secret
                # has no Lambda counterpart, and a value in the environment would be
                # readable by anyone who may read the function's configuration; the handler
                # reads the secret's current value at its first request instead.
                environment={"API_KEY_SECRET_ID": self.api_key_secret.arn},
                timeout=lambda_timeout(i.request_timeout_seconds),
                memory_size=svc.memory,
                log_retention_days=args.common.log_retention_days,
                log_key_arn=args.common.log_key_arn,
                tags=dict(args.common.tags),
                reserved_concurrency=svc.concurrency or None,
                image_uri=image_uri,
            ),
            opts=child,
        )
        self.functions[svc.name] = function
        permission = aws.lambda_.Permission(
            f"{base}-invoke",
            action="lambda:InvokeFunction",
            function=function.function.name,
            principal="elasticloadbalancing.amazonaws.com",
            # Only this target group (an ARN of this account) may invoke it: the Lambda
            # guide's form for a load balancer ("services-alb": add-permission with
            # --source-arn). No source account: no page on record says ELB sends
            # aws:SourceAccount when it invokes, and a condition it does not meet would
            # refuse every request.
            source_arn=target_group.arn,
            opts=child,
        )
        # Registering the function needs the permission first (RegisterTargets asks Lambda).
        aws.lb.TargetGroupAttachment(
            f"{base}-target",
            target_group_arn=target_group.arn,
            target_id=function.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )
        # No health check reaches a Lambda target, so the function's own errors are what
        # tells that the image, the handler or the key is broken: any in 5 minutes.
        aws.cloudwatch.MetricAlarm(
            f"{base}-errors",
            name=f"{args.common.name_prefix}-{svc.name}-errors",
            alarm_description=f"The {svc.name} function fails invocations (its log group says why)",
            namespace="AWS/Lambda",
            metric_name="Errors",
            dimensions={"FunctionName": function.function.name},
            statistic="Sum",
            period=300,
            evaluation_periods=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=1,
            treat_missing_data="notBreaching",
            alarm_actions=[args.alarm_topic_arn] if args.alarm_topic_arn is not None else [],
            tags=dict(args.common.tags),
            opts=child,
        )

    def _task_definition(
        self, base, args: InferenceArgs, svc: InferenceServiceSettings, image, log_group, child
    ) -> aws.ecs.TaskDefinition:
        """The task definition: non-root, read-only root filesystem, GPUs on the GPU hosts."""
        tags = dict(args.common.tags)
        prefix = args.common.name_prefix
        on_gpu = svc.gpu > 0
        container = {
            "name": svc.name,
            "image": image.repo_digest,
            "essential": True,
            "cpu": svc.cpu,
            "memory": svc.memory,
            "user": f"{WORKER_UID}:{WORKER_UID}",
            "readonlyRootFilesystem": True,
            "privileged": False,
            "portMappings": [
                {
                    "containerPort": svc.container_port,
                    "hostPort": 0 if on_gpu else svc.container_port,
                    "protocol": "tcp",
                }
            ],
            "mountPoints": [{"sourceVolume": "tmp", "containerPath": TMP_PATH, "readOnly": False}],
            "environment": [
                {"name": "API_KEY_SECRET_ID", "value": self.api_key_secret.arn},
                # boto3's region: on EC2 (bridge mode, hop limit 1) neither the ECS agent nor
                # the instance metadata gives it to the container.
                {"name": "AWS_REGION", "value": args.common.region},
                {"name": "PORT", "value": str(svc.container_port)},
            ],
            "secrets": [{"name": "API_KEY", "valueFrom": self.api_key_secret.arn}],
            "stopTimeout": 30,
            "linuxParameters": {"initProcessEnabled": True},
            "logConfiguration": awslogs(log_group, args.common.region, svc.name),
        }
        if on_gpu:
            container["resourceRequirements"] = [{"type": "GPU", "value": str(svc.gpu)}]
        if svc.source_dir() == VISION_SOURCE:
            # The provider keys as ECS secrets (never environment values), to this service only.
            container["secrets"] += [
                {"name": variable, "valueFrom": secret.arn}
                for variable, secret in self.provider_key_secrets.items()
            ]
            if version := self._provider_key_version():
                container["environment"].append({"name": "PROVIDER_KEY_VERSION", "value": version})
            container["environment"].append(
                {
                    "name": "VALIDATE_DEADLINE_SECONDS",
                    "value": str(validate_deadline(args.inference.request_timeout_seconds)),
                }
            )
            if args.backend_url:
                container["environment"].append({"name": "BACKEND_URL", "value": args.backend_url})
        return aws.ecs.TaskDefinition(
            f"{base}-task",
            family=f"{prefix}-{svc.name}",
            requires_compatibilities=["EC2"] if on_gpu else ["FARGATE"],
            network_mode="bridge" if on_gpu else "awsvpc",
            cpu=str(svc.cpu),
            memory=str(svc.memory),
            runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": "X86_64"},
            execution_role_arn=self.execution_role.arn,
            task_role_arn=self.task_role.arn,
            volumes=[{"name": "tmp"}],
            container_definitions=pulumi.Output.json_dumps([container]),
            tags=tags,
            opts=child,
        )

    def _provider_key_version(self) -> pulumi.Output[str] | None:
        """``OPENAI_API_KEY=<version id>,...``: the Secrets Manager version of each provider
        key (its id, never its value). ECS reads ``secrets`` only when a task starts, and a
        new value is a new version of the same secret, which leaves the task definition as
        it was: with the version in the environment, a new key is a new task definition
        revision, so ``pulumi up`` deploys it to new tasks. None without a provider key."""
        versions = []
        for variable, secret in self.provider_key_secrets.items():
            version = first_value(secret)
            assert version is not None  # every provider key is made by secret_with_value
            versions.append(version.version_id.apply(lambda v, n=variable: f"{n}={v}"))
        return pulumi.Output.all(*versions).apply(",".join) if versions else None

    def _placement(self, base, args: InferenceArgs, svc: InferenceServiceSettings, child):
        """Where the tasks run: the GPU capacity provider (bridge mode), or Fargate in an own
        security group (awsvpc); returns the network configuration and the strategy."""
        i = args.inference
        tags = dict(args.common.tags)
        prefix = args.common.name_prefix
        on_gpu = svc.gpu > 0
        alb_sg = self.load_balancer.security_group
        network = None
        if on_gpu:
            assert self.gpu_capacity is not None
            strategy = [
                {"capacity_provider": self.gpu_capacity.capacity_provider.name, "weight": 1}
            ]
        else:
            task_sg = aws.ec2.SecurityGroup(
                f"{base}-sg",
                vpc_id=args.vpc_id,
                description=f"{svc.name}: the load balancer on {svc.container_port}; HTTPS out",
                tags={**tags, "Name": f"{prefix}-{svc.name}"},
                opts=child,
            )
            security_groups.ingress_from(
                f"{base}-from-alb",
                group_id=task_sg.id,
                source_id=alb_sg.id,
                ports=svc.container_port,
                description="From the load balancer",
                opts=child,
            )
            security_groups.https_out(
                f"{base}-https-out",
                task_sg.id,
                description="ECR, CloudWatch Logs, Secrets Manager",
                opts=child,
            )
            security_groups.egress_to(
                f"{base}-alb-out",
                group_id=alb_sg.id,
                target_id=task_sg.id,
                ports=svc.container_port,
                description=f"To {svc.name}",
                opts=child,
            )
            network = {
                "subnets": args.workload_subnet_ids,
                "security_groups": [task_sg.id],
                "assign_public_ip": args.assign_public_ip,
            }
            strategy = queue_scaling.capacity_strategy(i.spot_percentage)
        return network, strategy

    def _scaling(self, base, args: InferenceArgs, svc, service, target_group, child) -> None:
        tags = dict(args.common.tags)
        prefix = args.common.name_prefix
        scheduled = args.inference.schedule.enabled and svc in scheduled_services(args.inference)
        target = ecs_scaling.service_target(
            f"{base}-scaling-target", self.cluster.name, service.name,
            svc.min_count, svc.max_count, tags,
            # The schedule moves the minimum between 0 and 1: not a drift to undo.
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(
                ignore_changes=["minCapacity"])) if scheduled else child,
        )  # fmt: skip
        if scheduled:
            self._warm_hours(base, args, svc, target, child)
        target_ids = ecs_scaling.target_ids(target)
        # From zero, CPU and memory have no data; a service that may stop entirely scales in
        # only through the idle policy below, so a quiet minute does not stop it mid-request.
        scales_to_zero = svc.min_count == 0
        # Tracking only where it can add a task beyond the first (svc.tracks).
        for metric, value in (("CPU", svc.cpu_target), ("Memory", svc.memory_target)):
            if not svc.tracks:
                break
            aws.appautoscaling.Policy(
                f"{base}-{metric.lower()}-tracking",
                name=f"{prefix}-{svc.name}-{metric.lower()}",
                policy_type="TargetTrackingScaling",
                **target_ids,
                target_tracking_scaling_policy_configuration={
                    "target_value": value,
                    "predefined_metric_specification": {
                        "predefined_metric_type": f"ECSServiceAverage{metric}Utilization"
                    },
                    "scale_out_cooldown": PERIOD,
                    "scale_in_cooldown": 300,
                    "disable_scale_in": scales_to_zero,
                },
                opts=child,
            )
        if scales_to_zero:
            self._scale_from_zero(base, args, svc, service, target_group, target, child)

    def _warm_hours(self, base, args: InferenceArgs, svc, target, child) -> None:
        """``inference.schedule``: at ``start_hour`` the service's minimum becomes 1, so
        Application Auto Scaling starts a task and the capacity provider an instance for it;
        at ``end_hour`` the minimum is ``min_count`` (0) again and the idle alarm, which
        keeps invoking its policy while in alarm, scales it to zero after
        ``scale_in_idle_minutes`` without a request."""
        schedule = args.inference.schedule
        prefix = args.common.name_prefix
        for role, hour, minimum in (
            ("start", schedule.start_hour, max(1, svc.min_count)),
            ("end", schedule.end_hour, svc.min_count),
        ):
            aws.appautoscaling.ScheduledAction(
                f"{base}-warm-hours-{role}",
                name=f"{prefix}-{svc.name}-warm-hours-{role}",
                **ecs_scaling.target_ids(target),
                schedule=schedules.cron(hour, schedule.days),
                timezone=schedule.timezone,
                scalable_target_action={"min_capacity": minimum, "max_capacity": svc.max_count},
                opts=child,
            )

    def _scale_from_zero(
        self, base, args: InferenceArgs, svc, service, target_group, target, child
    ):
        """For ``min_count`` 0: start a task on the first request, stop after the idle window."""
        tags = dict(args.common.tags)
        prefix = args.common.name_prefix
        lb_suffix = self.load_balancer.load_balancer.arn_suffix
        requests = {
            "id": "requests",
            "return_data": False,
            "metric": {
                "namespace": "AWS/ApplicationELB",
                "metric_name": "RequestCount",
                "dimensions": {"LoadBalancer": lb_suffix, "TargetGroup": target_group.arn_suffix},
                "period": PERIOD,
                "stat": "Sum",
            },
        }
        running = {
            "id": "running",
            "return_data": False,
            "metric": {
                "namespace": "ECS/ContainerInsights",
                "metric_name": "RunningTaskCount",
                "dimensions": {"ClusterName": self.cluster.name, "ServiceName": service.name},
                "period": PERIOD,
                "stat": "Average",
            },
        }

        wake = ecs_scaling.step_policy(
            f"{base}-wake-from-zero", f"{prefix}-{svc.name}-wake-from-zero",
            target, "ChangeInCapacity", ecs_scaling.WAKE_STEP, child,
        )  # fmt: skip
        aws.cloudwatch.MetricAlarm(
            f"{base}-requests-no-tasks",
            name=f"{prefix}-{svc.name}-requests-no-tasks",
            alarm_description=f"Requests for {svc.name} while none of its tasks runs: start one",
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=1,
            evaluation_periods=1,
            treat_missing_data="notBreaching",
            metric_queries=[
                requests,
                running,
                {
                    "id": "waiting",
                    "expression": "IF(FILL(running, 0) < 1, FILL(requests, 0), 0)",
                    "label": "Requests with no task running",
                    "return_data": True,
                },
            ],
            alarm_actions=[wake.arn],
            tags=tags,
            opts=child,
        )
        idle = ecs_scaling.step_policy(
            f"{base}-scale-in-when-idle", f"{prefix}-{svc.name}-scale-in-when-idle",
            target, "ExactCapacity", ecs_scaling.idle_step(0), child,
        )  # fmt: skip
        minutes = args.inference.scale_in_idle_minutes
        aws.cloudwatch.MetricAlarm(
            f"{base}-idle",
            name=f"{prefix}-{svc.name}-idle",
            alarm_description=f"No request for {svc.name} in {minutes} minutes: scale to zero",
            comparison_operator="LessThanOrEqualToThreshold",
            threshold=0,
            evaluation_periods=minutes,
            datapoints_to_alarm=minutes,
            # The load balancer publishes no RequestCount for a minute without requests.
            treat_missing_data="breaching",
            namespace="AWS/ApplicationELB",
            metric_name="RequestCount",
            dimensions={"LoadBalancer": lb_suffix, "TargetGroup": target_group.arn_suffix},
            statistic="Sum",
            period=PERIOD,
            alarm_actions=[idle.arn],
            tags=tags,
            opts=child,
        )
