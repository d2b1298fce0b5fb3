"""Monthly cost of a program run: with no traffic at all, and for a usage profile.

Idle cost is what bills by the hour or the month whatever the traffic: load balancers and
their public IPv4 addresses, NAT gateways, interface endpoints, Fargate tasks at their
minimum count (with the Spot share), EC2 at the Auto Scaling group minimum with its root
volumes, RDS and ElastiCache nodes and storage (Aurora Serverless v2: its minimum ACUs,
0 when it pauses), KMS keys, secrets, dashboards, alarms and AWS WAF web ACLs with their
rules (ACM's public certificates are listed at no charge), AWS Budgets past the account's
free two (Cost Anomaly Detection is listed at no charge). The usage profile adds GPU
instance hours, CMA-ES worker hours, API requests, GB stored and, for Aurora Serverless
v2, ACU hours and database GB, and the requests each web ACL inspects. Prices live in
``prices-us-east-1.json`` (sources and dates inside); anything not modelled (data
transfer, LCUs, per-request charges other than the REST API's and WAF's, Container
Insights metrics, log ingestion) is left out and said so in the README.
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
    edge: list[tuple[str, str, float]] = field(default_factory=list)
    """(component, what, monthly USD) of each web ACL and certificate, free ones too."""
    guardrails: list[tuple[str, str, float]] = field(default_factory=list)
    """(component, what, monthly USD) of each budget and anomaly monitor, free ones too."""

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


class _Pricer:
    """Prices each resource of a run into an :class:`Estimate`, one method per type.

    Also keeps what the usage profile is priced at: the hourly price of a CMA-ES worker and
    of a GPU instance, and the Aurora Serverless v2 instances per component.
    """

    def __init__(self, run: ProgramRun, prices: dict[str, Any]):
        self.prices = prices
        self.hourly, self.monthly = prices["hourly"], prices["monthly"]
        self.hours = prices["hours_per_month"]
        self.component = _component_of(run)
        self.result = Estimate()
        for name in set(self.component.values()):  # every component is listed, free ones at 0
            self.result.idle.setdefault(name, 0.0)
        self.task_defs = {
            r.outputs.get("arn"): r for r in run.of_type("aws:ecs/taskDefinition:TaskDefinition")
        }
        self.minimums = {
            r.inputs.get("resourceId"): int(r.inputs.get("minCapacity", 0))
            for r in run.of_type("aws:appautoscaling/target:Target")
        }
        self.templates = {r.id: r for r in run.of_type("aws:ec2/launchTemplate:LaunchTemplate")}
        self.worker_hourly = 0.0
        self.gpu_hourly = 0.0
        self.aurora_min_acu: dict[str, float] = {}  # cluster id -> minimum ACU (registered first)
        self.aurora_instances: dict[str, int] = defaultdict(int)  # component -> instances
        self.web_acls: dict[str, int] = defaultdict(int)  # component -> web ACLs
        self.http_apis: dict[str, int] = defaultdict(int)  # component -> HTTP APIs (no idle charge)
        self.by_type = {
            "aws:lb/loadBalancer:LoadBalancer": self.load_balancer,
            "awsx:ec2:Vpc": self.vpc,
            "aws:ec2/vpcEndpoint:VpcEndpoint": self.vpc_endpoint,
            "aws:ecs/service:Service": self.ecs_service,
            "aws:autoscaling/group:Group": self.auto_scaling_group,
            "aws:rds/instance:Instance": self.rds_instance,
            "aws:rds/cluster:Cluster": self.rds_cluster,
            "aws:rds/clusterInstance:ClusterInstance": self.rds_cluster_instance,
            "aws:elasticache/replicationGroup:ReplicationGroup": self.replication_group,
            "aws:kms/key:Key": lambda r: self.add(r, f"KMS key {r.name}", self.monthly["kms_key"]),
            "aws:secretsmanager/secret:Secret": (
                lambda r: self.add(r, f"secret {r.name}", self.monthly["secret"])
            ),
            "aws:cloudwatch/dashboard:Dashboard": (
                lambda r: self.add(r, f"dashboard {r.name}", self.monthly["dashboard"])
            ),
            "aws:cloudwatch/metricAlarm:MetricAlarm": (
                lambda r: self.add(
                    r, f"alarm {r.name}", _alarm_metrics(r) * self.monthly["alarm_metric"]
                )
            ),
            "aws:appautoscaling/policy:Policy": self.scaling_policy,
            "aws:wafv2/webAcl:WebAcl": self.web_acl,
            "aws:apigatewayv2/api:Api": self.http_api,
            "aws:acm/certificate:Certificate": self.certificate,
            "aws:budgets/budget:Budget": self.budget,
            "aws:costexplorer/anomalyMonitor:AnomalyMonitor": self.anomaly_monitor,
        }
        self.budgets = 0  # budgets registered so far: the account's first ones are free

    def price(self, r) -> None:
        handler = self.by_type.get(r.type)
        if handler is not None:
            handler(r)

    def add(self, resource, what: str, per_month: float) -> None:
        self.result.add(self.component[resource.urn], what, per_month)

    def fargate_hourly(self, task, spot_share: float) -> float:
        hourly = self.hourly
        vcpu, gb = int(task.inputs["cpu"]) / 1024, int(task.inputs["memory"]) / 1024
        on_demand = vcpu * hourly["fargate_vcpu"] + gb * hourly["fargate_gb"]
        return on_demand * (1 - spot_share * hourly["fargate_spot_discount"])

    def load_balancer(self, r) -> None:
        hourly, hours = self.hourly, self.hours
        kind = "nlb" if r.inputs.get("loadBalancerType") == "network" else "alb"
        self.add(r, f"{kind.upper()} {r.name}", hourly[kind] * hours)
        if not r.inputs.get("internal"):
            ips = len(r.inputs.get("subnets") or [])
            self.add(r, f"{ips} public IPv4 of {r.name}", ips * hourly["public_ipv4"] * hours)

    def vpc(self, r) -> None:
        azs = int(r.inputs.get("numberOfAvailabilityZones", 0))
        strategy = (r.inputs.get("natGateways") or {}).get("strategy", "OnePerAz")
        nats = {"None": 0, "Single": 1}.get(strategy, azs)
        per_nat = (self.hourly["nat_gateway"] + self.hourly["public_ipv4"]) * self.hours
        self.add(r, f"{nats} NAT gateways", nats * per_nat)

    def vpc_endpoint(self, r) -> None:
        if r.inputs.get("vpcEndpointType") != "Interface":
            return  # gateway endpoints are free
        azs = len(r.inputs.get("subnetIds") or [])
        per_az = self.hourly["interface_endpoint_per_az"]
        self.add(r, f"endpoint {r.name}", azs * per_az * self.hours)

    def ecs_service(self, r) -> None:
        task = self.task_defs.get(r.inputs.get("taskDefinition"))
        if task is None or "FARGATE" not in task.inputs.get("requiresCompatibilities", []):
            return  # EC2 tasks bill through their instances
        cluster = str(r.inputs.get("cluster", "")).rsplit("/", 1)[-1]
        resource_id = f"service/{cluster}/{r.inputs.get('name')}"
        count = self.minimums.get(resource_id, int(r.inputs.get("desiredCount", 0)))
        per_task = self.fargate_hourly(
            task, _spot_share(r.inputs.get("capacityProviderStrategies"))
        )
        self.add(r, f"{count} × task {r.name}", count * per_task * self.hours)
        if "cmaes" in str(r.inputs.get("name", "")):
            self.worker_hourly = per_task

    def auto_scaling_group(self, r) -> None:
        hourly = self.hourly
        mix = r.inputs.get("mixedInstancesPolicy") or {}
        spec = (mix.get("launchTemplate") or {}).get("launchTemplateSpecification") or {}
        # A group with a warm pool names its launch template directly (no mixed policy).
        direct = (r.inputs.get("launchTemplate") or {}).get("id")
        template = self.templates.get(spec.get("launchTemplateId") or direct)
        instance = template.inputs.get("instanceType") if template else None
        on_demand = hourly["ec2"].get(instance, 0.0)
        od_share = (mix.get("instancesDistribution") or {}).get(
            "onDemandPercentageAboveBaseCapacity", 100) / 100  # fmt: skip
        per_instance = on_demand * (1 - (1 - od_share) * hourly["ec2_spot_discount"])
        self.gpu_hourly = per_instance
        count = int(r.inputs.get("minSize", 0))
        self.add(r, f"{count} × {instance}", count * per_instance * self.hours)
        if template:
            gb = sum(int((m.get("ebs") or {}).get("volumeSize", 0))
                     for m in template.inputs.get("blockDeviceMappings") or [])  # fmt: skip
            self.add(r, f"{count} × {gb} GiB gp3 root", count * gb * self.monthly["ebs_gp3_gb"])
            # A stopped warm-pool instance bills its EBS volumes only, not compute.
            pool = int((r.inputs.get("warmPool") or {}).get("minSize", 0))
            if pool:
                self.add(
                    r,
                    f"warm pool: {pool} stopped × {gb} GiB gp3 root",
                    pool * gb * self.monthly["ebs_gp3_gb"],
                )

    def rds_instance(self, r) -> None:
        copies = 2 if r.inputs.get("multiAz") else 1
        cls = r.inputs.get("instanceClass")
        self.add(r, f"RDS {cls} × {copies}", copies * self.hourly["rds"].get(cls, 0.0) * self.hours)
        gb = int(r.inputs.get("allocatedStorage", 0))
        self.add(r, f"RDS {gb} GiB gp3 × {copies}", copies * gb * self.monthly["rds_gp3_gb"])
        if r.inputs.get("manageMasterUserPassword"):
            self.add(r, "RDS-managed secret", self.monthly["secret"])

    def rds_cluster(self, r) -> None:
        scaling = r.inputs.get("serverlessv2ScalingConfiguration") or {}
        self.aurora_min_acu[r.id] = float(scaling.get("minCapacity", 0))
        if r.inputs.get("manageMasterUserPassword"):
            self.add(r, "RDS-managed secret", self.monthly["secret"])

    def rds_cluster_instance(self, r) -> None:
        if r.inputs.get("instanceClass") == "db.serverless":
            acu = self.aurora_min_acu.get(r.inputs.get("clusterIdentifier"), 0.0)
            self.aurora_instances[self.component[r.urn]] += 1
            self.add(r, f"Aurora Serverless v2 at {acu:g} ACU",
                     acu * self.hourly["aurora_serverless_acu"] * self.hours)  # fmt: skip

    def replication_group(self, r) -> None:
        nodes = int(r.inputs.get("numCacheClusters", 1))
        node = r.inputs.get("nodeType")
        per_node = self.hourly["elasticache"].get(node, 0.0)
        self.add(r, f"{nodes} × {node}", nodes * per_node * self.hours)

    def scaling_policy(self, r) -> None:
        if r.inputs.get("policyType") != "TargetTrackingScaling":
            return  # step policies use the alarms priced as alarms
        config = r.inputs.get("targetTrackingScalingPolicyConfiguration") or {}
        alarms = 1 if config.get("disableScaleIn") else 2
        metrics = sum(1 for m in (config.get("customizedMetricSpecification") or {}).get(
            "metrics", []) if m.get("metricStat")) or 1  # fmt: skip
        self.add(r, f"tracking alarms of {r.name}", alarms * metrics * self.monthly["alarm_metric"])

    def web_acl(self, r) -> None:
        rules = len(r.inputs.get("rules") or [])
        monthly = self.monthly["waf_web_acl"] + rules * self.monthly["waf_rule"]
        what = f"WAF web ACL {r.inputs.get('name')} ({r.inputs.get('scope')}, {rules} rules)"
        self.add(r, what, monthly)
        self.result.edge.append((self.component[r.urn], what, monthly))
        self.web_acls[self.component[r.urn]] += 1

    def http_api(self, r) -> None:
        """An HTTP API bills per request only (the usage profile's); a WebSocket API's
        messages are not modelled."""
        if r.inputs.get("protocolType") == "HTTP":
            self.http_apis[self.component[r.urn]] += 1

    def certificate(self, r) -> None:
        what = f"ACM certificate {r.inputs.get('domainName')} (public)"
        monthly = self.monthly["acm_public_certificate"]
        self.add(r, what, monthly)
        self.result.edge.append((self.component[r.urn], what, monthly))

    def budget(self, r) -> None:
        """A budget without actions: free among the account's first ``free_budgets``, then
        ``budget_day`` a day (an average month of 365/12 days). A run counts its own; budgets
        other stacks of the account hold are not known here (see the README)."""
        self.budgets += 1
        free = self.budgets <= self.monthly["free_budgets"]
        monthly = 0.0 if free else self.monthly["budget_day"] * 365 / 12
        what = f"AWS Budgets {r.inputs.get('name')} ({'one of the free two' if free else 'paid'})"
        self.add(r, what, monthly)
        self.result.guardrails.append((self.component[r.urn], what, monthly))

    def anomaly_monitor(self, r) -> None:
        what = f"Cost Anomaly Detection monitor {r.inputs.get('name')} (free)"
        monthly = self.monthly["anomaly_monitor"]
        self.add(r, what, monthly)
        self.result.guardrails.append((self.component[r.urn], what, monthly))

    def add_usage(self, usage: dict[str, float]) -> None:
        """The usage profile's charges, per component that incurs them."""
        result, hourly, monthly = self.result, self.hourly, self.monthly
        names = set(self.component.values())
        if "inference" in names:
            result.usage["inference"] += usage.get("gpu_hours", 0) * self.gpu_hourly
        if "training" in names:
            result.usage["training"] += usage.get("worker_hours", 0) * self.worker_hourly
        if "agent-world" in names:
            result.usage["agent-world"] += (
                usage.get("api_million_requests", 0)
                * self.prices["per_unit"]["rest_api_million_requests"]
            )
        if "data-platform" in names:
            result.usage["data-platform"] += usage.get("gb_stored", 0) * monthly["s3_gb"]
        per_request = self.prices["per_unit"]["http_api_million_requests"]
        for name, apis in self.http_apis.items():
            result.usage[name] += apis * usage.get("front_door_million_requests", 0) * per_request
        per_million = self.prices["per_unit"]["waf_million_requests"]
        for name, acls in self.web_acls.items():
            result.usage[name] += acls * usage.get("waf_million_requests", 0) * per_million
        for name, instances in self.aurora_instances.items():  # hours awake, and storage
            result.usage[name] += (
                instances * usage.get("db_acu_hours", 0) * hourly["aurora_serverless_acu"]
                + usage.get("db_gb", 0) * monthly["aurora_storage_gb"]
            )


def estimate(run: ProgramRun, prices: dict[str, Any], usage: dict[str, float] | None = None):
    """The :class:`Estimate` of ``run`` at ``prices``, with an optional usage profile."""
    pricer = _Pricer(run, prices)
    for r in run.resources:
        pricer.price(r)
    if usage:
        pricer.add_usage(usage)
    return pricer.result


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


def render_edge(estimate_: Estimate) -> list[str]:
    """Each AWS WAF web ACL and ACM certificate with its monthly charge (none: no line)."""
    if not estimate_.edge:
        return []
    total = sum(monthly for _, _, monthly in estimate_.edge)
    lines = [f"AWS WAF and certificates (USD/month, idle; requests extra): {total:.2f}"]
    lines += [f"  {monthly:8.2f}  {where}: {what}" for where, what, monthly in estimate_.edge]
    return lines


def render_guardrails(estimate_: Estimate) -> list[str]:
    """Each budget and anomaly monitor with its monthly charge (none: no line)."""
    if not estimate_.guardrails:
        return []
    total = sum(monthly for _, _, monthly in estimate_.guardrails)
    lines = [f"Cost guardrails (USD/month): {total:.2f}"]
    lines += [f"  {monthly:8.2f}  {where}: {what}" for where, what, monthly in estimate_.guardrails]
    return lines
