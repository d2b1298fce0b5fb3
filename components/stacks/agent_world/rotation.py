"""The agent world's secret rotations: the API key, the bridge key (shared-ALB mode) and the
Redis AUTH token (with Redis), each every 30 days by a function of its own.

The two API keys are API Gateway keys of the one usage plan, which API Gateway checks
itself: their kind (``apigateway-key``) adds a key holding the new value to the plan and
retires, at the end of each rotation, the keys older than the previous one, so the previous
key works until the next rotation. The Redis token's kind adds the new token beside the
current one (``ROTATE``) and redeploys the services, whose tasks read it at start. Created
after the services and the usage plan (``parent=stack``, new logical names).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from components.blocks.rotation import (
    SecretRotator,
    SecretRotatorArgs,
    restart_statement,
    service_arn,
)
from components.lib import names
from components.lib.policies import Statement, allow

if TYPE_CHECKING:
    from components.stacks.agent_world.stack import AgentWorldArgs, AgentWorldStack

REDIS_WAIT_TIMEOUT = 900
"""Seconds a Redis rotation step may take: a token change keeps the group ``modifying`` for
minutes, and the function waits for it (at most 600 s) within Lambda's 900 s limit."""


def api_key_statements(region: str, plan: aws.apigateway.UsagePlan) -> list[Statement]:
    """What the ``apigateway-key`` kind does: list, create, disable and delete API keys
    (keys a rotation creates get ids no policy knows beforehand, so ``/apikeys/*``), and add
    and remove keys of this usage plan only."""
    keys = f"arn:aws:apigateway:{region}::/apikeys"
    plan_keys = plan.id.apply(lambda i: f"arn:aws:apigateway:{region}::/usageplans/{i}/keys")
    return [
        allow(["apigateway:GET", "apigateway:POST"], [keys], sid="ListAndCreateKeys"),
        allow(["apigateway:PATCH", "apigateway:DELETE"], [f"{keys}/*"], sid="RetireOldKeys"),
        allow(["apigateway:POST"], [plan_keys], sid="AddKeysToThePlan"),
        allow(
            ["apigateway:GET", "apigateway:DELETE"],
            [plan_keys.apply(lambda k: f"{k}/*")],
            sid="ReadAndRemoveKeysOfThePlan",
        ),
    ]


def create_rotations(
    stack: AgentWorldStack, name: str, args: AgentWorldArgs, plan: aws.apigateway.UsagePlan
) -> None:
    """``stack.rotators``: a :class:`SecretRotator` per secret of the stack."""
    prefix = args.common.name_prefix
    region = args.common.region
    child = pulumi.ResourceOptions(parent=stack)
    common = {
        "secret_key_arn": stack.data.key.arn,
        "log_retention_days": args.common.log_retention_days,
        # Like the stack's other log groups: its key, unless a logs key is given.
        "log_key_arn": args.common.log_key_arn or stack.data.key.arn,
        "tags": dict(args.common.tags),
    }
    keys = {"api-key": (stack.api_key_secret, f"{prefix}-agent-world")}
    if stack.shared:
        keys["bridge-key"] = (stack.bridge_key_secret, f"{prefix}-agent-world-websocket")
    stack.rotators = {}
    for role, (secret, key_name) in keys.items():
        stack.rotators[role] = SecretRotator(
            f"{name}-{role}-rotation",
            SecretRotatorArgs(
                secret=secret,
                function_name=names.rotation_function(prefix, f"agent-world-{role}"),
                kind="apigateway-key",
                description=f"Rotates the agent world {role} (a second key in the usage plan)",
                environment={"USAGE_PLAN_ID": plan.id, "KEY_NAME": key_name},
                statements=api_key_statements(region, plan),
                **common,
            ),
            opts=child,
        )
    if stack.data.redis is None or stack.data.redis_auth_secret is None:
        return
    arns = [service_arn(stack.cluster.name, s.name, region) for s in stack.services.values()]
    stack.rotators["redis-auth-token"] = SecretRotator(
        f"{name}-redis-token-rotation",
        SecretRotatorArgs(
            secret=stack.data.redis_auth_secret,
            function_name=names.rotation_function(prefix, "agent-world-redis-token"),
            kind="redis-auth",
            description="Rotates the agent world Redis AUTH token (ROTATE, then redeploys)",
            environment={
                "REPLICATION_GROUP_ID": stack.data.redis.replication_group_id,
                "RESTART_SERVICES": pulumi.Output.all(*arns).apply(",".join),
            },
            statements=[
                allow(
                    ["elasticache:DescribeReplicationGroups", "elasticache:ModifyReplicationGroup"],
                    [stack.data.redis.arn],
                    sid="ChangeTheToken",
                ),
                restart_statement(arns),
            ],
            timeout=REDIS_WAIT_TIMEOUT,
            **common,
        ),
        opts=child,
    )
