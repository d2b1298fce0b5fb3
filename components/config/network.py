"""The ``network`` section: the VPC every other stack runs in, and the form of its range.

Read by ``components/stacks/network.py``. Its keys are checked one by one; the rule that
the other stacks need the network is in ``settings.py``, beside the stack switches.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from components.config.fields import cidr_error, int_range, one_of, setting
from components.lib import cidr as cidr_math


def vpc_cidr(value: str) -> str | None:
    error = cidr_error(value, cidr_math.MIN_PREFIX, cidr_math.MAX_PREFIX)
    if error is None and not ipaddress.IPv4Network(value).is_private:
        return f"a private (RFC 1918) range such as 10.0.0.0/16 (got {value!r})"
    return error


@dataclass(frozen=True)
class NetworkSettings:
    """The VPC every other stack runs in."""

    cidr: str = setting("10.0.0.0/16", "VPC IPv4 range, a private /16 to /24.", vpc_cidr)
    az_count: int = setting(
        3, "Availability zones the subnets span.", int_range(cidr_math.MIN_AZS, cidr_math.MAX_AZS)
    )
    nat_strategy: str = setting(
        "one_per_az",
        "NAT gateways for private subnets: none (dev: workloads use public subnets), "
        "single, or one_per_az (prod: no cross-AZ dependency).",
        one_of("none", "single", "one_per_az"),
    )
    interface_endpoints: bool = setting(
        True,
        "Interface endpoints (ECR api and dkr, CloudWatch Logs, Secrets Manager, SQS) in the "
        "private subnets, so tasks reach AWS without NAT. About $7.30/month each per AZ.",
    )
    flow_log_traffic_type: str = setting(
        "ALL", "Traffic the VPC flow log records.", one_of("ALL", "ACCEPT", "REJECT")
    )
