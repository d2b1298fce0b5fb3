"""The ``agent_world`` section: the agent world's services on Fargate, their APIs, the
CloudFront distribution and the Redis, and the checks between their keys.

Read by ``components/stacks/agent_world/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from components.config.fields import (
    ACM_CERTIFICATE_ARN,
    CACHE_NODE_TYPE,
    PROJECT,
    check_fargate_size,
    int_range,
    one_of,
    setting,
)
from components.lib import fargate

if TYPE_CHECKING:
    from components.config.settings import Settings

DNS_NAME = re.compile(
    r"(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?"
)
"""A host name: lowercase labels of up to 63 characters, optionally a leading ``*.``."""


@dataclass(frozen=True)
class AgentWorldSettings:
    """The agent world services (filled in by the agent world stack)."""

    redis: bool = setting(
        True,
        "An ElastiCache Redis (seed 004's cache), its token injected into the services. They "
        "do not use it yet, so dev leaves it off.",
    )
    redis_multi_az: bool = setting(True, "Redis with a replica and automatic failover.")
    redis_node_type: str = setting(
        "cache.t4g.small",
        "ElastiCache node type, one the price file (offline/prices-us-east-1.json) lists.",
        CACHE_NODE_TYPE,
    )
    snapshot_glacier_days: int = setting(
        30,
        "Days before archived world snapshots move to S3 Glacier Flexible Retrieval.",
        int_range(1, 3650),
    )
    task_cpu: int = setting(
        256, "CPU units of each agent world service task.", one_of(*fargate.cpu_choices())
    )
    task_memory: int = setting(512, "Memory of each service task in MiB (a Fargate pair).")
    min_tasks: int = setting(
        1, "Fewest tasks per service (the APIs must answer).", int_range(1, 100)
    )
    single_service: bool = setting(
        False,
        "Run the three roles in one service (SERVICE_ROLE=all): one idle task instead of "
        "three (dev).",
    )
    share_load_balancer: bool = setting(
        False,
        "Reach the services through the inference stack's load balancer over a VPC link v2 "
        "instead of an internal NLB of their own, saving the NLB's hourly charge; the "
        "WebSocket API then reaches them through the REST API. Needs stacks.inference and "
        "no ingress.certificate_arn (dev).",
    )
    dashboard: bool = setting(True, "A CloudWatch dashboard of the stack ($3 a month).")
    container_insights: bool = setting(
        True,
        "Container Insights on the stack's cluster: per-task metrics, billed as custom metrics "
        "while tasks run (about $9.60 a month per always-on service); no alarm or scaling "
        "policy of the stack reads them (dev: off).",
    )
    max_tasks: int = setting(4, "Most tasks per service.", int_range(1, 100))
    spot_percentage: int = setting(
        0, "Share of the service tasks on Fargate Spot, 0-100.", int_range(0, 100)
    )
    api_throttle_rate: int = setting(
        50, "Steady requests per second the APIs accept (stage throttling).", int_range(1, 10000)
    )
    api_throttle_burst: int = setting(
        100, "Request burst the APIs accept (stage throttling).", int_range(1, 5000)
    )
    execution_log_level: str = setting(
        "ERROR",
        "API Gateway execution logging of the REST and WebSocket stages: ERROR, INFO (every "
        "request, more log ingestion) or OFF (refused in production).",
        one_of("ERROR", "INFO", "OFF"),
    )
    bedrock_model_ids: tuple[str, ...] = setting(
        ("anthropic.claude-3-haiku-20240307-v1:0",),
        "Bedrock foundation models llm-integration may invoke (nothing else).",
    )
    price_class: str = setting(
        "PriceClass_100",
        "CloudFront price class (edge locations served).",
        one_of("PriceClass_100", "PriceClass_200", "PriceClass_All"),
    )
    domain_names: tuple[str, ...] = setting(
        (),
        "Custom domain names (DNS names, not URLs) of the CloudFront distribution; empty: its "
        "own domain.",
    )
    cdn_certificate_arn: str = setting(
        "",
        "ACM certificate in us-east-1 for domain_names (CloudFront requires us-east-1).",
        ACM_CERTIFICATE_ARN,
    )

    @property
    def scales(self) -> bool:
        """Whether the services can scale (``max_tasks`` above ``min_tasks``): only then do
        they get CPU and memory target tracking ($0.20 a month of alarms per policy)."""
        return self.max_tasks > self.min_tasks


def check_agent_world(s: Settings, problems: list[str]) -> None:
    """Rules between the agent world keys, and when it may share the inference listener."""
    ns = f"{PROJECT}:agent_world."
    a = s.agent_world
    check_fargate_size(problems, f"{ns}task_cpu", f"{ns}task_memory", a.task_cpu, a.task_memory)
    if a.max_tasks < a.min_tasks:
        problems.append(f"{ns}max_tasks: expected at least min_tasks ({a.min_tasks})")
    if s.production and a.execution_log_level == "OFF":
        problems.append(
            f"{ns}execution_log_level: expected ERROR or INFO when production is true (got OFF)"
        )
    if a.domain_names and not a.cdn_certificate_arn.startswith("arn:aws:acm:us-east-1:"):
        problems.append(
            f"{ns}cdn_certificate_arn: expected an ACM certificate ARN in us-east-1 when "
            "domain_names is set"
        )
    if a.share_load_balancer and s.stacks.agent_world:
        if not s.stacks.inference:
            problems.append(
                f"{ns}share_load_balancer: expected false unless stacks.inference is true"
            )
        if s.ingress.certificate_arn:
            problems.append(
                f"{ns}share_load_balancer: expected false when ingress.certificate_arn is set "
                "(the VPC link reaches the shared listener over plain HTTP inside the VPC)"
            )
    for name in a.domain_names:
        if not DNS_NAME.fullmatch(name) or len(name) > 253:
            problems.append(
                f"{ns}domain_names: expected DNS names such as app.example.com (a CloudFront "
                f"alias is a host name, not a URL; got {name!r})"
            )
    if len(set(a.domain_names)) != len(a.domain_names):
        problems.append(f"{ns}domain_names: expected DNS names without duplicates")
    for model in a.bedrock_model_ids:
        if not re.fullmatch(r"[a-z0-9-]+\.[A-Za-z0-9._:-]+", model):
            problems.append(f"{ns}bedrock_model_ids: expected Bedrock model IDs (got {model!r})")
