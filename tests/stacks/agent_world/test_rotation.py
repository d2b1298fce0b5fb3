"""The agent world's rotations: the two API Gateway keys within their usage plan, the Redis
token with its consumers redeployed."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def dev(dev):
    return dev.subtree("agent-world")


@pytest.fixture(scope="module")
def prod(prod):
    return prod.subtree("agent-world")


def variables(run, base):
    return run.named(f"agent-world-{base}-rotation-fn-function").inputs["environment"]["variables"]


def test_the_api_keys_rotate_within_the_one_usage_plan(dev, prod):
    for run, keys in ((dev, ("api-key", "bridge-key")), (prod, ("api-key",))):
        plan = run.one("aws:apigateway/usagePlan:UsagePlan")
        for key in keys:
            found = variables(run, key)
            assert found["ROTATION_KIND"] == "apigateway-key"
            assert found["USAGE_PLAN_ID"] == plan.id
            name = run.named(f"agent-world-{key}").inputs["name"]
            assert found["KEY_NAME"] == name
            policy = json.loads(run.named(f"agent-world-{key}-rotation-fn-policy").inputs["policy"])
            plan_arn = f"arn:aws:apigateway:us-east-1::/usageplans/{plan.id}/keys"
            resources = {json.dumps(s["Resource"]) for s in policy["Statement"]}
            assert json.dumps(plan_arn) in resources
            assert json.dumps(f"{plan_arn}/*") in resources
    assert "agent-world-bridge-key-rotation-fn-function" not in {r.name for r in prod.resources}


def test_pulumi_leaves_the_enabled_flag_of_the_first_keys_to_the_rotation(dev):
    for key in ("api-key", "bridge-key"):
        assert dev.named(f"agent-world-{key}").options["ignore_changes"] == ["enabled"]


def test_the_redis_token_rotates_and_every_service_is_redeployed(prod, dev):
    found = variables(prod, "redis-token")
    assert found["ROTATION_KIND"] == "redis-auth"
    assert found["REPLICATION_GROUP_ID"] == "mlplatform-prod-world"
    services = {s.outputs["arn"] for s in prod.of_type("aws:ecs/service:Service")}
    assert set(found["RESTART_SERVICES"].split(",")) == services and len(services) == 3
    function = prod.named("agent-world-redis-token-rotation-fn-function")
    assert function.inputs["timeout"] == 900  # the token change keeps the group busy
    policy = json.loads(prod.named("agent-world-redis-token-rotation-fn-policy").inputs["policy"])
    cache = next(s for s in policy["Statement"] if s["Sid"] == "ChangeTheToken")
    assert cache["Resource"] == prod.one(
        "aws:elasticache/replicationGroup:ReplicationGroup").outputs["arn"]  # fmt: skip
    # dev has no Redis, so nothing rotates it
    assert "agent-world-redis-token-rotation-fn-function" not in {r.name for r in dev.resources}
