"""NetworkStack: the VPC every other stack of the platform runs in."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

from components.config.settings import Settings
from components.lib import cidr as cidr_math
from components.lib.policies import allow, service_trust
from components.parts.iam import role_with_policy
from components.stacks.common import StackCommon

# Interface endpoints that let tasks in private subnets pull images, write logs, read
# secrets and use SQS without a NAT gateway.
INTERFACE_ENDPOINT_SERVICES = ("ecr.api", "ecr.dkr", "logs", "secretsmanager", "sqs")
GATEWAY_ENDPOINT_SERVICES = ("s3", "dynamodb")

_NAT_STRATEGIES = {
    "none": awsx.ec2.NatGatewayStrategy.NONE,
    "single": awsx.ec2.NatGatewayStrategy.SINGLE,
    "one_per_az": awsx.ec2.NatGatewayStrategy.ONE_PER_AZ,
}


@dataclass(frozen=True)
class NetworkArgs:
    """Inputs of :class:`NetworkStack`; plain values, because they decide what exists."""

    common: StackCommon
    """Name prefix, region (in endpoint service names), tags and log retention (of the
    flow log group). Required."""
    cidr: str = "10.0.0.0/16"
    """VPC range. Default ``10.0.0.0/16``."""
    az_count: int = 3
    """AZs the subnets span. Default 3."""
    nat_strategy: str = "one_per_az"
    """``none``, ``single`` or ``one_per_az``. Default ``one_per_az``."""
    interface_endpoints: bool = True
    """Create the interface endpoints in the private subnets. Default true."""
    flow_log_traffic_type: str = "ALL"
    """Traffic the flow log records. Default ``ALL``."""

    @classmethod
    def from_settings(cls, settings: Settings, audit=None) -> NetworkArgs:
        n = settings.network
        return cls(
            common=StackCommon.from_settings(settings, "network", audit),
            cidr=n.cidr,
            az_count=n.az_count,
            nat_strategy=n.nat_strategy,
            interface_endpoints=n.interface_endpoints,
            flow_log_traffic_type=n.flow_log_traffic_type,
        )


class NetworkStack(pulumi.ComponentResource):
    """A VPC over 2-3 AZs with public and private subnets.

    Creates: an ``awsx.ec2.Vpc`` (subnets, route tables, internet gateway and the NAT
    gateways of the NAT strategy); S3 and DynamoDB gateway endpoints on every route table
    (free, and they keep bulk traffic off NAT); optionally the interface endpoints of
    :data:`INTERFACE_ENDPOINT_SERVICES` with a security group that admits HTTPS from the
    VPC only; a VPC flow log to a CloudWatch log group with retention, written by a role
    that may write to that group only; and the VPC's default security group with every
    rule removed (AWS FSBP EC2.2), so nothing lands in it by accident.
    """

    TYPE = "mlplatform:network:NetworkStack"

    vpc: awsx.ec2.Vpc
    """The awsx VPC component."""
    vpc_id: pulumi.Output[str]
    """ID of the VPC."""
    vpc_cidr: str
    """The VPC's IPv4 range."""
    public_subnet_ids: pulumi.Output[list[str]]
    """One public subnet per AZ: load balancers and NAT gateways."""
    private_subnet_ids: pulumi.Output[list[str]]
    """One private subnet per AZ: workloads, when they have NAT or endpoints."""
    workload_subnet_ids: pulumi.Output[list[str]]
    """Where tasks should run: private subnets with NAT, else public ones (dev)."""
    workloads_need_public_ip: bool
    """True when tasks run in public subnets and need a public IP to reach AWS APIs."""
    endpoint_security_group: aws.ec2.SecurityGroup | None
    """Security group of the interface endpoints, if any."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(self.TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.common.tags)

        self._vpc(name, args, tags, child)
        self._endpoints(name, args, tags, child)
        self._flow_log(name, args, tags, child)
        self._default_security_group(name, args, tags, child)

        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
            }
        )

    def _vpc(self, name, args: NetworkArgs, tags, child) -> None:
        """The awsx VPC: public and private subnets per AZ, NAT by the strategy."""
        layout = cidr_math.subnet_layout(args.cidr, args.az_count)
        self.vpc = awsx.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            number_of_availability_zones=args.az_count,
            subnet_strategy=awsx.ec2.SubnetAllocationStrategy.AUTO,
            subnet_specs=[
                awsx.ec2.SubnetSpecArgs(
                    type=awsx.ec2.SubnetType.PRIVATE, name="private", cidr_mask=layout.private_mask
                ),
                awsx.ec2.SubnetSpecArgs(
                    type=awsx.ec2.SubnetType.PUBLIC, name="public", cidr_mask=layout.public_mask
                ),
            ],
            nat_gateways=awsx.ec2.NatGatewayConfigurationArgs(
                strategy=_NAT_STRATEGIES[args.nat_strategy]
            ),
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={**tags, "Name": f"{args.common.name_prefix}-vpc"},
            opts=child,
        )
        self.vpc_id = self.vpc.vpc_id
        self.vpc_cidr = args.cidr
        self.public_subnet_ids = self.vpc.public_subnet_ids
        self.private_subnet_ids = self.vpc.private_subnet_ids
        self.workloads_need_public_ip = args.nat_strategy == "none"
        self.workload_subnet_ids = (
            self.public_subnet_ids if self.workloads_need_public_ip else self.private_subnet_ids
        )

    def _endpoints(self, name, args: NetworkArgs, tags, child) -> None:
        """The gateway endpoints, and the interface endpoints with their security group."""
        route_table_ids = self.vpc.route_tables.apply(
            lambda tables: pulumi.Output.all(*[t.id for t in tables])
        )
        self.gateway_endpoints = [
            aws.ec2.VpcEndpoint(
                f"{name}-{service}-endpoint",
                vpc_id=self.vpc_id,
                service_name=f"com.amazonaws.{args.common.region}.{service}",
                vpc_endpoint_type="Gateway",
                route_table_ids=route_table_ids,
                tags={**tags, "Name": f"{args.common.name_prefix}-{service}"},
                opts=child,
            )
            for service in GATEWAY_ENDPOINT_SERVICES
        ]

        self.endpoint_security_group = None
        self.interface_endpoints: list[aws.ec2.VpcEndpoint] = []
        if args.interface_endpoints:
            self.endpoint_security_group = aws.ec2.SecurityGroup(
                f"{name}-endpoints-sg",
                vpc_id=self.vpc_id,
                description="HTTPS from inside the VPC to the interface endpoints",
                ingress=[
                    aws.ec2.SecurityGroupIngressArgs(
                        description="HTTPS from the VPC",
                        protocol="tcp",
                        from_port=443,
                        to_port=443,
                        cidr_blocks=[args.cidr],
                    )
                ],
                # Endpoints answer; they never open connections.
                egress=[],
                tags={**tags, "Name": f"{args.common.name_prefix}-endpoints"},
                opts=child,
            )
            self.interface_endpoints = [
                aws.ec2.VpcEndpoint(
                    f"{name}-{service.replace('.', '-')}-endpoint",
                    vpc_id=self.vpc_id,
                    service_name=f"com.amazonaws.{args.common.region}.{service}",
                    vpc_endpoint_type="Interface",
                    private_dns_enabled=True,
                    subnet_ids=self.private_subnet_ids,
                    security_group_ids=[self.endpoint_security_group.id],
                    tags={**tags, "Name": f"{args.common.name_prefix}-{service}"},
                    opts=child,
                )
                for service in INTERFACE_ENDPOINT_SERVICES
            ]

    def _flow_log(self, name, args: NetworkArgs, tags, child) -> None:
        """The VPC flow log, its log group and the role that may write to that group only."""
        self.flow_log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=f"/vpc/{args.common.name_prefix}/flow-logs",
            retention_in_days=args.common.log_retention_days,
            kms_key_id=args.common.log_key_arn,
            tags=tags,
            opts=child,
        )
        identity = aws.get_caller_identity_output()
        # Confused-deputy guard: only flow logs of this account may assume it.
        assume = aws.iam.get_policy_document_output(
            statements=[service_trust("vpc-flow-logs.amazonaws.com", identity.account_id)]
        )
        write_logs = aws.iam.get_policy_document_output(
            statements=[
                allow(
                    ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    [self.flow_log_group.arn.apply(lambda arn: f"{arn}:*")],
                )
            ]
        )
        self.flow_log_role = role_with_policy(
            f"{name}-flow-logs",
            description="Lets VPC flow logs write to their one log group",
            trust=assume.json,
            tags=tags,
            opts=child,
            policy=write_logs.json,
        )
        self.flow_log = aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=self.vpc_id,
            traffic_type=args.flow_log_traffic_type,
            log_destination_type="cloud-watch-logs",
            log_destination=self.flow_log_group.arn,
            iam_role_arn=self.flow_log_role.arn,
            max_aggregation_interval=60,
            tags=tags,
            opts=child,
        )

    def _default_security_group(self, name, args: NetworkArgs, tags, child) -> None:
        """The VPC's default security group, with every rule removed."""
        # Adopting the default security group with no rules strips the allow-all rules AWS
        # puts on it.
        self.default_security_group = aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=self.vpc_id,
            ingress=[],
            egress=[],
            tags={**tags, "Name": f"{args.common.name_prefix}-default-locked"},
            opts=child,
        )
