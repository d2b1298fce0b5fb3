"""GpuCapacity, as the inference stack registers it for the dev and prod stack files."""

from __future__ import annotations

import base64
import json

import pytest

from components.blocks.gpu_capacity import GPU_AMI_PARAMETER
from offline.mocks import ACCOUNT_ID, PlatformMocks

TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ASG = "aws:autoscaling/group:Group"
PROVIDER = "aws:ecs/capacityProvider:CapacityProvider"


@pytest.fixture(scope="module")
def dev(dev):
    return dev.subtree("inference-gpu")


@pytest.fixture(scope="module")
def prod(prod):
    return prod.subtree("inference-gpu")


def test_launch_template_uses_the_ecs_gpu_ami_from_ssm(each_stack):
    template = each_stack.one(TEMPLATE)
    assert GPU_AMI_PARAMETER.endswith("amazon-linux-2023/gpu/recommended/image_id")
    assert template.inputs["imageId"] == PlatformMocks.SSM_PARAMETERS[GPU_AMI_PARAMETER]
    assert template.inputs["instanceType"] == "g4dn.xlarge"


def test_imdsv2_is_required_and_out_of_reach_of_containers(each_stack):
    options = each_stack.one(TEMPLATE).inputs["metadataOptions"]
    assert options["httpTokens"] == "required"
    assert options["httpPutResponseHopLimit"] == 1


def test_root_volume_is_encrypted_gp3(each_stack):
    (mapping,) = each_stack.one(TEMPLATE).inputs["blockDeviceMappings"]
    assert mapping["ebs"] == {
        "volumeSize": 60, "volumeType": "gp3", "encrypted": "true", "deleteOnTermination": "true",
    }  # fmt: skip


def test_user_data_joins_the_cluster_with_gpu_support_and_spot_draining(each_stack):
    script = base64.b64decode(each_stack.one(TEMPLATE).inputs["userData"]).decode()
    assert f"ECS_CLUSTER=mlplatform-{each_stack.stack}-inference" in script
    for line in ("ECS_ENABLE_GPU_SUPPORT=true", "ECS_ENABLE_SPOT_INSTANCE_DRAINING=true",
                 "ECS_AWSVPC_BLOCK_IMDS=true"):  # fmt: skip
        assert line in script.splitlines()
    assert script.startswith("#!/bin/bash\n")


def test_dev_instances_get_public_ips_in_public_subnets(dev, prod):
    (dev_nic,) = dev.one(TEMPLATE).inputs["networkInterfaces"]
    (prod_nic,) = prod.one(TEMPLATE).inputs["networkInterfaces"]
    assert dev_nic["associatePublicIpAddress"] == "true"
    assert prod_nic["associatePublicIpAddress"] == "false"
    assert all(s.startswith("subnet-pub") for s in dev.one(ASG).inputs["vpcZoneIdentifiers"])
    assert all(s.startswith("subnet-prv") for s in prod.one(ASG).inputs["vpcZoneIdentifiers"])


def test_group_may_be_empty_is_protected_from_scale_in_and_managed_by_ecs(dev, prod):
    for run, (low, high) in ((dev, (0, 1)), (prod, (1, 4))):
        group = run.one(ASG)
        assert (group.inputs["minSize"], group.inputs["maxSize"]) == (low, high)
        assert group.inputs["protectFromScaleIn"] is True
        assert {"key": "AmazonECSManaged", "value": "true", "propagateAtLaunch": True} in (
            group.inputs["tags"]
        )
        assert group.options["ignore_changes"] == ["desiredCapacity"]


def test_spot_share_is_price_capacity_optimized(dev, run_stack):
    dev_mix = dev.one(ASG).inputs["mixedInstancesPolicy"]["instancesDistribution"]
    # prod's warm pool needs a group without a mixed policy: this prod is without one.
    prod = run_stack("prod", {"inference.warm_pool_size": 0}).subtree("inference-gpu")
    prod_mix = prod.one(ASG).inputs["mixedInstancesPolicy"]["instancesDistribution"]
    assert dev_mix["onDemandPercentageAboveBaseCapacity"] == 0  # dev: 100 % Spot
    assert prod_mix["onDemandPercentageAboveBaseCapacity"] == 100
    assert dev_mix["spotAllocationStrategy"] == "price-capacity-optimized"
    assert dev.one(ASG).inputs["capacityRebalance"] is True


def test_capacity_provider_manages_scaling_termination_protection_and_draining(each_stack):
    provider = each_stack.one(PROVIDER).inputs["autoScalingGroupProvider"]
    assert provider["autoScalingGroupArn"] == each_stack.one(ASG).outputs["arn"]
    assert provider["managedTerminationProtection"] == "ENABLED"
    assert provider["managedDraining"] == "ENABLED"
    assert provider["managedScaling"]["status"] == "ENABLED"
    assert provider["managedScaling"]["targetCapacity"] == 100


def test_instances_accept_only_the_load_balancer_on_the_dynamic_ports(each_stack, request):
    ingress = each_stack.one("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    group = each_stack.named("inference-gpu-sg")
    assert ingress.inputs["securityGroupId"] == group.id
    assert (ingress.inputs["fromPort"], ingress.inputs["toPort"]) == (32768, 65535)
    assert "cidrIpv4" not in ingress.inputs
    assert ingress.inputs["referencedSecurityGroupId"].startswith("sg-")
    egress = each_stack.one("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    assert (egress.inputs["fromPort"], egress.inputs["toPort"]) == (443, 443)


def test_instance_role_lets_the_agent_work_on_this_cluster_only(each_stack):
    role = each_stack.named("inference-gpu-instance-role")
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "ec2.amazonaws.com"}
    stack = each_stack.stack
    cluster = f"arn:aws:ecs:us-east-1:{ACCOUNT_ID}:cluster/mlplatform-{stack}-inference"
    instances = (
        f"arn:aws:ecs:us-east-1:{ACCOUNT_ID}:container-instance/mlplatform-{stack}-inference/*"
    )
    document = json.loads(each_stack.named("inference-gpu-instance-policy").inputs["policy"])
    for statement in document["Statement"]:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert not any("*" in a for a in actions)
        if statement["Resource"] == "*":
            assert actions == ["ecs:DiscoverPollEndpoint"]
        else:
            assert statement["Resource"] in (cluster, instances)
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    assert by_sid["RunTasksOfThisCluster"]["Condition"] == {"ArnEquals": {"ecs:cluster": cluster}}


def _warm_pool_check(run) -> bool:
    script = base64.b64decode(run.one(TEMPLATE).inputs["userData"]).decode()
    return "ECS_WARM_POOLS_CHECK=true" in script.splitlines()


def test_prod_keeps_one_stopped_instance_in_a_warm_pool_of_an_on_demand_group(prod):
    group = prod.one(ASG).inputs
    assert group["warmPool"] == {
        "poolState": "Stopped",
        "minSize": 1,
        "maxGroupPreparedCapacity": 4,
    }
    # PutWarmPool refuses a mixed instances policy: the group names its template directly.
    assert "mixedInstancesPolicy" not in group
    assert group["launchTemplate"] == {"id": prod.one(TEMPLATE).id, "version": "$Latest"}
    # Pool instances must not register with the cluster while warming up or stopped.
    assert _warm_pool_check(prod)


def test_a_warm_pool_size_of_zero_registers_no_warm_pool(dev):
    assert "warmPool" not in dev.one(ASG).inputs
    assert not _warm_pool_check(dev)


def test_the_warm_pool_is_sized_by_config_in_dev(run_stack):
    run = run_stack("dev", {"inference.warm_pool_size": 1, "inference.spot_percentage": 0}).subtree(
        "inference-gpu"
    )
    assert run.one(ASG).inputs["warmPool"] == {
        "poolState": "Stopped",
        "minSize": 1,
        "maxGroupPreparedCapacity": 1,
    }
    assert _warm_pool_check(run)


def test_warm_pool_size_zero_in_prod_registers_none(run_stack):
    run = run_stack("prod", {"inference.warm_pool_size": 0}).subtree("inference-gpu")
    assert "warmPool" not in run.one(ASG).inputs
    assert not _warm_pool_check(run)
