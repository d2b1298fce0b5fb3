"""security_groups: the rule helpers every stack uses, as the mocks record them."""

from __future__ import annotations

import pulumi

from components.parts import security_groups


def test_rules_open_exactly_the_ports_between_the_named_groups(run_inline):
    def program():
        opts = pulumi.ResourceOptions()
        security_groups.ingress_from(
            "in", group_id="sg-target", source_id="sg-source", ports=5432,
            description="PostgreSQL from the app", opts=opts,
        )  # fmt: skip
        security_groups.egress_to(
            "out", group_id="sg-source", target_id="sg-target", ports=(32768, 65535),
            description="To tasks", opts=opts,
        )  # fmt: skip
        security_groups.https_out("https", "sg-source", description="AWS APIs", opts=opts)

    run = run_inline(program)
    ingress = run.named("in").inputs
    assert ingress == {"securityGroupId": "sg-target", "referencedSecurityGroupId": "sg-source",
                       "ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432,
                       "description": "PostgreSQL from the app"}  # fmt: skip
    egress = run.named("out")
    assert egress.type == "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
    assert (egress.inputs["fromPort"], egress.inputs["toPort"]) == (32768, 65535)
    assert egress.inputs["referencedSecurityGroupId"] == "sg-target"
    https = run.named("https").inputs
    assert (https["cidrIpv4"], https["fromPort"], https["toPort"]) == ("0.0.0.0/0", 443, 443)
