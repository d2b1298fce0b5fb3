"""SecretRotator: a secret's rotation on a schedule, by a function of its own.

Every secret the stacks create rotates (the RDS-managed master secret is RDS's own): each
gets one function from ``services/secret_rotation`` whose role may touch only that secret
and what its kind changes, so no function can rotate (or read) another stack's secrets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.blocks.function import LambdaFunction, LambdaFunctionArgs
from components.lib.policies import Condition, Statement, allow
from components.parts.secrets import first_value

ROTATION_DAYS = 30
"""Days between two rotations of every secret."""
HANDLER = "secret_rotation.handler.lambda_handler"
PACKAGE = "secret_rotation"


@dataclass(frozen=True)
class SecretRotatorArgs:
    """Inputs of :class:`SecretRotator`."""

    secret: aws.secretsmanager.Secret
    """The secret to rotate. Required."""
    function_name: str
    """The function's physical name (64 characters at most). Required."""
    kind: str
    """``random``, ``apigateway-key``, ``mlflow-admin`` or ``redis-auth``
    (``services/secret_rotation/secret_rotation/kinds.py``). Required."""
    description: str
    """What is rotated, and how. Required."""
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """The kind's variables (``KEY_NAME``, ``RESTART_SERVICES``...). Default none."""
    statements: Sequence[Statement] = ()
    """What the kind changes besides the secret (resource ARNs). Default nothing."""
    secret_key_arn: pulumi.Input[str] | None = None
    """The customer managed key encrypting the secret (None: ``aws/secretsmanager``)."""
    days: int = ROTATION_DAYS
    """Days between rotations. Default 30."""
    timeout: int = 60
    """Seconds one step may take (a Redis change waits for the group). Default 60."""
    log_retention_days: int = 365
    """Retention of the function's log group. Default 365."""
    log_key_arn: pulumi.Input[str] | None = None
    """The key of the function's log group. Default none."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of the function, its role and log group. Default none."""


class SecretRotator(pulumi.ComponentResource):
    """The rotation of one secret: a :class:`LambdaFunction` (``<name>-fn``) allowed
    the four steps on that secret only (and its key's decrypt and data keys through Secrets
    Manager), Secrets Manager's permission to invoke it for that secret of this account
    (``<name>-permission``), and the schedule (``<name>-schedule``, every ``days``)."""

    TYPE = "mlplatform:functions:SecretRotator"

    function: LambdaFunction
    permission: aws.lambda_.Permission
    rotation: aws.secretsmanager.SecretRotation

    def __init__(
        self, name: str, args: SecretRotatorArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__(self.TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        secret_arn = args.secret.arn
        statements = [
            allow(
                [
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:UpdateSecretVersionStage",
                ],
                [secret_arn],
                sid="RotateThisSecret",
            ),
            *args.statements,
        ]
        if args.secret_key_arn is not None:
            region = aws.get_region_output().region
            statements.append(
                allow(
                    ["kms:Decrypt", "kms:GenerateDataKey"],
                    [args.secret_key_arn],
                    sid="ItsKeyThroughSecretsManager",
                    conditions=[
                        Condition(
                            test="StringEquals",
                            variable="kms:ViaService",
                            values=[
                                pulumi.Output.concat("secretsmanager.", region, ".amazonaws.com")
                            ],
                        )
                    ],
                )
            )
        self.function = LambdaFunction(
            f"{name}-fn",
            LambdaFunctionArgs(
                function_name=args.function_name,
                package=PACKAGE,
                handler=HANDLER,
                description=args.description,
                statements=statements,
                environment={
                    "SECRET_ARN": secret_arn,
                    "ROTATION_KIND": args.kind,
                    **args.environment,
                },
                shared=False,
                timeout=args.timeout,
                log_retention_days=args.log_retention_days,
                log_key_arn=args.log_key_arn,
                tags=args.tags,
            ),
            opts=child,
        )
        self.permission = aws.lambda_.Permission(
            f"{name}-permission",
            action="lambda:InvokeFunction",
            function=self.function.name,
            principal="secretsmanager.amazonaws.com",
            source_account=aws.get_caller_identity_output().account_id,
            source_arn=secret_arn,
            opts=child,
        )
        self.rotation = aws.secretsmanager.SecretRotation(
            f"{name}-schedule",
            secret_id=args.secret.id,
            rotation_lambda_arn=self.function.arn,
            rotation_rules={"automatically_after_days": args.days},
            # Its first rotation starts at once: the function's permission and policy, and the
            # secret's first value (AWSCURRENT, which createSecret reads), must exist by then.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[
                    self.permission,
                    self.function.policy,
                    *filter(None, [first_value(args.secret)]),
                ],
            ),
        )
        self.register_outputs({"function_arn": self.function.arn})


def restart_statement(service_arns: Sequence[pulumi.Input[str]]) -> Statement:
    """A new deployment of exactly these ECS services (``RESTART_SERVICES``)."""
    return allow(["ecs:UpdateService"], list(service_arns), sid="RedeployTheConsumers")


def service_arn(cluster_name: pulumi.Input[str], service_name: pulumi.Input[str],
                region: str) -> pulumi.Output[str]:  # fmt: skip
    """``arn:<partition>:ecs:<region>:<account>:service/<cluster>/<service>``."""
    return pulumi.Output.concat(
        "arn:", aws.get_partition_output().partition, ":ecs:", region, ":",
        aws.get_caller_identity_output().account_id, ":service/", cluster_name, "/", service_name,
    )  # fmt: skip
