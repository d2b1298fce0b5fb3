"""HttpApiFrontDoor (components/blocks/front_door.py): dev's public HTTPS entry, an API
Gateway HTTP API through a VPC link to the internal inference ALB."""

from __future__ import annotations

import json
import re

import pytest

from components.blocks.front_door import ACCESS_LOG_FORMAT, timeout_error
from components.blocks.load_balancer import PublicLoadBalancerArgs
from preflight.documented import HTTP_LOG_VARIABLES

DOOR = "inference-lb-front-door"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"


@pytest.fixture(scope="module")
def door(dev):
    return dev.subtree(DOOR)


def test_dev_has_one_http_api_and_prod_none(dev, prod):
    (api,) = [r for r in dev.of_type("aws:apigatewayv2/api:Api")
              if r.inputs["protocolType"] == "HTTP"]  # fmt: skip
    assert api.name == f"{DOOR}-api"
    assert api.inputs["name"] == "mlplatform-dev-inference-front-door"
    assert api.inputs.get("disableExecuteApiEndpoint") in (None, False)
    assert not [r for r in prod.of_type("aws:apigatewayv2/api:Api")
                if r.inputs["protocolType"] == "HTTP"]  # fmt: skip


def test_vpc_link_sits_in_the_private_subnets_with_its_own_group(door):
    link = door.one("aws:apigatewayv2/vpcLink:VpcLink")
    group = door.named(f"{DOOR}-sg")
    assert link.inputs["subnetIds"] and all(
        s.startswith("subnet-prv") for s in link.inputs["subnetIds"]
    )
    assert link.inputs["securityGroupIds"] == [group.id]
    assert "ingress" not in group.inputs and "egress" not in group.inputs


def test_vpc_link_may_only_reach_the_alb_listener(dev, door):
    alb_group = dev.named("inference-lb-sg").id
    (out,) = door.of_type(EGRESS)
    assert out.inputs["securityGroupId"] == door.named(f"{DOOR}-sg").id
    assert out.inputs["referencedSecurityGroupId"] == alb_group
    assert (out.inputs["fromPort"], out.inputs["toPort"]) == (80, 80)


def test_alb_admits_only_the_front_door_and_the_agent_worlds_vpc_links(dev):
    alb_group = dev.named("inference-lb-sg").id
    rules = [r for r in dev.of_type(INGRESS) if r.inputs["securityGroupId"] == alb_group]
    sources = sorted(r.inputs["referencedSecurityGroupId"] for r in rules)
    assert sources == sorted([dev.named(f"{DOOR}-sg").id, dev.named("agent-world-vpc-link-sg").id])
    assert all("cidrIpv4" not in r.inputs for r in rules)
    assert {(r.inputs["fromPort"], r.inputs["toPort"]) for r in rules} == {(80, 80)}


def test_one_proxy_integration_through_the_vpc_link_to_the_listener(dev, door):
    integration = door.one("aws:apigatewayv2/integration:Integration")
    i = integration.inputs
    assert i["apiId"] == door.named(f"{DOOR}-api").id
    assert (i["integrationType"], i["connectionType"]) == ("HTTP_PROXY", "VPC_LINK")
    assert i["connectionId"] == door.one("aws:apigatewayv2/vpcLink:VpcLink").id
    assert i["integrationUri"] == dev.named("inference-lb-http").outputs["arn"]
    assert i["integrationMethod"] == "ANY"
    assert i["payloadFormatVersion"] == "1.0"
    # dev's inference.request_timeout_seconds, HTTP API's maximum (TimeoutInMillis 50-30000).
    assert i["timeoutMilliseconds"] == 30000
    # The agent world's listener rules trust this header from inside the VPC only.
    assert i["requestParameters"] == {"remove:header.x-agent-world-service": "''"}


def test_default_route_sends_everything_to_the_integration(door):
    route = door.one("aws:apigatewayv2/route:Route")
    integration = door.one("aws:apigatewayv2/integration:Integration")
    assert route.inputs["routeKey"] == "$default"
    assert route.inputs["target"] == f"integrations/{integration.id}"
    assert route.inputs.get("authorizationType") in (None, "NONE")


def test_default_stage_deploys_itself_throttles_and_logs_to_an_encrypted_group(dev, door):
    stage = door.one("aws:apigatewayv2/stage:Stage")
    logs = door.one("aws:cloudwatch/logGroup:LogGroup")
    assert stage.inputs["name"] == "$default" and stage.inputs["autoDeploy"] is True
    assert stage.inputs["accessLogSettings"]["destinationArn"] == logs.outputs["arn"]
    settings = stage.inputs["defaultRouteSettings"]
    assert settings["throttlingRateLimit"] > 0 and settings["throttlingBurstLimit"] > 0
    assert "loggingLevel" not in settings  # WebSocket APIs only
    assert f"{DOOR}-route" in [u.rsplit("::", 1)[-1] for u in stage.options["depends_on"]]
    assert logs.inputs["name"] == "/aws/apigateway/mlplatform-dev-inference-front-door"
    assert logs.inputs["retentionInDays"] == 30
    assert logs.inputs["kmsKeyId"] == dev.outputs["logs_key_arn"]


def test_access_log_format_is_json_of_http_api_variables_within_1024_characters(door):
    text = door.one("aws:apigatewayv2/stage:Stage").inputs["accessLogSettings"]["format"]
    assert json.loads(text) == ACCESS_LOG_FORMAT
    assert len(text) <= 1024  # botocore AccessLogSettings.Format
    used = set(re.findall(r"\$context\.([A-Za-z0-9_.]+)", text))
    assert used and used <= HTTP_LOG_VARIABLES


def test_every_public_url_is_the_front_doors(dev):
    api = dev.named(f"{DOOR}-api").outputs["apiEndpoint"]
    for output in ("alb_url", "health_check_url", "validation_endpoint", "move_endpoint",
                   "mlflow_endpoint", "api_endpoint"):  # fmt: skip
        assert dev.outputs[output].startswith(api), output
    assert dev.outputs["mlflow_endpoint"] == f"{api}/mlflow/"
    assert dev.outputs["api_endpoint"] == f"{api}/api"


def test_mlflow_admits_the_front_doors_host_and_https_origins(dev):
    api = dev.named(f"{DOOR}-api").outputs["apiEndpoint"]
    (task,) = [r for r in dev.of_type("aws:ecs/taskDefinition:TaskDefinition")
               if r.inputs["family"] == "mlplatform-dev-mlflow"]  # fmt: skip
    # (dev runs the Hokusai API as a second container of MLflow's task)
    (container,) = [c for c in json.loads(task.inputs["containerDefinitions"])
                    if c["name"] == "mlflow"]  # fmt: skip
    env = {e["name"]: e["value"] for e in container["environment"]}
    hosts = env["ALLOWED_HOSTS"].split(",")
    assert api.removeprefix("https://") in hosts
    assert dev.named("inference-lb-alb").outputs["dnsName"] in hosts
    assert env["PUBLIC_SCHEME"] == "https"


def test_the_hokusai_api_reaches_mlflow_over_https_without_a_plain_http_rule(dev):
    assert "data-platform-api-http-out" not in [r.name for r in dev.of_type(EGRESS)]


def test_the_agent_worlds_rest_api_keeps_its_vpc_link_v2_to_the_internal_alb(dev):
    alb = dev.named("inference-lb-alb")
    targets = {r.inputs.get("integrationTarget")
               for r in dev.of_type("aws:apigateway/integration:Integration")}  # fmt: skip
    assert alb.outputs["arn"] in targets
    link = dev.named("agent-world-vpc-link-v2")
    assert all(s.startswith("subnet-prv") for s in link.inputs["subnetIds"])


def test_the_plan_prices_no_public_address_for_the_internal_alb(dev):
    from offline import costs

    items = [what for _, what, _ in costs.estimate(dev, costs.load_prices()).items]
    assert "ALB inference-lb-alb" in items
    assert not [w for w in items if "public IPv4" in w and "inference-lb-alb" in w]


@pytest.mark.parametrize(
    ("changes", "phrase"),
    [({"certificate_arn": "arn:aws:acm:us-east-1:1:certificate/x"}, "no certificate_arn"),
     ({"host": "api.example.com", "zone_id": "Z1"}, "no host"),
     ({"web_acl_arn": "arn:aws:wafv2:us-east-1:1:regional/webacl/x/y"}, "no web_acl_arn"),
     ({"private_subnet_ids": None}, "private_subnet_ids")],
)  # fmt: skip
def test_the_block_refuses_what_a_front_door_cannot_serve(changes, phrase):
    args = {"name_prefix": "p", "lb_name": "p-x", "vpc_id": "vpc-1", "subnet_ids": ["s"],
            "front_door": True, "private_subnet_ids": ["subnet-prv1"], **changes}  # fmt: skip
    assert phrase in PublicLoadBalancerArgs(**args).front_door_error()


def test_the_block_accepts_a_plain_front_door_and_any_timeout_of_1_to_30_s():
    args = PublicLoadBalancerArgs(name_prefix="p", lb_name="p-x", vpc_id="vpc-1",
                                  subnet_ids=["s"], front_door=True,
                                  private_subnet_ids=["subnet-prv1"])  # fmt: skip
    assert args.front_door_error() is None
    assert timeout_error(1) is None and timeout_error(30) is None
    assert "1-30" in timeout_error(31) and "1-30" in timeout_error(0)


def test_a_data_platform_with_its_own_load_balancer_gets_its_own_front_door(run_stack):
    run = run_stack("dev", {"data_platform.share_load_balancer": False})
    own = run.subtree("data-platform-lb")
    alb = own.one("aws:lb/loadBalancer:LoadBalancer")
    assert alb.inputs["internal"] is True
    api = own.named("data-platform-lb-front-door-api")
    assert api.inputs["name"] == "mlplatform-dev-data-front-door"
    assert run.outputs["mlflow_endpoint"] == f"{api.outputs['apiEndpoint']}/mlflow/"
    integration = own.one("aws:apigatewayv2/integration:Integration").inputs
    # the data platform's ALB keeps AWS's 60 s idle timeout; the HTTP API stops at 30 s
    assert alb.inputs["idleTimeout"] == 60 and integration["timeoutMilliseconds"] == 30000
