"""secrets.secret_with_value: the secret and its first value, as the mocks record them."""

from __future__ import annotations

import pulumi

from components.parts.secrets import secret_with_value

SECRET = "aws:secretsmanager/secret:Secret"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"


def test_the_secret_holds_the_value_under_the_callers_names(run_inline):
    def program():
        secret_with_value(
            "svc-key-secret", value_name="svc-key-value", name="mlplatform-dev/svc/key",
            description="A key", value="s3cret", recovery_window_in_days=7,
            tags={"stack": "svc"}, kms_key_id="arn:aws:kms:us-east-1:123456789012:key/k",
            opts=pulumi.ResourceOptions(),
        )  # fmt: skip

    run = run_inline(program)
    secret = run.named("svc-key-secret")
    assert secret.type == SECRET
    assert secret.inputs == {
        "name": "mlplatform-dev/svc/key", "description": "A key",
        "kmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/k",
        "recoveryWindowInDays": 7, "tags": {"stack": "svc"},
    }  # fmt: skip
    version = run.named("svc-key-value")
    assert version.type == VERSION
    assert version.inputs["secretId"] == secret.id
    assert version.inputs["secretString"] == "s3cret"


def test_without_a_key_secrets_manager_encrypts_with_its_own(run_inline):
    def program():
        secret_with_value(
            "s", value_name="v", name="n", description="d", value="x",
            recovery_window_in_days=0, tags={}, opts=pulumi.ResourceOptions(),
        )  # fmt: skip

    assert "kmsKeyId" not in run_inline(program).named("s").inputs


def test_every_secret_of_the_stacks_has_its_first_value(each_stack):
    secrets = {r.id for r in each_stack.of_type(SECRET)}
    versions = {r.inputs["secretId"] for r in each_stack.of_type(VERSION)}
    assert secrets and secrets <= versions
