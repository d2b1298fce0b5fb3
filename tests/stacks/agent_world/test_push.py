"""Issue 15, the agent world's WebSocket events and Redis, as the stack registers them: the
``$connect`` route's world parameter and its mapping, ``execute-api:ManageConnections`` on
the stage's connections only, the service's variables and secrets, and Redis reachable from
the services' security group alone."""

from __future__ import annotations

import json

import pytest

from components.lib.agent_world_roles import ROLES

INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
ROUTE = "aws:apigatewayv2/route:Route"
INTEGRATION = "aws:apigatewayv2/integration:Integration"


@pytest.fixture(scope="module")
def dev(dev):
    return dev.subtree("agent-world")


@pytest.fixture(scope="module")
def prod(prod):
    return prod.subtree("agent-world")


def app_container(run, role):
    definitions = json.loads(run.named(f"agent-world-{role}-task").inputs["containerDefinitions"])
    return next(c for c in definitions if c["name"] == role)


def env(run, role):
    return {e["name"]: e["value"] for e in app_container(run, role)["environment"]}


def statements(run, role):
    return json.loads(run.named(f"agent-world-{role}-task-policy").inputs["policy"])["Statement"]


def push_statements(run, role):
    return [s for s in statements(run, role) if "execute-api" in json.dumps(s["Action"])]


@pytest.mark.parametrize("stack, role", [("dev", "all"), ("prod", "world-management"),
                                         ("prod", "agent-runtime")])  # fmt: skip
def test_the_pushing_roles_may_manage_only_this_stages_connections(dev, prod, stack, role):
    run = {"dev": dev, "prod": prod}[stack]
    api = run.named("agent-world-websocket-api").outputs["executionArn"]
    (statement,) = push_statements(run, role)
    assert statement["Effect"] == "Allow"
    assert statement["Action"] in (
        "execute-api:ManageConnections",
        ["execute-api:ManageConnections"],
    )
    # arn:aws:execute-api:{region}:{account}:{api-id}/{stage}/POST/@connections/*, exactly.
    assert statement["Resource"] in (
        f"{api}/v1/POST/@connections/*",
        [f"{api}/v1/POST/@connections/*"],
    )
    assert api.startswith("arn:aws:execute-api:us-east-1:")
    assert "Condition" not in statement


def test_the_llm_role_pushes_nothing(prod):
    assert push_statements(prod, "llm-integration") == []
    assert "WEBSOCKET_MANAGEMENT_URL" not in env(prod, "llm-integration")


@pytest.mark.parametrize("stack, role", [("dev", "all"), ("prod", "world-management"),
                                         ("prod", "agent-runtime")])  # fmt: skip
def test_the_service_is_told_the_stages_management_endpoint(dev, prod, stack, role):
    run = {"dev": dev, "prod": prod}[stack]
    api_id = run.named("agent-world-websocket-api").id  # what `api.id` resolves to
    variables = env(run, role)
    assert variables["WEBSOCKET_MANAGEMENT_URL"] == (
        f"https://{api_id}.execute-api.us-east-1.amazonaws.com/v1"
    )
    assert variables["CONNECTIONS_TABLE"] == f"mlplatform-{stack}-connections"


@pytest.mark.parametrize("role", [r.name for r in ROLES])
def test_prod_gives_redis_as_variables_and_its_token_as_a_secret(prod, role):
    container = app_container(prod, role)
    variables = env(prod, role)
    group = prod.named("agent-world-data-redis")
    assert variables["REDIS_HOST"] == group.outputs["primaryEndpointAddress"]
    assert (variables["REDIS_PORT"], variables["REDIS_TLS"]) == ("6379", "true")
    assert "REDIS_AUTH_TOKEN" not in variables  # never a plain variable
    token = prod.named("agent-world-data-redis-token-secret").outputs["arn"]
    assert container["secrets"] == [{"name": "REDIS_AUTH_TOKEN", "valueFrom": token}]
    assert group.inputs["transitEncryptionEnabled"] is True


def test_dev_has_no_redis_so_the_registry_is_its_table(dev):
    variables = env(dev, "all")
    assert not {"REDIS_HOST", "REDIS_TLS", "REDIS_AUTH_TOKEN"} & set(variables)
    assert "secrets" not in app_container(dev, "all")
    table = dev.named("agent-world-data-connections").outputs["arn"]
    registry = [s for s in statements(dev, "all") if table in json.dumps(s["Resource"])]
    (statement,) = registry
    assert set(statement["Action"]) == {"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"}


def test_prod_grants_no_registry_table_because_redis_holds_it(prod):
    table = prod.named("agent-world-data-connections").outputs["arn"]
    for role in ROLES:
        assert table not in json.dumps(statements(prod, role.name))


def test_redis_admits_only_the_services_security_group_on_6379(prod):
    redis_sg = prod.named("agent-world-data-redis-sg").id
    tasks_sg = prod.named("agent-world-tasks-sg").id
    rules = [r.inputs for r in prod.of_type(INGRESS) if r.inputs["securityGroupId"] == redis_sg]
    assert [(r["referencedSecurityGroupId"], r["ipProtocol"], r["fromPort"], r["toPort"])
            for r in rules] == [(tasks_sg, "tcp", 6379, 6379)]  # fmt: skip
    assert not any(r.get("cidrIpv4") or r.get("cidrIpv6") for r in rules)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_connect_requires_a_world_and_hands_it_to_the_service(dev, prod, stack):
    run = {"dev": dev, "prod": prod}[stack]
    routes = {r.inputs["routeKey"]: r.inputs for r in run.of_type(ROUTE)}
    assert routes["$connect"]["requestParameters"] == [
        {"requestParameterKey": "route.request.querystring.world", "required": True}
    ]
    assert not routes["$disconnect"].get("requestParameters")
    connect = run.named("agent-world-ws-connect-integration").inputs
    assert connect["requestParameters"]["integration.request.header.X-World-Id"] == (
        "route.request.querystring.world"
    )
    assert connect["requestParameters"]["integration.request.header.X-Connection-Id"] == (
        "context.connectionId"
    )
    disconnect = run.named("agent-world-ws-disconnect-integration").inputs
    assert "integration.request.header.X-World-Id" not in disconnect["requestParameters"]
