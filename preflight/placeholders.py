"""Values that stand in for one the operator must supply: reported as warnings naming the
config key to set, never passed silently (AWS would refuse them at deploy time: an ACM
certificate that does not exist; or they would not work: a sign-in callback on a host name
reserved for examples)."""

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
EXAMPLE_HOST = re.compile(
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
    found: dict[tuple[str, str], list[tuple[Resource, str]]] = {}
    for r in resources:
        for path, value in _strings(r.props):
            example = EXAMPLE_HOST.search(value)
            if PLACEHOLDER.fullmatch(value) or example:
                key = CONFIG_KEYS.get((r.type, path), "the stack configuration")
                shown = value if not example or PLACEHOLDER.fullmatch(value) else example[0]
                found.setdefault((key, shown), []).append((r, path))
    for (key, value), where in found.items():
        where.sort(key=lambda item: item[0].name)  # registration order varies between runs
        first, path = where[0]
        others = [r.name for r, _ in where[1:]]
        yield Finding(
            "placeholders/example-value", WARNING, first.name, first.type, path, value,
            f"an example value, not a real one: set {key} before `pulumi up`"
            + (f" (also in {', '.join(others)})" if others else ""),
            "Pulumi.<stack>.yaml",
        )  # fmt: skip
