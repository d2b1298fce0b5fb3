"""DynamoDB and S3 access: items in and out as plain JSON values, keys that sort by time,
opaque page tokens, and the errors the routes turn into 400/404/409.

Numbers come back from DynamoDB as ``Decimal`` and must go in as ``Decimal`` (boto3 refuses
``float``), so values cross this module through ``to_dynamo`` / ``to_plain``.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from agent_world import schema


class NotFoundError(LookupError):
    """An id that does not exist (404); the text says which."""


class ConflictError(ValueError):
    """A write that would overwrite something or that the item's state refuses (409); the
    text says what, ``fields`` (``current_status``, ``current_version``) go into the answer."""

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.fields = fields


class PreconditionRequiredError(ValueError):
    """A versioned write sent without a version (428): neither ``If-Match`` nor ``version``."""


class BadTokenError(ValueError):
    """A ``next_token`` that this service did not issue for this listing (400)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Fixed-width UTC ISO-8601 with microseconds, so strings sort as times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sort_stamp(moment: datetime) -> str:
    """A sort key for a moment: the ISO time plus ``#`` and a random suffix, so two writes in
    the same microsecond do not collide; ``#`` sorts below digits, so order by time holds."""
    return f"{iso(moment)}#{secrets.token_hex(4)}"


def compact_id(moment: datetime) -> str:
    """An id that sorts by creation time (snapshot ids)."""
    return f"{moment.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(4)}"


_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def to_dynamo(value: Any) -> Any:
    """A JSON value as DynamoDB accepts it (floats as ``Decimal``); ``ValueError`` when it
    cannot be stored (NaN, infinity, more than 38 significant digits)."""
    try:
        converted = json.loads(json.dumps(value, allow_nan=False), parse_float=Decimal)
        _SERIALIZER.serialize(converted)  # raises on what DynamoDB would refuse
    except (TypeError, ValueError, ArithmeticError) as error:
        raise ValueError(f"not storable: {error}") from None
    return converted


def to_plain(value: Any) -> Any:
    """An item from DynamoDB as JSON-ready values (``Decimal`` → int or float)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [to_plain(v) for v in value]
    return value


def encode_token(last_key: Mapping[str, Any]) -> str:
    typed = {name: _SERIALIZER.serialize(value) for name, value in last_key.items()}
    raw = json.dumps(typed, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, expected: frozenset[str]) -> dict[str, Any]:
    """The ``ExclusiveStartKey`` in ``token``; ``BadTokenError`` unless it has exactly the key
    attributes of the listing (``expected``), each a string or a number."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        typed = json.loads(raw)
    except (binascii.Error, ValueError):
        raise BadTokenError("next_token: not a token this service issued") from None
    if not isinstance(typed, dict) or set(typed) != expected:
        raise BadTokenError("next_token: not a token for this listing")
    key = {}
    for name, value in typed.items():
        if not (isinstance(value, dict) and len(value) == 1 and set(value) <= {"S", "N"}):
            raise BadTokenError("next_token: not a token for this listing")
        try:
            key[name] = _DESERIALIZER.deserialize(value)
        except (TypeError, ValueError, ArithmeticError):
            raise BadTokenError("next_token: not a token for this listing") from None
        if not isinstance(next(iter(value.values())), str):
            raise BadTokenError("next_token: not a token for this listing")
    return key


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_token: str | None

    def body(self, name: str) -> dict[str, Any]:
        return {name: [to_plain(i) for i in self.items], "next_token": self.next_token}


def query_page(
    table: Any,
    spec: schema.Table,
    *,
    limit: int,
    token: str | None,
    index: str | None = None,
    **query: Any,
) -> Page:
    """One page of a ``Query`` on ``table`` (or its ``index``), continued from ``token``."""
    if index is not None:
        query["IndexName"] = index
    if token:
        query["ExclusiveStartKey"] = decode_token(token, spec.key_attributes(index))
    try:
        answer = table.query(Limit=limit, **query)
    except ClientError as error:
        # A token with the right attributes but values from another listing.
        if token and error.response["Error"]["Code"] == "ValidationException":
            raise BadTokenError("next_token: not a token for this listing") from None
        raise
    last = answer.get("LastEvaluatedKey")
    return Page(answer.get("Items", []), encode_token(last) if last else None)


def query_all(table: Any, cap: int, **query: Any) -> tuple[list[dict[str, Any]], bool]:
    """Every item of a query up to ``cap``; the flag says whether items were left out."""
    items: list[dict[str, Any]] = []
    while True:
        answer = table.query(Limit=min(cap - len(items) + 1, 1000), **query)
        items.extend(answer.get("Items", []))
        last = answer.get("LastEvaluatedKey")
        if len(items) > cap:
            return items[:cap], True
        if not last:
            return items, False
        query["ExclusiveStartKey"] = last


def put_new(table: Any, item: Mapping[str, Any], key: str, what: str) -> Mapping[str, Any]:
    """Put ``item`` unless one with its ``key`` exists (then ``ConflictError``); returns it."""
    try:
        table.put_item(
            Item=item,
            ConditionExpression="attribute_not_exists(#k)",
            ExpressionAttributeNames={"#k": key},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise ConflictError(f"{what} {item[key]!r} already exists") from None
        raise
    return item


def get_or_404(table: Any, key: Mapping[str, str], what: str) -> dict[str, Any]:
    item = table.get_item(Key=dict(key)).get("Item")
    if item is None:
        raise NotFoundError(f"{what} {next(iter(key.values()))!r} not found")
    return item
