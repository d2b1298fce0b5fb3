"""Values that stand in for one the operator must supply: reported as warnings naming the
config key to set, never passed silently (AWS would refuse them at deploy time: an ACM
certificate or a hosted zone that does not exist, a host name under a domain reserved for
examples, RFC 2606, whose certificate could never be validated; or they would not work: a
sign-in callback on such a host)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from preflight.model import WARNING, Context, Finding, Resource

# An ARN whose ID is all zeros (the example value Pulumi.prod.yaml carries).
PLACEHOLDER = re.compile(
    r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:[a-z-]+/0{8}(-0{4}){3}-0{12}"
)
# A host name under the domains reserved for documentation (RFC 2606: example.com, .net,
# .org), which no one can point at a load balancer.
EXAMPLE_IN_TEXT = re.compile(
    r"(?<![A-Za-z0-9-])(?:[a-z0-9-]+\.)*example\.(?:com|net|org)(?![A-Za-z0-9-])"
)
# Where a placeholder lands -> the config key that sets it.
CONFIG_KEYS = {
    ("aws:lb/listener:Listener", "certificateArn"): "mlplatform:ingress.certificate_arn",
    ("aws:cloudfront/distribution:Distribution", "viewerCertificate.acmCertificateArn"):
        "mlplatform:agent_world.cdn_certificate_arn",
    ("aws:cognito/userPoolClient:UserPoolClient", "callbackUrls.0"):
        "mlplatform:data_platform.sso_host",
    ("aws:ecs/taskDefinition:TaskDefinition", "containerDefinitions"):
        "mlplatform:data_platform.sso_host",
}  # fmt: skip
EXAMPLE_ZONE = re.compile(r"Z0*EXAMPLE0*")
"""The example hosted zone ID of ``Pulumi.prod.yaml``."""
EXAMPLE_HOST = re.compile(r"(.+\.)?example\.(com|net|org)\.?")
"""A name under a domain reserved for examples (a host, or its validation record)."""
ZONE_KEY = "mlplatform:dns.zone_id"
# The logical name of a host's certificate -> the config key that names the host.
HOST_KEYS = {
    "inference-lb-host-cert": "mlplatform:dns.inference_host",
    "data-platform-lb-host-cert": "mlplatform:dns.mlflow_host",
    "agent-world-cdn-host-cert": "mlplatform:dns.cdn_host",
}


def _example(r: Resource, path: str, value: str, hosts: dict[str, str]) -> tuple[str, str] | None:
    """(config key, the example value) when ``value`` is an example zone or host."""
    if PLACEHOLDER.fullmatch(value):
        return CONFIG_KEYS.get((r.type, path), "the stack configuration"), value
    if EXAMPLE_ZONE.fullmatch(value):
        return ZONE_KEY, value
    found = EXAMPLE_HOST.fullmatch(value) or EXAMPLE_IN_TEXT.search(value)
    if found:
        name = found[0].rstrip(".")
        host = max((h for h in hosts if name == h or name.endswith(f".{h}")), key=len, default="")
        if host:
            return hosts[host], host
        return CONFIG_KEYS.get((r.type, path), "the dns host names"), name
    return None


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}.{i}")
    elif isinstance(value, str):
        yield path, value


def check(resources: list[Resource], context: Context) -> Iterator[Finding]:
    """One warning per config key (or value), naming every resource that carries it."""
    hosts = {
        str(r.props.get("domainName")): HOST_KEYS[r.name]
        for r in resources
        if r.type == "aws:acm/certificate:Certificate" and r.name in HOST_KEYS
    }
    found: dict[tuple[str, str], list[tuple[Resource, str]]] = {}
    for r in resources:
        for path, value in _strings(r.props):
            if example := _example(r, path, value, hosts):
                found.setdefault(example, []).append((r, path))
    for (key, value), where in found.items():
        where.sort(key=lambda item: item[0].name)  # registration order varies between runs
        first, path = where[0]
        others = list(dict.fromkeys(r.name for r, _ in where[1:] if r.name != first.name))
        yield Finding(
            "placeholders/example-value", WARNING, first.name, first.type, path, value,
            f"an example value, not a real one: set {key} before `pulumi up`"
            + (f" (also in {', '.join(others)})" if others else ""),
            "Pulumi.<stack>.yaml",
        )  # fmt: skip
