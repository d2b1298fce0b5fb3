"""Monthly cost of a program run: with no traffic at all, and for a usage profile.

Idle cost is what bills by the hour or the month whatever the traffic:

- load balancers and NAT gateways, and every public IPv4 address: a load balancer's (one
  per subnet), a NAT gateway's, an Elastic IP, each task's that gets one (``assignPublicIp``)
  and each running instance's whose launch template asks for one;
- interface endpoints; Fargate tasks at their minimum count (with the Spot share); EC2 at
  the Auto Scaling group minimum with its root volumes (a warm pool's stopped instances:
  their volumes only);
- the Container Insights metrics of every cluster with a task running at idle (custom
  metrics, :data:`INSIGHTS_METRICS`); image storage in ECR (rough sizes, :data:`IMAGE_GB`);
- RDS and ElastiCache nodes and storage (Aurora Serverless v2: its minimum ACUs, 0 when it
  pauses), KMS keys, secrets, dashboards, alarm metrics, AWS WAF web ACLs with their rules,
  AWS Budgets past the account's free two (ACM's public certificates and Cost Anomaly
  Detection are listed at no charge);
- the CloudWatch agent's custom metrics and PutMetricData requests of the GPU instances at
  the group minimum, and the hours ``inference.schedule`` keeps a GPU instance running.

The usage profile adds GPU instance hours and CMA-ES worker hours (each with its public
address and its cluster's Container Insights metrics, a GPU hour with its agent's too),
API requests, GB stored, Aurora's ACU hours and database GB, and the requests each web
ACL inspects. Prices live in
``prices-us-east-1.json`` (sources and dates inside). What bills only by use and is in
neither figure (data transfer, load balancer capacity units, log ingestion, requests to the
other services) is estimated roughly for the usage profile by :func:`rough_usage`.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from components.lib import instance_types, schedules
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
    by_use: list[tuple[str, float]] = field(default_factory=list)
    """(what, monthly USD) of each rough by-use charge of the usage profile."""

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


SERVICES_DIR = Path(__file__).resolve().parents[1] / "services"
IMAGE_GB = {"cuda": 2.0, "slim": 0.25}
"""Rough compressed size (GB) of what an ECR repository holds, by the image's base: a CUDA
runtime image (nvidia/cuda ...-runtime, about 1.5 GB compressed, with torch-free Python
deps) and a python:*-slim one (about 50 MB, plus its pinned packages); kept versions share
their base layers, so a repository is counted once. ECR bills $0.10 per GB-month stored."""


def _image_kind(repository_name: str) -> str:
    """``cuda`` or ``slim``: the base of the service image a repository holds, read from
    ``services/<service>/Dockerfile`` (the repository is ``<prefix>/<service>``)."""
    dockerfile = SERVICES_DIR / repository_name.rsplit("/", 1)[-1] / "Dockerfile"
    text = dockerfile.read_text() if dockerfile.is_file() else ""
    return "cuda" if "FROM nvidia/cuda" in text else "slim"


INSIGHTS_METRICS = {"cluster": 11, "service": 13, "family": 8}
"""Container Insights metrics (``ECS/ContainerInsights``, billed as custom metrics) per
dimension set while tasks run: ``ClusterName`` alone, ``ClusterName, ServiceName`` and
``ClusterName, TaskDefinitionFamily`` - counted from the metrics table of
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-metrics-ECS.html
(11, 13 and 8 metrics; newer versions of the page add Fargate's ephemeral storage metrics,
so these are a lower bound). A cluster with no running task publishes none (the Amazon ECS
guide's "available metrics" page: no running tasks, no metrics)."""


def _public_ip(value: Any) -> bool:
    """``assignPublicIp`` / ``associatePublicIpAddress``: a bool, or the string a launch
    template carries."""
    return str(value).lower() == "true"


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
        self.insights = {
            str(r.inputs.get("name")): any(
                s.get("name") == "containerInsights" and s.get("value") == "enabled"
                for s in r.inputs.get("settings") or []
            )
            for r in run.of_type("aws:ecs/cluster:Cluster")
        }
        self.insights_charged: set[tuple[str, str]] = set()  # (cluster, dimension set) priced
        self.insights_hourly: dict[str, float] = {}  # service name -> its metrics while it runs
        self.worker_hourly = 0.0
        self.gpu_hourly = 0.0
        self.gpu_insights_hourly = 0.0
        self.aurora_min_acu: dict[str, float] = {}  # cluster id -> minimum ACU (registered first)
        self.aurora_instances: dict[str, int] = defaultdict(int)  # component -> instances
        self.web_acls: dict[str, int] = defaultdict(int)  # component -> web ACLs
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
            "aws:acm/certificate:Certificate": self.certificate,
            "aws:budgets/budget:Budget": self.budget,
            "aws:costexplorer/anomalyMonitor:AnomalyMonitor": self.anomaly_monitor,
            "aws:ecr/repository:Repository": self.repository,
            "aws:ec2/eip:Eip": lambda r: self.add(
                r, f"public IPv4 of Elastic IP {r.name}", self.hourly["public_ipv4"] * self.hours
            ),
        }
        self.budgets = 0  # budgets registered so far: the account's first ones are free
        self.by_type["aws:ssm/parameter:Parameter"] = self.ssm_parameter
        self.by_type["aws:appautoscaling/scheduledAction:ScheduledAction"] = self.scheduled
        self.parameters: dict[str, str] = {}  # SSM parameter name -> value
        self.gpu_groups: dict[str, dict[str, Any]] = {}  # component -> the GPU group's facts
        self.gpu_tasks: dict[str, int] = {}  # scalable target resource id -> GPUs per task
        self.schedules: dict[str, dict[int, tuple[str, str, int]]] = defaultdict(dict)

    def price(self, r) -> None:
        handler = self.by_type.get(r.type)
        if handler is not None:
            handler(r)

    def add(self, resource, what: str, per_month: float) -> None:
        self.result.add(self.component[resource.urn], what, per_month)

    def fargate_hourly(self, task, spot_share: float) -> float:
        hourly = self.hourly
        vcpu, gb = int(task.inputs["cpu"]) / 1024, int(task.inputs["memory"]) / 1024
        # Graviton tasks have their own, lower on-demand prices; Spot's discount is the same.
        platform = task.inputs.get("runtimePlatform") or {}
        kind = "fargate_arm" if platform.get("cpuArchitecture") == "ARM64" else "fargate"
        on_demand = vcpu * hourly[f"{kind}_vcpu"] + gb * hourly[f"{kind}_gb"]
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
        self.add(r, f"{nats} NAT gateways", nats * self.hourly["nat_gateway"] * self.hours)
        self.add(r, f"{nats} public IPv4 of NAT gateways",
                 nats * self.hourly["public_ipv4"] * self.hours)  # fmt: skip

    def vpc_endpoint(self, r) -> None:
        if r.inputs.get("vpcEndpointType") != "Interface":
            return  # gateway endpoints are free
        azs = len(r.inputs.get("subnetIds") or [])
        per_az = self.hourly["interface_endpoint_per_az"]
        self.add(r, f"endpoint {r.name}", azs * per_az * self.hours)

    def ecs_service(self, r) -> None:
        task = self.task_defs.get(r.inputs.get("taskDefinition"))
        cluster = str(r.inputs.get("cluster", "")).rsplit("/", 1)[-1]
        resource_id = f"service/{cluster}/{r.inputs.get('name')}"
        if task is not None and "EC2" in task.inputs.get("requiresCompatibilities", []):
            self.gpu_tasks[resource_id] = sum(
                int(req.get("value", 0))
                for c in json.loads(task.inputs.get("containerDefinitions") or "[]")
                for req in c.get("resourceRequirements") or []
                if req.get("type") == "GPU"
            )
        count = self.minimums.get(resource_id, int(r.inputs.get("desiredCount", 0)))
        self.container_insights(r, cluster, task, count)
        if task is not None and "GPU" in str(task.inputs.get("containerDefinitions")):
            self.gpu_insights_hourly = self.insights_hourly.get(r.name, 0.0)
        if task is None or "FARGATE" not in task.inputs.get("requiresCompatibilities", []):
            return  # EC2 tasks bill through their instances
        per_task = self.fargate_hourly(
            task, _spot_share(r.inputs.get("capacityProviderStrategies"))
        )
        self.add(r, f"{count} × task {r.name}", count * per_task * self.hours)
        public = _public_ip((r.inputs.get("networkConfiguration") or {}).get("assignPublicIp"))
        ipv4 = self.hourly["public_ipv4"] if public else 0.0
        self.add(r, f"{count} public IPv4 of {r.name}'s tasks", count * ipv4 * self.hours)
        if "cmaes" in str(r.inputs.get("name", "")):
            self.worker_hourly = per_task + ipv4 + self.insights_hourly.get(r.name, 0.0)

    def container_insights(self, r, cluster: str, task, count: int) -> None:
        """The Container Insights metrics a running service adds to its cluster's: idle when
        ``count`` tasks run at idle, else per hour it runs (the usage profile)."""
        if not self.insights.get(cluster):
            return
        per_metric = self.monthly["cloudwatch_custom_metric"]
        family = str(task.inputs.get("family", r.name)) if task else r.name
        sets = [("cluster", cluster), ("service", r.name), ("family", family)]
        if count < 1:  # billed only while it runs: per hour, for the usage profile
            # The cluster's own set is already billed when another service runs at idle.
            metrics = sum(INSIGHTS_METRICS[kind] for kind, name in sets
                          if (kind, name) not in self.insights_charged)  # fmt: skip
            self.insights_hourly[r.name] = metrics * per_metric / self.hours
            return
        for kind, name in sets:
            if (kind, name) in self.insights_charged:
                continue  # the cluster's own set once, a shared family once
            self.insights_charged.add((kind, name))
            what = f"Container Insights: {INSIGHTS_METRICS[kind]} metrics of {kind} {name}"
            self.add(r, what, INSIGHTS_METRICS[kind] * per_metric)

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
        count = int(r.inputs.get("minSize", 0))
        self.add(r, f"{count} × {instance}", count * per_instance * self.hours)
        interfaces = (template.inputs.get("networkInterfaces") or []) if template else []
        public = any(_public_ip(i.get("associatePublicIpAddress")) for i in interfaces)
        ipv4 = hourly["public_ipv4"] if public else 0.0
        # A stopped warm-pool instance releases its public address: running ones only.
        self.add(r, f"{count} public IPv4 of {instance} instances", count * ipv4 * self.hours)
        metrics, metrics_hourly = self.agent_metrics(template, instance)
        if metrics:
            self.add(r, f"CloudWatch agent: {count} × {metrics} GPU metrics and PutMetricData",
                     count * metrics_hourly * self.hours)  # fmt: skip
        self.gpu_hourly = per_instance + ipv4 + metrics_hourly
        gb = 0
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
        self.gpu_groups[self.component[r.urn]] = {
            "resource": r, "instance": instance, "min": count,
            "gpus": instance_types.gpu_count(instance) if instance else 0,
            # What one more running instance costs an hour: compute, its root volume, its
            # public IPv4 address if it has one, its agent's metrics.
            "hourly": per_instance + gb * self.monthly["ebs_gp3_gb"] / self.hours
            + (hourly["public_ipv4"] if public else 0.0) + metrics_hourly,
        }  # fmt: skip

    def agent_metrics(self, template, instance: str | None) -> tuple[int, float]:
        """The CloudWatch agent's custom metrics per instance (measurements × GPUs) and their
        hourly cost with one PutMetricData a collection interval, from the SSM parameter the
        template's user data loads (``-c ssm:<name>``); (0, 0.0) without one."""
        if template is None or not instance:
            return 0, 0.0
        try:
            script = base64.b64decode(str(template.inputs.get("userData") or "")).decode()
        except ValueError:
            return 0, 0.0
        match = re.search(r"-c ssm:(\S+)", script)
        config = json.loads(self.parameters.get(match[1], "{}")) if match else {}
        gpu = config.get("metrics", {}).get("metrics_collected", {}).get("nvidia_gpu") or {}
        metrics = len(gpu.get("measurement") or []) * instance_types.gpu_count(instance)
        if not metrics:
            return 0, 0.0
        agent = config.get("agent", {})
        interval = int(
            gpu.get("metrics_collection_interval") or agent.get("metrics_collection_interval", 60)
        )
        requests = 3600 / interval * self.prices["per_unit"]["cloudwatch_thousand_requests"] / 1000
        return metrics, metrics * self.monthly["cloudwatch_custom_metric"] / self.hours + requests

    def ssm_parameter(self, r) -> None:
        self.parameters[str(r.inputs.get("name"))] = str(r.inputs.get("value") or "")

    def scheduled(self, r) -> None:
        """A scheduled action of a service's scalable target: kept until :meth:`finish`,
        which pairs each target's actions into working hours."""
        action = r.inputs.get("scalableTargetAction") or {}
        actions = self.schedules[str(r.inputs.get("resourceId"))]
        actions[len(actions)] = (
            self.component[r.urn],
            str(r.inputs.get("schedule")),
            int(action.get("minCapacity", 0)),
        )

    def finish(self) -> None:
        """The hours ``inference.schedule`` keeps GPU instances running beyond the group
        minimum: per target, the action that raises its minimum starts the hours, the one
        that lowers it ends them. The extra tasks' GPUs, less the GPUs the group's minimum
        leaves spare, in whole instances, each at its hourly cost (compute, root volume,
        public IPv4, agent metrics)."""
        extra: dict[str, list[tuple[int, float]]] = defaultdict(list)  # component -> (GPUs, h)
        for resource_id, actions in self.schedules.items():
            floor = self.minimums.get(resource_id, 0)
            parsed = [(c, schedules.parse_cron(e), m) for c, e, m in actions.values()]
            starts = [(c, p, m) for c, p, m in parsed if p and m > floor]
            ends = [p for _, p, m in parsed if p and m <= floor]
            gpus = self.gpu_tasks.get(resource_id, 0)
            for (component, (start, days), minimum), (end, _) in zip(starts, ends, strict=False):
                hours = schedules.hours_per_month(days, start, end)
                extra[component].append(((minimum - floor) * gpus, hours))
        for component, wanted in extra.items():
            group = self.gpu_groups.get(component)
            if not group or not group["gpus"]:
                continue
            busy = sum(self.minimums.get(t, 0) * g for t, g in self.gpu_tasks.items())
            spare = max(0, group["min"] * group["gpus"] - busy)
            for gpus, hours in wanted:
                # The spare GPUs serve one schedule's tasks once, not every schedule's.
                used = min(spare, gpus)
                spare -= used
                instances = math.ceil((gpus - used) / group["gpus"])
                self.add(group["resource"],
                         f"schedule: {instances} × {group['instance']} for {hours:.0f} h/month",
                         instances * hours * group["hourly"])  # fmt: skip

    def repository(self, r) -> None:
        kind = _image_kind(str(r.inputs.get("name", "")))
        gb = IMAGE_GB[kind]
        self.add(r, f"ECR storage of {r.inputs.get('name')} (rough: {gb:g} GB, {kind} image)",
                 gb * self.monthly["ecr_gb"])  # fmt: skip

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
            result.usage["inference"] += usage.get("gpu_hours", 0) * (
                self.gpu_hourly + self.gpu_insights_hourly
            )
        if "training" in names:
            result.usage["training"] += usage.get("worker_hours", 0) * self.worker_hourly
        if "agent-world" in names:
            result.usage["agent-world"] += (
                usage.get("api_million_requests", 0)
                * self.prices["per_unit"]["rest_api_million_requests"]
            )
        if "data-platform" in names:
            result.usage["data-platform"] += usage.get("gb_stored", 0) * monthly["s3_gb"]
        per_million = self.prices["per_unit"]["waf_million_requests"]
        for name, acls in self.web_acls.items():
            result.usage[name] += acls * usage.get("waf_million_requests", 0) * per_million
        for name, instances in self.aurora_instances.items():  # hours awake, and storage
            result.usage[name] += (
                instances * usage.get("db_acu_hours", 0) * hourly["aurora_serverless_acu"]
                + usage.get("db_gb", 0) * monthly["aurora_storage_gb"]
            )


BY_USE = "by-use"
"""The row of :func:`rough_usage`'s charges: they span the stacks (data out, logs, calls)."""


def rough_usage(run: ProgramRun, prices: dict[str, Any], usage: dict[str, float]):
    """``(what, monthly USD)`` of each charge that bills only by use and that neither figure
    models per resource, at the usage profile's rough volumes; only what the run has (an
    LCU line per load balancer, NAT data only with NAT gateways, and so on)."""
    p, u = prices["by_use"], usage
    count = {t: len(run.of_type(t)) for t in (
        "aws:lb/loadBalancer:LoadBalancer", "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:dynamodb/table:Table", "aws:sqs/queue:Queue",
        "aws:cloudfront/distribution:Distribution", "aws:lambda/function:Function",
    )}  # fmt: skip
    apis = run.of_type("aws:apigatewayv2/api:Api")
    nats = sum(
        0 if (v.inputs.get("natGateways") or {}).get("strategy") == "None" else 1
        for v in run.of_type("awsx:ec2:Vpc")
    )
    interface = sum(1 for e in run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
                    if e.inputs.get("vpcEndpointType") == "Interface")  # fmt: skip
    pitr = any((t.inputs.get("pointInTimeRecovery") or {}).get("enabled")
               for t in run.of_type("aws:dynamodb/table:Table"))  # fmt: skip
    hours = prices["hours_per_month"]
    lines: list[tuple[str, float]] = []

    def line(present: Any, what: str, monthly: float) -> None:
        if present:
            lines.append((what, monthly))

    out = u.get("internet_gb", 0)
    line(True, f"data out to the internet, {out:g} GB (first {p['internet_free_gb']} GB free)",
         max(0.0, out - p["internet_free_gb"]) * p["internet_gb"])  # fmt: skip
    line(True, f"CloudWatch Logs ingestion, {u.get('log_gb', 0):g} GB",
         u.get("log_gb", 0) * p["log_gb"])  # fmt: skip
    lbs = count["aws:lb/loadBalancer:LoadBalancer"]
    line(lbs, f"capacity units of {lbs} load balancer(s), {u.get('lcu', 0):g} each",
         lbs * u.get("lcu", 0) * p["lcu_hour"] * hours)  # fmt: skip
    line(nats, f"NAT gateway data, {u.get('nat_gb', 0):g} GB", u.get("nat_gb", 0) * p["nat_gb"])
    line(interface, f"interface endpoint data, {u.get('endpoint_gb', 0):g} GB",
         u.get("endpoint_gb", 0) * p["endpoint_gb"])  # fmt: skip
    websocket = any(a.inputs.get("protocolType") == "WEBSOCKET" for a in apis)
    line(websocket, "WebSocket API: {:g} M messages, {:g} M connection minutes".format(
        u.get("websocket_million_messages", 0), u.get("websocket_million_minutes", 0)),
        u.get("websocket_million_messages", 0) * p["websocket_million_messages"]
        + u.get("websocket_million_minutes", 0) * p["websocket_million_minutes"])  # fmt: skip
    http = any(a.inputs.get("protocolType") == "HTTP" for a in apis)
    line(http, f"HTTP API requests, {u.get('http_api_million_requests', 0):g} M",
         u.get("http_api_million_requests", 0) * p["http_api_million_requests"])  # fmt: skip
    gb = u.get("dynamodb_gb", 0)
    line(count["aws:dynamodb/table:Table"],
         "DynamoDB on demand: {:g} M writes, {:g} M reads, {:g} GB{}".format(
             u.get("dynamodb_million_writes", 0), u.get("dynamodb_million_reads", 0), gb,
             " with PITR" if pitr else ""),
         u.get("dynamodb_million_writes", 0) * p["dynamodb_million_writes"]
         + u.get("dynamodb_million_reads", 0) * p["dynamodb_million_reads"]
         + gb * (p["dynamodb_gb"] + (p["dynamodb_pitr_gb"] if pitr else 0)))  # fmt: skip
    sqs = u.get("sqs_million_requests", 0)
    line(count["aws:sqs/queue:Queue"], f"SQS requests, {sqs:g} M (first million free)",
         max(0.0, sqs - p["sqs_free_million"]) * p["sqs_million_requests"])  # fmt: skip
    line(True, "S3 requests: {:g} k writes, {:g} k reads".format(
        u.get("s3_thousand_puts", 0), u.get("s3_thousand_gets", 0)),
        u.get("s3_thousand_puts", 0) * p["s3_thousand_puts"]
        + u.get("s3_thousand_gets", 0) * p["s3_thousand_gets"])  # fmt: skip
    line(True, f"Secrets Manager calls, {u.get('secrets_thousand_calls', 0):g} k",
         u.get("secrets_thousand_calls", 0) / 10 * p["secrets_ten_thousand_calls"])  # fmt: skip
    kms = u.get("kms_thousand_calls", 0) * 1000
    line(True, f"KMS calls, {kms / 1000:g} k (first 20 k free)",
         max(0.0, kms - p["kms_free_calls"]) / 10000 * p["kms_ten_thousand_calls"])  # fmt: skip
    cdn_gb, cdn_m = u.get("cdn_gb", 0), u.get("cdn_million_requests", 0)
    line(count["aws:cloudfront/distribution:Distribution"],
         f"CloudFront, {cdn_gb:g} GB and {cdn_m:g} M requests (first 1 TB and 10 M free)",
         max(0.0, cdn_gb - p["cloudfront_free_gb"]) * p["cloudfront_gb"]
         + max(0.0, cdn_m - p["cloudfront_free_million_requests"]) * 100
         * p["cloudfront_ten_thousand_requests"])  # fmt: skip
    calls, seconds = u.get("lambda_million_requests", 0), u.get("lambda_gb_seconds", 0)
    line(count["aws:lambda/function:Function"],
         f"Lambda, {calls:g} M requests and {seconds:g} GB-seconds "
         "(first 1 M and 400,000 free)",
         max(0.0, calls - p["lambda_free_million_requests"]) * p["lambda_million_requests"]
         + max(0.0, seconds - p["lambda_free_gb_seconds"]) * p["lambda_gb_second"])  # fmt: skip
    return lines


def estimate(run: ProgramRun, prices: dict[str, Any], usage: dict[str, float] | None = None):
    """The :class:`Estimate` of ``run`` at ``prices``, with an optional usage profile (whose
    by-use charges, :func:`rough_usage`, make the row :data:`BY_USE`)."""
    pricer = _Pricer(run, prices)
    for r in run.resources:
        pricer.price(r)
    pricer.finish()
    if usage:
        pricer.add_usage(usage)
        pricer.result.by_use = rough_usage(run, prices, usage)
        pricer.result.idle.setdefault(BY_USE, 0.0)
        pricer.result.usage[BY_USE] += sum(monthly for _, monthly in pricer.result.by_use)
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


def render_by_use(estimate_: Estimate) -> list[str]:
    """The by-use charges of the usage profile, line by line (none: no line)."""
    if not estimate_.by_use:
        return []
    total = sum(monthly for _, monthly in estimate_.by_use)
    lines = [f"By use, rough (USD/month, in the usage figure as '{BY_USE}'): {total:.2f}"]
    lines += [f"  {monthly:8.2f}  {what}" for what, monthly in estimate_.by_use]
    return lines


def render_guardrails(estimate_: Estimate) -> list[str]:
    """Each budget and anomaly monitor with its monthly charge (none: no line)."""
    if not estimate_.guardrails:
        return []
    total = sum(monthly for _, _, monthly in estimate_.guardrails)
    lines = [f"Cost guardrails (USD/month): {total:.2f}"]
    lines += [f"  {monthly:8.2f}  {where}: {what}" for where, what, monthly in estimate_.guardrails]
    return lines
