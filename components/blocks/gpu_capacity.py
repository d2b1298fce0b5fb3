"""GpuCapacity: GPU instances for an ECS cluster, scaled by a capacity provider."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.lib import gpu_instance
from components.lib.policies import Condition, allow, service_trust
from components.parts import security_groups
from components.parts.iam import role_with_policy

# The ECS GPU-optimized Amazon Linux 2023 AMI, as AWS publishes it.
GPU_AMI_PARAMETER = "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id"
# Bridge-mode tasks publish their container port on a host port of this range.
DYNAMIC_PORTS = (32768, 65535)


@dataclass(frozen=True)
class GpuCapacityArgs:
    """Inputs of :class:`GpuCapacity`."""

    name_prefix: str
    """Prefix of physical names. Required."""
    region: str
    """AWS region. Required."""
    cluster_name: pulumi.Input[str]
    """The ECS cluster the instances join. Required."""
    vpc_id: pulumi.Input[str]
    """VPC of the instances. Required."""
    subnet_ids: pulumi.Input[Sequence[str]]
    """Subnets the instances launch in. Required."""
    load_balancer_security_group_id: pulumi.Input[str]
    """The only source admitted, on the dynamic port range. Required."""
    instance_type: str = "g4dn.xlarge"
    """A GPU instance type. Default ``g4dn.xlarge``."""
    min_instances: int = 0
    """Fewest instances; 0 lets the capacity provider scale to zero. Default 0."""
    max_instances: int = 2
    """Most instances. Default 2."""
    spot_percentage: int = 0
    """Share of instances on Spot (price-capacity-optimized). Default 0."""
    root_volume_gib: int = 60
    """Encrypted gp3 root volume. Default 60."""
    warm_pool_size: int = 0
    """Stopped instances kept in a warm pool, started before new ones launch; 0: none.
    PutWarmPool refuses a group with a mixed instances policy or Spot, so a pool needs
    ``spot_percentage`` 0 and the group then names its launch template directly. Default 0."""
    assign_public_ip: bool = False
    """Public IPs (dev: public subnets without NAT). Default false."""
    prepull_images: Sequence[pulumi.Input[str]] = ()
    """Image URIs an instance launching into the warm pool pulls before it stops (the GPU
    services' images); used only with ``warm_pool_size`` above 0. Default none."""
    prepull_repository_arns: Sequence[pulumi.Input[str]] = ()
    """The ECR repositories of ``prepull_images``: the instance role may pull from these
    only. Default none."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on every taggable child and the instances. Default none."""


class GpuCapacity(pulumi.ComponentResource):
    """GPU container instances for ECS, started and stopped by a capacity provider.

    Creates: the CloudWatch agent's configuration in an SSM parameter (``nvidia_smi`` GPU
    utilisation, memory used and total per instance, to the stack's own namespace); an
    instance role trusted by EC2 of this account, allowed only what the ECS agent needs on
    this cluster and its container instances, that parameter and metrics to that
    namespace; a security group admitting
    the load balancer on the dynamic port range and HTTPS out; a launch template with the
    ECS GPU-optimized Amazon Linux 2023 AMI read from its SSM parameter, IMDSv2 required
    with a hop limit of 1 (containers cannot reach the instance's credentials), an
    encrypted gp3 root volume, detailed monitoring, and user data that joins the cluster
    with GPU support and Spot draining; an Auto Scaling group that may be empty, is
    protected from scale-in (ECS decides which instance may go) and tagged
    ``AmazonECSManaged``, spreading on-demand and Spot by ``spot_percentage``; and a
    capacity provider with managed scaling, managed termination protection and managed
    draining. With ``warm_pool_size`` above 0 (on-demand only) the group keeps that many
    instances initialised and stopped in a warm pool (paying their EBS volumes only), and
    the user data holds the ECS agent back while an instance is in the pool; a launch
    hook holds an instance warming up for the pool until it has pulled
    ``prepull_images`` (the role may pull those repositories and complete that hook).
    """

    TYPE = "mlplatform:inference:GpuCapacity"

    capacity_provider: aws.ecs.CapacityProvider
    """Name this in a service's capacity provider strategy."""
    security_group: aws.ec2.SecurityGroup
    """The instances' security group."""
    auto_scaling_group: aws.autoscaling.Group
    """The instances' Auto Scaling group."""
    agent_parameter: aws.ssm.Parameter
    """The CloudWatch agent's configuration."""
    metric_namespace: str
    """Where the agent publishes the GPU metrics."""

    def __init__(
        self, name: str, args: GpuCapacityArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__(self.TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)

        self._agent_config(name, args, tags, child)
        profile = self._instance_role(name, args, tags, child)
        self._security_group(name, args, tags, child)
        self._launch_template(name, args, profile, tags, child)
        self._auto_scaling(name, args, tags, child)

        self.register_outputs({"capacity_provider": self.capacity_provider.name})

    def _agent_config(self, name, args: GpuCapacityArgs, tags, child) -> None:
        """The CloudWatch agent's configuration (GPU utilisation and memory per instance) in
        an SSM parameter, which the user data loads with ``fetch-config -c ssm:<name>``."""
        self.metric_namespace = gpu_instance.namespace(args.name_prefix)
        self.agent_parameter = aws.ssm.Parameter(
            f"{name}-agent-config",
            name=gpu_instance.parameter_name(args.name_prefix),
            description="CloudWatch agent on the GPU instances: nvidia_smi utilisation, memory",
            type="String",
            tier="Standard",
            value=gpu_instance.agent_config_json(self.metric_namespace),
            tags=tags,
            opts=child,
        )

    def _instance_role(self, name, args: GpuCapacityArgs, tags, child) -> aws.iam.InstanceProfile:
        """The instance role (what the ECS agent calls, on this cluster only; the CloudWatch
        agent's configuration and metrics; with a warm pool the pre-pull and the launch
        hook) and its profile."""
        identity = aws.get_caller_identity_output()
        partition = aws.get_partition_output().partition
        account = identity.account_id
        cluster_arn = pulumi.Output.concat(
            "arn:", partition, ":ecs:", args.region, ":", account, ":cluster/", args.cluster_name
        )
        instances_arn = pulumi.Output.concat(
            "arn:",
            partition,
            ":ecs:",
            args.region,
            ":",
            account,
            ":container-instance/",
            args.cluster_name,
            "/*",
        )
        on_this_cluster = Condition(test="ArnEquals", variable="ecs:cluster", values=[cluster_arn])
        self.role = role_with_policy(
            f"{name}-instance",
            name=f"{args.name_prefix}-gpu-instance",
            description="ECS agent on the GPU instances: join this cluster, report task state",
            trust=aws.iam.get_policy_document_output(
                statements=[service_trust("ec2.amazonaws.com", account)]
            ).json,
            tags=tags,
            opts=child,
            policy=aws.iam.get_policy_document_output(
                statements=[
                    allow(
                        ["ecs:RegisterContainerInstance", "ecs:DeregisterContainerInstance"],
                        [cluster_arn],
                        sid="JoinThisCluster",
                    ),
                    allow(
                        [
                            "ecs:Poll",
                            "ecs:StartTelemetrySession",
                            "ecs:UpdateContainerInstancesState",
                        ],
                        [instances_arn],
                        sid="RunTasksOfThisCluster",
                        conditions=[on_this_cluster],
                    ),
                    # The state reports take the cluster as their resource and carry no
                    # ecs:cluster key (IAM service authorization reference, Amazon ECS):
                    # on instance ARNs or under that condition IAM would never allow them.
                    allow(
                        [
                            "ecs:SubmitAttachmentStateChanges",
                            "ecs:SubmitContainerStateChange",
                            "ecs:SubmitTaskStateChange",
                        ],
                        [cluster_arn],
                        sid="ReportTaskStateToThisCluster",
                    ),
                    allow(
                        ["ecs:TagResource"],
                        [instances_arn],
                        sid="TagOwnRegistration",
                        conditions=[
                            Condition(
                                test="StringEquals",
                                variable="ecs:CreateAction",
                                values=["RegisterContainerInstance"],
                            )
                        ],
                    ),
                    # DiscoverPollEndpoint has no resource-level permissions: AWS requires "*".
                    allow(["ecs:DiscoverPollEndpoint"], ["*"], sid="FindTheEcsEndpoint"),
                    *self._agent_statements(args),
                    *self._prepull_statements(args, partition, account),
                ]
            ).json,
        )
        profile = aws.iam.InstanceProfile(
            f"{name}-instance-profile",
            name=f"{args.name_prefix}-gpu-instance",
            role=self.role.name,
            tags=tags,
            opts=child,
        )

        return profile

    def _agent_statements(self, args: GpuCapacityArgs) -> list:
        """The CloudWatch agent: read its parameter, write metrics to the stack's namespace.

        PutMetricData has no resource type (IAM service authorization reference, Amazon
        CloudWatch): ``*``, narrowed by the ``cloudwatch:namespace`` condition key."""
        return [
            allow(["ssm:GetParameter"], [self.agent_parameter.arn], sid="ReadAgentConfig"),
            allow(
                ["cloudwatch:PutMetricData"],
                ["*"],
                sid="PutGpuMetrics",
                conditions=[
                    Condition(
                        test="StringEquals",
                        variable="cloudwatch:namespace",
                        values=[self.metric_namespace],
                    )
                ],
            ),
        ]

    @staticmethod
    def _prepull_statements(args: GpuCapacityArgs, partition, account) -> list:
        """With a warm pool: pull the GPU images from their repositories, and complete the
        launch hook of this stack's GPU group (its name is generated from the prefix, after
        this role exists, hence the pattern). GetAuthorizationToken and
        DescribeAutoScalingInstances have no resource type: ``*``."""
        if args.warm_pool_size <= 0:
            return []
        group_arn = pulumi.Output.concat(
            "arn:", partition, ":autoscaling:", args.region, ":", account,
            ":autoScalingGroup:*:autoScalingGroupName/", args.name_prefix, "-gpu-*",
        )  # fmt: skip
        statements = [
            allow(["ecr:GetAuthorizationToken"], ["*"], sid="LogInToEcr"),
            allow(["autoscaling:DescribeAutoScalingInstances"], ["*"], sid="FindOwnGroup"),
            allow(
                ["autoscaling:CompleteLifecycleAction"],
                [group_arn],
                sid="CompleteOwnLaunchHook",
            ),
        ]
        if args.prepull_repository_arns:
            statements.insert(
                1,
                allow(
                    [
                        "ecr:BatchCheckLayerAvailability",
                        "ecr:BatchGetImage",
                        "ecr:GetDownloadUrlForLayer",
                    ],
                    list(args.prepull_repository_arns),
                    sid="PrePullGpuImages",
                ),
            )
        return statements

    def _security_group(self, name, args: GpuCapacityArgs, tags, child) -> None:
        """The instances' group: the load balancer on the dynamic ports, HTTPS out."""
        low, high = DYNAMIC_PORTS
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description="GPU instances: the load balancer on the dynamic ports; HTTPS out",
            tags={**tags, "Name": f"{args.name_prefix}-gpu-instances"},
            opts=child,
        )
        security_groups.ingress_from(
            f"{name}-from-alb",
            group_id=self.security_group.id,
            source_id=args.load_balancer_security_group_id,
            ports=(low, high),
            description="Load balancer to bridge-mode tasks",
            opts=child,
        )
        security_groups.https_out(
            f"{name}-https-out",
            self.security_group.id,
            description="ECS, ECR, CloudWatch Logs, Secrets Manager, OS updates, AI providers and "
            "artefact hosts of the vision validator",
            opts=child,
        )

    def _launch_template(self, name, args: GpuCapacityArgs, profile, tags, child) -> None:
        """The launch template: ECS GPU AMI, IMDSv2 only, encrypted root volume."""
        ami = aws.ssm.get_parameter_output(name=GPU_AMI_PARAMETER)
        self.launch_template = aws.ec2.LaunchTemplate(
            f"{name}-launch-template",
            name_prefix=f"{args.name_prefix}-gpu-",
            description="ECS GPU-optimized Amazon Linux 2023, IMDSv2 only, encrypted root",
            image_id=ami.value,
            instance_type=args.instance_type,
            iam_instance_profile={"arn": profile.arn},
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": 1,
                "instance_metadata_tags": "disabled",
            },
            block_device_mappings=[
                {
                    "device_name": "/dev/xvda",
                    "ebs": {
                        "volume_size": args.root_volume_gib,
                        "volume_type": "gp3",
                        "encrypted": "true",
                        "delete_on_termination": "true",
                    },
                }
            ],
            network_interfaces=[
                {
                    "associate_public_ip_address": str(args.assign_public_ip).lower(),
                    "security_groups": [self.security_group.id],
                    "delete_on_termination": "true",
                }
            ],
            monitoring={"enabled": True},
            user_data=pulumi.Output.all(
                pulumi.Output.from_input(args.cluster_name), *args.prepull_images
            ).apply(
                # The launch template takes the first-boot script base64-encoded.
                lambda values: base64.b64encode(
                    gpu_instance.user_data(
                        values[0],
                        region=args.region,
                        agent_parameter=gpu_instance.parameter_name(args.name_prefix),
                        warm_pool=args.warm_pool_size > 0,
                        prepull_images=values[1:],
                    ).encode()
                ).decode()
            ),
            tag_specifications=[
                {"resource_type": kind, "tags": {**tags, "Name": f"{args.name_prefix}-gpu"}}
                for kind in ("instance", "volume")
            ],
            update_default_version=True,
            tags=tags,
            opts=child,
        )

    @staticmethod
    def _warm_pool(args: GpuCapacityArgs) -> dict | None:
        """The warm pool: ``warm_pool_size`` stopped instances at least, none when 0."""
        if args.warm_pool_size <= 0:
            return None
        return {
            # Stopped, not Hibernated: hibernation needs a root volume larger than the
            # instance's memory and hibernation in the launch template, for a start that
            # the ECS agent's registration dominates anyway.
            "pool_state": "Stopped",
            "min_size": args.warm_pool_size,
            # The pool holds max_instances minus the running ones, at least min_size.
            "max_group_prepared_capacity": args.max_instances,
            # No instance_reuse_policy: for an ECS group AWS refuses ReuseOnScaleIn
            # (Amazon ECS developer guide, "Configuring pre-initialized instances").
        }

    def _auto_scaling(self, name, args: GpuCapacityArgs, tags, child) -> None:
        """The Auto Scaling group (Spot by ``spot_percentage``) and its ECS capacity provider."""
        self.auto_scaling_group = aws.autoscaling.Group(
            f"{name}-asg",
            name_prefix=f"{args.name_prefix}-gpu-",
            min_size=args.min_instances,
            max_size=args.max_instances,
            vpc_zone_identifiers=args.subnet_ids,
            protect_from_scale_in=True,
            capacity_rebalance=args.spot_percentage > 0,
            health_check_type="EC2",
            warm_pool=self._warm_pool(args),
            # Auto Scaling stops a warm-pool instance as soon as it has launched, without
            # waiting for user data; the hook holds it until the pre-pull is done (Amazon EC2
            # Auto Scaling user guide, "Use lifecycle hooks with a warm pool"). The launch
            # script completes it at every boot, so a start from the pool does not wait.
            initial_lifecycle_hooks=(
                [
                    {
                        "name": gpu_instance.LAUNCH_HOOK,
                        "lifecycle_transition": "autoscaling:EC2_INSTANCE_LAUNCHING",
                        "default_result": "CONTINUE",
                        "heartbeat_timeout": gpu_instance.HOOK_TIMEOUT_SECONDS,
                    }
                ]
                if args.warm_pool_size
                else None
            ),
            # PutWarmPool refuses a group with a mixed instances policy.
            launch_template=(
                {"id": self.launch_template.id, "version": "$Latest"}
                if args.warm_pool_size
                else None
            ),
            mixed_instances_policy=None
            if args.warm_pool_size
            else {
                "instances_distribution": {
                    "on_demand_base_capacity": 0,
                    "on_demand_percentage_above_base_capacity": 100 - args.spot_percentage,
                    "spot_allocation_strategy": "price-capacity-optimized",
                },
                "launch_template": {
                    "launch_template_specification": {
                        "launch_template_id": self.launch_template.id,
                        "version": "$Latest",
                    },
                    "overrides": [{"instance_type": args.instance_type}],
                },
            },
            tags=[
                # ECS manages this group's capacity; the tag says so to the capacity provider.
                {"key": "AmazonECSManaged", "value": "true", "propagate_at_launch": True},
                *(
                    {"key": k, "value": v, "propagate_at_launch": True}
                    for k, v in sorted(tags.items())
                ),
            ],
            # The capacity provider owns the desired capacity.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desiredCapacity"]),
        )
        self.capacity_provider = aws.ecs.CapacityProvider(
            f"{name}-capacity-provider",
            name=f"{args.name_prefix}-gpu",
            auto_scaling_group_provider={
                "auto_scaling_group_arn": self.auto_scaling_group.arn,
                "managed_termination_protection": "ENABLED",
                "managed_draining": "ENABLED",
                "managed_scaling": {
                    "status": "ENABLED",
                    "target_capacity": 100,
                    "minimum_scaling_step_size": 1,
                    "maximum_scaling_step_size": max(1, args.max_instances),
                    "instance_warmup_period": 300,
                },
            },
            tags=tags,
            opts=child,
        )
