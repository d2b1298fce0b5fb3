"""Subnet layout arithmetic for the VPC, matching how ``awsx.ec2.Vpc`` allocates it.

With ``subnet_strategy="Auto"`` awsx splits the VPC into one equal block per AZ
(prefix + ceil(log2(AZs)) bits) and packs each AZ's subnets into its block in the order
given. We give each AZ a private subnet of half its block and a public one of a quarter:
private subnets hold the workloads, public ones only load balancers and NAT gateways.
The last quarter of every AZ block stays free for later subnets (isolated, database).
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

MIN_PREFIX = 16
MAX_PREFIX = 24
MIN_AZS = 2
MAX_AZS = 3


@dataclass(frozen=True)
class SubnetLayout:
    """Where the subnets of one VPC go."""

    az_prefix: int
    """Prefix length of each AZ's block."""
    private_mask: int
    """Prefix length of each private subnet."""
    public_mask: int
    """Prefix length of each public subnet."""
    private_cidrs: tuple[str, ...]
    """Private subnet CIDRs, one per AZ, in AZ order."""
    public_cidrs: tuple[str, ...]
    """Public subnet CIDRs, one per AZ, in AZ order."""


def subnet_layout(cidr: str, az_count: int) -> SubnetLayout:
    """The subnets awsx will create for ``cidr`` over ``az_count`` AZs.

    Raises ValueError for a CIDR or AZ count outside what the settings accept.
    """
    network = ipaddress.IPv4Network(cidr, strict=True)
    if not MIN_PREFIX <= network.prefixlen <= MAX_PREFIX:
        raise ValueError(f"prefix /{network.prefixlen} is outside /{MIN_PREFIX}-/{MAX_PREFIX}")
    if not MIN_AZS <= az_count <= MAX_AZS:
        raise ValueError(f"{az_count} AZs is outside {MIN_AZS}-{MAX_AZS}")
    az_prefix = network.prefixlen + math.ceil(math.log2(az_count))
    private_mask, public_mask = az_prefix + 1, az_prefix + 2
    az_blocks = list(network.subnets(new_prefix=az_prefix))[:az_count]
    private, public = [], []
    for block in az_blocks:
        first_half, second_half = block.subnets(prefixlen_diff=1)
        private.append(str(first_half))
        public.append(str(next(second_half.subnets(prefixlen_diff=1))))
    return SubnetLayout(az_prefix, private_mask, public_mask, tuple(private), tuple(public))
