"""The ``ingress`` section: how the public load balancers of the HTTP stacks (inference,
data platform, agent world) accept traffic, and its checks.

Read by the stacks that put a public load balancer in front of their services.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from components.config.fields import ACM_CERTIFICATE_ARN, PROJECT, cidr_error, one_of, setting

if TYPE_CHECKING:
    from components.config.settings import Settings

FRONT_DOORS = ("load_balancer", "http_api")
"""What the internet reaches: the load balancer itself, or an API Gateway HTTP API in front
of an internal one (``ingress.front_door``)."""
HTTP_API_TIMEOUT_SECONDS = 30
"""The longest an HTTP API waits for its integration: botocore apigatewayv2
``CreateIntegration`` ``TimeoutInMillis`` (``IntegerWithLengthBetween50And30000``), "30
seconds for HTTP APIs" (https://docs.aws.amazon.com/apigateway/latest/developerguide/
http-api-quotas.html)."""
ANYONE = ("0.0.0.0/0",)


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
    front_door: str = setting(
        "load_balancer",
        "What the internet reaches: load_balancer (an internet-facing ALB, its certificate "
        "and WAF) or http_api (an API Gateway HTTP API, HTTPS on its execute-api name, in "
        "front of an internal ALB in the private subnets: no public addresses, no idle "
        "charge; integration timeout at most 30 s).",
        one_of(*FRONT_DOORS),
    )

    @property
    def http_api(self) -> bool:
        """An HTTP API is the public entry; the load balancers are internal."""
        return self.front_door == "http_api"


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
    in ``dns.zone_id``), or plain HTTP only when asked to; an HTTP API front door serves
    HTTPS itself."""
    if s.ingress.certificate_arn or s.ingress.allow_http or s.ingress.http_api:
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


def check_front_door(s: Settings, problems: list[str]) -> None:
    """An HTTP API front door takes over what the internet-facing load balancer did (TLS on
    its execute-api name) and cannot do the rest: no certificate or host name of the load
    balancer (nothing public resolves to an internal ALB), no regional WAF (AWS WAF does not
    protect HTTP APIs), no source ranges (an HTTP API has no resource policy), and an
    answer within its 30 s integration timeout. A production stack is refused http_api
    itself (``_check_production``), in one message."""
    if not s.ingress.http_api or s.production:
        return
    ingress = s.ingress
    refused = [
        key
        for key, value in (
            ("ingress.certificate_arn", ingress.certificate_arn),
            ("ingress.allow_http", ingress.allow_http),
            ("ingress.allowed_cidr_blocks", ingress.allowed_cidr_blocks != ANYONE),
            *load_balancer_host_keys(s).items(),
            ("security.waf", s.security.waf),
        )
        if value
    ]
    if refused:
        problems.append(
            f"{PROJECT}:ingress.front_door: http_api serves HTTPS on the HTTP API's own "
            "execute-api name in front of an internal load balancer, and accepts none of "
            f"{', '.join(refused)}: expected them unset (no certificate or host name, "
            "allow_http false, allowed_cidr_blocks [0.0.0.0/0], security.waf false), or "
            "front_door load_balancer"
        )
    timeout = s.inference.request_timeout_seconds
    if s.stacks.inference and timeout > HTTP_API_TIMEOUT_SECONDS:
        problems.append(
            f"{PROJECT}:inference.request_timeout_seconds: expected at most "
            f"{HTTP_API_TIMEOUT_SECONDS} with ingress.front_door http_api (an HTTP API ends "
            f"a request after {HTTP_API_TIMEOUT_SECONDS} s; the vision validator's deadline "
            f"follows 10 s sooner) (got {timeout})"
        )
