"""The four steps on moto, with the ``random`` kind (the API keys services read at run
time, and MLflow's Flask secret key with a new deployment at the end)."""

from __future__ import annotations

import boto3
import pytest
from rotation_support import REGION, stage_values
from secret_rotation import kinds, steps
from secret_rotation.handler import lambda_handler

OLD = "initial-value-0123456789abcdefghijklmnopq"


@pytest.fixture
def secret(sm) -> str:
    return sm.create_secret(Name="mlplatform-dev/inference/api-key", SecretString=OLD)["ARN"]


def test_a_rotation_runs_the_four_steps_and_moves_the_stages(rotator, sm, secret):
    rotator.env.update({"ROTATION_KIND": "random", "VALUE_LENGTH": "48"})
    rotator.rotate(secret)
    # every step ran, in order, each twice (a retried step changes nothing)
    assert [e["Step"] for e in rotator.events] == [s for step in steps.STEPS for s in (step, step)]
    values = stage_values(sm, secret)
    assert values["AWSPREVIOUS"] == OLD
    assert values["AWSCURRENT"] != OLD and len(values["AWSCURRENT"]) == 48
    assert values["AWSCURRENT"].isalnum()
    assert "AWSPENDING" not in values  # no rotation left looking under way


def test_a_second_rotation_makes_the_first_value_previous(rotator, sm, secret):
    rotator.env["ROTATION_KIND"] = "random"
    rotator.rotate(secret)
    first = stage_values(sm, secret)["AWSCURRENT"]
    rotator.rotate(secret)
    values = stage_values(sm, secret)
    assert values["AWSPREVIOUS"] == first
    assert OLD not in values.values()


def test_create_keeps_the_value_it_made_when_run_again(sm, secret):
    # given a rotation staged by hand (the token AWSPENDING, as RotateSecret leaves it)
    sm.put_secret_value(SecretId=secret, ClientRequestToken="a" * 32, SecretString="x" * 40,
                        VersionStages=["AWSPENDING"])  # fmt: skip
    kind = kinds.RandomValue(40)
    client = boto3.client("secretsmanager", region_name=REGION)
    # when createSecret runs for it (rotation turned on in moto's model by hand)
    _enable_rotation(secret)
    steps.run("createSecret", secret, "a" * 32, kind, client)
    # then the value already there is kept, not regenerated
    assert sm.get_secret_value(SecretId=secret, VersionStage="AWSPENDING")["SecretString"] == (
        "x" * 40
    )


def _enable_rotation(secret: str) -> None:
    from moto.secretsmanager.models import secretsmanager_backends

    backend = secretsmanager_backends["123456789012"][REGION]
    backend.secrets[secret].rotation_requested = True
    backend.secrets[secret].rotation_enabled = True


def test_a_failed_step_leaves_awscurrent_and_the_next_rotation_completes(rotator, sm, secret):
    # given a kind whose setSecret fails (the service it must change is down)
    class Down(kinds.RandomValue):
        def set(self, *args):
            raise steps.RotationError("service unreachable")

    rotator.env["ROTATION_KIND"] = "random"
    original = kinds.from_env
    kinds.from_env = lambda env, client: Down(40)
    try:
        # (moto runs the function in-process: its error reaches the caller as it is)
        with pytest.raises(steps.RotationError, match="service unreachable"):
            rotator.rotate(secret)
    finally:
        kinds.from_env = original
    # then every client's key is still the current one
    values = stage_values(sm, secret)
    assert values["AWSCURRENT"] == OLD
    assert "AWSPREVIOUS" not in values
    assert [e["Step"] for e in rotator.events][-1] == "setSecret"
    # and once the service is back, a rotation goes through (moto: the stale AWSPENDING is
    # moved to the new attempt's version, as Secrets Manager does)
    rotator.rotate(secret)
    values = stage_values(sm, secret)
    assert values["AWSPREVIOUS"] == OLD and values["AWSCURRENT"] != OLD


def test_the_function_refuses_a_secret_other_than_its_own(secret):
    event = {"Step": "createSecret", "SecretId": secret, "ClientRequestToken": "t" * 32}
    with pytest.raises(steps.RotationError, match="rotates arn:other"):
        lambda_handler(event, env={"SECRET_ARN": "arn:other", "ROTATION_KIND": "random"})


def test_a_secret_without_rotation_is_refused(sm, secret):
    sm.put_secret_value(SecretId=secret, ClientRequestToken="b" * 32, SecretString="y" * 40,
                        VersionStages=["AWSPENDING"])  # fmt: skip
    with pytest.raises(steps.RotationError, match="does not have rotation enabled"):
        steps.run("createSecret", secret, "b" * 32, kinds.RandomValue(40), sm)


def test_an_unknown_kind_names_the_kinds():
    with pytest.raises(steps.RotationError, match="random, apigateway-key"):
        kinds.from_env({"ROTATION_KIND": "ldap"}, lambda s: None)


def test_finish_starts_a_new_deployment_of_each_listed_service(rotator, sm, secret):
    # given the Flask secret key's function: random, and MLflow's service restarted
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="mlplatform-dev-data")
    task = ecs.register_task_definition(
        family="mlflow", containerDefinitions=[{"name": "mlflow", "image": "i", "memory": 512}]
    )["taskDefinition"]["taskDefinitionArn"]
    service = ecs.create_service(cluster="mlplatform-dev-data", serviceName="mlflow",
                                 taskDefinition=task, desiredCount=1)["service"]  # fmt: skip
    calls = []

    class Recording:
        def update_service(self, **kw):
            calls.append(kw)
            return ecs.update_service(**kw)

    rotator.clients["ecs"] = Recording()
    rotator.env.update({"ROTATION_KIND": "random", "RESTART_SERVICES": service["serviceArn"]})
    rotator.rotate(secret)
    # finishSecret ran twice: each forced a new deployment of that one service
    assert calls == [{"cluster": "mlplatform-dev-data", "service": "mlflow",
                      "forceNewDeployment": True}] * 2  # fmt: skip
