"""NetworkStack, as the real program registers it for the dev and prod stack files."""

from __future__ import annotations

import json

import pytest

from components.stacks.network import GATEWAY_ENDPOINT_SERVICES, INTERFACE_ENDPOINT_SERVICES

VPC = "awsx:ec2:Vpc"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
NETWORK = "mlplatform:network:NetworkStack"


@pytest.fixture(scope="module")
def dev(dev):
    """The network component of the real dev stack (other stacks are their own tests)."""
    return dev.subtree("network")


@pytest.fixture(scope="module")
def prod(prod):
    """The network component of the real prod stack."""
    return prod.subtree("network")


def endpoints(run, kind):
    return [r for r in run.of_type(ENDPOINT) if r.inputs["vpcEndpointType"] == kind]


def test_dev_has_no_nat_gateway(dev):
    vpc = dev.one(VPC)
    assert vpc.inputs["natGateways"] == {"strategy": "None"}
    assert vpc.inputs["numberOfAvailabilityZones"] == 2
    assert not dev.of_type("aws:ec2/natGateway:NatGateway")


def test_prod_has_one_nat_gateway_per_az_over_three_azs(prod):
    vpc = prod.one(VPC)
    assert vpc.inputs["natGateways"] == {"strategy": "OnePerAz"}
    assert vpc.inputs["numberOfAvailabilityZones"] == 3


def test_nat_strategy_single_is_passed_through(run_stack):
    run = run_stack("dev", {"network.nat_strategy": "single"})
    assert run.one(VPC).inputs["natGateways"] == {"strategy": "Single"}


def test_vpc_has_private_and_public_subnets_sized_from_the_cidr(each_stack):
    vpc = each_stack.one(VPC)
    specs = {s["type"]: s for s in vpc.inputs["subnetSpecs"]}
    assert set(specs) == {"Private", "Public"}
    assert vpc.inputs["subnetStrategy"] == "Auto"
    assert specs["Private"]["cidrMask"] < specs["Public"]["cidrMask"]
    assert vpc.inputs["enableDnsHostnames"] and vpc.inputs["enableDnsSupport"]


def test_vpc_cidr_comes_from_config(dev, prod):
    assert dev.one(VPC).inputs["cidrBlock"] == "10.20.0.0/16"
    assert prod.one(VPC).inputs["cidrBlock"] == "10.30.0.0/16"


def test_s3_and_dynamodb_gateway_endpoints_on_every_route_table(each_stack):
    gateways = endpoints(each_stack, "Gateway")
    assert sorted(g.inputs["serviceName"] for g in gateways) == sorted(
        f"com.amazonaws.us-east-1.{s}" for s in GATEWAY_ENDPOINT_SERVICES
    )
    azs = int(each_stack.one(VPC).inputs["numberOfAvailabilityZones"])
    for gateway in gateways:
        tables = gateway.inputs["routeTableIds"]
        assert len(tables) == 2 * azs and all(t.startswith("rtb-") for t in tables)
        assert gateway.inputs["vpcId"] == each_stack.outputs["vpc_id"]


def test_dev_has_no_interface_endpoints(dev):
    assert endpoints(dev, "Interface") == []
    assert dev.of_type("aws:ec2/securityGroup:SecurityGroup") == []


def test_prod_has_interface_endpoints_in_private_subnets(prod):
    interface = endpoints(prod, "Interface")
    assert sorted(e.inputs["serviceName"] for e in interface) == sorted(
        f"com.amazonaws.us-east-1.{s}" for s in INTERFACE_ENDPOINT_SERVICES
    )
    group = prod.one("aws:ec2/securityGroup:SecurityGroup")
    for endpoint in interface:
        assert endpoint.inputs["privateDnsEnabled"] is True
        assert endpoint.inputs["subnetIds"] == prod.outputs["private_subnet_ids"]
        assert endpoint.inputs["securityGroupIds"] == [group.id]


def test_endpoint_security_group_admits_https_from_the_vpc_only(prod):
    group = prod.one("aws:ec2/securityGroup:SecurityGroup")
    assert group.inputs["ingress"] == [
        {
            "description": "HTTPS from the VPC",
            "protocol": "tcp",
            "fromPort": 443,
            "toPort": 443,
            "cidrBlocks": ["10.30.0.0/16"],
        }
    ]
    assert group.inputs["egress"] == []


def test_flow_log_records_to_its_log_group_in_both_stacks(each_stack):
    flow_log = each_stack.one("aws:ec2/flowLog:FlowLog")
    group = each_stack.one("aws:cloudwatch/logGroup:LogGroup")
    role = each_stack.one("aws:iam/role:Role")
    assert flow_log.inputs["vpcId"] == each_stack.outputs["vpc_id"]
    assert flow_log.inputs["logDestinationType"] == "cloud-watch-logs"
    assert flow_log.inputs["logDestination"] == group.outputs["arn"]
    assert flow_log.inputs["iamRoleArn"] == role.outputs["arn"]


def test_flow_log_traffic_and_retention_follow_config(dev, prod):
    assert dev.one("aws:ec2/flowLog:FlowLog").inputs["trafficType"] == "REJECT"
    assert prod.one("aws:ec2/flowLog:FlowLog").inputs["trafficType"] == "ALL"
    assert dev.one("aws:cloudwatch/logGroup:LogGroup").inputs["retentionInDays"] == 30
    assert prod.one("aws:cloudwatch/logGroup:LogGroup").inputs["retentionInDays"] == 365


def test_flow_log_role_is_assumable_only_by_this_accounts_flow_logs(each_stack):
    trust = json.loads(each_stack.one("aws:iam/role:Role").inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_flow_log_role_may_write_only_to_its_log_group(each_stack):
    group = each_stack.one("aws:cloudwatch/logGroup:LogGroup")
    policy = json.loads(each_stack.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Action"]) == [
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
    ]
    assert statement["Resource"] == f"{group.outputs['arn']}:*"
    assert "*" not in json.dumps(statement["Action"])


def test_default_security_group_has_no_rules(each_stack):
    default = each_stack.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default.inputs["vpcId"] == each_stack.outputs["vpc_id"]
    assert default.inputs.get("ingress", []) == []
    assert default.inputs.get("egress", []) == []


def test_every_child_is_parented_to_the_network_component(each_stack):
    network = each_stack.one(NETWORK)
    assert network.parent.endswith("pulumi:pulumi:Stack::mlplatform-" + each_stack.stack)
    others = [r for r in each_stack.resources if r is not network]
    assert others and all(r.parent == network.urn for r in others)


def test_child_names_are_fixed(dev, prod):
    expected_dev = {
        "network", "network-vpc", "network-s3-endpoint", "network-dynamodb-endpoint",
        "network-flow-logs", "network-flow-logs-role", "network-flow-logs-policy",
        "network-flow-log", "network-default-sg",
    }  # fmt: skip
    assert {r.name for r in dev.resources} == expected_dev
    extra_prod = {"network-endpoints-sg"} | {
        f"network-{s.replace('.', '-')}-endpoint" for s in INTERFACE_ENDPOINT_SERVICES
    }
    assert {r.name for r in prod.resources} == expected_dev | extra_prod


TAGGABLE_BUT_UNTAGGED = {"aws:iam/rolePolicy:RolePolicy", NETWORK}


def test_every_taggable_resource_carries_the_base_tags(each_stack):
    for resource in each_stack.resources:
        if resource.type in TAGGABLE_BUT_UNTAGGED:
            continue
        tags = resource.inputs.get("tags")
        assert tags, f"{resource.name} has no tags"
        assert tags["project"] == "mlplatform", resource.name
        assert tags["environment"] == each_stack.stack, resource.name
        assert tags["stack"] == each_stack.stack, resource.name
        assert tags["component"] == "network", resource.name


def test_stack_outputs_name_the_vpc_and_subnets(each_stack):
    outputs = each_stack.outputs
    azs = int(each_stack.one(VPC).inputs["numberOfAvailabilityZones"])
    assert outputs["vpc_id"].startswith("vpc-")
    assert len(outputs["public_subnet_ids"]) == len(outputs["private_subnet_ids"]) == azs
    assert not each_stack.secret_outputs


def test_network_switch_off_registers_nothing(run_stack):
    run = run_stack("dev", {"stacks": {"network": False}})
    assert run.resources == []
    assert run.outputs == {}


def test_no_resource_is_protected_yet(each_stack):
    # The network holds no data; protection belongs to the stateful stacks.
    assert not any(r.options["protect"] for r in each_stack.resources)
