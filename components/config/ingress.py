"""The ``ingress`` section: how the public load balancers of the HTTP stacks (inference,
data platform, agent world) accept traffic, and its checks.

Read by the stacks that put a public load balancer in front of their services.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from components.config.fields import ACM_CERTIFICATE_ARN, PROJECT, cidr_error, setting

if TYPE_CHECKING:
    from components.config.settings import Settings


def cidr_list(value: tuple[str, ...]) -> str | None:
    if not value:
        return "at least one IPv4 CIDR"
    seen: set[ipaddress.IPv4Network] = set()
    for item in value:
        if error := cidr_error(item):
            return error
        # ipaddress reads a bare address as a /32; a security group rule needs the prefix.
        if "/" not in item:
            return f"an IPv4 CIDR with its prefix length, such as {item}/32 (got {item!r})"
        network = ipaddress.IPv4Network(item)
        if network in seen:
            return f"IPv4 CIDRs without duplicates (got {item!r} twice)"
        seen.add(network)
    return None


@dataclass(frozen=True)
class IngressSettings:
    """How the public load balancers of the HTTP stacks accept traffic."""

    allowed_cidr_blocks: tuple[str, ...] = setting(
        ("0.0.0.0/0",),
        "IPv4 ranges (CIDRs with their prefix length, no duplicates) allowed to reach the load "
        "balancers.",
        cidr_list,
    )
    certificate_arn: str = setting(
        "", "ACM certificate for the HTTPS listeners; empty for none.", ACM_CERTIFICATE_ARN
    )
    allow_http: bool = setting(
        False, "Serve plain HTTP when no certificate is set (dev only); else HTTP redirects."
    )


def load_balancer_host_keys(s: Settings) -> dict[str, str]:
    """The internet-facing load balancers the configuration builds: the ``dns`` key of
    each one's host name -> that host (empty when none is set)."""
    keys = {}
    if s.stacks.inference:
        keys["dns.inference_host"] = s.dns.inference_host
    if s.stacks.data_platform and not s.data_platform.share_load_balancer:
        keys["dns.mlflow_host"] = s.dns.mlflow_host
    return keys


def check_ingress(s: Settings, problems: list[str]) -> None:
    """A listener serves HTTPS with a certificate (brought, or created for its host name
    in ``dns.zone_id``), or plain HTTP only when asked to."""
    if s.ingress.certificate_arn or s.ingress.allow_http:
        return
    missing = [key for key, host in load_balancer_host_keys(s).items()
               if not (host and s.dns.zone_id)]  # fmt: skip
    if missing:
        problems.append(
            f"{PROJECT}:ingress.certificate_arn: expected an ACM certificate ARN, or "
            f"dns.zone_id with {' and '.join(missing)} (the stack then creates the "
            "certificate), or ingress.allow_http true to serve plain HTTP (dev only)"
        )


def check_certificate_region(s: Settings, problems: list[str]) -> None:
    """The listeners' certificate is of the stack's region (``aws:region``)."""
    # A load balancer's listener takes an ACM certificate of its own region only:
    # https://docs.aws.amazon.com/acm/latest/userguide/acm-regions.html
    arn = s.ingress.certificate_arn
    parts = arn.split(":")
    if arn and len(parts) > 3 and s.region and parts[3] != s.region:
        problems.append(
            f"{PROJECT}:ingress.certificate_arn: expected an ACM certificate in the stack's "
            f"region {s.region}, where the load balancers are (got one in {parts[3]})"
        )
