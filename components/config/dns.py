"""The ``dns`` section: a Route 53 hosted zone and a host name per public endpoint, from
which the stacks create DNS-validated ACM certificates and alias records; and its checks.

Read by the inference and data platform stacks (their load balancers) and the agent world
(its CloudFront distribution). ``ingress.certificate_arn`` stays the bring-your-own path
of the load balancers (``components/config/ingress.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from components.config.fields import PROJECT, matches, setting

if TYPE_CHECKING:
    from components.config.settings import Settings

HOST_NAME = re.compile(r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?")
"""A host name: lowercase labels of up to 63 characters (no wildcard: one host per record)."""
HOST_FORM = "a host name such as app.example.com (lowercase, not a URL), at most 253 characters"


def host_name(value: str) -> str | None:
    return None if value == "" or (HOST_NAME.fullmatch(value) and len(value) <= 253) else HOST_FORM


@dataclass(frozen=True)
class DnsSettings:
    """Host names in a Route 53 zone of the account, certified by ACM with DNS validation."""

    zone_id: str = setting(
        "",
        "Route 53 public hosted zone (its ID, Z...) the host names below are in: the stack adds "
        "the certificates' validation records and the alias records there; empty for none.",
        matches(r"(Z[A-Z0-9]{1,31})?", "a Route 53 hosted zone ID (Z and up to 31 uppercase "
                "letters or digits, e.g. Z0123456789ABCDEFGHIJ) or empty"),
    )  # fmt: skip
    inference_host: str = setting(
        "",
        "Host name of the inference load balancer (and of MLflow at /mlflow/ when it shares "
        "it); empty: the load balancer's own DNS name and ingress.certificate_arn.",
        host_name,
    )
    mlflow_host: str = setting(
        "",
        "Host name of the data platform's own load balancer (MLflow at /mlflow/); empty: its "
        "own DNS name and ingress.certificate_arn. Not with data_platform.share_load_balancer.",
        host_name,
    )
    cdn_host: str = setting(
        "",
        "Host name of the agent world's CloudFront distribution (certificate in us-east-1); "
        "empty: agent_world.domain_names, or the distribution's own domain (not in production).",
        host_name,
    )


def mlflow_host(s: Settings) -> tuple[str, str]:
    """(config key, host name) clients reach MLflow at: its own load balancer's or the
    shared one's host."""
    if s.data_platform.share_load_balancer:
        return "dns.inference_host", s.dns.inference_host
    return "dns.mlflow_host", s.dns.mlflow_host


def check_dns(s: Settings, problems: list[str]) -> None:
    """Every host has a zone and a stack that serves it; MLflow answers to its host; a
    production distribution has a custom domain."""
    ns = f"{PROJECT}:dns."
    d = s.dns
    hosts = {"inference_host": d.inference_host, "mlflow_host": d.mlflow_host,
             "cdn_host": d.cdn_host}  # fmt: skip
    given = [key for key, host in hosts.items() if host]
    if given and not d.zone_id:
        problems.append(
            f"{ns}zone_id: expected the Route 53 hosted zone of {', '.join(given)} (its ID, Z...)"
        )
    served = {
        "inference_host": (s.stacks.inference, "stacks.inference true"),
        "mlflow_host": (
            s.stacks.data_platform and not s.data_platform.share_load_balancer,
            "stacks.data_platform true and data_platform.share_load_balancer false (a shared "
            "load balancer serves MLflow at dns.inference_host/mlflow/)",
        ),
        "cdn_host": (s.stacks.agent_world, "stacks.agent_world true"),
    }
    for key in given:
        ok, needs = served[key]
        if not ok:
            problems.append(f"{ns}{key}: expected empty unless {needs}")
    values = [hosts[key] for key in given]
    if len(set(values)) != len(values):
        problems.append(f"{ns}{given[-1]}: expected a host name no other dns key has")
    if d.inference_host and s.agent_world.share_load_balancer and s.stacks.agent_world:
        problems.append(
            f"{ns}inference_host: expected empty while agent_world.share_load_balancer is true "
            "(the VPC link reaches the shared listener over plain HTTP inside the VPC)"
        )
    if d.cdn_host and s.agent_world.domain_names:
        problems.append(
            f"{ns}cdn_host: expected empty when agent_world.domain_names is set (its own "
            "certificate, agent_world.cdn_certificate_arn), or agent_world.domain_names empty"
        )
    key, host = mlflow_host(s)
    if s.stacks.data_platform and host and host not in s.data_platform.allowed_hosts:
        problems.append(
            f"{PROJECT}:data_platform.allowed_hosts: expected to list {host} ({key}): MLflow "
            "refuses a Host header it does not list"
        )
    if s.production and s.stacks.agent_world and not (d.cdn_host or s.agent_world.domain_names):
        problems.append(
            f"{ns}cdn_host: expected a host name when production is true: with CloudFront's "
            "default certificate the distribution accepts TLS 1.0 (set dns.cdn_host, or "
            "agent_world.domain_names with agent_world.cdn_certificate_arn)"
        )
