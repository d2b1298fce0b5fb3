"""WebAcl (components/blocks/waf.py): the regional web ACL of prod's load balancers and
REST stage, the CLOUDFRONT one in us-east-1, their rules, logs and associations; none in
dev (security.waf off)."""

from __future__ import annotations

import json

import pulumi
import pytest

from components.blocks import waf
from components.config.security import COUNTABLE_RULES

ACL = "aws:wafv2/webAcl:WebAcl"
ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
POLICY = "aws:cloudwatch/logResourcePolicy:LogResourcePolicy"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
REGIONAL_RULES = [
    "RateLimitPerIp", "LoginRateLimitPerIp", "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesAnonymousIpList", "AWSManagedRulesSQLiRuleSet",
]  # fmt: skip
CDN_RULES = [
    "RateLimitPerIp", "AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesAnonymousIpList",
]  # fmt: skip


def acl(run, name: str):
    return run.named(f"{name}-acl")


def test_dev_has_no_web_acl_and_no_association(dev):
    assert not dev.of_type(ACL) and not dev.of_type(ASSOCIATION) and not dev.of_type(LOGGING)
    assert "webAclId" not in dev.one(DISTRIBUTION).inputs


def test_prod_has_a_regional_and_a_cloudfront_acl(prod):
    regional, cdn = acl(prod, "waf"), acl(prod, "agent-world-cdn-waf")
    assert (regional.inputs["scope"], cdn.inputs["scope"]) == ("REGIONAL", "CLOUDFRONT")
    assert regional.inputs["name"] == "mlplatform-prod-regional"
    assert regional.inputs["defaultAction"] == {"allow": {}}
    assert [r["name"] for r in regional.inputs["rules"]] == REGIONAL_RULES
    assert [r["name"] for r in cdn.inputs["rules"]] == CDN_RULES  # no SQL database behind


def test_every_rule_has_its_priority_and_metric_and_blocks_by_default(prod):
    for name in ("waf", "agent-world-cdn-waf"):
        a = acl(prod, name).inputs
        rules = a["rules"]
        assert [r["priority"] for r in rules] == list(range(len(rules)))
        assert a["visibilityConfig"]["metricName"] == a["name"]
        for rule in rules:
            assert rule["visibilityConfig"] == {
                "cloudwatchMetricsEnabled": True, "sampledRequestsEnabled": True,
                "metricName": f"{a['name']}-{rule['name']}",
            }  # fmt: skip
            if "managedRuleGroupStatement" in rule["statement"]:
                assert rule["overrideAction"] == {"none": {}}
                assert rule["statement"]["managedRuleGroupStatement"]["vendorName"] == "AWS"
            else:
                assert rule["action"] == {"block": {}}


def test_rate_limits_count_each_client_ip_over_five_minutes(prod):
    rules = {r["name"]: r["statement"] for r in acl(prod, "waf").inputs["rules"]}
    general = rules["RateLimitPerIp"]["rateBasedStatement"]
    assert general == {"limit": 2000, "aggregateKeyType": "IP", "evaluationWindowSec": 300}
    login = rules["LoginRateLimitPerIp"]["rateBasedStatement"]
    assert login["limit"] == 300 and login["aggregateKeyType"] == "IP"
    # Only MLflow's sign-in and account paths: the UI's pages and the SDK's traffic are far
    # more numerous and would trip it.
    paths = login["scopeDownStatement"]["orStatement"]["statements"]
    assert [p["byteMatchStatement"]["searchString"] for p in paths] == [
        "/oauth2/idpresponse", "/mlflow/signup", "/mlflow/api/2.0/mlflow/users/",
        "/mlflow/ajax-api/2.0/mlflow/users/",
    ]  # fmt: skip
    assert all(p["byteMatchStatement"]["positionalConstraint"] == "STARTS_WITH" for p in paths)


def test_the_body_rule_groups_skip_mlflows_artifact_uploads(prod):
    def scope(name, group):
        rules = {r["name"]: r for r in acl(prod, name).inputs["rules"]}
        return rules[group]["statement"]["managedRuleGroupStatement"].get("scopeDownStatement")

    for group in ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesSQLiRuleSet"):
        skipped = scope("waf", group)["notStatement"]["statement"]["orStatement"]["statements"]
        assert [s["byteMatchStatement"]["searchString"] for s in skipped] == [
            "/mlflow/api/2.0/mlflow-artifacts/", "/mlflow/ajax-api/2.0/mlflow-artifacts/",
        ]  # fmt: skip
    # the other groups see every request, and CloudFront's ACL has no MLflow behind it
    assert scope("waf", "AWSManagedRulesKnownBadInputsRuleSet") is None
    assert scope("agent-world-cdn-waf", "AWSManagedRulesCommonRuleSet") is None


def test_bodies_over_8_kb_only_count_the_services_limit_their_own(prod):
    def overrides(name):
        rules = {r["name"]: r for r in acl(prod, name).inputs["rules"]}
        group = rules["AWSManagedRulesCommonRuleSet"]["statement"]["managedRuleGroupStatement"]
        return group.get("ruleActionOverrides")

    # MLflow's artifacts, the agent world's documents (64 KB, also through CloudFront's
    # /api/*), images for /validate: each service enforces its own MAX_BODY_BYTES
    counted = [{"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}]
    assert overrides("waf") == overrides("agent-world-cdn-waf") == counted


def test_anonymizers_are_blocked_and_cloud_hosting_addresses_only_count(prod):
    # Known bad inputs (Log4j among them) and the anonymous IP list: Checkov's Log4j checks
    # (CKV2_AWS_47/76/77) ask for both; CI runners and fleets in the cloud still get through.
    for name in ("waf", "agent-world-cdn-waf"):
        rules = {r["name"]: r for r in acl(prod, name).inputs["rules"]}
        group = rules["AWSManagedRulesAnonymousIpList"]["statement"]["managedRuleGroupStatement"]
        assert group["ruleActionOverrides"] == [
            {"name": "HostingProviderIPList", "actionToUse": {"count": {}}}
        ]
        assert rules["AWSManagedRulesAnonymousIpList"]["overrideAction"] == {"none": {}}


def test_every_internet_facing_endpoint_is_associated(prod):
    regional = acl(prod, "waf").outputs["arn"]
    targets = {a.inputs["resourceArn"]: a.inputs["webAclArn"] for a in prod.of_type(ASSOCIATION)}
    albs = {r.outputs["arn"] for r in prod.of_type("aws:lb/loadBalancer:LoadBalancer")
            if not r.inputs["internal"]}  # fmt: skip
    api = prod.one("aws:apigateway/restApi:RestApi").id
    stage = f"arn:aws:apigateway:us-east-1::/restapis/{api}/stages/v1"
    assert len(albs) == 2 and set(targets) == albs | {stage}
    assert set(targets.values()) == {regional}
    cdn = acl(prod, "agent-world-cdn-waf").outputs["arn"]
    assert prod.one(DISTRIBUTION).inputs["webAclId"] == cdn
    assert cdn.startswith("arn:aws:wafv2:us-east-1:") and ":global/webacl/" in cdn


def test_the_cloudfront_acl_and_its_logs_use_the_us_east_1_provider(prod):
    (provider,) = prod.of_type("pulumi:providers:aws")
    assert provider.inputs["region"] == "us-east-1"
    ref = f"{provider.urn}::{provider.id}"
    under = prod.subtree("agent-world-cdn-waf").resources
    custom = [r for r in under if r.custom]
    assert {r.type for r in custom} == {ACL, LOG_GROUP, POLICY, LOGGING}
    assert all(r.options["provider"] == ref for r in custom)
    assert not any(r.options["provider"] == ref for r in prod.subtree("waf").resources)


@pytest.mark.parametrize("name", ["waf", "agent-world-cdn-waf"])
def test_logs_go_to_an_aws_waf_logs_group_with_retention(prod, name):
    logs = prod.named(f"{name}-logs")
    assert logs.inputs["name"] == f"aws-waf-logs-{acl(prod, name).inputs['name']}"
    assert logs.inputs["retentionInDays"] == 365
    logging = prod.named(f"{name}-logging")
    assert logging.inputs["resourceArn"] == acl(prod, name).outputs["arn"]
    assert logging.inputs["logDestinationConfigs"] == [logs.outputs["arn"]]
    policy = prod.named(f"{name}-log-delivery")
    assert policy.urn in logging.options["depends_on"]
    # Both groups are in us-east-1 here, as the shared logs key: it encrypts both.
    assert logs.inputs["kmsKeyId"] == prod.named("audit-key").outputs["arn"]


def test_only_wafs_log_delivery_of_this_account_may_write_the_log_group(prod):
    logs = prod.named("waf-logs").outputs["arn"]
    (statement,) = json.loads(prod.named("waf-log-delivery").inputs["policyDocument"])["Statement"]
    assert statement["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == f"{logs}:log-stream:*"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": "arn:aws:logs:us-east-1:123456789012:*"},
    }


def test_count_mode_for_a_first_rollout(run_stack):
    run = run_stack(
        "prod",
        {"security.waf_count_rule_groups": ["AWSManagedRulesCommonRuleSet", "RateLimitPerIp"]},
    )
    rules = {r["name"]: r for r in acl(run, "waf").inputs["rules"]}
    assert rules["AWSManagedRulesCommonRuleSet"]["overrideAction"] == {"count": {}}
    assert rules["RateLimitPerIp"]["action"] == {"count": {}}
    assert rules["AWSManagedRulesSQLiRuleSet"]["overrideAction"] == {"none": {}}
    assert rules["LoginRateLimitPerIp"]["action"] == {"block": {}}


NO_FRONT_DOOR = {"ingress.front_door": "load_balancer", "ingress.allow_http": True}
"""Dev with its internet-facing ALB, which a regional web ACL can protect."""


def test_waf_in_dev_when_switched_on_without_mlflow_rules_if_no_data_platform(run_stack):
    # (a regional web ACL protects a load balancer, not dev's HTTP API front door)
    run = run_stack("dev", {"security.waf": True, "stacks.data_platform": False, **NO_FRONT_DOOR})
    names = [r["name"] for r in acl(run, "waf").inputs["rules"]]
    assert "AWSManagedRulesSQLiRuleSet" not in names and "LoginRateLimitPerIp" not in names
    # The shared inference ALB and the REST stage; dev's CloudFront gets its own ACL.
    assert len(run.of_type(ASSOCIATION)) == 2
    assert (
        run.one(DISTRIBUTION).inputs["webAclId"] == acl(run, "agent-world-cdn-waf").outputs["arn"]
    )


def test_a_stack_outside_us_east_1_keys_the_cloudfront_logs_there(run_inline):
    def program():
        east = pulumi_aws_provider()
        waf.WebAcl(
            "edge",
            waf.WebAclArgs(name="x-cdn", scope="CLOUDFRONT", rate_limit=100, region="us-east-1",
                           provider=east, own_log_key=True),
        )  # fmt: skip

    run = run_inline(program, config={"aws:region": "eu-west-1"})
    key = run.one("aws:kms/key:Key")
    (provider,) = run.of_type("pulumi:providers:aws")
    assert key.options["provider"] == f"{provider.urn}::{provider.id}"
    assert key.outputs["arn"].startswith("arn:aws:kms:us-east-1:")
    assert run.named("edge-logs").inputs["kmsKeyId"] == key.outputs["arn"]
    statements = json.loads(key.inputs["policy"])["Statement"]
    logs = next(s for s in statements if s["Sid"] == "CloudWatchLogsOfThisAccount")
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"] == (
        "arn:aws:logs:us-east-1:123456789012:*"
    )


def pulumi_aws_provider():
    import pulumi_aws as aws

    return aws.Provider("east", region="us-east-1", opts=pulumi.ResourceOptions())


def test_every_countable_rule_is_a_rule_of_a_full_acl():
    args = waf.WebAclArgs(name="x", scope="REGIONAL", rate_limit=100, login_rate_limit=10,
                          login_paths=("/mlflow",), sql_database=True)  # fmt: skip
    assert waf.rule_names(args) == list(COUNTABLE_RULES[-2:]) + list(COUNTABLE_RULES[:-2])


def test_the_preflight_judges_waf_values_against_botocore(prod):
    import dataclasses

    from preflight import Context, check, resources_of

    def with_rule(**changes):
        out = []
        for r in resources_of(prod.resources):
            if r.name == "waf-acl":
                rules = [dict(r.props["rules"][0], **changes), *r.props["rules"][1:]]
                r = dataclasses.replace(r, props={**r.props, "rules": rules})
            out.append(r)
        return out

    context = Context(region="us-east-1")
    bad_metric = with_rule(visibilityConfig={"metricName": "has a space"})
    found = [f for f in check.run(bad_metric, context) if f.resource == "waf-acl"]
    assert [(f.property, f.rule) for f in found] == [
        ("rules.0.visibilityConfig.metricName", "api-model/shape")
    ]
    bad_limit = with_rule(statement={"rateBasedStatement": {"limit": 5, "aggregateKeyType": "IP"}})
    found = [f for f in check.run(bad_limit, context) if f.resource == "waf-acl"]
    assert [f.property for f in found] == ["rules.0.statement.rateBasedStatement.limit"]
    assert "at least 10" in found[0].message


def test_a_prod_stack_in_eu_west_1_passes_the_preflight_with_its_us_east_1_logs_key(run_stack):
    from offline import __main__ as plan

    run = run_stack("prod", {"aws:region": "eu-west-1"})
    key = run.named("agent-world-cdn-waf-log-key")
    assert key.outputs["arn"].startswith("arn:aws:kms:us-east-1:")
    assert run.named("agent-world-cdn-waf-logs").inputs["kmsKeyId"] == key.outputs["arn"]
    assert (
        run.named("agent-world-cdn-waf-logs").outputs["arn"].startswith("arn:aws:logs:us-east-1:")
    )
    errors = [f.line() for f in plan.preflight_findings(run) if f.severity == "error"]
    assert errors == []


def test_dev_shared_alb_rate_limits_do_not_count_the_vpc_link(run_stack):
    # Dev's REST API reaches the shared ALB through the VPC link's few addresses: counted
    # per IP, every API client would share one limit. The REST stage's ACL limits them.
    run = run_stack("dev", {"security.waf": True, **NO_FRONT_DOOR})
    ip_set = run.named("waf-uncounted")
    assert ip_set.inputs["addresses"] == ["10.20.0.0/16"] and ip_set.inputs["scope"] == "REGIONAL"
    outside = {"notStatement": {"statement": {"ipSetReferenceStatement": {
        "arn": ip_set.outputs["arn"]}}}}  # fmt: skip
    rules = {
        r["name"]: r["statement"]["rateBasedStatement"]
        for r in acl(run, "waf").inputs["rules"]
        if "rateBasedStatement" in r["statement"]
    }
    assert rules["RateLimitPerIp"]["scopeDownStatement"] == outside
    assert rules["LoginRateLimitPerIp"]["scopeDownStatement"]["andStatement"]["statements"][-1] == (
        outside
    )


def test_prod_counts_every_source(prod):
    assert not prod.of_type("aws:wafv2/ipSet:IpSet")
    rules = {
        r["name"]: r["statement"]["rateBasedStatement"]
        for r in acl(prod, "waf").inputs["rules"]
        if "rateBasedStatement" in r["statement"]
    }
    assert "scopeDownStatement" not in rules["RateLimitPerIp"]
