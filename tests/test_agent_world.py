"""AgentWorldStack, as the real program registers it for the dev and prod stack files."""

from __future__ import annotations

import json

import pytest

from components.agent_world import ROLES, TABLE_ACCESS
from offline.mocks import ACCOUNT_ID, SECRET_PLACEHOLDER
from offline.runner import ProgramError

SERVICE = "aws:ecs/service:Service"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"


@pytest.fixture(scope="module")
def dev(dev):
    return dev.subtree("agent-world")


@pytest.fixture(scope="module")
def prod(prod):
    return prod.subtree("agent-world")


def containers(run, role):
    return {
        c["name"]: c
        for c in json.loads(run.named(f"agent-world-{role}-task").inputs["containerDefinitions"])
    }


def env(run, role):
    return {e["name"]: e["value"] for e in containers(run, role)[role]["environment"]}


def grants(document):
    out = set()
    for s in document["Statement"]:
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        out |= {(a, r) for a in actions for r in resources}
    return out


# --- the private path ------------------------------------------------------------------


def test_an_internal_nlb_that_only_the_vpc_link_reaches(each_stack):
    nlb = each_stack.named("agent-world-nlb")
    assert nlb.inputs["loadBalancerType"] == "network"
    assert nlb.inputs["internal"] is True
    assert all(s.startswith("subnet-prv") for s in nlb.inputs["subnets"])
    assert nlb.inputs["enforceSecurityGroupInboundRulesOnPrivateLinkTraffic"] == "off"
    nlb_sg = each_stack.named("agent-world-nlb-sg")
    assert not [
        r for r in each_stack.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["securityGroupId"] == nlb_sg.id
    ]  # fmt: skip
    link = each_stack.one("aws:apigateway/vpcLink:VpcLink")
    assert link.inputs["targetArn"] == nlb.outputs["arn"]


def test_tasks_admit_only_the_nlb(each_stack):
    tasks_sg = each_stack.named("agent-world-tasks-sg")
    rules = [
        r.inputs
        for r in each_stack.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["securityGroupId"] == tasks_sg.id
    ]
    assert rules == [
        {**rules[0], "referencedSecurityGroupId": each_stack.named("agent-world-nlb-sg").id,
         "fromPort": 8000, "toPort": 8000}
    ]  # fmt: skip


# --- services ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", [r.name for r in ROLES])
def test_three_services_with_an_xray_sidecar_and_circuit_breaker(each_stack, role):
    found = containers(each_stack, role)
    assert set(found) == {role, "xray-daemon"}
    assert found["xray-daemon"]["image"].startswith("public.ecr.aws/xray/aws-xray-daemon:")
    assert env(each_stack, role)["SERVICE_ROLE"] == role
    assert env(each_stack, role)["AWS_XRAY_DAEMON_ADDRESS"] == "127.0.0.1:2000"
    service = each_stack.named(f"agent-world-{role}-service").inputs
    assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert service["networkConfiguration"]["securityGroups"] == [
        each_stack.named("agent-world-tasks-sg").id
    ]
    app = found[role]
    assert app["readonlyRootFilesystem"] is True and app["user"] == "10001:10001"


@pytest.mark.parametrize("role", [r.name for r in ROLES])
def test_cpu_and_memory_autoscaling_between_min_and_max(dev, prod, role):
    for run, bounds in ((dev, (1, 2)), (prod, (2, 8))):
        target = run.named(f"agent-world-{role}-scaling-target").inputs
        assert (target["minCapacity"], target["maxCapacity"]) == bounds
        for metric in ("cpu", "memory"):
            policy = run.named(f"agent-world-{role}-{metric}-tracking").inputs
            assert policy["policyType"] == "TargetTrackingScaling"


@pytest.mark.parametrize("role", [r.name for r in ROLES])
def test_redis_token_is_an_ecs_secret_and_no_secret_is_plain(each_stack, role):
    secret = each_stack.named("agent-world-data-redis-token-secret").outputs["arn"]
    app = containers(each_stack, role)[role]
    assert app["secrets"] == [{"name": "REDIS_AUTH_TOKEN", "valueFrom": secret}]
    assert SECRET_PLACEHOLDER not in json.dumps(app)


def test_each_service_reads_its_own_tables_only(each_stack):
    tables = {
        t.name.removeprefix("agent-world-data-"): t.outputs["arn"]
        for t in each_stack.of_type("aws:dynamodb/table:Table")
    }
    for role in ROLES:
        document = json.loads(each_stack.named(f"agent-world-{role.name}-task-policy").inputs[
            "policy"])  # fmt: skip
        allowed = grants(document)
        expected = {
            (action, arn)
            for table, actions in TABLE_ACCESS[role.name].items()
            for arn in (tables[table], f"{tables[table]}/index/*")
            for action in actions
        }
        dynamo = {g for g in allowed if g[0].startswith("dynamodb:")}
        assert dynamo == expected, role.name
        for action, resource in allowed:
            assert "*" not in action, (role.name, action)
            assert resource != "*" or action.startswith("xray:"), (role.name, action)


def test_llm_integration_may_invoke_only_the_configured_models(each_stack):
    document = json.loads(each_stack.named("agent-world-llm-integration-task-policy").inputs[
        "policy"])  # fmt: skip
    bedrock = {g for g in grants(document) if g[0].startswith("bedrock:")}
    assert bedrock == {
        ("bedrock:InvokeModel",
         "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0")
    }  # fmt: skip
    assert env(each_stack, "llm-integration")["BEDROCK_MODEL_IDS"] == (
        "anthropic.claude-3-haiku-20240307-v1:0"
    )
    assert env(each_stack, "llm-integration")["LLM_PROVIDER"] == "agent_world.llm:BedrockProvider"
    others = json.loads(each_stack.named("agent-world-agent-runtime-task-policy").inputs["policy"])
    assert not {g for g in grants(others) if g[0].startswith("bedrock:")}


def test_logs_are_encrypted_with_the_stack_key(each_stack):
    key = each_stack.named("agent-world-data-key").outputs["arn"]
    for group in each_stack.of_type("aws:cloudwatch/logGroup:LogGroup"):
        assert group.inputs["kmsKeyId"] == key, group.name
        assert group.inputs["retentionInDays"] in (30, 365)


# --- APIs -----------------------------------------------------------------------------


def test_rest_api_routes_each_service_through_the_vpc_link(each_stack):
    link = each_stack.one("aws:apigateway/vpcLink:VpcLink")
    nlb_dns = each_stack.named("agent-world-nlb").outputs["dnsName"]
    for role in ROLES:
        method = each_stack.named(f"agent-world-rest-{role.api_path}-method").inputs
        assert (method["httpMethod"], method["apiKeyRequired"]) == ("ANY", True)
        integration = each_stack.named(f"agent-world-rest-{role.api_path}-integration").inputs
        assert integration["type"] == "HTTP_PROXY"
        assert integration["connectionType"] == "VPC_LINK"
        assert integration["connectionId"] == link.id
        assert integration["uri"] == f"http://{nlb_dns}:{role.listener_port}/{{proxy}}"


def test_rest_stage_traces_logs_and_throttles(each_stack):
    stage = each_stack.one("aws:apigateway/stage:Stage").inputs
    assert stage["xrayTracingEnabled"] is True
    logs = each_stack.named("agent-world-rest-access-logs")
    assert stage["accessLogSettings"]["destinationArn"] == logs.outputs["arn"]
    assert json.loads(stage["accessLogSettings"]["format"])["requestId"] == "$context.requestId"
    settings = each_stack.one("aws:apigateway/methodSettings:MethodSettings").inputs
    assert settings["methodPath"] == "*/*"
    assert (settings["settings"]["throttlingRateLimit"],
            settings["settings"]["throttlingBurstLimit"]) == (50, 100)  # fmt: skip
    assert each_stack.one("aws:apigateway/account:Account").inputs["cloudwatchRoleArn"]


def test_websocket_api_has_the_three_routes_to_agent_runtime(each_stack):
    routes = {r.inputs["routeKey"]: r for r in each_stack.of_type("aws:apigatewayv2/route:Route")}
    assert set(routes) == {"$connect", "$disconnect", "$default"}
    assert routes["$connect"].inputs["apiKeyRequired"] is True
    nlb_dns = each_stack.named("agent-world-nlb").outputs["dnsName"]
    uris = sorted(
        i.inputs["integrationUri"]
        for i in each_stack.of_type("aws:apigatewayv2/integration:Integration")
    )
    assert uris == sorted(f"http://{nlb_dns}:8002/ws/{p}" for p in ("connect", "disconnect",
                                                                    "message"))  # fmt: skip
    stage = each_stack.one("aws:apigatewayv2/stage:Stage").inputs
    assert (
        stage["accessLogSettings"]["destinationArn"]
        == each_stack.named("agent-world-websocket-access-logs").outputs["arn"]
    )
    assert stage["defaultRouteSettings"]["throttlingRateLimit"] == 50


def test_api_key_lives_in_secrets_manager_and_never_in_outputs(dev_program):
    key = dev_program.one("aws:apigateway/apiKey:ApiKey")
    secret = dev_program.named("agent-world-api-key-secret-value")
    assert "value" in key.options["additional_secret_outputs"]
    assert "secretString" in secret.secret_paths
    assert SECRET_PLACEHOLDER not in json.dumps(dev_program.outputs)


# --- CloudFront ----------------------------------------------------------------------------


def test_cloudfront_is_https_only_with_oac_and_price_class_100(each_stack):
    d = each_stack.one(DISTRIBUTION).inputs
    assert d["priceClass"] == "PriceClass_100"
    assert d["defaultCacheBehavior"]["viewerProtocolPolicy"] == "redirect-to-https"
    assert all(b["viewerProtocolPolicy"] == "redirect-to-https" for b in d["orderedCacheBehaviors"])
    origins = {o["originId"]: o for o in d["origins"]}
    oac = each_stack.one("aws:cloudfront/originAccessControl:OriginAccessControl")
    assert origins["assets"]["originAccessControlId"] == oac.id
    assert origins["api"]["customOriginConfig"]["originProtocolPolicy"] == "https-only"
    assert d["viewerCertificate"] == {"cloudfrontDefaultCertificate": True}


def test_assets_bucket_admits_only_this_distribution(each_stack):
    distribution = each_stack.one(DISTRIBUTION).outputs["arn"]
    policy = json.loads(each_stack.named("agent-world-data-assets-tls-policy").inputs["policy"])
    deny, read = policy["Statement"]
    assert deny["Sid"] == "DenyInsecureTransport"
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert read["Condition"] == {"StringEquals": {"AWS:SourceArn": distribution}}


def test_a_custom_domain_gets_tls_1_2_2021(run_stack):
    cert = f"arn:aws:acm:us-east-1:{ACCOUNT_ID}:certificate/11111111-2222-3333-4444-555555555555"
    run = run_stack(
        "prod", {"agent_world.domain_names": ["world.example.com"],
                 "agent_world.cdn_certificate_arn": cert},
    )  # fmt: skip
    d = run.one(DISTRIBUTION).inputs
    assert d["aliases"] == ["world.example.com"]
    assert d["viewerCertificate"] == {
        "acmCertificateArn": cert, "sslSupportMethod": "sni-only",
        "minimumProtocolVersion": "TLSv1.2_2021",
    }  # fmt: skip


def test_a_custom_domain_without_a_us_east_1_certificate_is_refused(run_stack):
    with pytest.raises(ProgramError, match="cdn_certificate_arn: expected an ACM certificate"):
        run_stack("prod", {"agent_world.domain_names": ["world.example.com"]})


def test_standard_logs_in_prod_only(dev, prod):
    assert (
        prod.one("aws:cloudwatch/logDeliverySource:LogDeliverySource").inputs["resourceArn"]
        == prod.one(DISTRIBUTION).outputs["arn"]
    )
    assert not dev.of_type("aws:cloudwatch/logDeliverySource:LogDeliverySource")


# --- observability and outputs -------------------------------------------------------------


def test_dashboard_shows_api_ecs_dynamodb_and_redis(dev):
    body = json.loads(dev.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    titles = {w["properties"]["title"] for w in body["widgets"]}
    assert {"API latency (ms)", "API 5xx", "ECS CPU %", "ECS memory %",
            "Redis engine CPU %"} <= titles  # fmt: skip


def test_alarms_notify_the_topic(each_stack):
    alarms = each_stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert {"agent-world-api-5xx", "agent-world-redis-cpu"} <= {a.name for a in alarms}
    assert len([a for a in alarms if a.name.endswith("-throttles")]) == 6
    for alarm in alarms:
        assert alarm.inputs["alarmActions"] == [each_stack.outputs["alarm_topic_arn"]]


def test_outputs(dev_program):
    out = dev_program.outputs
    assert out["agent_world_rest_url"].startswith("https://")
    assert out["agent_world_websocket_url"].startswith("wss://")
    assert out["agent_world_cloudfront_domain"].endswith(".cloudfront.net")
    assert set(out["agent_world_table_names"]) == {
        "worlds", "agents", "memory-streams", "world-objects", "events", "snapshots",
    }  # fmt: skip
