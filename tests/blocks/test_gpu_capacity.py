"""GpuCapacity, as the inference stack registers it for the dev and prod stack files."""

from __future__ import annotations

import base64
import json

import pytest

from components.blocks.gpu_capacity import GPU_AMI_PARAMETER
from components.lib import gpu_instance
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
        if not all(a.startswith("ecs:") for a in actions):
            continue  # the CloudWatch agent's and the pre-pull's: tests below
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


def _user_data(run) -> str:
    return base64.b64decode(run.one(TEMPLATE).inputs["userData"]).decode()


def _statements(run) -> dict[str, dict]:
    document = json.loads(run.named("inference-gpu-instance-policy").inputs["policy"])
    return {s["Sid"]: s for s in document["Statement"]}


def test_the_cloudwatch_agent_config_is_an_ssm_parameter_of_gpu_metrics(each_stack):
    parameter = each_stack.one("aws:ssm/parameter:Parameter")
    stack = each_stack.stack
    assert parameter.inputs["name"] == f"/mlplatform-{stack}/gpu/cloudwatch-agent"
    assert parameter.inputs["type"] == "String"
    config = json.loads(parameter.inputs["value"])
    assert config["metrics"]["namespace"] == f"mlplatform-{stack}/GPU"
    assert config["metrics"]["metrics_collected"] == {
        "nvidia_gpu": {
            "measurement": ["utilization_gpu", "memory_used", "memory_total"],
            "metrics_collection_interval": 60,
        }
    }
    # Per instance, from the metadata: no ec2:DescribeTags needed (AutoScalingGroupName would).
    assert config["metrics"]["append_dimensions"] == {"InstanceId": "${aws:InstanceId}"}
    assert "logs" not in config
    # Standard parameters hold at most 4 KB.
    assert len(parameter.inputs["value"].encode()) <= 4096


def test_user_data_installs_and_starts_the_agent_from_its_parameter(each_stack):
    lines = _user_data(each_stack).splitlines()
    name = f"/mlplatform-{each_stack.stack}/gpu/cloudwatch-agent"
    assert (
        "rpm -q amazon-cloudwatch-agent >/dev/null || dnf install -y amazon-cloudwatch-agent"
        in lines
    )
    assert (
        "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config "
        f"-m ec2 -c ssm:{name} -s"
    ) in lines
    # The ECS agent's configuration is written before anything that may fail.
    assert lines.index("EOF") < lines.index(next(x for x in lines if "fetch-config" in x))


def test_the_instance_role_reads_that_parameter_and_writes_that_namespace_only(each_stack):
    stack = each_stack.stack
    by_sid = _statements(each_stack)
    parameter = each_stack.one("aws:ssm/parameter:Parameter")
    assert parameter.outputs["arn"] == (
        f"arn:aws:ssm:us-east-1:{ACCOUNT_ID}:parameter/mlplatform-{stack}/gpu/cloudwatch-agent"
    )
    assert by_sid["ReadAgentConfig"] == {
        "Sid": "ReadAgentConfig", "Effect": "Allow", "Action": "ssm:GetParameter",
        "Resource": parameter.outputs["arn"],
    }  # fmt: skip
    assert by_sid["PutGpuMetrics"] == {
        "Sid": "PutGpuMetrics", "Effect": "Allow", "Action": "cloudwatch:PutMetricData",
        "Resource": "*",
        "Condition": {"StringEquals": {"cloudwatch:namespace": f"mlplatform-{stack}/GPU"}},
    }  # fmt: skip
    assert not any(a.startswith("logs:") for s in by_sid.values() for a in _actions(s))


def _actions(statement) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def test_dev_without_a_warm_pool_neither_pre_pulls_nor_hooks_the_launch(dev):
    script = _user_data(dev)
    assert gpu_instance.HOOK_UNIT not in script
    assert "docker pull" not in script
    assert "initialLifecycleHooks" not in dev.one(ASG).inputs
    by_sid = _statements(dev)
    assert not {"LogInToEcr", "PrePullGpuImages", "CompleteOwnLaunchHook"} & set(by_sid)


def test_prod_warm_pool_instances_pre_pull_the_gpu_image_before_they_stop(prod, prod_program):
    script = _user_data(prod)
    task = prod_program.named("inference-vision-validator-task")
    (container,) = json.loads(task.inputs["containerDefinitions"])
    image = container["image"]
    registry = image.split("/", 1)[0]
    assert registry.endswith(".dkr.ecr.us-east-1.amazonaws.com")
    lines = script.splitlines()
    # The lifecycle check, then the login and the pull of exactly the task's image.
    assert '  state=$(imds autoscaling/target-lifecycle-state) && [ -n "$state" ] && break' in lines
    assert lines.index("Warmed:*)") < lines.index(
        "  aws ecr get-login-password --region us-east-1 | docker login --username AWS "
        f"--password-stdin {registry}"
    )
    assert f"  for image in {image}; do" in lines
    assert "ai-inference" not in script  # a Fargate service's image is not pulled here
    # Then the launch hook is completed, whatever the state.
    assert lines.index("esac") < lines.index(
        next(x for x in lines if x.startswith("aws autoscaling complete-lifecycle-action"))
    )
    assert f"systemctl enable {gpu_instance.HOOK_UNIT}" in lines
    assert f"systemctl start --no-block {gpu_instance.HOOK_UNIT}" in lines


def test_prod_group_holds_launches_in_a_hook_the_script_completes(prod):
    (hook,) = prod.one(ASG).inputs["initialLifecycleHooks"]
    assert hook == {
        "name": "gpu-prepull",
        "lifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
        "defaultResult": "CONTINUE",
        "heartbeatTimeout": 900,
    }
    assert "--lifecycle-hook-name gpu-prepull " in _user_data(prod)


def test_prod_instance_role_may_pull_the_gpu_repository_and_complete_its_own_hook(
    prod, prod_program
):
    by_sid = _statements(prod)
    repository = prod_program.named("inference-vision-validator-image-repo")
    assert by_sid["LogInToEcr"]["Action"] == "ecr:GetAuthorizationToken"
    assert by_sid["LogInToEcr"]["Resource"] == "*"
    assert sorted(_actions(by_sid["PrePullGpuImages"])) == [
        "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
    ]  # fmt: skip
    assert by_sid["PrePullGpuImages"]["Resource"] == repository.outputs["arn"]
    assert by_sid["FindOwnGroup"]["Action"] == "autoscaling:DescribeAutoScalingInstances"
    assert by_sid["FindOwnGroup"]["Resource"] == "*"
    assert by_sid["CompleteOwnLaunchHook"]["Action"] == "autoscaling:CompleteLifecycleAction"
    assert by_sid["CompleteOwnLaunchHook"]["Resource"] == (
        f"arn:aws:autoscaling:us-east-1:{ACCOUNT_ID}:autoScalingGroup:*:"
        "autoScalingGroupName/mlplatform-prod-gpu-*"
    )
    group = prod.one(ASG)
    assert group.outputs["name"].startswith("mlplatform-prod-gpu-")
