"""What the preflight's rules see and what they report.

A rule sees each resource as the engine registers it (type token, logical name, URN and
input properties in the provider's camelCase names) and the stack's context (region,
account, partition); it reports :class:`Finding`\\ s. The same views are built from the
offline plan's recorded resources and from a policy pack's ``StackValidationArgs``, so
the rules have one implementation for every caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ERROR = "error"
WARNING = "warning"


def at_path(value: Any, path: str, default: Any = None) -> Any:
    """The value at a dotted path of nested mappings and lists (``rules.0.action``)."""
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return default
    return value


@dataclass(frozen=True)
class Resource:
    """One registered resource."""

    type: str
    name: str
    """The logical name (the last part of the URN)."""
    urn: str
    props: Mapping[str, Any]
    """Input properties, camelCase as the provider names them; secrets unwrapped."""
    outputs: Mapping[str, Any] = field(default_factory=dict)
    """What the engine answered (ARNs, IDs); empty where unknown (a real preview)."""
    parent: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    id: str = ""
    """The resource's ID as other resources refer to it (an API's ``apiId``); empty where
    unknown."""

    def get(self, path: str, default: Any = None) -> Any:
        """A property by dotted path; list items by index (``rules.0.action``)."""
        return at_path(self.props, path, default)


@dataclass(frozen=True)
class Context:
    """The stack the resources belong to."""

    region: str
    account: str = "123456789012"
    partition: str = "aws"
    stack: str = ""


def region_of(*arns: Any, default: str) -> str:
    """The region of the first regional ARN among ``arns`` (a resource created through an
    explicit provider of another region, e.g. CloudFront's us-east-1 one), else ``default``."""
    for arn in arns:
        parts = arn.split(":") if isinstance(arn, str) else []
        if len(parts) > 3 and parts[0] == "arn" and parts[3]:
            return parts[3]
    return default


@dataclass(frozen=True)
class Finding:
    """One value AWS would refuse (error) or that needs a person's attention (warning)."""

    rule: str
    """The rule family and rule, e.g. ``api-model/pattern``."""
    severity: str
    resource: str
    """The resource's logical name (or the config key, for config findings)."""
    type: str
    property: str
    value: Any
    message: str
    source: str
    """Where the rule comes from: a botocore shape, an IAM definition, a documentation URL."""

    def line(self) -> str:
        shown = repr(self.value)
        if len(shown) > 120:
            shown = shown[:117] + "..."
        return (
            f"{self.severity}: {self.resource} ({self.type}) {self.property} = {shown}: "
            f"{self.message} [{self.rule}; {self.source}]"
        )
