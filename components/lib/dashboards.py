"""Pure builders of CloudWatch dashboard bodies (no Pulumi): metric widgets in a grid.

The stacks resolve their resources' names first (``Output.all(...).apply``) and pass plain
strings here, so the JSON is the same whatever stack builds it and testable without mocks.
A metric is ``(namespace, metric_name, {dimension: value})``; widgets flow 2 per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

Metric = tuple[str, str, Mapping[str, str]]

WIDTH = 12  # of the dashboard grid's 24 columns: two widgets a row
HEIGHT = 6
PERIOD = 300


def metric_row(namespace: str, metric: str, dimensions: Mapping[str, str]) -> list[str]:
    """One line of a widget's ``metrics``: namespace, name, then dimension name/value pairs."""
    row = [namespace, metric]
    for key, value in dimensions.items():
        row += [key, value]
    return row


def widget(title: str, region: str, metrics: Iterable[Metric], stat: str = "Average") -> dict:
    """A time-series metric widget of ``metrics``, each at ``stat`` over five minutes."""
    return {
        "type": "metric",
        "width": WIDTH,
        "height": HEIGHT,
        "properties": {
            "title": title,
            "region": region,
            "stat": stat,
            "period": PERIOD,
            "view": "timeSeries",
            "metrics": [metric_row(*m) for m in metrics],
        },
    }


def body(widgets: Iterable[dict]) -> dict:
    """The dashboard body: the widgets placed left to right, two per row."""
    placed = []
    for index, w in enumerate(widgets):
        placed.append({**w, "x": (index % 2) * WIDTH, "y": (index // 2) * HEIGHT})
    return {"widgets": placed}


ALB = "AWS/ApplicationELB"


def load_balancer_widgets(
    region: str, load_balancer: str, target_groups: Mapping[str, str], role: str
) -> list[dict]:
    """An ALB's requests, and per target group (by service) latency p50/p99, 5xx, healthy hosts.

    ``load_balancer`` and ``target_groups`` are ARN suffixes (``app/...``, ``targetgroup/...``),
    the values of the ``LoadBalancer`` and ``TargetGroup`` dimensions.
    """
    lb = {"LoadBalancer": load_balancer}
    per_target = [{"TargetGroup": tg, **lb} for tg in target_groups.values()]

    def each(metric: str) -> list[Metric]:
        return [(ALB, metric, dims) for dims in per_target]

    return [
        widget(f"{role} requests", region, [(ALB, "RequestCount", lb)], "Sum"),
        widget(f"{role} target 5xx", region, each("HTTPCode_Target_5XX_Count"), "Sum"),
        widget(f"{role} latency p50 (s)", region, each("TargetResponseTime"), "p50"),
        widget(f"{role} latency p99 (s)", region, each("TargetResponseTime"), "p99"),
        widget(f"{role} healthy hosts", region, each("HealthyHostCount"), "Minimum"),
    ]


def data_platform_widgets(
    region: str, load_balancer: str, target_group: str, aurora: bool, database: str
) -> list[dict]:
    """MLflow's requests and 5xx (its target group), then the database.

    Aurora (``database`` a cluster identifier): CPU, connections, capacity in ACUs and its
    use of the maximum; RDS (an instance identifier): CPU, connections, free storage.
    """
    tg = {"TargetGroup": target_group, "LoadBalancer": load_balancer}
    db = {"DBClusterIdentifier" if aurora else "DBInstanceIdentifier": database}
    rds = "AWS/RDS"
    shown = [
        widget("MLflow requests", region, [(ALB, "RequestCount", tg)], "Sum"),
        widget("MLflow target 5xx", region, [(ALB, "HTTPCode_Target_5XX_Count", tg)], "Sum"),
        widget("Database CPU %", region, [(rds, "CPUUtilization", db)]),
        widget("Database connections", region, [(rds, "DatabaseConnections", db)], "Maximum"),
    ]
    if aurora:
        shown += [
            widget("Aurora capacity (ACUs)", region, [(rds, "ServerlessDatabaseCapacity", db)]),
            widget("Aurora ACU use %", region, [(rds, "ACUUtilization", db)], "Maximum"),
        ]
    else:
        shown.append(
            widget("Free storage (bytes)", region, [(rds, "FreeStorageSpace", db)], "Minimum")
        )
    return shown
