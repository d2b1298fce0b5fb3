"""Run every rule family over a program's resources; render the findings.

The rule families, each in its own module with its sources:

- ``api_model``: values against botocore's API shapes (pattern, length, range, enum);
- ``names``: physical names within AWS's limits and unique; tags (``naming``);
- ``documented``: rules AWS documents that no model carries (EC2 descriptions, access-log
  variables, flow-log fields, the load balancer log bucket's encryption);
- ``iam``: statements against the IAM service authorization reference;
- ``principals``: source keys only where a service principal is documented to send them;
- ``kms``: key policies that lock nobody out and let every service that must use a key;
- ``regions``: the region exists and offers each service used;
- ``placeholders``: example values that must be replaced (warnings).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from preflight import api_model, documented, iam, kms, names, placeholders, principals, regions
from preflight.documents import documents
from preflight.model import ERROR, WARNING, Context, Finding, Resource

Rule = Callable[[list[Resource], Context], Iterable[Finding]]


def _iam(resources: list[Resource], context: Context) -> Iterator[Finding]:
    for doc in documents(resources):
        yield from iam.check_document(doc, context)


def _principals(resources: list[Resource], context: Context) -> Iterator[Finding]:
    for doc in documents(resources):
        yield from principals.check_document(doc)


RULES: dict[str, Rule] = {
    "regions": regions.check,
    "api-model": api_model.check,
    "names": names.check,
    "documented": documented.check,
    "iam": _iam,
    "principals": _principals,
    "kms": kms.check,
    "placeholders": placeholders.check,
}


def run(resources: list[Resource], context: Context) -> list[Finding]:
    """Every finding of every rule family, errors first."""
    found = [f for rule in RULES.values() for f in rule(resources, context)]
    return sorted(found, key=lambda f: (f.severity != ERROR, f.rule, f.resource, f.property))


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == ERROR]


def render(findings: list[Finding]) -> list[str]:
    n_errors = len(errors(findings))
    n_warnings = sum(f.severity == WARNING for f in findings)
    head = f"Preflight ({', '.join(RULES)}): {n_errors} errors, {n_warnings} warnings"
    return [head] + [f"  {f.line()}" for f in findings]
