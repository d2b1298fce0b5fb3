"""The agent world's dashboard (optional) and alarms, all notifying the alarm topic.

Alarms: the REST API's server errors, Redis CPU (with Redis) and each table's throttled
reads and writes. Each function creates children of the stack (``parent=stack``) under
the logical names they always had, so their URNs do not change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

if TYPE_CHECKING:
    from components.stacks.agent_world.stack import AgentWorldArgs, AgentWorldStack


def create_observability(stack: AgentWorldStack, name: str, args: AgentWorldArgs) -> None:
    """``stack.dashboard`` (None unless ``dashboard`` is on) and ``stack.alarms`` by role."""
    stack.dashboard = None
    if args.agent_world.dashboard:
        stack.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=f"{args.common.name_prefix}-agent-world",
            dashboard_body=pulumi.Output.json_dumps(_dashboard_body(stack, args.common.region)),
            opts=pulumi.ResourceOptions(parent=stack),
        )
    stack.alarms = _alarms(stack, name, args)


def _dashboard_body(stack: AgentWorldStack, region: str) -> pulumi.Output[dict]:
    """API latency and 5xx, ECS CPU and memory, DynamoDB throttles, Redis CPU (with Redis)."""
    redis = stack.data.redis

    def widget(title, metrics, stat="Average"):
        return {"type": "metric", "width": 12, "height": 6,
                "properties": {"title": title, "region": region, "stat": stat,
                               "period": 300, "metrics": metrics}}  # fmt: skip

    def widgets(v):
        shown = [
            widget("API latency (ms)", [["AWS/ApiGateway", "Latency", "ApiName", v[0]]]),
            widget("API 5xx", [["AWS/ApiGateway", "5XXError", "ApiName", v[0]]], "Sum"),
            widget("ECS CPU %", [["AWS/ECS", "CPUUtilization", "ClusterName", v[1],
                                  "ServiceName", s] for s in v[2].values()]),
            widget("ECS memory %", [["AWS/ECS", "MemoryUtilization", "ClusterName", v[1],
                                     "ServiceName", s] for s in v[2].values()]),
            widget("DynamoDB throttled writes", [["AWS/DynamoDB", "WriteThrottleEvents",
                                           "TableName", t] for t in v[3].values()], "Sum"),
        ]  # fmt: skip
        if v[4]:
            redis_cpu = ["AWS/ElastiCache", "EngineCPUUtilization", "ReplicationGroupId", v[4]]
            shown.append(widget("Redis engine CPU %", [redis_cpu]))
        return {"widgets": shown}

    return pulumi.Output.all(
        stack.rest_api.name,
        stack.cluster.name,
        {r: s.name for r, s in stack.services.items()},
        {k: t.name for k, t in stack.data.tables.items()},
        redis.id if redis else "",
    ).apply(widgets)


def _alarms(
    stack: AgentWorldStack, name: str, args: AgentWorldArgs
) -> dict[str, aws.cloudwatch.MetricAlarm]:
    prefix = args.common.name_prefix
    tags = dict(args.common.tags)
    child = pulumi.ResourceOptions(parent=stack)
    actions = [args.alarm_topic_arn] if args.alarm_topic_arn is not None else []
    redis = stack.data.redis

    def alarm(role, description, namespace, metric, dimensions, stat, threshold, op,
              missing="notBreaching", periods=1):  # fmt: skip
        return aws.cloudwatch.MetricAlarm(
            f"{name}-{role}",
            name=f"{prefix}-agent-world-{role}",
            alarm_description=description,
            namespace=namespace,
            metric_name=metric,
            dimensions=dimensions,
            statistic=stat,
            period=300,
            evaluation_periods=periods,
            comparison_operator=op,
            threshold=threshold,
            treat_missing_data=missing,
            alarm_actions=actions,
            ok_actions=actions,
            tags=tags,
            opts=child,
        )

    alarms = {
        "api-5xx": alarm("api-5xx", "The REST API answers server errors", "AWS/ApiGateway",
                         "5XXError", {"ApiName": stack.rest_api.name}, "Sum", 5,
                         "GreaterThanOrEqualToThreshold"),
    }  # fmt: skip
    if redis is not None:
        alarms["redis-cpu"] = alarm(
            "redis-cpu", "The agent world Redis is CPU-bound", "AWS/ElastiCache",
            "EngineCPUUtilization", {"ReplicationGroupId": redis.id}, "Average", 80,
            "GreaterThanThreshold", periods=3,
        )  # fmt: skip
    for logical, table in stack.data.tables.items():
        queries = [
            {"id": kind.lower(), "return_data": False,
             "metric": {"namespace": "AWS/DynamoDB", "metric_name": f"{kind}ThrottleEvents",
                        "dimensions": {"TableName": table.name}, "period": 300,
                        "stat": "Sum"}}
            for kind in ("Read", "Write")
        ] + [{"id": "throttles", "expression": "FILL(read, 0) + FILL(write, 0)",
              "label": "Throttled reads and writes", "return_data": True}]  # fmt: skip
        alarms[f"{logical}-throttles"] = aws.cloudwatch.MetricAlarm(
            f"{name}-{logical}-throttles",
            name=f"{prefix}-agent-world-{logical}-throttles",
            alarm_description=f"DynamoDB throttles requests to {logical}",
            metric_queries=queries,
            evaluation_periods=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=1,
            treat_missing_data="notBreaching",
            alarm_actions=actions,
            ok_actions=actions,
            tags=tags,
            opts=child,
        )
    return alarms
