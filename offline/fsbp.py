"""AWS Foundational Security Best Practices (FSBP), control by control, over the captured program.

Each control that can be decided from what the program sends to AWS is a rule over the
resources the offline runner captured: it names the resources it applies to and, for each,
passes or fails with the property that decides. A control applies to a stack when at least
one of its resources exists there; it passes when every one of them passes.

Control ids and titles are AWS's, from the Security Hub controls reference
(https://docs.aws.amazon.com/securityhub/latest/userguide/fsbp-standard.html and the
per-service pages it links, e.g. .../userguide/ec2-controls.html, .../elb-controls.html,
.../rds-controls.html, .../cloudfront-controls.html). Controls about the account rather
than a resource the program creates (Account.1, CloudTrail, Config, GuardDuty, IAM users
and root, S3.1's account-wide block, EC2.7's EBS default) and controls about state at run
time (a rotation that succeeded, an unused secret, a key pending deletion) are out of
reach here and are not counted: :data:`OUT_OF_SCOPE` lists them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from offline.mocks import RecordedResource

Rule = Callable[[RecordedResource, "Program"], str | None]
"""A resource's failure (what decides it), or None when it passes."""

OUT_OF_SCOPE = (
    "Account.1, CloudTrail.*, Config.1, GuardDuty.*, IAM.3-IAM.8 and "
    "IAM.19 (users, root, passwords), S3.1 (account-wide public access block), EC2.7 (EBS "
    "default encryption), KMS.3 (keys pending deletion), SecretsManager.2/.3 (rotation "
    "succeeded, unused secrets), SSM.*, Inspector.*: account settings or run-time state"
)


@dataclass(frozen=True)
class Control:
    """One FSBP control as a rule over the resource types it evaluates."""

    id: str
    title: str
    types: tuple[str, ...]
    rule: Rule
    applies: Callable[[RecordedResource], bool] = lambda r: True


@dataclass
class Outcome:
    """A control's verdict on one stack: the resources it judged and those that failed."""

    control: Control
    judged: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def applicable(self) -> bool:
        return bool(self.judged)

    @property
    def passed(self) -> bool:
        return self.applicable and not self.failures


class Program:
    """The captured resources, with the lookups the cross-resource controls need."""

    def __init__(self, resources: Iterable[RecordedResource]):
        self.resources = [r for r in resources if r.custom or r.type == "awsx:ec2:Vpc"]

    def of(self, *types: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type in types]

    def refers(self, resource: RecordedResource, value: Any) -> bool:
        """True if ``value`` is this resource's ID, ARN or name (as an input passes it)."""
        own = {resource.id, *(resource.outputs.get(k) for k in ("arn", "name", "bucket"))}
        return isinstance(value, str) and value in own - {None, ""}

    def pointing_at(self, resource: RecordedResource, type_: str, key: str) -> list:
        """Resources of ``type_`` whose input ``key`` names ``resource``."""
        return [r for r in self.of(type_) if self.refers(resource, r.get(key))]


CONTROLS: list[Control] = []


def control(cid: str, title: str, *types: str, applies=None):
    """Register the decorated rule as the FSBP control ``cid``."""

    def register(rule: Rule) -> Rule:
        CONTROLS.append(Control(cid, title, types, rule, applies or (lambda r: True)))
        return rule

    return register


def _policy(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    statements = (document or {}).get("Statement", []) if isinstance(document, dict) else []
    return statements if isinstance(statements, list) else [statements]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value is not None else []


def _containers(r: RecordedResource) -> list[dict[str, Any]]:
    try:
        return json.loads(r.get("containerDefinitions") or "[]")
    except ValueError:
        return []


def check(resources: Iterable[RecordedResource]) -> list[Outcome]:
    """Every control's outcome over ``resources``."""
    from offline import fsbp_controls  # noqa: F401  (the rules register themselves)

    program = Program(resources)
    outcomes = []
    for c in CONTROLS:
        outcome = Outcome(c)
        for r in program.of(*c.types):
            if not c.applies(r):
                continue
            outcome.judged.append(r.name)
            failure = c.rule(r, program)
            if failure:
                outcome.failures.append((r.name, failure))
        outcomes.append(outcome)
    return outcomes


def summary(outcomes: list[Outcome]) -> tuple[int, int]:
    """(passing, applicable) controls."""
    applicable = [o for o in outcomes if o.applicable]
    return sum(o.passed for o in applicable), len(applicable)
