"""Physical names: within AWS's limits, and unique within the account and region.

The limits come from :mod:`preflight.naming` (botocore's shapes where they carry one, the
documented pages otherwise). A resource given no name is checked by the name Pulumi's
auto-naming will give it (logical name + ``-`` + 7 characters); a ``*Prefix`` property
by the name the provider completes (26 more characters). Two resources of one type with
one physical name collide at deploy time (the second create fails: it already exists).
Tags are checked as every service accepts them.
"""

from __future__ import annotations

from collections.abc import Iterator

from preflight import naming
from preflight.model import ERROR, Context, Finding, Resource

PREFIXES = ("namePrefix", "bucketPrefix", "identifierPrefix")
UNIQUENESS_SOURCE = "AWS: a second create of an existing name fails (AlreadyExists)"


def _names(r: Resource) -> Iterator[tuple[str, str, bool]]:
    """(property, name, auto-named) of each name rule that applies to the resource."""
    props = [p for (t, p) in naming.NAME_RULES if t == r.type]
    given_prefix = any(p in r.props for p in PREFIXES)
    for prop in props:
        value = r.props.get(prop)
        if isinstance(value, str):
            yield prop, value, False
        elif value is None and prop not in PREFIXES and not given_prefix:
            yield prop, naming.autoname(r.name), True


def check(resources: list[Resource], context: Context) -> Iterator[Finding]:
    seen: dict[tuple[str, str], str] = {}
    for r in resources:
        for prop, value, auto in _names(r):
            rule = naming.rule_for(r.type, prop)
            if (problem := rule.problem(value)) is not None:
                yield Finding(
                    "names/limit", ERROR, r.name, r.type, prop, value,
                    f"expected {problem}"
                    + (" (the name auto-naming gives this logical name)" if auto else ""),
                    rule.resolved().source,
                )  # fmt: skip
            if prop in PREFIXES or auto:
                continue
            other = seen.setdefault((r.type, value), r.name)
            if other != r.name:
                yield Finding(
                    "names/unique", ERROR, r.name, r.type, prop, value,
                    f"{other} has the same name", UNIQUENESS_SOURCE,
                )  # fmt: skip
        tags = r.props.get("tags")
        if isinstance(tags, dict):
            for key, value in tags.items():
                for problem in (naming.tag_key_problem(key),
                                naming.tag_value_problem(str(value))):  # fmt: skip
                    if problem:
                        yield Finding(
                            "names/tag", ERROR, r.name, r.type, f"tags.{key}", value,
                            f"expected {problem}", naming.TAG_SOURCE,
                        )  # fmt: skip
