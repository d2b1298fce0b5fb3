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


# The rules issue 14 added (WAF, encrypted log groups, execution logging, edge TLS, rotation).
ISSUE_14_RULES = {
    "waf-internet-endpoints",
    "log-groups-encrypted",
    "execution-logging",
    "edge-tls",
    "secrets-rotate",
}


def test_dev_and_prod_pass_the_whole_baseline(dev_program, prod_program):
    # The rules have something to judge: open load balancer ports and buckets exist.
    open_rules = [
        r for r in prod_program.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs.get("cidrIpv4") == "0.0.0.0/0"
    ]  # fmt: skip
    assert open_rules and prod_program.of_type("aws:s3/bucket:Bucket")
    assert baseline.check_all(resources(prod_program)) == {}
    # Dev serves plain HTTP on purpose (no certificate) and is no production stack: only those
    # rules are relaxed.
    dev = baseline.check_all(resources(dev_program), allow_plain_http=True, production=False)
    assert dev == {}


def test_dev_would_fail_the_https_rule_without_its_exemption(dev_program):
    found = baseline.check_all(resources(dev_program), production=False)
    assert set(found) == {"https-listeners"}


def test_dev_would_fail_the_waf_rule_were_it_production(dev_program):
    # Dev's internet-facing load balancer has no web ACL (security.waf is off in dev).
    relaxed = baseline.check_all(resources(dev_program), allow_plain_http=True, production=False)
    strict = baseline.check_all(resources(dev_program), allow_plain_http=True)
    assert "waf-internet-endpoints" in set(strict) - set(relaxed)


def test_the_pack_lists_every_rule():
    names = {p.name for p in baseline.POLICIES}
    assert names == {
        *baseline.RESOURCE_RULES,
        *baseline.STACK_RULES,
        *baseline.PRODUCTION_RULES,
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
    ("log-groups-encrypted", "aws:cloudwatch/logGroup:LogGroup",
     {"name": "/x", "retentionInDays": 365}),
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
    to_https = {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443"}}
    redirect = Resource(listener, {"protocol": "HTTP", "defaultActions": [to_https]}, "urn:r")
    assert baseline.https_listeners([plain, redirect], allow_plain_http=False) == [
        "urn:l serves plain HTTP; expected a redirect to HTTPS"
    ]
    assert baseline.https_listeners([plain], allow_plain_http=True) == []
    # A redirect that names no protocol keeps the request's own: plain HTTP again.
    same_protocol = Resource(listener, {"protocol": "HTTP", "defaultActions": [
        {"type": "redirect", "redirect": {"port": "8080"}}]}, "urn:s")  # fmt: skip
    assert baseline.https_listeners([same_protocol], allow_plain_http=False) == [
        "urn:s serves plain HTTP; expected a redirect to HTTPS"
    ]


def test_the_pack_files_are_there():
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2] / "policy"
    pack = yaml.safe_load((root / "PulumiPolicy.yaml").read_text())
    assert pack["runtime"]["name"] == "python"
    assert "PolicyPack(" in (root / "__main__.py").read_text()


# --- issue 14's rules, each on a violating and a complying resource -------------------------

ALB = "aws:lb/loadBalancer:LoadBalancer"
ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
ACL_ARN = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/edge/1"


def test_the_issue_14_rules_are_in_the_pack_and_dev_relaxes_only_production():
    from pathlib import Path

    names = {p.name for p in baseline.POLICIES}
    assert names >= ISSUE_14_RULES
    # Mandatory: their own level, or the pack's (PolicyPack(enforcement_level=ENFORCEMENT)).
    assert all(
        (p.enforcement_level or baseline.ENFORCEMENT) == baseline.EnforcementLevel.MANDATORY
        for p in baseline.POLICIES
        if p.name in ISSUE_14_RULES
    )
    config = json.loads((Path(baseline.__file__).parent / "dev-config.json").read_text())
    assert config == {
        "https-listeners": {"allowPlainHttp": True},
        **{name: {"production": False} for name in baseline.PRODUCTION_RULES},
    }


def test_an_internet_facing_alb_needs_a_web_acl_association_in_production():
    alb = Resource(ALB, {"internal": False, "loadBalancerType": "application"}, "urn:alb")
    (problem,) = baseline.waf_on_internet_endpoints([alb])
    assert problem.startswith("urn:alb: internet-facing application load balancer without")
    # The mocks' view: the association's resourceArn comes from the ALB's outputs.
    association = Resource(ASSOCIATION, {"resourceArn": "arn:alb", "webAclArn": ACL_ARN},
                           "urn:assoc", ("urn:acl", "urn:alb"))  # fmt: skip
    assert baseline.waf_on_internet_endpoints([alb, association]) == []
    # A deployed stack: the ALB's ARN is known and the association names it.
    known = Resource(ALB, {"internal": False, "arn": "arn:alb"}, "urn:alb")
    by_value = Resource(ASSOCIATION, {"resourceArn": "arn:alb"}, "urn:assoc")
    assert baseline.waf_on_internet_endpoints([known, by_value]) == []
    # An association of another ALB covers nothing here.
    other = Resource(ASSOCIATION, {"resourceArn": "arn:other"}, "urn:assoc")
    assert baseline.waf_on_internet_endpoints([known, other])
    # Dev (production false) is not held to it.
    assert baseline.waf_on_internet_endpoints([alb], production=False) == []


def test_internal_and_network_load_balancers_need_no_web_acl():
    internal = Resource(ALB, {"internal": True, "loadBalancerType": "application"}, "urn:a")
    network = Resource(ALB, {"internal": False, "loadBalancerType": "network"}, "urn:n")
    assert baseline.waf_on_internet_endpoints([internal, network]) == []


def test_a_rest_stage_needs_a_web_acl_unless_its_api_is_private():
    api = Resource("aws:apigateway/restApi:RestApi",
                   {"endpointConfiguration": {"types": "REGIONAL"}}, "urn:api")  # fmt: skip
    stage = Resource("aws:apigateway/stage:Stage", {"stageName": "v1", "restApi": "api-id"},
                     "urn:stage", ("urn:api", "urn:deployment"))  # fmt: skip
    (problem,) = baseline.waf_on_internet_endpoints([api, stage])
    assert problem.startswith("urn:stage: internet-facing REST API stage")
    association = Resource(ASSOCIATION, {"resourceArn": "arn:stage"}, "urn:assoc",
                           ("urn:stage", "urn:acl"))  # fmt: skip
    assert baseline.waf_on_internet_endpoints([api, stage, association]) == []
    private = Resource("aws:apigateway/restApi:RestApi",
                       {"endpointConfiguration": {"types": ["PRIVATE"]}}, "urn:api")  # fmt: skip
    assert baseline.waf_on_internet_endpoints([private, stage]) == []


def test_a_distribution_needs_a_web_acl_id_in_production():
    cdn = "aws:cloudfront/distribution:Distribution"
    (problem,) = baseline.waf_on_internet_endpoints([Resource(cdn, {"enabled": True}, "urn:cdn")])
    assert "urn:cdn: CloudFront distribution without a WAF web ACL" in problem
    covered = Resource(cdn, {"webAclId": ACL_ARN}, "urn:cdn")
    assert baseline.waf_on_internet_endpoints([covered]) == []


LISTENER = "aws:lb/listener:Listener"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"


@pytest.mark.parametrize(("policy", "ok"), [
    ("ELBSecurityPolicy-TLS13-1-2-2021-06", True),
    ("ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09", True),
    ("ELBSecurityPolicy-TLS13-1-3-2021-06", True),
    ("ELBSecurityPolicy-FS-1-2-Res-2020-10", True),
    ("ELBSecurityPolicy-2016-08", False),
    ("ELBSecurityPolicy-TLS13-1-0-2021-06", False),
    ("ELBSecurityPolicy-TLS-1-1-2017-01", False),
    (None, False),
])  # fmt: skip
def test_https_listeners_use_a_tls12_security_policy(policy, ok):
    props = {"protocol": "HTTPS", **({"sslPolicy": policy} if policy else {})}
    found = baseline.edge_tls([Resource(LISTENER, props, "urn:l")])
    assert (found == []) is ok, found
    # Plain TCP or HTTP listeners have no security policy to judge.
    assert baseline.edge_tls([Resource(LISTENER, {"protocol": "TCP"}, "urn:t")]) == []


def test_cloudfront_refuses_tls_below_12_and_in_production_the_default_certificate():
    def cdn(**certificate):
        return Resource(DISTRIBUTION, {"viewerCertificate": certificate}, "urn:cdn")

    custom = {"acmCertificateArn": "arn:aws:acm:us-east-1:1:certificate/c",
              "sslSupportMethod": "sni-only"}  # fmt: skip
    assert baseline.edge_tls([cdn(**custom, minimumProtocolVersion="TLSv1.2_2021")]) == []
    assert baseline.edge_tls([cdn(**custom, minimumProtocolVersion="TLSv1.2_2019")]) == []
    (old,) = baseline.edge_tls([cdn(**custom, minimumProtocolVersion="TLSv1.2_2018")])
    assert "'TLSv1.2_2018'; expected TLSv1.2_2019 or newer" in old
    assert baseline.edge_tls([cdn(**custom, minimumProtocolVersion="TLSv1")])
    (default,) = baseline.edge_tls([cdn(cloudfrontDefaultCertificate=True)])
    assert "default *.cloudfront.net certificate" in default
    # Dev has no domain: the default certificate is its documented relaxation.
    assert baseline.edge_tls([cdn(cloudfrontDefaultCertificate=True)], production=False) == []
    assert baseline.edge_tls([cdn(**custom, minimumProtocolVersion="TLSv1")], production=False)


def test_the_cloudfront_versions_come_from_the_api_model():
    versions = baseline.cloudfront_tls12_versions()
    assert {"TLSv1.2_2019", "TLSv1.2_2021"} <= versions
    assert not versions & {"SSLv3", "TLSv1", "TLSv1_2016", "TLSv1.1_2016", "TLSv1.2_2018"}


REST_STAGE = "aws:apigateway/stage:Stage"
SETTINGS = "aws:apigateway/methodSettings:MethodSettings"


def _rest(settings: dict | None, method_path="*/*", deps=("urn:stage", "urn:api")):
    api = Resource("aws:apigateway/restApi:RestApi", {}, "urn:api")
    stage = Resource(REST_STAGE, {"stageName": "v1", "restApi": "api-id"}, "urn:stage",
                     ("urn:api",))  # fmt: skip
    found = [api, stage]
    if settings is not None:
        found.append(Resource(SETTINGS, {"stageName": "v1", "restApi": "api-id",
                                         "methodPath": method_path, "settings": settings},
                              "urn:settings", deps))  # fmt: skip
    return found


def test_a_rest_stage_needs_execution_logging_and_metrics_for_all_methods():
    good = {"loggingLevel": "ERROR", "metricsEnabled": True}
    assert baseline.execution_logging(_rest(good)) == []
    assert baseline.execution_logging(_rest({**good, "loggingLevel": "INFO"})) == []
    # Related by stage name and REST API id alone (no dependency on the stage).
    assert baseline.execution_logging(_rest(good, deps=())) == []
    (none,) = baseline.execution_logging(_rest(None))
    assert "REST stage without execution logging" in none and "none names it" in none
    (off,) = baseline.execution_logging(_rest({**good, "loggingLevel": "OFF"}))
    assert "settings.loggingLevel ERROR or INFO" in off
    (no_metrics,) = baseline.execution_logging(_rest({"loggingLevel": "ERROR"}))
    assert "settings.metricsEnabled true" in no_metrics
    (one_method,) = baseline.execution_logging(_rest(good, method_path="worlds/GET"))
    assert "methodPath */*" in one_method


def test_a_websocket_stage_needs_a_default_logging_level():
    api = Resource("aws:apigatewayv2/api:Api", {"protocolType": "WEBSOCKET"}, "urn:ws")

    def stage(settings):
        return Resource("aws:apigatewayv2/stage:Stage",
                        {"name": "v1", "apiId": "ws-id", "defaultRouteSettings": settings},
                        "urn:ws-stage", ("urn:ws",))  # fmt: skip

    assert baseline.execution_logging([api, stage({"loggingLevel": "ERROR"})]) == []
    (problem,) = baseline.execution_logging([api, stage({"throttlingRateLimit": 50})])
    assert "WebSocket stage without execution logging" in problem
    # An HTTP API's stage has no execution logging to ask for.
    http = Resource("aws:apigatewayv2/api:Api", {"protocolType": "HTTP"}, "urn:ws")
    assert baseline.execution_logging([http, stage({})]) == []


SECRET = "aws:secretsmanager/secret:Secret"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"


@pytest.mark.parametrize(("rules", "ok"), [
    ({"automaticallyAfterDays": 30}, True),
    ({"scheduleExpression": "rate(7 days)"}, True),
    ({"scheduleExpression": "cron(0 4 ? * SUN *)"}, True),
    ({"automaticallyAfterDays": 365}, False),
    ({"scheduleExpression": "rate(120 days)"}, False),
    ({}, False),
])  # fmt: skip
def test_each_secret_rotates_on_an_automatic_schedule(rules, ok):
    secret = Resource(SECRET, {"name": "s"}, "urn:secret")
    rotation = Resource(ROTATION, {"secretId": "arn:secret", "rotationRules": rules},
                        "urn:rotation", ("urn:secret", "urn:fn"))  # fmt: skip
    found = baseline.secrets_rotate([secret, rotation])
    assert (found == []) is ok, found


def test_a_secret_without_a_rotation_is_reported_and_another_secrets_rotation_does_not_count():
    secret = Resource(SECRET, {"name": "s", "arn": "arn:s"}, "urn:secret")
    (problem,) = baseline.secrets_rotate([secret])
    assert problem == (
        "urn:secret: secret without rotation (no aws.secretsmanager.SecretRotation names it)"
    )
    monthly = {"automaticallyAfterDays": 30}
    other = Resource(ROTATION, {"secretId": "arn:other", "rotationRules": monthly}, "urn:r")
    assert baseline.secrets_rotate([secret, other])
    by_arn = Resource(ROTATION, {"secretId": "arn:s", "rotationRules": monthly}, "urn:r")
    assert baseline.secrets_rotate([secret, by_arn]) == []


def test_only_a_provider_key_secret_with_its_tag_is_exempt_from_rotation():
    urn = (
        "urn:pulumi:dev::mlplatform::mlplatform:inference:InferenceStack"
        "$aws:secretsmanager/secret:Secret::"
    )
    tagged = {"name": "p/inference/openai-api-key", "tags": {"Rotation": "at-the-provider"}}
    assert (
        baseline.secrets_rotate([Resource(SECRET, tagged, urn + "inference-openai-api-key-secret")])
        == []
    )
    assert (
        baseline.secrets_rotate([Resource(SECRET, tagged, urn + "inference-gemini-api-key-secret")])
        == []
    )
    # the tag alone, or the name alone, is not enough
    assert baseline.secrets_rotate([Resource(SECRET, tagged, urn + "inference-api-key-secret")])
    untagged = {"name": "p/inference/openai-api-key", "tags": {}}
    assert baseline.secrets_rotate(
        [Resource(SECRET, untagged, urn + "inference-openai-api-key-secret")]
    )


# --- through pulumi_policy's proxies, as `pulumi preview --policy-pack policy` runs them ------


def stack_args(resources: list[Resource], config=None, unknown=None, property_deps=None):
    """StackValidationArgs built from pulumi_policy's own classes, props behind its
    unknown-checking proxies: ``unknown`` = {urn: [input, ...]} a preview does not know yet
    (sent as its sentinel), ``property_deps`` = {urn: {input: [urn, ...]}} as a preview gives.
    A resource's ``dependencies`` are the union of what its inputs come from."""
    from pulumi_policy import PolicyResource, PolicyResourceOptions, StackValidationArgs
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

    unknown, property_deps = unknown or {}, property_deps or {}
    built = {}
    for r in resources:
        props = json.loads(json.dumps(r.props))
        for path in unknown.get(r.urn, ()):  # dotted: "viewerCertificate.acmCertificateArn"
            *parents, leaf = path.split(".")
            node = props
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = UNKNOWN_STRING_VALUE
        opts = PolicyResourceOptions(False, [], False, [], None, [])
        name = r.urn.rsplit(":", 1)[-1]
        proxied = unknown_checking_proxy(props)
        built[r.urn] = PolicyResource(r.type, proxied, r.urn, name, opts, None, None, [], {})
    for r in resources:
        policy_resource = built[r.urn]
        policy_resource.dependencies = [built[u] for u in r.dependencies if u in built]
        policy_resource.property_dependencies = {
            k: [built[u] for u in urns if u in built]
            for k, urns in property_deps.get(r.urn, {}).items()
        }
    return StackValidationArgs(list(built.values()), config or {})


def test_through_the_proxies_an_unknown_arn_is_related_by_its_property_dependency():
    # A first preview: neither the ALB's ARN nor the association's resourceArn is known.
    alb = Resource(ALB, {"internal": False, "loadBalancerType": "application"}, "urn:alb")
    acl = Resource("aws:wafv2/webAcl:WebAcl", {"scope": "REGIONAL"}, "urn:acl")
    association = Resource(ASSOCIATION, {}, "urn:assoc", ("urn:acl", "urn:alb"))
    unknown = {"urn:alb": ["arn"], "urn:assoc": ["resourceArn", "webAclArn"]}
    deps = {"urn:assoc": {"resourceArn": ["urn:alb"], "webAclArn": ["urn:acl"]}}
    args = stack_args([alb, acl, association], unknown=unknown, property_deps=deps)
    assert reported(policy("waf-internet-endpoints"), args) == []
    # The engine says which input comes from where: the ACL the association also depends on
    # is no ALB, and a resourceArn from elsewhere covers nothing.
    elsewhere = {"urn:assoc": {"resourceArn": [], "webAclArn": ["urn:acl"]}}
    args = stack_args([alb, acl, association], unknown=unknown, property_deps=elsewhere)
    (problem,) = reported(policy("waf-internet-endpoints"), args)
    assert problem.startswith("urn:alb: cannot judge: urn:assoc may cover it")
    # No association at all: a plain violation.
    (problem,) = reported(policy("waf-internet-endpoints"), stack_args([alb, acl]))
    assert "without a WAF web ACL" in problem
    # Dev's config relaxes it.
    relaxed = stack_args([alb, acl], config={"production": False})
    assert reported(policy("waf-internet-endpoints"), relaxed) == []


def test_through_the_proxies_an_unknown_web_acl_id_passes_only_from_a_web_acl():
    acl = Resource("aws:wafv2/webAcl:WebAcl", {"scope": "CLOUDFRONT"}, "urn:acl")
    cdn = Resource(DISTRIBUTION, {"enabled": True}, "urn:cdn", ("urn:acl",))
    unknown = {"urn:cdn": ["webAclId"]}
    from_acl = stack_args([acl, cdn], unknown=unknown, property_deps={
        "urn:cdn": {"webAclId": ["urn:acl"]}})  # fmt: skip
    assert reported(policy("waf-internet-endpoints"), from_acl) == []
    from_nothing = stack_args([acl, cdn], unknown=unknown, property_deps={
        "urn:cdn": {"webAclId": []}})  # fmt: skip
    (problem,) = reported(policy("waf-internet-endpoints"), from_nothing)
    assert problem.startswith("urn:cdn: cannot judge: webAclId is unknown")


def test_through_the_proxies_rotation_and_logging_and_tls_are_judged():
    secret = Resource(SECRET, {"name": "s"}, "urn:secret")
    rotation = Resource(ROTATION, {"rotationRules": {"automaticallyAfterDays": 30}},
                        "urn:rotation", ("urn:secret", "urn:fn"))  # fmt: skip
    unknown = {"urn:secret": ["arn"], "urn:rotation": ["secretId"]}
    deps = {"urn:rotation": {"secretId": ["urn:secret"], "rotationLambdaArn": ["urn:fn"]}}
    args = stack_args([secret, rotation], unknown=unknown, property_deps=deps)
    assert reported(policy("secrets-rotate"), args) == []
    only_the_function = {"urn:rotation": {"rotationLambdaArn": ["urn:fn"]}}
    lost = stack_args([secret, rotation], unknown=unknown, property_deps=only_the_function)
    (problem,) = reported(policy("secrets-rotate"), lost)
    assert problem.startswith("urn:secret: cannot judge: urn:rotation may cover it")

    (no_logging,) = reported(policy("execution-logging"), stack_args(_rest(None)))
    assert "REST stage without execution logging" in no_logging
    good = {"loggingLevel": "ERROR", "metricsEnabled": True}
    assert reported(policy("execution-logging"), stack_args(_rest(good))) == []

    # A certificate created in the same update: its ARN is unknown, the policy is known.
    certificate = {"minimumProtocolVersion": "TLSv1.2_2021", "sslSupportMethod": "sni-only"}
    cdn = Resource(DISTRIBUTION, {"viewerCertificate": certificate}, "urn:cdn")
    new_certificate = {"urn:cdn": ["viewerCertificate.acmCertificateArn"]}
    assert reported(policy("edge-tls"), stack_args([cdn], unknown=new_certificate)) == []
    unknown_version = {"urn:cdn": ["viewerCertificate.minimumProtocolVersion"]}
    (problem,) = reported(policy("edge-tls"), stack_args([cdn], unknown=unknown_version))
    assert problem == "urn:cdn: cannot judge: its viewer certificate is unknown in this preview"

    listener = Resource(LISTENER, {"protocol": "HTTPS"}, "urn:l")
    (unset,) = reported(policy("edge-tls"), stack_args([listener]))
    assert "unset (ELBSecurityPolicy-2016-08)" in unset
    (unknown_policy,) = reported(policy("edge-tls"), stack_args(
        [listener], unknown={"urn:l": ["sslPolicy"]}))  # fmt: skip
    assert unknown_policy == "urn:l: cannot judge: sslPolicy is unknown in this preview"


def test_through_the_proxies_an_unknown_log_group_key_is_never_a_pass():
    from pulumi_policy import ResourceValidationArgs
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

    def args(props):
        proxied = unknown_checking_proxy(props)
        log_group = "aws:cloudwatch/logGroup:LogGroup"
        return ResourceValidationArgs(log_group, proxied, "urn:lg", "lg", None, None)

    rule = policy("log-groups-encrypted")
    assert reported(rule, args({"retentionInDays": 365})) == [
        "log groups must be encrypted with a KMS key (kmsKeyId)"
    ]
    assert reported(rule, args({"kmsKeyId": "arn:aws:kms:us-east-1:1:key/k"})) == []
    # pulumi_policy reports this as "can't run policy ... during preview".
    with pytest.raises(UnknownValueError):
        reported(rule, args({"kmsKeyId": UNKNOWN_STRING_VALUE}))


def test_through_the_proxies_the_real_stacks_get_what_check_all_finds(prod_program):
    found = baseline.check_all(resources(prod_program))
    rules = resources(prod_program)
    args = stack_args(rules)
    for name in ISSUE_14_RULES - set(baseline.RESOURCE_RULES):
        assert sorted(reported(policy(name), args)) == sorted(found.get(name, [])), name


def reported(policy, args) -> list[str]:
    out: list[str] = []
    policy.validate(args, lambda message, urn: out.append(message))
    return out


def policy(name: str):
    (found,) = [p for p in baseline.POLICIES if p.name == name]
    return found


def test_method_settings_whose_stage_is_unknown_cannot_be_judged_as_a_pass():
    api, stage = _rest(None)
    good = {"loggingLevel": "ERROR", "metricsEnabled": True}
    # A preview: stageName unknown and, says the engine, from nothing of the stack.
    settings = Resource(SETTINGS, {"restApi": "api-id", "methodPath": "*/*", "settings": good},
                        "urn:settings", (), {}, {"restApi": ("urn:api",), "stageName": ()},
                        frozenset({"stageName"}))  # fmt: skip
    (problem,) = baseline.execution_logging([api, stage, settings])
    assert problem.startswith("urn:stage: cannot judge: urn:settings may cover it")


def test_unknown_method_settings_or_websocket_levels_are_never_a_pass():
    api, stage = _rest(None)
    good = {"loggingLevel": "ERROR", "metricsEnabled": True}
    settings = Resource(SETTINGS, {"stageName": "v1", "settings": good}, "urn:settings",
                        ("urn:stage",), unknown=frozenset({"methodPath"}))  # fmt: skip
    (problem,) = baseline.execution_logging([api, stage, settings])
    assert problem == "urn:stage: cannot judge: its method settings are unknown in this preview"
    ws_api = Resource("aws:apigatewayv2/api:Api", {"protocolType": "WEBSOCKET"}, "urn:ws")
    ws_stage = Resource("aws:apigatewayv2/stage:Stage", {"defaultRouteSettings": {}},
                        "urn:ws-stage", ("urn:ws",),
                        unknown=frozenset({"defaultRouteSettings.loggingLevel"}))  # fmt: skip
    (problem,) = baseline.execution_logging([ws_api, ws_stage])
    assert problem == "urn:ws-stage: cannot judge: its loggingLevel is unknown in this preview"
    (orphan,) = baseline.execution_logging([Resource(ws_stage.type, {}, "urn:s")])
    assert (
        orphan == "urn:s: cannot judge whether it is a WebSocket stage: its API is not in the stack"
    )
