"""The Terraform-plan export Checkov reads: names, blocks, references, on the mock engine."""

from __future__ import annotations

import json

import pulumi_aws as aws
import pytest

from offline import terraform_plan as tp


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("aws:s3/bucket:Bucket", "aws_s3_bucket"),
        ("aws:s3/bucketVersioning:BucketVersioning", "aws_s3_bucket_versioning"),
        ("aws:ec2/securityGroup:SecurityGroup", "aws_security_group"),
        ("aws:ec2/flowLog:FlowLog", "aws_flow_log"),
        ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
         "aws_vpc_security_group_ingress_rule"),
        ("aws:lb/loadBalancer:LoadBalancer", "aws_lb"),
        ("aws:lb/listenerRule:ListenerRule", "aws_lb_listener_rule"),
        ("aws:rds/instance:Instance", "aws_db_instance"),
        ("aws:rds/cluster:Cluster", "aws_rds_cluster"),
        ("aws:apigateway/restApi:RestApi", "aws_api_gateway_rest_api"),
        ("aws:apigatewayv2/stage:Stage", "aws_apigatewayv2_stage"),
        ("aws:cloudwatch/logGroup:LogGroup", "aws_cloudwatch_log_group"),
        ("aws:wafv2/webAclAssociation:WebAclAssociation", "aws_wafv2_web_acl_association"),
        ("aws:s3/bucketV2:BucketV2", "aws_s3_bucket"),
        ("aws:s3/bucketVersioningV2:BucketVersioningV2", "aws_s3_bucket_versioning"),
        ("aws:ec2/fleet:Fleet", "aws_ec2_fleet"),
        ("aws:secretsmanager/secretRotation:SecretRotation", "aws_secretsmanager_secret_rotation"),
        ("aws:acm/certificateValidation:CertificateValidation", "aws_acm_certificate_validation"),
        ("aws:lambda/permission:Permission", "aws_lambda_permission"),
        ("aws:route53/record:Record", "aws_route53_record"),
        ("aws:cognito/userPoolClient:UserPoolClient", "aws_cognito_user_pool_client"),
        ("aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy",
         "aws_cloudfront_response_headers_policy"),
        ("random:index/randomPassword:RandomPassword", None),
        ("mlplatform:storage:SecureBucket", None),
    ],
)  # fmt: skip
def test_a_pulumi_aws_token_names_its_terraform_type(token, expected):
    assert tp.terraform_type(token) == expected


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("rules", [{"id": "x"}], "rule"),
        ("globalSecondaryIndexes", [{"name": "i"}], "global_secondary_index"),
        ("defaultCapacityProviderStrategies", [{"weight": 1}],
         "default_capacity_provider_strategy"),
        ("ingress", [{"fromPort": 80}], "ingress"),
        ("networkInterfaces", [{"deviceIndex": 0}], "network_interfaces"),
        ("subnets", ["subnet-1"], "subnets"),
        ("cidrIpv4", "0.0.0.0/0", "cidr_ipv4"),
        ("serverlessv2ScalingConfiguration", {}, "serverlessv2_scaling_configuration"),
    ],
)  # fmt: skip
def test_inputs_take_terraform_attribute_names(key, value, expected):
    assert tp.attribute_name("aws:x/y:Y", key, value) == expected


def test_pulumi_renamed_inputs_get_terraform_names_back():
    assert tp.attribute_name("aws:apigateway/stage:Stage", "restApi", "a") == "rest_api_id"
    assert tp.attribute_name("aws:apigateway/stage:Stage", "deployment", "d") == "deployment_id"
    zones = tp.attribute_name("aws:autoscaling/group:Group", "vpcZoneIdentifiers", ["s"])
    assert zones == "vpc_zone_identifier"


def test_objects_become_one_element_blocks_and_maps_stay_maps():
    values = tp.terraform_values(
        "aws:ecr/repository:Repository",
        {"imageScanningConfiguration": {"scanOnPush": True}, "tags": {"Name": "x"},
         "retentionInDays": 30.0},
    )  # fmt: skip
    assert values == {
        "image_scanning_configuration": [{"scan_on_push": True}],
        "tags": {"Name": "x"},
        "retention_in_days": 30,
    }


def _bucket_program():
    bucket = aws.s3.Bucket("data", bucket_prefix="data-")
    aws.s3.BucketVersioning(
        "data-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}
    )
    key = aws.kms.Key("logs-key", enable_key_rotation=True)
    aws.cloudwatch.LogGroup("logs", retention_in_days=30, kms_key_id=key.arn)


@pytest.fixture(scope="module")
def bucket_plan():
    from offline.runner import run_function

    return tp.plan(run_function(_bucket_program).resources)


def _by_address(plan, section):
    if section == "configuration":
        items = plan["configuration"]["root_module"]["resources"]
    elif section == "changes":
        items = plan["resource_changes"]
    else:
        items = plan["planned_values"]["root_module"]["resources"]
    return {r["address"]: r for r in items}


def test_a_reference_is_written_as_terraform_writes_an_unknown_referenced_value(bucket_plan):
    planned = _by_address(bucket_plan, "planned")
    config = _by_address(bucket_plan, "configuration")
    changes = _by_address(bucket_plan, "changes")
    versioning = "aws_s3_bucket_versioning.data-versioning"
    assert "bucket" not in planned[versioning]["values"]
    assert planned[versioning]["values"]["versioning_configuration"] == [{"status": "Enabled"}]
    assert config[versioning]["expressions"]["bucket"]["references"] == [
        "aws_s3_bucket.data.id",
        "aws_s3_bucket.data",
    ]
    assert changes[versioning]["change"]["after_unknown"] == {"bucket": True}
    key_ref = config["aws_cloudwatch_log_group.logs"]["expressions"]["kms_key_id"]["references"]
    assert key_ref[0] == "aws_kms_key.logs-key.arn"


def test_every_resource_is_created_in_the_plan(bucket_plan):
    assert bucket_plan["format_version"] == "1.2"
    changes = bucket_plan["resource_changes"]
    assert {c["change"]["actions"][0] for c in changes} == {"create"}
    planned = _by_address(bucket_plan, "planned")
    for c in changes:
        assert c["change"]["after"] == planned[c["address"]]["values"]
        assert planned[c["address"]]["provider_name"] == tp.PROVIDER


def test_each_stack_exports_every_aws_resource_once(each_stack):
    plan = tp.plan(each_stack.resources)
    addresses = [r["address"] for r in plan["planned_values"]["root_module"]["resources"]]
    wanted = [r for r in each_stack.resources if r.custom and r.type.startswith("aws:")]
    assert len(addresses) == len(set(addresses)) == len(wanted) + 1  # + the awsx VPC
    assert all(a.startswith("aws_") for a in addresses)
    json.dumps(plan)  # plain JSON all through


def test_the_flow_log_and_the_default_security_group_refer_to_the_awsx_vpc(each_stack):
    config = _by_address(tp.plan(each_stack.resources), "configuration")
    for address in ("aws_flow_log.network-flow-log",
                    "aws_default_security_group.network-default-sg"):  # fmt: skip
        refs = config[address]["expressions"]["vpc_id"]["references"]
        assert refs[0] == "aws_vpc.network-vpc.id"


def test_bucket_settings_refer_to_their_bucket_in_each_stack(each_stack):
    config = _by_address(tp.plan(each_stack.resources), "configuration")
    parts = [c for c in config.values() if c["type"] == "aws_s3_bucket_public_access_block"]
    assert parts
    for part in parts:
        assert part["expressions"]["bucket"]["references"][0].startswith("aws_s3_bucket.")


def _waf_program():
    import pulumi

    alb = aws.lb.LoadBalancer("alb", load_balancer_type="application", subnets=["s-1", "s-2"])
    acl = aws.wafv2.WebAcl(
        "acl",
        scope="REGIONAL",
        default_action={"allow": {}},
        visibility_config={"cloudwatch_metrics_enabled": True, "metric_name": "m",
                           "sampled_requests_enabled": True},
    )  # fmt: skip
    aws.wafv2.WebAclAssociation("alb-waf", resource_arn=alb.arn, web_acl_arn=acl.arn)
    api = aws.apigateway.RestApi("api", name="agent-api")
    stage = aws.apigateway.Stage("stage", rest_api=api.id, deployment="dep-1", stage_name="v1")
    arn = pulumi.Output.concat(
        "arn:aws:apigateway:us-east-1::/restapis/", api.id, "/stages/", stage.stage_name
    )
    aws.wafv2.WebAclAssociation("stage-waf", resource_arn=arn, web_acl_arn=acl.arn)


def test_a_waf_association_refers_to_what_it_protects_even_by_a_built_stage_arn():
    from offline.runner import run_function

    config = _by_address(tp.plan(run_function(_waf_program).resources), "configuration")
    alb = config["aws_wafv2_web_acl_association.alb-waf"]["expressions"]
    stage = config["aws_wafv2_web_acl_association.stage-waf"]["expressions"]
    assert alb["resource_arn"]["references"][0] == "aws_lb.alb.arn"
    assert stage["resource_arn"]["references"][0] == "aws_api_gateway_stage.stage.arn"
    assert alb["web_acl_arn"]["references"][0] == "aws_wafv2_web_acl.acl.arn"


def _named_program():
    api = aws.apigateway.RestApi("api", name="agent-api")
    stage = aws.apigateway.Stage("stage", rest_api=api.id, deployment="dep-1", stage_name="v1")
    other = aws.apigateway.RestApi("other", name="other-api")
    settings = {"metrics_enabled": True, "logging_level": "ERROR"}
    aws.apigateway.MethodSettings(
        "settings", rest_api=api.id, stage_name=stage.stage_name, method_path="*/*",
        settings=settings,
    )  # fmt: skip
    # Same stage name on another API: not that stage's settings.
    aws.apigateway.MethodSettings(
        "elsewhere", rest_api=other.id, stage_name="v1", method_path="*/*", settings=settings
    )
    alb = aws.lb.LoadBalancer("alb", load_balancer_type="application", subnets=["s-1", "s-2"])
    cdn = aws.cloudfront.Distribution(
        "cdn",
        enabled=True,
        origins=[{"domain_name": "o.example.com", "origin_id": "o"}],
        default_cache_behavior={"allowed_methods": ["GET", "HEAD"],
                                "cached_methods": ["GET", "HEAD"], "target_origin_id": "o",
                                "viewer_protocol_policy": "https-only"},
        restrictions={"geo_restriction": {"restriction_type": "none"}},
        viewer_certificate={"cloudfront_default_certificate": True},
    )  # fmt: skip
    for name, target in (("lb", alb.dns_name), ("cdn", cdn.domain_name)):
        aws.route53.Record(
            f"{name}-alias", zone_id="Z123", name=f"{name}.example.com", type="A",
            aliases=[{"name": target, "zone_id": "Z2FDTNDATAQYW2",
                      "evaluate_target_health": False}],
        )  # fmt: skip
    aws.route53.Record(
        "elsewhere-alias", zone_id="Z123", name="x.example.com", type="A",
        aliases=[{"name": "other.elb.amazonaws.com", "zone_id": "Z1",
                  "evaluate_target_health": False}],
    )  # fmt: skip


@pytest.fixture(scope="module")
def named_plan():
    from offline.runner import run_function

    return tp.plan(run_function(_named_program).resources)


def test_method_settings_refer_to_the_stage_of_their_rest_api_by_its_name(named_plan):
    config = _by_address(named_plan, "configuration")
    planned = _by_address(named_plan, "planned")
    changes = _by_address(named_plan, "changes")
    settings = "aws_api_gateway_method_settings.settings"
    assert config[settings]["expressions"]["stage_name"]["references"] == [
        "aws_api_gateway_stage.stage.stage_name",
        "aws_api_gateway_stage.stage",
    ]
    assert "stage_name" not in planned[settings]["values"]
    assert changes[settings]["change"]["after_unknown"]["stage_name"] is True
    assert planned[settings]["values"]["settings"] == [
        {"metrics_enabled": True, "logging_level": "ERROR"}
    ]
    elsewhere = "aws_api_gateway_method_settings.elsewhere"
    assert "stage_name" not in config[elsewhere]["expressions"]
    assert planned[elsewhere]["values"]["stage_name"] == "v1"


def test_an_alias_record_refers_to_the_endpoint_whose_dns_name_it_holds(named_plan):
    config = _by_address(named_plan, "configuration")
    planned = _by_address(named_plan, "planned")
    changes = _by_address(named_plan, "changes")
    lb = config["aws_route53_record.lb-alias"]["expressions"]["alias"]
    cdn = config["aws_route53_record.cdn-alias"]["expressions"]["alias"]
    assert lb == [{"name": {"references": ["aws_lb.alb.dns_name", "aws_lb.alb"]}}]
    assert cdn[0]["name"]["references"][0] == "aws_cloudfront_distribution.cdn.domain_name"
    record = planned["aws_route53_record.lb-alias"]["values"]
    assert record["alias"] == [{"zone_id": "Z2FDTNDATAQYW2", "evaluate_target_health": False}]
    assert record["name"] == "lb.example.com"  # the record's own name stays a value
    unknown = changes["aws_route53_record.lb-alias"]["change"]["after_unknown"]
    assert unknown == {"alias": [{"name": True}]}
    assert "alias" not in config["aws_route53_record.elsewhere-alias"]["expressions"]


def test_prod_joins_the_rest_stage_settings_and_every_alias_record_to_its_target(prod):
    config = _by_address(tp.plan(prod.resources), "configuration")
    settings = config["aws_api_gateway_method_settings.agent-world-rest-throttling"]
    assert settings["expressions"]["stage_name"]["references"][0] == (
        "aws_api_gateway_stage.agent-world-rest-stage.stage_name"
    )
    aliases = {a: c for a, c in config.items() if c["type"] == "aws_route53_record"
               and "-alias-" in a}  # fmt: skip
    assert len(aliases) >= 3
    for address, record in aliases.items():
        target = record["expressions"]["alias"][0]["name"]["references"][0]
        assert target.startswith(("aws_lb.", "aws_cloudfront_distribution.")), address
