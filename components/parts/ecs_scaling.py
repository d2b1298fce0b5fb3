"""Application Auto Scaling for ECS services: the pieces the stacks share.

Functions that register resources under the caller's component (``opts`` carries the
parent), so every stack scales its services the same way: a scalable target on the
desired count, and step policies for starting from zero and for scaling in when idle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

PERIOD = 60
"""Seconds per datapoint of the scaling alarms, and the cooldown of the step policies."""
WAKE_STEP = {"metric_interval_lower_bound": "0", "scaling_adjustment": 1}
"""Add one task when the alarm's metric reaches its threshold."""


def idle_step(count: int) -> dict[str, Any]:
    """Set the task count to ``count`` when the alarm's metric is at or under its threshold."""
    return {"metric_interval_upper_bound": "0", "scaling_adjustment": count}


def service_target(
    name: str,
    cluster_name: pulumi.Input[str],
    service_name: pulumi.Input[str],
    min_count: int,
    max_count: int,
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.appautoscaling.Target:
    """The scalable target of an ECS service's desired count."""
    return aws.appautoscaling.Target(
        name,
        service_namespace="ecs",
        scalable_dimension="ecs:service:DesiredCount",
        resource_id=pulumi.Output.concat("service/", cluster_name, "/", service_name),
        min_capacity=min_count,
        max_capacity=max_count,
        tags=dict(tags),
        opts=opts,
    )


def target_ids(target: aws.appautoscaling.Target) -> dict[str, pulumi.Output[str]]:
    """The three arguments that tie a policy to ``target``."""
    return {
        "resource_id": target.resource_id,
        "scalable_dimension": target.scalable_dimension,
        "service_namespace": target.service_namespace,
    }


def step_policy(
    name: str,
    policy_name: str,
    target: aws.appautoscaling.Target,
    adjustment_type: str,
    step: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
) -> aws.appautoscaling.Policy:
    """A one-step scaling policy for an alarm's action."""
    return aws.appautoscaling.Policy(
        name,
        name=policy_name,
        policy_type="StepScaling",
        **target_ids(target),
        step_scaling_policy_configuration={
            "adjustment_type": adjustment_type,
            "cooldown": PERIOD,
            "metric_aggregation_type": "Maximum",
            "step_adjustments": [dict(step)],
        },
        opts=opts,
    )
