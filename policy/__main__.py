"""The policy pack: `pulumi preview --policy-pack policy` runs the baseline on every change."""

from baseline import ENFORCEMENT, POLICIES
from pulumi_policy import PolicyPack

PolicyPack(
    name="mlplatform-baseline",
    enforcement_level=ENFORCEMENT,
    policies=POLICIES,
)
