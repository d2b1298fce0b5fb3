"""SecretRotator, as the stacks register it: every secret the program creates rotates on a
schedule with a function of its own that may touch that secret only."""

from __future__ import annotations

import json

import pytest

from offline.mocks import ACCOUNT_ID

SECRET = "aws:secretsmanager/secret:Secret"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"


def rotator_of(run, secret):
    rotation = next(r for r in run.of_type(ROTATION) if r.inputs["secretId"] == secret.id)
    base = rotation.name.removesuffix("-schedule")
    return base, rotation


def test_every_secret_the_stacks_create_rotates_every_30_days(each_stack):
    secrets = each_stack.of_type(SECRET)
    # dev: the bridge key, no Redis; prod: Redis, no bridge; both: the Hokusai API's key
    assert len(secrets) == 6
    rotated = {r.inputs["secretId"] for r in each_stack.of_type(ROTATION)}
    assert rotated == {s.id for s in secrets}
    for rotation in each_stack.of_type(ROTATION):
        assert rotation.inputs["rotationRules"] == {"automaticallyAfterDays": 30}


def test_each_rotation_runs_its_own_function_which_rotates_only_that_secret(each_stack):
    functions = set()
    for secret in each_stack.of_type(SECRET):
        base, rotation = rotator_of(each_stack, secret)
        function = each_stack.named(f"{base}-fn-function")
        assert rotation.inputs["rotationLambdaArn"] == function.outputs["arn"]
        assert function.inputs["environment"]["variables"]["SECRET_ARN"] == secret.outputs["arn"]
        functions.add(function.urn)
        policy = json.loads(each_stack.named(f"{base}-fn-policy").inputs["policy"])
        steps = next(s for s in policy["Statement"] if s["Sid"] == "RotateThisSecret")
        assert steps["Resource"] == secret.outputs["arn"]
        assert set(steps["Action"]) == {
            "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
            "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage",
        }  # fmt: skip
        # no statement names another secret, and none is a wildcard on Secrets Manager
        others = {s.outputs["arn"] for s in each_stack.of_type(SECRET)} - {secret.outputs["arn"]}
        assert not others & set(json.dumps(policy).split('"'))
    assert len(functions) == len(each_stack.of_type(SECRET))


def test_secrets_manager_may_invoke_each_function_for_its_secret_of_this_account(each_stack):
    for secret in each_stack.of_type(SECRET):
        base, rotation = rotator_of(each_stack, secret)
        permission = each_stack.named(f"{base}-permission")
        function = each_stack.named(f"{base}-fn-function")
        assert permission.inputs == {
            "action": "lambda:InvokeFunction",
            "function": function.outputs["name"],
            "principal": "secretsmanager.amazonaws.com",
            "sourceAccount": ACCOUNT_ID,
            "sourceArn": secret.outputs["arn"],
        }
        # the schedule starts only once the permission exists (it rotates at once), the
        # function may do its steps, and the secret has the value createSecret reads
        assert permission.urn in rotation.options["depends_on"]
        assert each_stack.named(f"{base}-fn-policy").urn in rotation.options["depends_on"]
        (version,) = [v for v in each_stack.of_type(VERSION) if v.inputs["secretId"] == secret.id]
        assert version.urn in rotation.options["depends_on"]


def test_a_secret_under_a_customer_key_gets_that_keys_use_through_secrets_manager(each_stack):
    for secret in each_stack.of_type(SECRET):
        base, _ = rotator_of(each_stack, secret)
        policy = json.loads(each_stack.named(f"{base}-fn-policy").inputs["policy"])
        kms = [s for s in policy["Statement"] if s["Sid"] == "ItsKeyThroughSecretsManager"]
        if "kmsKeyId" not in secret.inputs:
            assert kms == []
            continue
        assert kms[0]["Resource"] == secret.inputs["kmsKeyId"]
        assert kms[0]["Condition"] == {
            "StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}
        }


@pytest.mark.parametrize(
    ("secret", "kind"),
    [
        ("inference-api-key-secret", "random"),
        ("data-platform-mlflow-admin-password-secret", "mlflow-admin"),
        ("data-platform-mlflow-flask-secret-key-secret", "random"),
        ("agent-world-api-key-secret", "apigateway-key"),
    ],
)
def test_each_secret_has_the_kind_that_reaches_its_service(each_stack, secret, kind):
    base, _ = rotator_of(each_stack, each_stack.named(secret))
    variables = each_stack.named(f"{base}-fn-function").inputs["environment"]["variables"]
    assert variables["ROTATION_KIND"] == kind
