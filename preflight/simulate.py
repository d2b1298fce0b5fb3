"""A small IAM policy evaluator: may this principal call this action on this resource?

Pure and standard library only, for the access proof (:mod:`preflight.access`). It follows
the IAM policy evaluation logic for one account (IAM User Guide, "Policy evaluation
logic", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):

- an explicit ``Deny`` in any applicable policy wins;
- otherwise an ``Allow`` in an identity policy, or in a resource policy whose ``Principal``
  names the caller, allows the request; nothing allows it by default;
- KMS is the exception: a key policy is the root of a key's access. A principal may use a
  key only if the key policy allows it directly, or the key policy allows the account
  (``arn:aws:iam::<account>:root``, which delegates to IAM) *and* an identity policy allows
  it (AWS KMS Developer Guide, "Key policies in AWS KMS" and "Default key policy",
  https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).

Supported: ``Action``/``NotAction`` (case-insensitive, ``*`` and ``?``), ``Resource``/
``NotResource`` (case-sensitive), ``Principal``/``NotPrincipal``, and the condition
operators ``String(Not)Equals(IgnoreCase)``, ``String(Not)Like``, ``Arn(Not)Equals``,
``Arn(Not)Like``, ``Bool``, ``Null``, ``Numeric*``, each with the ``IfExists`` suffix and
the ``ForAnyValue:``/``ForAllValues:`` prefixes. Condition keys are case-insensitive, values
case-sensitive (but for ``...IgnoreCase``). A key missing from the request context makes a
condition false, except that a negated operator (``StringNotEquals``, ``ArnNotLike``...)
is then true, ``...IfExists`` is true and ``Null`` tests for exactly that (IAM User
Guide, "IAM JSON policy elements: Condition operators", https://docs.aws.amazon.com/IAM/
latest/UserGuide/reference_policies_elements_condition_operators.html; ``ForAllValues`` is
true for a request without the key, as documented there). An operator outside this list
raises :class:`UnsupportedPolicyError` rather than guessing. Not modelled: policy variables
(``${aws:username}``), permissions boundaries, SCPs, session policies, grants.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

ALLOW = "Allow"
DENY = "Deny"


class UnsupportedPolicyError(ValueError):
    """A policy uses something this evaluator does not model; the text says what."""


@dataclass(frozen=True)
class Decision:
    """The outcome of one request."""

    allowed: bool
    reason: str
    """One line: which statement of which policy allowed or denied, or that none allowed."""
    explicit_deny: bool = False

    def __bool__(self) -> bool:
        return self.allowed


@dataclass(frozen=True)
class Policy:
    """A named policy document (the name appears in explanations)."""

    name: str
    document: Mapping[str, Any]

    @classmethod
    def of(cls, name: str, document: Mapping[str, Any] | str) -> Policy:
        return cls(name, json.loads(document) if isinstance(document, str) else document)

    def statements(self) -> list[Mapping[str, Any]]:
        found = self.document.get("Statement", [])
        return [found] if isinstance(found, Mapping) else list(found)


@dataclass(frozen=True)
class Request:
    """What is asked: ``principal`` (a role ARN, or a service principal such as
    ``logs.us-east-1.amazonaws.com``) calls ``action`` on ``resource`` with ``context``."""

    principal: str
    action: str
    resource: str
    context: Mapping[str, Any]


# --- matching ---------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = ["[^\n]*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.IGNORECASE if ignore_case else 0)


def wildcard_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """``pattern`` with ``*`` (any run) and ``?`` (one character) matches all of ``value``."""
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def action_matches(patterns: Any, action: str) -> bool:
    """Actions compare case-insensitively (``s3:getobject`` is ``s3:GetObject``)."""
    return any(wildcard_match(p, action, ignore_case=True) for p in _as_list(patterns))


def resource_matches(patterns: Any, resource: str) -> bool:
    """ARNs compare case-sensitively; ``*`` alone matches every resource."""
    return any(p == "*" or wildcard_match(p, resource) for p in _as_list(patterns))


def arn_like(pattern: str, arn: str) -> bool:
    """``ArnLike``: each of the six colon-separated parts matched on its own, so a wildcard
    does not cross a part (the resource part, the last, keeps its own colons)."""
    p_parts = pattern.split(":", 5)
    a_parts = arn.split(":", 5)
    if len(p_parts) != 6 or len(a_parts) != 6:
        return pattern == "*" or wildcard_match(pattern, arn)
    return all(wildcard_match(p, a) for p, a in zip(p_parts, a_parts, strict=True))


def _account_of(principal: str) -> str | None:
    parts = principal.split(":")
    return parts[4] if principal.startswith("arn:") and len(parts) > 5 else None


def principal_matches(element: Any, principal: str) -> tuple[bool, bool]:
    """``(matches, via_account)``: whether a ``Principal`` element names ``principal``, and
    whether only by naming its account (``arn:...:root`` or the bare account id), which in a
    key policy delegates to IAM instead of allowing the caller by itself."""
    if element == "*":
        return True, False
    if not isinstance(element, Mapping):
        raise UnsupportedPolicyError(f"Principal {element!r}: expected '*' or a mapping")
    account = _account_of(principal)
    for kind, values in element.items():
        for value in _as_list(values):
            if kind == "AWS":
                if value == "*" or value == principal:
                    return True, False
                if account and value == account:
                    return True, True
                if account and re.fullmatch(rf"arn:[\w-]+:iam::{account}:root", str(value)):
                    return True, True
            elif kind == "Service":
                if value == principal:
                    return True, False
            elif kind not in ("Federated", "CanonicalUser"):
                raise UnsupportedPolicyError(f"Principal type {kind!r}")
    return False, False


# --- conditions -------------------------------------------------------------------------

_STRING_OPS = {
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), True),
    "StringLike": (lambda p, v: wildcard_match(p, v), False),
    "StringNotLike": (lambda p, v: wildcard_match(p, v), True),
    "ArnEquals": (lambda p, v: p == v, False),
    "ArnNotEquals": (lambda p, v: p == v, True),
    "ArnLike": (arn_like, False),
    "ArnNotLike": (arn_like, True),
    "Bool": (lambda p, v: p.lower() == v.lower(), False),
}


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


_NUMERIC_OPS = {
    "NumericEquals": (lambda a, b: a == b, False),
    "NumericNotEquals": (lambda a, b: a == b, True),
    "NumericLessThan": (lambda a, b: a < b, False),
    "NumericLessThanEquals": (lambda a, b: a <= b, False),
    "NumericGreaterThan": (lambda a, b: a > b, False),
    "NumericGreaterThanEquals": (lambda a, b: a >= b, False),
}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _one_value_matches(operator: str, policy_values: list[Any], value: Any) -> bool:
    """Whether one request value satisfies the positive form of ``operator`` for any of
    ``policy_values`` (values of one key are OR'ed)."""
    if operator in _STRING_OPS:
        test = _STRING_OPS[operator][0]
        return any(test(_text(p), _text(value)) for p in policy_values)
    test = _NUMERIC_OPS[operator][0]
    number = _number(value)
    return number is not None and any(
        (limit := _number(p)) is not None and test(number, limit) for p in policy_values
    )


def _split_operator(raw: str) -> tuple[str, str, bool]:
    """``(set_operator, operator, if_exists)`` from e.g. ``ForAnyValue:StringLikeIfExists``."""
    set_operator, _, operator = raw.rpartition(":")
    if set_operator not in ("", "ForAnyValue", "ForAllValues"):
        raise UnsupportedPolicyError(f"condition operator {raw!r}")
    if_exists = operator.endswith("IfExists")
    if if_exists:
        operator = operator[: -len("IfExists")]
    if operator != "Null" and operator not in _STRING_OPS and operator not in _NUMERIC_OPS:
        raise UnsupportedPolicyError(f"condition operator {raw!r}")
    return set_operator, operator, if_exists


def condition_holds(raw_operator: str, key: str, policy_values: Any, context: Mapping) -> bool:
    """One operator on one key, against the request ``context`` (keys case-insensitive)."""
    set_operator, operator, if_exists = _split_operator(raw_operator)
    lowered = {k.lower(): v for k, v in context.items()}
    present = key.lower() in lowered and lowered[key.lower()] is not None
    values = _as_list(policy_values)
    if operator == "Null":
        # Null true: the key must be absent; false: present.
        return any((_text(v).lower() == "true") == (not present) for v in values)
    negated = (_STRING_OPS.get(operator) or _NUMERIC_OPS[operator])[1]
    if not present:
        if set_operator == "ForAllValues":
            return True  # documented: true when the request has no value for the key
        return if_exists or (negated and set_operator == "")
    actual = _as_list(lowered[key.lower()])
    if set_operator == "ForAllValues":
        return all(_one_value_matches(operator, values, a) != negated for a in actual)
    if set_operator == "ForAnyValue":
        return any(_one_value_matches(operator, values, a) != negated for a in actual)
    if len(actual) != 1:
        # A single-valued operator on a multivalued key: any value may satisfy it.
        return any(_one_value_matches(operator, values, a) != negated for a in actual)
    return _one_value_matches(operator, values, actual[0]) != negated


def conditions_hold(block: Mapping[str, Mapping[str, Any]] | None, context: Mapping) -> bool:
    """Every operator and every key of a ``Condition`` block holds (AND)."""
    for operator, keys in (block or {}).items():
        for key, values in keys.items():
            if not condition_holds(operator, key, values, context):
                return False
    return True


# --- statements and policies ------------------------------------------------------------


def statement_applies(
    statement: Mapping[str, Any], request: Request, check_principal: bool
) -> tuple[bool, bool]:
    """``(applies, via_account)`` for one statement. ``check_principal``: the statement is
    in a resource policy and must name the caller; ``via_account`` reports that it names
    only the caller's account (see :func:`principal_matches`)."""
    if "Action" not in statement and "NotAction" not in statement:
        raise UnsupportedPolicyError("a statement without Action or NotAction")
    if "Action" in statement:
        action_ok = action_matches(statement["Action"], request.action)
    else:
        action_ok = not action_matches(statement["NotAction"], request.action)
    if "Resource" in statement:
        resource_ok = resource_matches(statement["Resource"], request.resource)
    else:
        resource_ok = not resource_matches(statement.get("NotResource"), request.resource)
    if not (action_ok and resource_ok):
        return False, False
    via_account = False
    if check_principal:
        if "Principal" in statement:
            matched, via_account = principal_matches(statement["Principal"], request.principal)
            if not matched:
                return False, False
        elif "NotPrincipal" in statement:
            matched, _ = principal_matches(statement["NotPrincipal"], request.principal)
            if matched:
                return False, False
        else:
            raise UnsupportedPolicyError("a resource-policy statement without Principal")
    if not conditions_hold(statement.get("Condition"), request.context):
        return False, False
    return True, via_account


def _label(policy: Policy, index: int, statement: Mapping[str, Any]) -> str:
    sid = statement.get("Sid")
    return f"{policy.name} statement {sid or f'#{index}'}"


@dataclass(frozen=True)
class _Match:
    effect: str
    label: str
    via_account: bool


def _matches(policies: Iterable[Policy], request: Request, resource_policy: bool) -> list[_Match]:
    found = []
    for policy in policies:
        for index, statement in enumerate(policy.statements()):
            effect = statement.get("Effect")
            if effect not in (ALLOW, DENY):
                raise UnsupportedPolicyError(f"{policy.name}: Effect {effect!r}")
            applies, via_account = statement_applies(statement, request, resource_policy)
            if applies:
                found.append(_Match(effect, _label(policy, index, statement), via_account))
    return found


def _denied_by(matches: Sequence[_Match]) -> _Match | None:
    return next((m for m in matches if m.effect == DENY), None)


def evaluate(
    request: Request,
    identity_policies: Sequence[Policy],
    resource_policy: Policy | None = None,
) -> Decision:
    """A request within one account: explicit deny wins; then an identity policy's allow,
    or a resource policy's allow of this very principal, allows it. A resource policy that
    names only the account (``:root``) adds nothing: the identity policy must allow."""
    identity = _matches(identity_policies, request, resource_policy=False)
    resource = _matches([resource_policy], request, True) if resource_policy else []
    deny = _denied_by(identity + resource)
    if deny:
        return Decision(False, f"explicitly denied by {deny.label}", explicit_deny=True)
    direct = next((m for m in resource if m.effect == ALLOW and not m.via_account), None)
    if direct:
        return Decision(True, f"allowed by {direct.label}")
    allow = next((m for m in identity if m.effect == ALLOW), None)
    if allow:
        return Decision(True, f"allowed by {allow.label}")
    where = "identity policies" + (" or the resource policy" if resource_policy else "")
    names = ", ".join(p.name for p in identity_policies) or "none"
    return Decision(False, f"no statement of the {where} allows it (identity policies: {names})")


def evaluate_kms(
    request: Request, key_policy: Policy, identity_policies: Sequence[Policy] = ()
) -> Decision:
    """A KMS request on a key: the key policy allows the caller directly, or allows the
    caller's account (delegation to IAM) and an identity policy allows the caller too."""
    key = _matches([key_policy], request, resource_policy=True)
    identity = _matches(identity_policies, request, resource_policy=False)
    deny = _denied_by(key + identity)
    if deny:
        return Decision(False, f"explicitly denied by {deny.label}", explicit_deny=True)
    direct = next((m for m in key if m.effect == ALLOW and not m.via_account), None)
    if direct:
        return Decision(True, f"allowed by {direct.label}")
    delegation = next((m for m in key if m.effect == ALLOW and m.via_account), None)
    allow = next((m for m in identity if m.effect == ALLOW), None)
    if delegation and allow:
        return Decision(True, f"{delegation.label} delegates to IAM; allowed by {allow.label}")
    if delegation:
        names = ", ".join(p.name for p in identity_policies) or "none"
        return Decision(
            False,
            f"{delegation.label} delegates to IAM, but no identity policy allows it "
            f"(identity policies: {names})",
        )
    return Decision(False, f"{key_policy.name} neither allows the caller nor delegates to IAM")
