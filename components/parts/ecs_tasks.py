"""Pieces every ECS task definition of the platform shares: the task roles' trust and logs."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.lib import queue_scaling
from components.lib.policies import allow, service_trust


def ecs_tasks_trust(region: str) -> pulumi.Output[str]:
    """Assume-role policy (JSON) for ECS tasks of this account in ``region`` only.

    The ``aws:SourceAccount`` and ``aws:SourceArn`` conditions are the confused-deputy guard:
    no other account's task can assume a role that trusts ``ecs-tasks.amazonaws.com``.
    """
    account = aws.get_caller_identity_output().account_id
    partition = aws.get_partition_output().partition
    any_ecs_resource = pulumi.Output.concat("arn:", partition, ":ecs:", region, ":", account, ":*")
    return aws.iam.get_policy_document_output(
        statements=[service_trust("ecs-tasks.amazonaws.com", account, any_ecs_resource)]
    ).json


def awslogs(group: aws.cloudwatch.LogGroup, region: str, stream_prefix: str) -> dict[str, object]:
    """A container's ``logConfiguration``: the awslogs driver into ``group``."""
    return {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": group.name,
            "awslogs-region": region,
            "awslogs-stream-prefix": stream_prefix,
        },
    }


def fargate_cluster(
    name: str,
    physical_name: str,
    spot_percentage: int,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
    extra_providers: list[pulumi.Input[str]] | None = None,
    container_insights: bool = True,
) -> tuple[aws.ecs.Cluster, aws.ecs.ClusterCapacityProviders]:
    """An ECS cluster (``<name>-cluster``), with Container Insights unless
    ``container_insights`` is false (its metrics bill as custom metrics while tasks run:
    about $9.60 a month for a cluster with one always-on service), and its capacity providers
    (``<name>-capacity-providers``): FARGATE and FARGATE_SPOT, plus ``extra_providers``,
    with a default strategy of ``spot_percentage`` % Spot."""
    insights = "enabled" if container_insights else "disabled"
    cluster = aws.ecs.Cluster(
        f"{name}-cluster",
        name=physical_name,
        settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value=insights)],
        tags=tags,
        opts=opts,
    )
    capacity = aws.ecs.ClusterCapacityProviders(
        f"{name}-capacity-providers",
        cluster_name=cluster.name,
        capacity_providers=["FARGATE", "FARGATE_SPOT", *(extra_providers or [])],
        default_capacity_provider_strategies=queue_scaling.capacity_strategy(spot_percentage),
        opts=opts,
    )
    return cluster, capacity


def execution_policy(
    repositories: list[pulumi.Input[str]],
    log_groups: list[aws.cloudwatch.LogGroup],
    secrets: list[pulumi.Input[str]] | None = None,
    kms_keys: list[pulumi.Input[str]] | None = None,
) -> pulumi.Output[str]:
    """The execution role's policy (JSON): pull these images, write these log groups, read
    these secrets (decrypting with these keys, for secrets under a customer-managed key)."""
    statements = [
        # GetAuthorizationToken has no resource-level permissions: AWS requires "*".
        allow(["ecr:GetAuthorizationToken"], ["*"], sid="EcrLogin"),
        allow(
            ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            repositories,
            sid="PullTheseImages",
        ),
        allow(
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [group.arn.apply(lambda arn: f"{arn}:log-stream:*") for group in log_groups],
            sid="WriteTheseLogs",
        ),
    ]
    if secrets:
        statements.append(allow(["secretsmanager:GetSecretValue"], secrets, sid="ReadTheseSecrets"))
    if kms_keys:
        statements.append(allow(["kms:Decrypt"], kms_keys, sid="DecryptTheseSecrets"))
    return aws.iam.get_policy_document_output(statements=statements).json
