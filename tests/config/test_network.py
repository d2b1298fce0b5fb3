"""The ``network`` section (components/config/network.py): the VPC's range, AZs and NAT."""

from __future__ import annotations

import pytest

from components.config.network import NetworkSettings

BAD_CONFIGS = [
    # (overrides on dev, the key the message must name, a phrase of the accepted form)
    ({"network.cidr": "10.0.0/16"}, "mlplatform:network.cidr", "IPv4 CIDR"),
    ({"network.cidr": "10.0.0.1/16"}, "mlplatform:network.cidr", "IPv4 CIDR"),
    ({"network.cidr": "10.0.0.0/8"}, "mlplatform:network.cidr", "/16 to /24"),
    ({"network.cidr": "10.0.0.0/26"}, "mlplatform:network.cidr", "/16 to /24"),
    ({"network.cidr": "8.8.0.0/16"}, "mlplatform:network.cidr", "private"),
    ({"network.az_count": 1}, "mlplatform:network.az_count", "from 2 to 3"),
    ({"network.az_count": 4}, "mlplatform:network.az_count", "from 2 to 3"),
    ({"network.nat_strategy": "many"}, "mlplatform:network.nat_strategy", "none, single"),
    ({"network.natStrategy": "none"}, "mlplatform:network.natStrategy", "accepted keys"),
    ({"network.az_count": "2"}, "mlplatform:network.az_count", "an integer"),
    ({"network.interface_endpoints": "yes"}, "mlplatform:network.interface_endpoints", "boolean"),
    ({"network": ["10.0.0.0/16"]}, "mlplatform:network", "an object"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "key", "accepted"), BAD_CONFIGS, ids=[b[1] for b in BAD_CONFIGS]
)
def test_bad_config_is_refused_naming_the_key_and_accepted_form(refused, overrides, key, accepted):
    refused(overrides, key, accepted)


def test_a_partial_section_keeps_the_other_defaults(parses):
    # given a stack file whose network section sets only the range
    settings = parses("dev", **{"mlplatform:network": {"cidr": "10.9.0.0/20"}})
    # then the section's other keys take their defaults, not the stack file's
    assert settings.network.cidr == "10.9.0.0/20"
    assert settings.network.az_count == NetworkSettings().az_count
