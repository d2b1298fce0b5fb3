"""The policy pack's rules, run over every resource the mocks capture for dev and prod."""

from __future__ import annotations

import json

import pytest

from offline.runner import ProgramRun
from policy import baseline
from policy.baseline import Resource


def resources(run: ProgramRun) -> list[Resource]:
    return [
        Resource(r.type, r.inputs, r.urn, tuple(r.options["depends_on"])) for r in run.resources
    ]


def test_dev_and_prod_pass_the_whole_baseline(dev_program, prod_program):
    # The rules have something to judge: open load balancer ports and buckets exist.
    open_rules = [
        r for r in prod_program.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs.get("cidrIpv4") == "0.0.0.0/0"
    ]  # fmt: skip
    assert open_rules and prod_program.of_type("aws:s3/bucket:Bucket")
    assert baseline.check_all(resources(prod_program)) == {}
    # Dev serves plain HTTP on purpose (no certificate): only that rule is relaxed.
    assert baseline.check_all(resources(dev_program), allow_plain_http=True) == {}


def test_dev_would_fail_the_https_rule_without_its_exemption(dev_program):
    found = baseline.check_all(resources(dev_program))
    assert set(found) == {"https-listeners"}


def test_the_pack_lists_every_rule():
    names = {p.name for p in baseline.POLICIES}
    assert names == {
        *baseline.RESOURCE_RULES,
        *baseline.STACK_RULES,
        "https-listeners",
        "aws-preflight",
        "aws-preflight-warnings",
    }


VIOLATIONS = [
    ("encryption-at-rest", "aws:rds/instance:Instance", {"storageEncrypted": False}),
    ("encryption-at-rest", "aws:rds/cluster:Cluster", {"engine": "aurora-postgresql"}),
    ("encryption-at-rest", "aws:dynamodb/table:Table", {"pointInTimeRecovery": {"enabled": True}}),
    ("encryption-at-rest", "aws:elasticache/replicationGroup:ReplicationGroup",
     {"atRestEncryptionEnabled": True, "transitEncryptionEnabled": False}),
    ("encryption-at-rest", "aws:sns/topic:Topic", {"name": "t"}),
    ("encryption-at-rest", "aws:ec2/launchTemplate:LaunchTemplate",
     {"blockDeviceMappings": [{"ebs": {"encrypted": "false"}}],
      "metadataOptions": {"httpTokens": "required"}}),
    ("sqs-sse", "aws:sqs/queue:Queue", {"sqsManagedSseEnabled": False}),
    ("no-public-databases", "aws:rds/instance:Instance",
     {"storageEncrypted": True, "publiclyAccessible": True}),
    ("no-public-databases", "aws:rds/clusterInstance:ClusterInstance",
     {"instanceClass": "db.serverless", "publiclyAccessible": True}),
    ("imdsv2", "aws:ec2/launchTemplate:LaunchTemplate",
     {"metadataOptions": {"httpTokens": "optional"}}),
    ("ecr-scan-immutable", "aws:ecr/repository:Repository",
     {"imageTagMutability": "MUTABLE", "imageScanningConfiguration": {"scanOnPush": True}}),
    ("ecr-scan-immutable", "aws:ecr/repository:Repository", {"imageTagMutability": "IMMUTABLE"}),
    ("log-retention", "aws:cloudwatch/logGroup:LogGroup", {"name": "/x"}),
    ("dynamodb-pitr", "aws:dynamodb/table:Table", {"serverSideEncryption": {"enabled": True}}),
    ("kms-rotation", "aws:kms/key:Key", {"enableKeyRotation": False}),
    ("no-plain-secrets", "aws:ecs/taskDefinition:TaskDefinition",
     {"containerDefinitions": json.dumps(
         [{"name": "app", "environment": [{"name": "DB_PASSWORD", "value": "hunter2"}]}])}),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "type_", "props"), VIOLATIONS,
                         ids=[f"{v[0]}-{v[1].split(':')[-1]}" for v in VIOLATIONS])  # fmt: skip
def test_each_resource_rule_reports_its_violation(rule, type_, props):
    found = baseline.check_all([Resource(type_, props, "urn:bad")])
    assert rule in found, found
    assert all(p.startswith("urn:bad: ") for p in found[rule])


def test_secret_names_ending_in_arn_or_id_are_not_secrets():
    environment = [
        {"name": "API_KEY_SECRET_ARN", "value": "a"},
        {"name": "KMS_KEY_ID", "value": "k"},
    ]
    definitions = [{"name": "app", "environment": environment}]
    props = {"containerDefinitions": json.dumps(definitions)}
    assert (
        baseline.no_secrets_in_plain_environment("aws:ecs/taskDefinition:TaskDefinition", props)
        == []
    )


def test_a_bucket_without_its_public_access_block_is_reported():
    bucket = Resource("aws:s3/bucket:Bucket", {}, "urn:bucket")
    sse = Resource(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        {}, "urn:sse", ("urn:bucket",),
    )  # fmt: skip
    (problem,) = baseline.buckets_are_private_and_encrypted([bucket, sse])
    assert "public-access-block" in problem
    half_open = Resource(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        {"blockPublicAcls": True, "blockPublicPolicy": False, "ignorePublicAcls": True,
         "restrictPublicBuckets": True}, "urn:pab", ("urn:bucket",),
    )  # fmt: skip
    assert baseline.buckets_are_private_and_encrypted([bucket, sse, half_open])


def test_internet_ingress_is_refused_off_a_load_balancer_or_off_80_443():
    group = Resource("aws:ec2/securityGroup:SecurityGroup", {}, "urn:sg")
    alb = Resource("aws:lb/loadBalancer:LoadBalancer", {"loadBalancerType": "application"},
                   "urn:alb", ("urn:sg",))  # fmt: skip
    https = Resource("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                     {"cidrIpv4": "0.0.0.0/0", "fromPort": 443, "toPort": 443}, "urn:r1",
                     ("urn:sg",))  # fmt: skip
    assert baseline.world_ingress_only_to_load_balancers([group, alb, https]) == []
    ssh = Resource("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                   {"cidrIpv4": "0.0.0.0/0", "fromPort": 22, "toPort": 22}, "urn:r2",
                   ("urn:sg",))  # fmt: skip
    assert baseline.world_ingress_only_to_load_balancers([group, alb, ssh])
    other = Resource("aws:ec2/securityGroup:SecurityGroup",
                     {"ingress": [{"cidrBlocks": ["0.0.0.0/0"], "fromPort": 443, "toPort": 443}]},
                     "urn:sg2")  # fmt: skip
    assert baseline.world_ingress_only_to_load_balancers([group, alb, other])


def test_plain_http_listeners_are_refused_unless_allowed():
    listener = "aws:lb/listener:Listener"
    plain = Resource(listener, {"protocol": "HTTP", "defaultActions": [{"type": "forward"}]},
                     "urn:l")  # fmt: skip
    redirect = Resource(listener, {"protocol": "HTTP", "defaultActions": [{"type": "redirect"}]},
                        "urn:r")  # fmt: skip
    assert baseline.https_listeners([plain, redirect], allow_plain_http=False) == [
        "urn:l serves plain HTTP; expected a redirect to HTTPS"
    ]
    assert baseline.https_listeners([plain], allow_plain_http=True) == []


def test_the_pack_files_are_there():
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2] / "policy"
    pack = yaml.safe_load((root / "PulumiPolicy.yaml").read_text())
    assert pack["runtime"]["name"] == "python"
    assert "PolicyPack(" in (root / "__main__.py").read_text()
