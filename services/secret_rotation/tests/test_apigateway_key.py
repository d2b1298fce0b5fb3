"""The ``apigateway-key`` kind on moto (API Gateway and Secrets Manager): the agent world's
API key and the shared-ALB bridge key, which API Gateway checks against its usage plan."""

from __future__ import annotations

import boto3
import pytest
from rotation_support import REGION, stage_values
from secret_rotation import steps

KEY_NAME = "mlplatform-dev-agent-world"
OLD = "stack-made-key-0123456789abcdefghijklmnop"


@pytest.fixture
def apigw(aws):
    return boto3.client("apigateway", region_name=REGION)


@pytest.fixture
def setup(rotator, sm, apigw):
    """The stack's usage plan, its key (and the bridge key, whose name starts the same), and
    the secret holding the key's value."""
    plan = apigw.create_usage_plan(name=KEY_NAME)["id"]
    for name, value in ((KEY_NAME, OLD), (f"{KEY_NAME}-websocket", "bridge-key-0123456789abcdef")):
        key = apigw.create_api_key(name=name, value=value, enabled=True)
        apigw.create_usage_plan_key(usagePlanId=plan, keyId=key["id"], keyType="API_KEY")
    secret = sm.create_secret(Name="mlplatform-dev/agent-world/api-key", SecretString=OLD)["ARN"]
    rotator.env.update(
        {"ROTATION_KIND": "apigateway-key", "USAGE_PLAN_ID": plan, "KEY_NAME": KEY_NAME}
    )
    return plan, secret


def working_keys(apigw, plan) -> dict[str, str]:
    """Value -> name of every enabled key in the plan (what API Gateway accepts)."""
    in_plan = {k["id"] for k in apigw.get_usage_plan_keys(usagePlanId=plan)["items"]}
    keys = apigw.get_api_keys(includeValues=True)["items"]
    return {k["value"]: k["name"] for k in keys if k["id"] in in_plan and k["enabled"]}


def test_after_a_rotation_the_new_and_the_previous_key_both_work(rotator, sm, apigw, setup):
    plan, secret = setup
    rotator.rotate(secret)
    values = stage_values(sm, secret)
    working = working_keys(apigw, plan)
    # both keys of the secret work; the setSecret run twice made one key, not two
    assert values["AWSCURRENT"] in working and OLD in working
    assert working[values["AWSCURRENT"]].startswith(f"{KEY_NAME}-rotated-")
    assert len(working) == 3  # the bridge key too, untouched


def test_the_second_rotation_retires_the_stacks_key_and_the_third_the_first_rotated(
    rotator, sm, apigw, setup
):
    plan, secret = setup
    rotator.rotate(secret)
    first = stage_values(sm, secret)["AWSCURRENT"]
    rotator.rotate(secret)
    values = stage_values(sm, secret)
    working = working_keys(apigw, plan)
    assert set(working) == {values["AWSCURRENT"], first, "bridge-key-0123456789abcdef"}
    # the stack's own key is disabled, not deleted (Pulumi manages it)
    stack_key = next(k for k in apigw.get_api_keys()["items"] if k["name"] == KEY_NAME)
    assert stack_key["enabled"] is False
    rotator.rotate(secret)
    names = [k["name"] for k in apigw.get_api_keys()["items"]]
    # the first rotated key is deleted: the stack's, the bridge and the two latest remain
    assert len(names) == 4 and names.count(KEY_NAME) == 1
    assert first not in working_keys(apigw, plan)


def test_a_failed_set_leaves_the_current_key_working_and_current(rotator, sm, apigw, setup):
    plan, secret = setup

    class Refusing:
        """API Gateway refusing new keys (a quota reached); everything else as moto."""

        exceptions = apigw.exceptions

        def __getattr__(self, name):
            return getattr(apigw, name)

        def create_api_key(self, **kw):
            raise apigw.exceptions.LimitExceededException(
                {"Error": {"Code": "LimitExceededException", "Message": "too many keys"}},
                "CreateApiKey",
            )

    rotator.clients["apigateway"] = Refusing()
    with pytest.raises(apigw.exceptions.LimitExceededException):
        rotator.rotate(secret)
    assert stage_values(sm, secret)["AWSCURRENT"] == OLD
    assert OLD in working_keys(apigw, plan)
    # and the next attempt, API Gateway back, completes
    rotator.clients.clear()
    rotator.rotate(secret)
    assert stage_values(sm, secret)["AWSCURRENT"] in working_keys(apigw, plan)


def test_test_secret_refuses_a_pending_value_no_key_holds(apigw, setup):
    from secret_rotation.kinds import ApiGatewayKey

    plan, _ = setup
    with pytest.raises(steps.RotationError, match="no enabled API key"):
        ApiGatewayKey(apigw, plan, KEY_NAME).test("never-set-0123456789abcdefghijklmnopqrs")
