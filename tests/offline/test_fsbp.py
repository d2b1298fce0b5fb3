"""FSBP controls as rules: each tested on a complying and a violating resource, then the stacks."""

from __future__ import annotations

import re

import pytest

from offline import fsbp
from offline.mocks import RecordedResource


def resource(type_, name, inputs, outputs=None, id_=None):
    return RecordedResource(type_, name, f"urn:{name}", id_ or name, inputs, frozenset(),
                            outputs or {}, "", True, False, {})  # fmt: skip


def verdict(control_id, *resources):
    """(judged resource names, failing names) of one control over ``resources``."""
    outcome = next(o for o in fsbp.check(resources) if o.control.id == control_id)
    return outcome.judged, [name for name, _ in outcome.failures]


def test_control_ids_are_unique_and_in_aws_form():
    fsbp.check([])  # registers the rules
    ids = [c.id for c in fsbp.CONTROLS]
    assert len(ids) == len(set(ids)) > 50
    assert all(re.fullmatch(r"[A-Za-z0-9]+\.\d+", i) for i in ids)


def test_a_control_without_resources_is_not_applicable():
    outcomes = fsbp.check([])
    assert fsbp.summary(outcomes) == (0, 0)


def _bucket(name):
    return resource("aws:s3/bucket:Bucket", name, {}, {"bucket": f"{name}-x"}, id_=f"{name}-id")


def test_s3_8_needs_all_four_public_access_settings():
    good, bad = _bucket("good"), _bucket("bad")
    blocks = [
        resource("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{b.name}-pab",
                 {"bucket": b.id, "blockPublicAcls": True, "blockPublicPolicy": True,
                  "ignorePublicAcls": True, "restrictPublicBuckets": b is good})
        for b in (good, bad)
    ]  # fmt: skip
    assert verdict("S3.8", good, bad, *blocks) == (["good", "bad"], ["bad"])


def test_s3_5_wants_a_deny_of_insecure_transport():
    good, bad = _bucket("good"), _bucket("bad")
    policy = ('{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",'
              ' "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}')  # fmt: skip
    tls = resource("aws:s3/bucketPolicy:BucketPolicy", "tls", {"bucket": good.id, "policy": policy})
    assert verdict("S3.5", good, bad, tls) == (["good", "bad"], ["bad"])


def test_ec2_19_fails_a_high_risk_port_open_to_the_internet_only():
    web = resource("aws:ec2/securityGroup:SecurityGroup", "web", {}, id_="sg-web")
    db = resource("aws:ec2/securityGroup:SecurityGroup", "db", {}, id_="sg-db")
    rules = [
        resource("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "https",
                 {"securityGroupId": "sg-web", "cidrIpv4": "0.0.0.0/0", "fromPort": 443,
                  "toPort": 443, "ipProtocol": "tcp"}),
        resource("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "pg",
                 {"securityGroupId": "sg-db", "cidrIpv4": "0.0.0.0/0", "fromPort": 5432,
                  "toPort": 5432, "ipProtocol": "tcp"}),
    ]  # fmt: skip
    assert verdict("EC2.19", web, db, *rules) == (["web", "db"], ["db"])
    assert verdict("EC2.18", web, db, *rules) == (["web", "db"], ["db"])


def test_ec2_2_wants_the_vpcs_default_security_group_adopted_without_rules():
    vpc = resource("awsx:ec2:Vpc", "vpc", {}, {"vpcId": "vpc-1"})
    vpc.custom = False
    assert verdict("EC2.2", vpc) == (["vpc"], ["vpc"])
    locked = resource("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "default",
                      {"vpcId": "vpc-1", "ingress": [], "egress": []})  # fmt: skip
    assert verdict("EC2.2", vpc, locked) == (["vpc"], [])


def test_elb_1_wants_every_http_listener_of_an_alb_to_redirect_to_https():
    alb = resource("aws:lb/loadBalancer:LoadBalancer", "alb", {}, {"arn": "arn:alb"})
    plain = resource("aws:lb/listener:Listener", "http",
                     {"loadBalancerArn": "arn:alb", "protocol": "HTTP",
                      "defaultActions": [{"type": "fixed-response"}]})  # fmt: skip
    assert verdict("ELB.1", alb, plain) == (["alb"], ["alb"])
    plain.inputs["defaultActions"] = [{"type": "redirect", "redirect": {"protocol": "HTTPS"}}]
    assert verdict("ELB.1", alb, plain) == (["alb"], [])


def test_apigateway_4_wants_a_web_acl_association_on_the_rest_stage():
    stage = resource("aws:apigateway/stage:Stage", "stage",
                     {"restApi": "api1", "stageName": "v1"}, {"arn": "arn:stage"})  # fmt: skip
    assert verdict("APIGateway.4", stage) == (["stage"], ["stage"])
    waf = resource("aws:wafv2/webAclAssociation:WebAclAssociation", "waf",
                   {"resourceArn": "arn:stage", "webAclArn": "arn:acl"})  # fmt: skip
    assert verdict("APIGateway.4", stage, waf) == (["stage"], [])


def test_secretsmanager_1_and_4_want_a_rotation_within_90_days():
    secret = resource("aws:secretsmanager/secret:Secret", "key", {}, {"arn": "arn:secret"})
    assert verdict("SecretsManager.1", secret)[1] == ["key"]
    rules = {"automaticallyAfterDays": 30}
    rotation = resource("aws:secretsmanager/secretRotation:SecretRotation", "rotation",
                        {"secretId": "key", "rotationRules": rules})  # fmt: skip
    assert verdict("SecretsManager.1", secret, rotation)[1] == []
    assert verdict("SecretsManager.4", secret, rotation)[1] == []
    rotation.inputs["rotationRules"] = {"automaticallyAfterDays": 180}
    assert verdict("SecretsManager.4", secret, rotation)[1] == ["key"]


def test_cloudfront_7_wants_a_custom_certificate():
    default = resource("aws:cloudfront/distribution:Distribution", "cdn",
                       {"viewerCertificate": {"cloudfrontDefaultCertificate": True}})  # fmt: skip
    assert verdict("CloudFront.7", default)[1] == ["cdn"]
    default.inputs["viewerCertificate"] = {"acmCertificateArn": "arn:cert",
                                           "sslSupportMethod": "sni-only"}  # fmt: skip
    assert verdict("CloudFront.7", default)[1] == []
    assert verdict("CloudFront.8", default) == (["cdn"], [])


def test_sqs_1_accepts_sqs_managed_or_kms_encryption():
    queues = [resource("aws:sqs/queue:Queue", "sse", {"sqsManagedSseEnabled": True}),
              resource("aws:sqs/queue:Queue", "kms", {"kmsMasterKeyId": "alias/x"}),
              resource("aws:sqs/queue:Queue", "plain", {})]  # fmt: skip
    assert verdict("SQS.1", *queues)[1] == ["plain"]


@pytest.mark.parametrize("control_id", ["EC2.2", "EC2.6", "S3.5", "S3.8", "ECR.1", "KMS.4"])
def test_controls_the_stacks_already_meet_pass_in_both(each_stack, control_id):
    outcome = next(o for o in fsbp.check(each_stack.resources) if o.control.id == control_id)
    assert outcome.applicable and outcome.passed, outcome.failures


def test_prod_applies_more_controls_than_dev_and_passes_more(dev, prod):
    dev_pass, dev_applicable = fsbp.summary(fsbp.check(dev.resources))
    prod_pass, prod_applicable = fsbp.summary(fsbp.check(prod.resources))
    assert prod_applicable > dev_applicable
    assert prod_pass - prod_applicable > dev_pass - dev_applicable  # fewer failing in prod
