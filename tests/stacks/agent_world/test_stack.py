"""AgentWorldStack, as the real program registers it for the dev and prod stack files."""

from __future__ import annotations

import dataclasses
import json

import pytest

from components.lib.agent_world_roles import REGISTRY_TABLE, ROLES, TABLE_ACCESS, table_access
from components.lib.agent_world_schema import TABLES
from components.stacks.agent_world import AgentWorldArgs, AgentWorldDataArgs
from components.stacks.common import StackCommon
from offline.mocks import ACCOUNT_ID, SECRET_PLACEHOLDER
from offline.runner import ProgramError

SERVICE = "aws:ecs/service:Service"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
RULE = "aws:lb/listenerRule:ListenerRule"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
REDIS_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"


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


# --- the private paths -----------------------------------------------------------------


def test_prod_has_an_internal_nlb_that_only_the_vpc_link_reaches(prod):
    nlb = prod.named("agent-world-nlb")
    assert nlb.inputs["loadBalancerType"] == "network"
    assert nlb.inputs["internal"] is True
    assert all(s.startswith("subnet-prv") for s in nlb.inputs["subnets"])
    assert nlb.inputs["enforceSecurityGroupInboundRulesOnPrivateLinkTraffic"] == "off"
    nlb_sg = prod.named("agent-world-nlb-sg")
    assert not [
        r for r in prod.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["securityGroupId"] == nlb_sg.id
    ]  # fmt: skip
    link = prod.one("aws:apigateway/vpcLink:VpcLink")
    assert link.inputs["targetArn"] == nlb.outputs["arn"]
    assert not prod.of_type("aws:apigatewayv2/vpcLink:VpcLink")


def test_dev_has_no_nlb_but_a_vpc_link_v2_to_the_shared_alb(dev, dev_program):
    assert not dev.of_type("aws:lb/loadBalancer:LoadBalancer")
    assert not dev.of_type("aws:apigateway/vpcLink:VpcLink")
    link = dev.one("aws:apigatewayv2/vpcLink:VpcLink").inputs
    assert all(s.startswith("subnet-prv") for s in link["subnetIds"])
    link_sg = dev.named("agent-world-vpc-link-sg")
    assert link["securityGroupIds"] == [link_sg.id]
    alb_sg = dev_program.named("inference-lb-sg").id
    egress = [r.inputs for r in dev.of_type(EGRESS) if r.inputs["securityGroupId"] == link_sg.id]
    assert [(r["referencedSecurityGroupId"], r["fromPort"], r["toPort"]) for r in egress] == [
        (alb_sg, 80, 80)
    ]
    ingress = dev.named("agent-world-alb-from-vpc-link").inputs
    assert (ingress["securityGroupId"], ingress["referencedSecurityGroupId"]) == (
        alb_sg,
        link_sg.id,
    )


def test_dev_alb_rule_forwards_only_api_gateway_traffic_from_inside_the_vpc(dev, dev_program):
    rule = dev.named("agent-world-all-rule").inputs
    assert rule["listenerArn"] == dev_program.named("inference-lb-http").outputs["arn"]
    # Before every path rule of the other stacks (inference's /health is priority 10).
    others = [r.inputs["priority"] for r in dev_program.of_type(RULE)
              if not r.name.startswith("agent-world")]  # fmt: skip
    assert rule["priority"] < min(others)
    conditions = {next(iter(c)): next(iter(c.values())) for c in rule["conditions"]}
    assert conditions == {
        "httpHeader": {"httpHeaderName": "X-Agent-World-Service", "values": ["all"]},
        "sourceIp": {"values": ["10.20.0.0/16"]},
    }
    tg = dev.named("agent-world-all-tg")
    assert rule["actions"] == [{"type": "forward", "targetGroupArn": tg.outputs["arn"]}]
    assert (tg.inputs["protocol"], tg.inputs["targetType"]) == ("HTTP", "ip")


@pytest.mark.parametrize(
    "stack, front", [("dev", "inference-lb-sg"), ("prod", "agent-world-nlb-sg")]
)
def test_tasks_admit_only_their_load_balancer(dev_program, prod_program, stack, front):
    run = {"dev": dev_program, "prod": prod_program}[stack]
    tasks_sg = run.named("agent-world-tasks-sg")
    rules = [r.inputs for r in run.of_type(INGRESS) if r.inputs["securityGroupId"] == tasks_sg.id]
    assert rules == [
        {**rules[0], "referencedSecurityGroupId": run.named(front).id,
         "fromPort": 8000, "toPort": 8000}
    ]  # fmt: skip


# --- services ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", [r.name for r in ROLES])
def test_prod_has_three_services_with_an_xray_sidecar_and_circuit_breaker(prod, role):
    check_service(prod, role)


def test_dev_has_one_service_of_every_role(dev):
    assert [s.inputs["name"] for s in dev.of_type(SERVICE)] == ["mlplatform-dev-agent-world"]
    check_service(dev, "all")
    assert env(dev, "all")["LLM_PROVIDER"] == "agent_world.llm:BedrockProvider"


def check_service(run, role):
    found = containers(run, role)
    assert set(found) == {role, "xray-daemon"}
    assert found["xray-daemon"]["image"].startswith("public.ecr.aws/xray/aws-xray-daemon:")
    assert env(run, role)["SERVICE_ROLE"] == role
    assert env(run, role)["AWS_XRAY_DAEMON_ADDRESS"] == "127.0.0.1:2000"
    service = run.named(f"agent-world-{role}-service").inputs
    assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert service["networkConfiguration"]["securityGroups"] == [
        run.named("agent-world-tasks-sg").id
    ]
    app = found[role]
    assert app["readonlyRootFilesystem"] is True and app["user"] == "10001:10001"


@pytest.mark.parametrize(
    "stack, role, bounds",
    [("dev", "all", (1, 1))] + [("prod", r.name, (2, 8)) for r in ROLES],
)
def test_cpu_and_memory_autoscaling_between_min_and_max(dev, prod, stack, role, bounds):
    run = {"dev": dev, "prod": prod}[stack]
    target = run.named(f"agent-world-{role}-scaling-target").inputs
    assert (target["minCapacity"], target["maxCapacity"]) == bounds
    tracking = [p for p in run.of_type("aws:appautoscaling/policy:Policy")
                if p.name.startswith(f"agent-world-{role}-")]  # fmt: skip
    if bounds[0] == bounds[1]:  # dev: one task, nothing to scale, no tracking alarms
        assert tracking == []
        return
    for metric in ("cpu", "memory"):
        policy = run.named(f"agent-world-{role}-{metric}-tracking").inputs
        assert policy["policyType"] == "TargetTrackingScaling"


@pytest.mark.parametrize("role", [r.name for r in ROLES])
def test_redis_token_is_an_ecs_secret_and_no_secret_is_plain(prod, role):
    secret = prod.named("agent-world-data-redis-token-secret").outputs["arn"]
    app = containers(prod, role)[role]
    assert app["secrets"] == [{"name": "REDIS_AUTH_TOKEN", "valueFrom": secret}]
    assert SECRET_PLACEHOLDER not in json.dumps(app)


def test_without_redis_no_redis_variables_or_secret(dev):
    app = containers(dev, "all")["all"]
    assert "secrets" not in app
    assert not {k for k in env(dev, "all") if k.startswith("REDIS")}
    policy = json.loads(dev.named("agent-world-execution-policy").inputs["policy"])
    assert not {g for g in grants(policy) if g[0].startswith(("secretsmanager:", "kms:"))}


def test_dev_with_redis_on_injects_its_token(run_stack):
    run = run_stack("dev", {"agent_world.redis": True}).subtree("agent-world")
    secret = run.named("agent-world-data-redis-token-secret").outputs["arn"]
    assert containers(run, "all")["all"]["secrets"] == [
        {"name": "REDIS_AUTH_TOKEN", "valueFrom": secret}
    ]
    redis_sg = run.named("agent-world-data-redis-sg")
    rules = [r.inputs for r in run.of_type(INGRESS) if r.inputs["securityGroupId"] == redis_sg.id]
    assert [r["referencedSecurityGroupId"] for r in rules] == [run.named("agent-world-tasks-sg").id]


@pytest.mark.parametrize("stack, role", [("dev", "all")] + [("prod", r.name) for r in ROLES])
def test_each_service_reads_its_own_tables_only(dev, prod, stack, role):
    run = {"dev": dev, "prod": prod}[stack]
    tables = {
        t.name.removeprefix("agent-world-data-"): t.outputs["arn"]
        for t in run.of_type("aws:dynamodb/table:Table")
    }
    document = json.loads(run.named(f"agent-world-{role}-task-policy").inputs["policy"])
    allowed = grants(document)
    expected = {
        (action, arn)
        for table, actions in table_access([role]).items()
        # issue 15: the registry's table only where there is no Redis (prod has one).
        if not (table == REGISTRY_TABLE and run.of_type(REDIS_GROUP))
        for arn in (tables[table], f"{tables[table]}/index/*")
        for action in actions
    }
    dynamo = {g for g in allowed if g[0].startswith("dynamodb:")}
    assert dynamo == expected
    for action, resource in allowed:
        assert "*" not in action, action
        assert resource != "*" or action.startswith("xray:"), action


@pytest.mark.parametrize("stack, role", [("dev", "all")] + [("prod", r.name) for r in ROLES])
def test_a_task_role_with_tables_may_decrypt_their_key_through_dynamodb_only(
    dev, prod, stack, role
):
    run = {"dev": dev, "prod": prod}[stack]
    key = run.named("agent-world-data-key").outputs["arn"]
    document = json.loads(run.named(f"agent-world-{role}-task-policy").inputs["policy"])
    kms = [s for s in document["Statement"] if "kms:" in json.dumps(s["Action"])]
    if not table_access([role]):
        assert kms == []  # llm-integration touches no table
        return
    (statement,) = kms
    assert statement["Action"] in ("kms:Decrypt", ["kms:Decrypt"])
    assert statement["Resource"] in (key, [key])
    assert statement["Condition"] == {
        "StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}
    }


def test_the_one_service_may_do_what_the_three_roles_may():
    merged = table_access(["all"])
    for role in ROLES:
        for table, actions in TABLE_ACCESS[role.name].items():
            assert set(actions) <= set(merged[table])
    assert table_access(["agent-runtime"]) == TABLE_ACCESS["agent-runtime"]


MODEL = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"


@pytest.mark.parametrize("stack, role", [("dev", "all"), ("prod", "llm-integration")])
def test_llm_integration_may_invoke_only_the_configured_models(dev, prod, stack, role):
    run = {"dev": dev, "prod": prod}[stack]
    document = json.loads(run.named(f"agent-world-{role}-task-policy").inputs["policy"])
    bedrock = {g for g in grants(document) if g[0].startswith("bedrock:")}
    assert bedrock == {("bedrock:InvokeModel", MODEL)}
    assert env(run, role)["BEDROCK_MODEL_IDS"] == "anthropic.claude-3-haiku-20240307-v1:0"
    assert env(run, role)["LLM_PROVIDER"] == "agent_world.llm:BedrockProvider"


def test_only_llm_integration_may_invoke_models_in_prod(prod):
    for role in ("world-management", "agent-runtime"):
        document = json.loads(prod.named(f"agent-world-{role}-task-policy").inputs["policy"])
        assert not {g for g in grants(document) if g[0].startswith("bedrock:")}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_logs_are_encrypted_with_the_platforms_logs_key(stack, dev, prod, dev_program,
                                                        prod_program):  # fmt: skip
    key = {"dev": dev_program, "prod": prod_program}[stack].named("audit-key").outputs["arn"]
    groups = {"dev": dev, "prod": prod}[stack].of_type("aws:cloudwatch/logGroup:LogGroup")
    assert groups
    for group in groups:
        assert group.inputs["kmsKeyId"] == key, group.name
        assert group.inputs["retentionInDays"] in (30, 365)


# --- APIs -----------------------------------------------------------------------------


def test_prod_rest_api_routes_each_service_through_the_nlb(prod):
    link = prod.one("aws:apigateway/vpcLink:VpcLink")
    nlb_dns = prod.named("agent-world-nlb").outputs["dnsName"]
    for role in ROLES:
        method = prod.named(f"agent-world-rest-{role.api_path}-method").inputs
        assert (method["httpMethod"], method["apiKeyRequired"]) == ("ANY", True)
        integration = prod.named(f"agent-world-rest-{role.api_path}-integration").inputs
        assert integration["type"] == "HTTP_PROXY"
        assert integration["connectionType"] == "VPC_LINK"
        assert integration["connectionId"] == link.id
        assert integration["uri"] == f"http://{nlb_dns}:{role.listener_port}/{{proxy}}"
        assert "integrationTarget" not in integration


def test_the_service_behind_the_shared_alb_accepts_the_paths_with_stage_and_resource(dev, prod):
    assert env(dev, "all")["API_BASE_PATHS"] == "/v1/api/world,/v1/api/runtime,/v1/api/llm"
    assert "API_BASE_PATHS" not in env(prod, "world-management")


def test_dev_rest_api_routes_every_service_to_the_shared_alb(dev, dev_program):
    link = dev.one("aws:apigatewayv2/vpcLink:VpcLink")
    alb = dev_program.named("inference-lb-alb").outputs
    for role in ROLES:
        method = dev.named(f"agent-world-rest-{role.api_path}-method").inputs
        assert (method["httpMethod"], method["apiKeyRequired"]) == ("ANY", True)
        integration = dev.named(f"agent-world-rest-{role.api_path}-integration").inputs
        assert (integration["type"], integration["connectionType"]) == ("HTTP_PROXY", "VPC_LINK")
        assert integration["connectionId"] == link.id
        assert integration["integrationTarget"] == alb["arn"]
        assert integration["uri"] == f"http://{alb['dnsName']}/{{proxy}}"
        assert integration["requestParameters"] == {
            "integration.request.path.proxy": "method.request.path.proxy",
            "integration.request.header.X-Agent-World-Service": "'all'",
        }


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


def test_rest_stage_logs_execution_at_error_with_metrics_and_no_data_trace(each_stack):
    settings = each_stack.one("aws:apigateway/methodSettings:MethodSettings")
    assert settings.inputs["settings"]["loggingLevel"] == "ERROR"
    assert settings.inputs["settings"]["metricsEnabled"] is True
    assert settings.inputs["settings"]["dataTraceEnabled"] is False
    api = each_stack.one("aws:apigateway/restApi:RestApi").id
    logs = each_stack.named("agent-world-rest-execution-logs")
    # The group API Gateway writes to, created first with retention and the logs key.
    assert logs.inputs["name"] == f"API-Gateway-Execution-Logs_{api}/v1"
    assert logs.urn in settings.options["depends_on"]


def test_websocket_stage_logs_execution_with_detailed_metrics(each_stack):
    stage = each_stack.one("aws:apigatewayv2/stage:Stage")
    routes = stage.inputs["defaultRouteSettings"]
    assert routes["loggingLevel"] == "ERROR"
    assert (routes["dataTraceEnabled"], routes["detailedMetricsEnabled"]) == (False, True)
    logs = each_stack.named("agent-world-websocket-execution-logs")
    api = each_stack.one("aws:apigatewayv2/api:Api").id
    assert logs.inputs["name"] == f"/aws/apigateway/{api}/v1"
    assert logs.urn in stage.options["depends_on"]


def test_info_execution_logging_is_a_config_choice(run_stack):
    run = run_stack("dev", {"mlplatform:agent_world.execution_log_level": "INFO"})
    settings = run.one("aws:apigateway/methodSettings:MethodSettings").inputs["settings"]
    assert settings["loggingLevel"] == "INFO"
    ws = run.named("agent-world-ws-stage").inputs["defaultRouteSettings"]
    assert ws["loggingLevel"] == "INFO"


def test_execution_logging_off_creates_no_execution_log_groups(run_stack):
    run = run_stack("dev", {"mlplatform:agent_world.execution_log_level": "OFF"})
    assert run.one("aws:apigateway/methodSettings:MethodSettings").inputs["settings"][
        "loggingLevel"] == "OFF"  # fmt: skip
    names = {g.name for g in run.of_type("aws:cloudwatch/logGroup:LogGroup")}
    assert not {n for n in names if "execution-logs" in n}


def test_every_rest_method_validates_its_required_parameters(each_stack):
    (validator,) = each_stack.of_type("aws:apigateway/requestValidator:RequestValidator")
    assert validator.inputs["validateRequestParameters"] is True
    # No model: the routes proxy any body to the services.
    assert validator.inputs["validateRequestBody"] is False
    methods = each_stack.of_type("aws:apigateway/method:Method")
    assert len(methods) == 3
    for method in methods:
        assert method.inputs["requestValidatorId"] == validator.id, method.name
        assert method.inputs["requestParameters"] == {
            "method.request.path.proxy": True,
            "method.request.header.x-api-key": True,
        }
    # A changed validation redeploys the stage.
    deployment = each_stack.one("aws:apigateway/deployment:Deployment")
    assert deployment.inputs["triggers"]["validation"] == (
        "method.request.header.x-api-key,method.request.path.proxy"
    )


def websocket_uris(run):
    return sorted(
        i.inputs["integrationUri"] for i in run.of_type("aws:apigatewayv2/integration:Integration")
    )


def test_websocket_api_has_three_routes_with_the_key_checked_on_connect(each_stack):
    routes = {r.inputs["routeKey"]: r for r in each_stack.of_type("aws:apigatewayv2/route:Route")}
    assert set(routes) == {"$connect", "$disconnect", "$default"}
    assert routes["$connect"].inputs["apiKeyRequired"] is True
    stage = each_stack.one("aws:apigatewayv2/stage:Stage").inputs
    assert (
        stage["accessLogSettings"]["destinationArn"]
        == each_stack.named("agent-world-websocket-access-logs").outputs["arn"]
    )
    assert stage["defaultRouteSettings"]["throttlingRateLimit"] == 50
    for integration in each_stack.of_type("aws:apigatewayv2/integration:Integration"):
        assert integration.inputs["requestParameters"][
            "integration.request.header.X-Connection-Id"] == "context.connectionId"  # fmt: skip


def test_the_usage_plan_holds_both_stages_so_the_websocket_key_check_works(each_stack):
    plan = each_stack.one("aws:apigateway/usagePlan:UsagePlan")
    assert plan.inputs["apiStages"] == [
        {"apiId": each_stack.one("aws:apigateway/restApi:RestApi").id, "stage": "v1"},
        {"apiId": each_stack.one("aws:apigatewayv2/api:Api").id, "stage": "v1"},
    ]
    keys = [k.inputs for k in each_stack.of_type("aws:apigateway/usagePlanKey:UsagePlanKey")]
    assert {"keyId": each_stack.named("agent-world-api-key").id, "keyType": "API_KEY",
            "usagePlanId": plan.id} in keys  # fmt: skip


def test_prod_websocket_reaches_agent_runtime_through_the_nlb(prod):
    nlb_dns = prod.named("agent-world-nlb").outputs["dnsName"]
    assert websocket_uris(prod) == sorted(
        f"http://{nlb_dns}:8002/ws/{p}" for p in ("connect", "disconnect", "message")
    )
    link = prod.one("aws:apigateway/vpcLink:VpcLink").id
    for integration in prod.of_type("aws:apigatewayv2/integration:Integration"):
        assert (integration.inputs["connectionType"], integration.inputs["connectionId"]) == (
            "VPC_LINK",
            link,
        )


def test_dev_websocket_reaches_agent_runtime_through_the_rest_api_with_its_own_key(dev):
    rest = dev.outputs["agent_world_rest_url"]
    assert rest.startswith("https://")
    assert websocket_uris(dev) == sorted(
        f"{rest}/api/runtime/ws/{p}" for p in ("connect", "disconnect", "message")
    )
    for integration in dev.of_type("aws:apigatewayv2/integration:Integration"):
        assert "connectionType" not in integration.inputs  # over the internet, with TLS
        # the bridge key comes from the $connect authorizer's context, not from the stage
        assert integration.inputs["requestParameters"][
            "integration.request.header.x-api-key"] == "context.authorizer.bridgeKey"  # fmt: skip
    bridge = dev.named("agent-world-bridge-key")
    assert "value" in bridge.options["additional_secret_outputs"]
    # its value lives in Secrets Manager, encrypted with the stack's key
    secret = dev.named("agent-world-bridge-key-secret")
    assert secret.inputs["kmsKeyId"] == dev.named("agent-world-data-key").outputs["arn"]
    version = dev.named("agent-world-bridge-key-secret-value")
    assert version.inputs["secretString"] == bridge.inputs["value"]
    assert "secretString" in version.secret_paths
    plan = dev.one("aws:apigateway/usagePlan:UsagePlan").id
    keys = {k.inputs["keyId"] for k in dev.of_type("aws:apigateway/usagePlanKey:UsagePlanKey")
            if k.inputs["usagePlanId"] == plan}  # fmt: skip
    assert keys == {bridge.id, dev.named("agent-world-api-key").id}


def test_no_websocket_stage_variable_holds_a_key(each_stack):
    stage = each_stack.one("aws:apigatewayv2/stage:Stage")
    assert not stage.inputs.get("stageVariables")
    assert SECRET_PLACEHOLDER not in json.dumps(stage.inputs)
    for integration in each_stack.of_type("aws:apigatewayv2/integration:Integration"):
        assert "stageVariables" not in json.dumps(integration.inputs)


def test_connect_is_behind_the_request_authorizer_and_the_key(each_stack):
    api = each_stack.one("aws:apigatewayv2/api:Api")
    authorizer = each_stack.one("aws:apigatewayv2/authorizer:Authorizer")
    function = each_stack.named("agent-world-ws-authorizer-function")
    assert authorizer.inputs["apiId"] == api.id
    assert authorizer.inputs["authorizerType"] == "REQUEST"
    assert authorizer.inputs["identitySources"] == ["route.request.header.x-api-key"]
    assert authorizer.inputs["authorizerUri"] == function.outputs["invokeArn"]
    # WebSocket APIs cache no authorizer result: no TTL is sent
    assert "authorizerResultTtlInSeconds" not in authorizer.inputs
    routes = {r.inputs["routeKey"]: r.inputs for r in
              each_stack.of_type("aws:apigatewayv2/route:Route")}  # fmt: skip
    assert routes["$connect"]["authorizationType"] == "CUSTOM"
    assert routes["$connect"]["authorizerId"] == authorizer.id
    assert routes["$connect"]["apiKeyRequired"] is True
    for key in ("$disconnect", "$default"):
        assert routes[key]["authorizationType"] == "NONE" and "authorizerId" not in routes[key]


def test_only_this_apis_authorizer_may_invoke_the_function(each_stack):
    api = each_stack.one("aws:apigatewayv2/api:Api")
    authorizer = each_stack.one("aws:apigatewayv2/authorizer:Authorizer")
    permission = each_stack.named("agent-world-ws-authorizer-permission")
    assert permission.inputs["principal"] == "apigateway.amazonaws.com"
    assert permission.inputs["action"] == "lambda:InvokeFunction"
    assert permission.inputs["function"] == each_stack.named(
        "agent-world-ws-authorizer-function").outputs["name"]  # fmt: skip
    assert permission.inputs["sourceArn"] == (
        f"{api.outputs['executionArn']}/authorizers/{authorizer.id}"
    )


def test_the_authorizer_reads_only_the_keys_it_checks(dev, prod):
    for run, secrets in ((dev, ("api-key", "bridge-key")), (prod, ("api-key",))):
        function = run.named("agent-world-ws-authorizer-function")
        variables = function.inputs["environment"]["variables"]
        arns = [run.named(f"agent-world-{s}-secret").outputs["arn"] for s in secrets]
        assert variables["API_KEY_SECRET_ARN"] == arns[0]
        assert variables.get("BRIDGE_KEY_SECRET_ARN") == (arns[1] if len(arns) > 1 else None)
        policy = json.loads(run.named("agent-world-ws-authorizer-policy").inputs["policy"])
        read = next(s for s in policy["Statement"] if s["Sid"] == "ReadTheKeys")
        assert read["Action"] == "secretsmanager:GetSecretValue"
        assert sorted(read["Resource"] if isinstance(read["Resource"], list)
                      else [read["Resource"]]) == sorted(arns)  # fmt: skip
        stages = next(s for s in policy["Statement"] if s["Sid"] == "ReadTheApiKeyStages")
        assert (stages["Action"], stages["Resource"]) == ("secretsmanager:DescribeSecret", arns[0])


def test_api_key_lives_in_secrets_manager_and_never_in_outputs(dev_program):
    key = dev_program.named("agent-world-api-key")
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
    if each_stack.stack == "dev":
        assert d["viewerCertificate"] == {"cloudfrontDefaultCertificate": True}
    else:  # prod's dns.cdn_host (tests/stacks/agent_world/test_cdn.py)
        assert d["viewerCertificate"]["minimumProtocolVersion"] == "TLSv1.2_2021"


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
                 "agent_world.cdn_certificate_arn": cert, "dns.cdn_host": ""},
    )  # fmt: skip
    d = run.one(DISTRIBUTION).inputs
    assert d["aliases"] == ["world.example.com"]
    assert d["viewerCertificate"] == {
        "acmCertificateArn": cert, "sslSupportMethod": "sni-only",
        "minimumProtocolVersion": "TLSv1.2_2021",
    }  # fmt: skip


def test_a_custom_domain_without_a_us_east_1_certificate_is_refused(run_stack):
    with pytest.raises(ProgramError, match="cdn_certificate_arn: expected an ACM certificate"):
        run_stack("prod", {"agent_world.domain_names": ["world.example.com"], "dns.cdn_host": ""})


def test_standard_logs_in_prod_only(dev, prod):
    assert (
        prod.one("aws:cloudwatch/logDeliverySource:LogDeliverySource").inputs["resourceArn"]
        == prod.one(DISTRIBUTION).outputs["arn"]
    )
    assert not dev.of_type("aws:cloudwatch/logDeliverySource:LogDeliverySource")


# --- observability and outputs -------------------------------------------------------------


def test_prod_dashboard_shows_api_ecs_dynamodb_and_redis_and_dev_has_none(dev, prod):
    body = json.loads(prod.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    titles = {w["properties"]["title"] for w in body["widgets"]}
    assert {"API latency (ms)", "API 5xx", "ECS CPU %", "ECS memory %",
            "Redis engine CPU %"} <= titles  # fmt: skip
    assert not dev.of_type("aws:cloudwatch/dashboard:Dashboard")


def test_a_dashboard_without_redis_has_no_redis_widget(run_stack):
    run = run_stack("dev", {"agent_world.dashboard": True})
    body = json.loads(run.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    titles = {w["properties"]["title"] for w in body["widgets"]}
    assert "ECS CPU %" in titles and "Redis engine CPU %" not in titles


def test_alarms_notify_the_topic(dev, prod):
    for run, redis in ((dev, False), (prod, True)):
        alarms = run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        names = {a.name for a in alarms}
        assert "agent-world-api-5xx" in names
        assert ("agent-world-redis-cpu" in names) is redis
        assert len([a for a in alarms if a.name.endswith("-throttles")]) == len(TABLES)
        for alarm in alarms:
            assert alarm.inputs["alarmActions"] == [run.outputs["alarm_topic_arn"]]


def test_outputs(dev_program):
    out = dev_program.outputs
    assert out["agent_world_rest_url"].startswith("https://")
    assert out["agent_world_websocket_url"].startswith("wss://")
    assert out["agent_world_cloudfront_domain"].endswith(".cloudfront.net")
    assert set(out["agent_world_table_names"]) == {
        "worlds", "agents", "memory-streams", "world-objects", "events", "snapshots",
        "connections",
    }  # fmt: skip


# --- args ------------------------------------------------------------------------------


@pytest.mark.parametrize("args_class", [AgentWorldArgs, AgentWorldDataArgs])
def test_the_args_take_the_shared_fields_from_common_only(args_class):
    fields = {f.name for f in dataclasses.fields(args_class)}
    shared = {f.name for f in dataclasses.fields(StackCommon)}
    assert "common" in fields
    assert not (shared | {"prebuilt_image"}) & fields
    assert args_class.__dataclass_params__.frozen


def test_the_stack_and_its_data_share_one_common_value(dev_program):
    from components.config import settings as s

    settings = s.parse(dev_program.config, "dev")

    class Network:
        vpc_id = private_subnet_ids = workload_subnet_ids = None
        workloads_need_public_ip = False
        vpc_cidr = "10.20.0.0/16"

    args = AgentWorldArgs.from_settings(settings, Network())
    assert args.common == args.data.common == StackCommon.from_settings(settings, "agent_world")
    assert args.common.prebuilt_image("agent_world") is None
