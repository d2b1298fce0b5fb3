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


def _time_series(title: str, region: str, metrics: list, **properties) -> dict:
    """A time-series metric widget of ``metrics`` (rows or expressions) over ``PERIOD``."""
    return {
        "type": "metric",
        "width": WIDTH,
        "height": HEIGHT,
        "properties": {
            "title": title,
            "region": region,
            **properties,
            "period": PERIOD,
            "view": "timeSeries",
            "metrics": metrics,
        },
    }


def widget(title: str, region: str, metrics: Iterable[Metric], stat: str = "Average") -> dict:
    """A time-series metric widget of ``metrics``, each at ``stat`` over five minutes."""
    return _time_series(title, region, [metric_row(*m) for m in metrics], stat=stat)


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


def search(term: str, stat: str) -> str:
    """A ``SEARCH`` expression over ``PERIOD`` (CloudWatch search expression syntax)."""
    return f"SEARCH('{term}', '{stat}', {PERIOD})"


def search_widget(title: str, region: str, expressions: Mapping[str, str]) -> dict:
    """A time-series widget of search expressions, by label: one line per metric found."""
    rows = [
        [{"expression": expression, "id": f"e{n}", "label": label}]
        for n, (label, expression) in enumerate(expressions.items(), start=1)
    ]
    return _time_series(title, region, rows)


def gpu_widgets(region: str, namespace: str) -> list[dict]:
    """The CloudWatch agent's GPU metrics (``components/lib/gpu_instance.py``): utilisation
    and memory per instance and GPU, found by search in the stack's own namespace (quoted:
    an exact match), so instances the capacity provider launches later appear by
    themselves."""

    def term(metric: str) -> str:
        return f'"{namespace}" MetricName="{metric}"'

    return [
        search_widget(
            "GPU utilisation % (per instance, GPU)",
            region,
            {"utilisation": search(term("nvidia_smi_utilization_gpu"), "Average")},
        ),
        search_widget(
            "GPU memory (MiB, per instance, GPU)",
            region,
            {
                "used": search(term("nvidia_smi_memory_used"), "Maximum"),
                "total": search(term("nvidia_smi_memory_total"), "Maximum"),
            },
        ),
    ]
