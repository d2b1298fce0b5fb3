"""The vCPU quotas the stacks draw on at their maximum, and which Service Quotas they are.

Pure arithmetic from the typed settings: no resources, tested without any Pulumi runtime.
An Auto Scaling group or an ECS service that hits a vCPU quota fails at run time ("You have
requested more vCPU capacity than your current vCPU limit", "unable to place a task") while
``pulumi up`` reports success, so the plan prints these figures and ``quotas.request``
asks Service Quotas for them (``components/blocks/quotas_requests.py``).

Every quota here counts vCPUs, per account and per region, shared by every stack and every
other workload of the account there:

- EC2 counts the vCPUs of running On-Demand instances and of running or requested Spot
  instances per instance family, and many new accounts start at 0 for the G and VT (and P)
  families. Source: "Amazon EC2 instance type quotas" (On-Demand and Spot tables, default
  0), https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html, and
  "On-Demand Instance quotas", https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/
  ec2-on-demand-instances.html#ec2-on-demand-instances-limits (quota codes in their
  console links).
- Fargate counts the vCPUs of running tasks, On-Demand and Spot apart, under the service
  code ``fargate``. Source: "AWS Fargate service quotas" in "Amazon ECS endpoints and
  quotas", https://docs.aws.amazon.com/general/latest/gr/ecs-service.html#service-quotas-fargate;
  botocore's AWS Batch model (``ResourceRequirement.value``) states the On-Demand default:
  "The default for the Fargate On-Demand vCPU resource count quota is 6 vCPUs".

The codes, service codes and names were checked against the output of
``aws service-quotas list-aws-default-service-quotas`` that gruntwork-io/terraform-aws-utilities
keeps in ``docs/quotas.md`` (commit 04f5883: G/VT and P 0.0, Fargate 6.0 in a new account).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from components.lib import fargate, instance_types, queue_scaling
from components.lib.agent_world_roles import ROLES

if TYPE_CHECKING:
    from components.config.settings import Settings

ON_DEMAND = "On-Demand"
SPOT = "Spot"


@dataclass(frozen=True)
class Quota:
    """One Service Quotas quota, in vCPUs."""

    service_code: str
    """``ServiceCode`` of the Service Quotas API (``ec2``, ``fargate``)."""
    code: str
    """``QuotaCode`` (``L-...``)."""
    name: str
    """The quota's name in the Service Quotas console."""
    purchase: str
    """:data:`ON_DEMAND` or :data:`SPOT`."""


G_VT_ON_DEMAND = Quota("ec2", "L-DB2E81BA", "Running On-Demand G and VT instances", ON_DEMAND)
G_VT_SPOT = Quota("ec2", "L-3819A6DF", "All G and VT Spot Instance Requests", SPOT)
P_ON_DEMAND = Quota("ec2", "L-417A185B", "Running On-Demand P instances", ON_DEMAND)
P2_P4_SPOT = Quota("ec2", "L-7212CCBC", "All P4, P3 and P2 Spot Instance Requests", SPOT)
P5_SPOT = Quota("ec2", "L-C4BD4855", "All P5 Spot Instance Requests", SPOT)
FARGATE_ON_DEMAND = Quota(
    "fargate", "L-3032A538", "Fargate On-Demand vCPU resource count", ON_DEMAND
)
FARGATE_SPOT = Quota("fargate", "L-36FBB829", "Fargate Spot vCPU resource count", SPOT)

QUOTAS: tuple[Quota, ...] = (
    G_VT_ON_DEMAND, G_VT_SPOT, P_ON_DEMAND, P2_P4_SPOT, P5_SPOT, FARGATE_ON_DEMAND, FARGATE_SPOT,
)  # fmt: skip
"""Every quota a stack of this program can draw on."""

FARGATE_QUOTAS = {ON_DEMAND: FARGATE_ON_DEMAND, SPOT: FARGATE_SPOT}
# ECS names the capacity provider, Service Quotas the purchase option.
_FARGATE_PROVIDERS = {"FARGATE": ON_DEMAND, "FARGATE_SPOT": SPOT}

# The GPU capacity's mixed-instances policy (components/blocks/gpu_capacity.py): no On-Demand base,
# then 100 - spot_percentage % of the instances On-Demand (tests/lib/test_quotas.py holds the
# registered Auto Scaling groups to it).
GPU_ON_DEMAND_BASE = 0


def instance_quotas(instance_type: str) -> dict[str, Quota]:
    """The On-Demand and the Spot quota that instances of ``instance_type`` draw on."""
    family = instance_type.split(".")[0]
    if family.startswith(("g", "vt")):
        return {ON_DEMAND: G_VT_ON_DEMAND, SPOT: G_VT_SPOT}
    if family.startswith("p5"):
        return {ON_DEMAND: P_ON_DEMAND, SPOT: P5_SPOT}
    if family.startswith(("p2", "p3", "p4")):
        return {ON_DEMAND: P_ON_DEMAND, SPOT: P2_P4_SPOT}
    raise ValueError(f"no vCPU quota known for instance type {instance_type!r}")


def instance_vcpus(instance_type: str) -> int:
    """vCPUs of one ``instance_type`` instance (what EC2's quotas count)."""
    vcpus, _ = instance_types.RESOURCES.get(instance_type, (0, 0))
    if not vcpus:
        raise ValueError(f"vCPUs of {instance_type!r} are not known")
    return vcpus


def instance_split(count: int, spot_percentage: int, on_demand_base: int = 0) -> dict[str, int]:
    """Most instances on each purchase option of an Auto Scaling group of ``count``.

    The group launches ``on_demand_base`` On-Demand instances first, then splits the rest
    ``100 - spot_percentage`` : ``spot_percentage``. AWS does not document how it rounds a
    fraction, so each option gets its share rounded up: a bound each quota must allow.
    """
    base = min(count, on_demand_base)
    rest = count - base
    return {
        ON_DEMAND: base + math.ceil(rest * (100 - spot_percentage) / 100),
        SPOT: math.ceil(rest * spot_percentage / 100),
    }


def task_split(count: int, spot_percentage: int) -> dict[str, int]:
    """Most tasks on each purchase option of an ECS service of ``count`` tasks.

    The split of :func:`components.lib.queue_scaling.capacity_strategy`, the strategy every
    Fargate service of the program uses: weights and no base. ECS keeps the ratio of the
    weights but does not document how it rounds, so each share is rounded up.
    """
    weights = queue_scaling.capacity_weights(spot_percentage)
    total = sum(weights.values())
    split = {ON_DEMAND: 0, SPOT: 0}
    for provider, weight in weights.items():
        split[_FARGATE_PROVIDERS[provider]] = math.ceil(count * weight / total)
    return split


@dataclass(frozen=True)
class Demand:
    """The vCPUs one workload of a stack can hold on one quota at its maximum."""

    stack: str
    """The top-level component (``training``, ``inference``, ...)."""
    workload: str
    """The ECS service or the GPU instances."""
    quota: Quota
    vcpus: float


def _fargate(stack: str, workload: str, count: int, cpu: int, spot: int) -> list[Demand]:
    split = task_split(count, spot)
    return [
        Demand(stack, workload, FARGATE_QUOTAS[purchase], tasks * cpu / 1024)
        for purchase, tasks in split.items()
        if tasks
    ]


def demands(s: Settings) -> list[Demand]:
    """What every enabled stack can ask for at its maximum, workload by workload."""
    out: list[Demand] = []
    if s.stacks.training:
        t = s.training
        out += _fargate("training", "cmaes-worker", t.max_workers, t.worker_cpu, t.spot_percentage)
    if s.stacks.inference:
        i = s.inference
        if any(svc.gpu for svc in i.services):  # the stack adds GPU capacity only then
            quotas = instance_quotas(i.instance_type)
            split = instance_split(i.max_instances, i.spot_percentage, GPU_ON_DEMAND_BASE)
            vcpus = instance_vcpus(i.instance_type)
            out += [
                Demand("inference", f"{i.instance_type} instances", quotas[p], n * vcpus)
                for p, n in split.items()
                if n
            ]
        for svc in i.services:
            # A GPU service runs on the instances above; a Lambda one needs no vCPU quota
            # (its concurrency is Lambda's account quota, reserved by its own setting).
            if not svc.gpu and not svc.on_lambda:
                out += _fargate("inference", svc.name, svc.max_count, svc.cpu, i.spot_percentage)
    if s.stacks.data_platform:
        d = s.data_platform
        out += _fargate(
            "data-platform", "mlflow", d.mlflow_desired_count, d.mlflow_cpu, d.spot_percentage
        )
        if d.api and not d.api_with_mlflow:  # with MLflow: in MLflow's tasks' vCPUs
            out += _fargate(
                "data-platform", "hokusai-api", 1, fargate.HOKUSAI_API_SIZE[0], d.spot_percentage
            )
    if s.stacks.agent_world:
        a = s.agent_world
        services = ["all"] if a.single_service else [r.name for r in ROLES]
        for service in services:
            out += _fargate("agent-world", service, a.max_tasks, a.task_cpu, a.spot_percentage)
    return out


def drawn_on(s: Settings) -> list[Quota]:
    """The quotas the enabled stacks draw on, those at 0 vCPUs included, in :data:`QUOTAS`
    order: the GPU family's pair when there is GPU capacity, both Fargate quotas when any
    Fargate service runs."""
    found = {d.quota for d in demands(s)}
    if s.stacks.inference and any(svc.gpu for svc in s.inference.services):
        found |= set(instance_quotas(s.inference.instance_type).values())
    if any(q.service_code == "fargate" for q in found):
        found |= set(FARGATE_QUOTAS.values())
    return [q for q in QUOTAS if q in found]


def totals(s: Settings) -> dict[Quota, float]:
    """vCPUs per quota, every stack added up: what the account and region must allow."""
    out = dict.fromkeys(drawn_on(s), 0.0)
    for d in demands(s):
        out[d.quota] += d.vcpus
    return out


def requested(s: Settings) -> dict[Quota, int]:
    """The value to request per quota: its total in whole vCPUs, for each quota above 0."""
    return {q: math.ceil(v) for q, v in totals(s).items() if v > 0}


def desired_value(current: float, needed: int) -> float:
    """The ``ServiceQuota`` value for a quota the account holds at ``current``.

    The provider requests an increase only for a value above the current one and refuses to
    create the resource below it ("with value less than current", hashicorp/
    terraform-provider-aws#43545, which pulumi-aws 7 bridges); on update it requests
    whatever is set, and Service Quotas refuses a value at or below the current one. Asking
    for the larger of the two leaves an account that already has enough untouched.
    """
    return float(max(current, needed))


def _vcpus(value: float) -> str:
    return f"{value:g}"


def render(s: Settings) -> list[str]:
    """The plan's table: vCPUs per stack and quota at the maximum, then per quota in all."""
    by_stack: dict[tuple[str, Quota], float] = {}
    for d in demands(s):
        by_stack[(d.stack, d.quota)] = by_stack.get((d.stack, d.quota), 0.0) + d.vcpus
    switch = "on" if s.quotas.request else "off"
    lines = [
        f"vCPU quotas at maximum (Service Quotas, per account and region; quotas.request {switch}):"
    ]
    if not by_stack:
        return [*lines, "  none: no enabled stack runs instances or Fargate tasks"]
    rows: Iterable[tuple[str, Quota, float]] = [
        *((stack, q, v) for (stack, q), v in sorted(by_stack.items(), key=_stack_order)),
        *(("all stacks", q, v) for q, v in totals(s).items()),
    ]
    lines.append(
        f"  {'stack':<15}{'quota code':<12}{'service':<9}{'purchase':<11}{'quota name':<42}"
        f"{'vCPUs':>6}"
    )
    for stack, q, v in rows:
        lines.append(
            f"  {stack:<15}{q.code:<12}{q.service_code:<9}{q.purchase:<11}{q.name:<42}"
            f"{_vcpus(v):>6}"
        )
    first = next(iter(totals(s)))
    lines += [
        "  EC2's G/VT and P quotas count vCPUs, not instances, and start at 0 in many new",
        "  accounts; Fargate's count task vCPUs (6 each in a new account). A rolling deployment",
        "  at full scale starts new tasks before it stops old ones (up to twice as many).",
        f"  Current values: aws service-quotas get-service-quota --service-code "
        f"{first.service_code} --quota-code {first.code}",
    ]
    return lines


def _stack_order(item: tuple[tuple[str, Quota], float]) -> tuple[int, int]:
    (stack, quota), _ = item
    order = ["training", "inference", "data-platform", "agent-world"]
    return order.index(stack), QUOTAS.index(quota)
