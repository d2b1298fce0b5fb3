"""Monthly cost of a program run: with no traffic at all, and for a usage profile.

Idle cost is what bills by the hour or the month whatever the traffic: load balancers and
their public IPv4 addresses, NAT gateways, interface endpoints, Fargate tasks at their
minimum count (with the Spot share), EC2 at the Auto Scaling group minimum with its root
volumes, RDS and ElastiCache nodes and storage (Aurora Serverless v2: its minimum ACUs,
0 when it pauses), KMS keys, secrets, dashboards and alarms. The usage profile adds GPU
instance hours, CMA-ES worker hours, API requests, GB stored and, for Aurora Serverless
v2, ACU hours and database GB. Prices live in ``prices-us-east-1.json`` (source and date
inside); anything not modelled (data transfer, LCUs, per-request charges other than the
REST API, Container Insights metrics, log ingestion) is left out and said so in the README.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from offline.runner import ProgramRun

PRICES_FILE = Path(__file__).resolve().parent / "prices-us-east-1.json"
USAGE_FILE = Path(__file__).resolve().parent / "usage-example.yaml"


def load_prices(path: Path = PRICES_FILE) -> dict[str, Any]:
    return json.loads(path.read_text())


@dataclass
class Estimate:
    """Monthly USD per top-level component, idle and with the usage profile."""

    idle: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    usage: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    items: list[tuple[str, str, float]] = field(default_factory=list)
    """(component, what, monthly USD) of every idle charge, for the detail listing."""

    def add(self, component: str, what: str, monthly: float) -> None:
        if monthly:
            self.idle[component] += monthly
            self.items.append((component, what, monthly))

    def total_idle(self) -> float:
        return sum(self.idle.values())

    def total_with_usage(self) -> float:
        return self.total_idle() + sum(self.usage.values())


def _component_of(run: ProgramRun) -> dict[str, str]:
    """URN -> name of its top-level component."""
    by_urn = {r.urn: r for r in run.resources}
    out: dict[str, str] = {}
    for r in run.resources:
        node = r
        while node.parent in by_urn:
            node = by_urn[node.parent]
        out[r.urn] = node.name
    return out


def _spot_share(strategies: list[dict[str, Any]]) -> float:
    weights = {s.get("capacityProvider"): int(s.get("weight", 0)) for s in strategies or []}
    total = sum(weights.values())
    return weights.get("FARGATE_SPOT", 0) / total if total else 0.0


def _alarm_metrics(alarm) -> int:
    queries = alarm.inputs.get("metricQueries")
    if queries:
        return sum(1 for q in queries if q.get("metric"))
    return 1


def estimate(run: ProgramRun, prices: dict[str, Any], usage: dict[str, float] | None = None):
    """The :class:`Estimate` of ``run`` at ``prices``, with an optional usage profile."""
    hourly, monthly = prices["hourly"], prices["monthly"]
    hours = prices["hours_per_month"]
    component = _component_of(run)
    result = Estimate()
    for name in set(component.values()):  # every component is listed, free ones at 0
        result.idle.setdefault(name, 0.0)

    def add(resource, what: str, per_month: float) -> None:
        result.add(component[resource.urn], what, per_month)

    task_defs = {
        r.outputs.get("arn"): r for r in run.of_type("aws:ecs/taskDefinition:TaskDefinition")
    }
    minimums = {
        r.inputs.get("resourceId"): int(r.inputs.get("minCapacity", 0))
        for r in run.of_type("aws:appautoscaling/target:Target")
    }
    templates = {r.id: r for r in run.of_type("aws:ec2/launchTemplate:LaunchTemplate")}

    def fargate_hourly(task, spot_share: float) -> float:
        vcpu, gb = int(task.inputs["cpu"]) / 1024, int(task.inputs["memory"]) / 1024
        on_demand = vcpu * hourly["fargate_vcpu"] + gb * hourly["fargate_gb"]
        return on_demand * (1 - spot_share * hourly["fargate_spot_discount"])

    worker_hourly = 0.0
    gpu_hourly = 0.0
    aurora_min_acu: dict[str, float] = {}  # cluster id -> its minimum ACU (registered first)
    aurora_instances: dict[str, int] = defaultdict(int)  # component -> serverless instances
    for r in run.resources:
        t = r.type
        if t == "aws:lb/loadBalancer:LoadBalancer":
            kind = "nlb" if r.inputs.get("loadBalancerType") == "network" else "alb"
            add(r, f"{kind.upper()} {r.name}", hourly[kind] * hours)
            if not r.inputs.get("internal"):
                ips = len(r.inputs.get("subnets") or [])
                add(r, f"{ips} public IPv4 of {r.name}", ips * hourly["public_ipv4"] * hours)
        elif t == "awsx:ec2:Vpc":
            azs = int(r.inputs.get("numberOfAvailabilityZones", 0))
            strategy = (r.inputs.get("natGateways") or {}).get("strategy", "OnePerAz")
            nats = {"None": 0, "Single": 1}.get(strategy, azs)
            per_nat = (hourly["nat_gateway"] + hourly["public_ipv4"]) * hours
            add(r, f"{nats} NAT gateways", nats * per_nat)
        elif (
            t == "aws:ec2/vpcEndpoint:VpcEndpoint"
            and r.inputs.get("vpcEndpointType") == "Interface"
        ):
            azs = len(r.inputs.get("subnetIds") or [])
            add(r, f"endpoint {r.name}", azs * hourly["interface_endpoint_per_az"] * hours)
        elif t == "aws:ecs/service:Service":
            task = task_defs.get(r.inputs.get("taskDefinition"))
            if task is None or "FARGATE" not in task.inputs.get("requiresCompatibilities", []):
                continue
            cluster = str(r.inputs.get("cluster", "")).rsplit("/", 1)[-1]
            resource_id = f"service/{cluster}/{r.inputs.get('name')}"
            count = minimums.get(resource_id, int(r.inputs.get("desiredCount", 0)))
            per_task = fargate_hourly(task, _spot_share(r.inputs.get("capacityProviderStrategies")))
            add(r, f"{count} × task {r.name}", count * per_task * hours)
            if "cmaes" in str(r.inputs.get("name", "")):
                worker_hourly = per_task
        elif t == "aws:autoscaling/group:Group":
            mix = r.inputs.get("mixedInstancesPolicy") or {}
            spec = (mix.get("launchTemplate") or {}).get("launchTemplateSpecification") or {}
            template = templates.get(spec.get("launchTemplateId"))
            instance = template.inputs.get("instanceType") if template else None
            on_demand = hourly["ec2"].get(instance, 0.0)
            od_share = (mix.get("instancesDistribution") or {}).get(
                "onDemandPercentageAboveBaseCapacity", 100) / 100  # fmt: skip
            per_instance = on_demand * (1 - (1 - od_share) * hourly["ec2_spot_discount"])
            gpu_hourly = per_instance
            count = int(r.inputs.get("minSize", 0))
            add(r, f"{count} × {instance}", count * per_instance * hours)
            if template:
                gb = sum(int((m.get("ebs") or {}).get("volumeSize", 0))
                         for m in template.inputs.get("blockDeviceMappings") or [])  # fmt: skip
                add(r, f"{count} × {gb} GiB gp3 root", count * gb * monthly["ebs_gp3_gb"])
        elif t == "aws:rds/instance:Instance":
            copies = 2 if r.inputs.get("multiAz") else 1
            cls = r.inputs.get("instanceClass")
            add(r, f"RDS {cls} × {copies}", copies * hourly["rds"].get(cls, 0.0) * hours)
            gb = int(r.inputs.get("allocatedStorage", 0))
            add(r, f"RDS {gb} GiB gp3 × {copies}", copies * gb * monthly["rds_gp3_gb"])
            if r.inputs.get("manageMasterUserPassword"):
                add(r, "RDS-managed secret", monthly["secret"])
        elif t == "aws:rds/cluster:Cluster":
            scaling = r.inputs.get("serverlessv2ScalingConfiguration") or {}
            aurora_min_acu[r.id] = float(scaling.get("minCapacity", 0))
            if r.inputs.get("manageMasterUserPassword"):
                add(r, "RDS-managed secret", monthly["secret"])
        elif t == "aws:rds/clusterInstance:ClusterInstance":
            if r.inputs.get("instanceClass") == "db.serverless":
                acu = aurora_min_acu.get(r.inputs.get("clusterIdentifier"), 0.0)
                aurora_instances[component[r.urn]] += 1
                add(r, f"Aurora Serverless v2 at {acu:g} ACU",
                    acu * hourly["aurora_serverless_acu"] * hours)  # fmt: skip
        elif t == "aws:elasticache/replicationGroup:ReplicationGroup":
            nodes = int(r.inputs.get("numCacheClusters", 1))
            node = r.inputs.get("nodeType")
            add(r, f"{nodes} × {node}", nodes * hourly["elasticache"].get(node, 0.0) * hours)
        elif t == "aws:kms/key:Key":
            add(r, f"KMS key {r.name}", monthly["kms_key"])
        elif t == "aws:secretsmanager/secret:Secret":
            add(r, f"secret {r.name}", monthly["secret"])
        elif t == "aws:cloudwatch/dashboard:Dashboard":
            add(r, f"dashboard {r.name}", monthly["dashboard"])
        elif t == "aws:cloudwatch/metricAlarm:MetricAlarm":
            add(r, f"alarm {r.name}", _alarm_metrics(r) * monthly["alarm_metric"])
        elif t == "aws:appautoscaling/policy:Policy" and r.inputs.get("policyType") == (
            "TargetTrackingScaling"
        ):
            config = r.inputs.get("targetTrackingScalingPolicyConfiguration") or {}
            alarms = 1 if config.get("disableScaleIn") else 2
            metrics = sum(1 for m in (config.get("customizedMetricSpecification") or {}).get(
                "metrics", []) if m.get("metricStat")) or 1  # fmt: skip
            add(r, f"tracking alarms of {r.name}", alarms * metrics * monthly["alarm_metric"])

    if usage:
        names = set(component.values())
        if "inference" in names:
            result.usage["inference"] += usage.get("gpu_hours", 0) * gpu_hourly
        if "training" in names:
            result.usage["training"] += usage.get("worker_hours", 0) * worker_hourly
        if "agent-world" in names:
            result.usage["agent-world"] += (
                usage.get("api_million_requests", 0)
                * prices["per_unit"]["rest_api_million_requests"]
            )
        if "data-platform" in names:
            result.usage["data-platform"] += usage.get("gb_stored", 0) * monthly["s3_gb"]
        for name, instances in aurora_instances.items():  # hours awake, and storage
            result.usage[name] += (
                instances * usage.get("db_acu_hours", 0) * hourly["aurora_serverless_acu"]
                + usage.get("db_gb", 0) * monthly["aurora_storage_gb"]
            )
    return result


def load_usage(path: Path = USAGE_FILE) -> dict[str, float]:
    data = yaml.safe_load(path.read_text()) or {}
    return {k: float(v) for k, v in data.items()}


def render(estimate_: Estimate, usage_name: str) -> list[str]:
    names = sorted(set(estimate_.idle) | set(estimate_.usage))
    width = max((len(n) for n in names), default=9)
    lines = [f"Monthly cost estimate (USD, us-east-1 list prices; usage: {usage_name}):",
             f"  {'component':<{width}}  {'idle':>9}  {'with usage':>11}"]  # fmt: skip
    for name in names:
        idle = estimate_.idle.get(name, 0.0)
        both = idle + estimate_.usage.get(name, 0.0)
        lines.append(f"  {name:<{width}}  {idle:9.2f}  {both:11.2f}")
    lines.append(f"  {'total':<{width}}  {estimate_.total_idle():9.2f}  "
                 f"{estimate_.total_with_usage():11.2f}")  # fmt: skip
    return lines


def render_largest(estimate_: Estimate, count: int = 8) -> list[str]:
    """The ``count`` largest idle charges, largest first: what dominates the idle figure."""
    items = sorted(estimate_.items, key=lambda item: -item[2])[:count]
    total = estimate_.total_idle() or 1.0
    lines = ["Largest idle charges (USD/month, share of the idle total):"]
    lines += [f"  {monthly:8.2f}  {monthly / total:4.0%}  {component}: {what}"
              for component, what, monthly in items]  # fmt: skip
    return lines
