"""Request bodies and the shared parameter types, with their limits.

Free-form JSON (world settings, agent state, object properties, event payloads) is accepted
as an object, but only if DynamoDB can store it: bounded in size and depth, no NaN or
infinity, numbers of at most 38 significant digits, no empty key at any level. Unknown
fields are refused (422) so a misspelt field is not silently dropped.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from agent_world.store import to_dynamo

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
CONNECTION_ID_PATTERN = r"^[A-Za-z0-9+/=_-]{1,128}$"
"""An API Gateway WebSocket connection id: base64, so it may hold ``+``, ``/`` and end in
``=`` (the developer guide's example ``L0SM9cOFvHcCIhw=``). It is never put in a path by
this service; botocore percent-encodes it in ``post_to_connection``'s ``@connections/{id}``."""
EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_.:-]{0,63}$"
MAX_DOCUMENT_BYTES = 64 * 1024
MAX_DEPTH = 16
WorldStatus = Literal["active", "paused", "archived", "deleting", "restoring"]
MAX_VERSION = 2**53
"""Versions are integers from 0 (items written before versions existed) up to this."""


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _empty_key(value: Any) -> bool:
    if isinstance(value, dict):
        return any(k == "" or _empty_key(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_empty_key(v) for v in value)
    return False


def _storable(value: dict[str, Any]) -> dict[str, Any]:
    if _empty_key(value):  # an attribute (or map key) name DynamoDB refuses
        raise ValueError("a key is empty: every key must have at least one character")
    if _depth(value) > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    if len(json.dumps(value, default=str)) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"larger than {MAX_DOCUMENT_BYTES} bytes as JSON")
    return to_dynamo(value)


Document = Annotated[dict[str, Any], AfterValidator(_storable)]
Identifier = Annotated[str, Field(pattern=ID_PATTERN)]
ConnectionId = Annotated[str, Field(pattern=CONNECTION_ID_PATTERN)]

# Path and query parameters, shared by the routers.
WorldId = Annotated[str, Path(pattern=ID_PATTERN)]
AgentId = Annotated[str, Path(pattern=ID_PATTERN)]
ObjectId = Annotated[str, Path(pattern=ID_PATTERN)]
Limit = Annotated[int, Query(ge=1, le=100)]
NextToken = Annotated[str | None, Query(min_length=1, max_length=2048)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class WorldCreate(Strict):
    world_id: Identifier | None = None
    """Default a new UUID."""
    name: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=4000)
    settings: Document = Field(default_factory=dict)


class ObjectPut(Strict):
    object_type: Annotated[str, Field(pattern=ID_PATTERN)]
    name: str = Field(default="", max_length=128)
    properties: Document = Field(default_factory=dict)


class SnapshotCreate(Strict):
    label: str = Field(default="", max_length=128)


class AgentCreate(Strict):
    agent_id: Identifier | None = None
    """Default a new UUID."""
    name: str = Field(min_length=1, max_length=128)
    persona: str = Field(default="", max_length=4000)
    state: Document = Field(default_factory=dict)


class AgentUpdate(Strict):
    """``PATCH /agents/{id}``: the fields to change (``state`` is replaced whole), and the
    version the change was made against (or the ``If-Match`` header)."""

    version: int | None = Field(default=None, ge=0, le=MAX_VERSION)
    name: str | None = Field(default=None, min_length=1, max_length=128)
    persona: str | None = Field(default=None, max_length=4000)
    state: Document | None = None

    def changes(self) -> dict[str, Any]:
        fields = ("name", "persona", "state")
        return {f: getattr(self, f) for f in fields if getattr(self, f) is not None}


class VersionedAction(Strict):
    """The optional body of a world transition or restore: the version it expects."""

    version: int | None = Field(default=None, ge=0, le=MAX_VERSION)


class MemoryCreate(Strict):
    content: str = Field(min_length=1, max_length=8000)
    importance: float = Field(ge=0, le=10, allow_inf_nan=False)
    ttl_days: int | None = Field(default=None, ge=1, le=3650)
    kind: str = Field(default="observation", pattern=EVENT_TYPE_PATTERN)


class EventCreate(Strict):
    type: str = Field(pattern=EVENT_TYPE_PATTERN)
    agent_id: Identifier | None = None
    payload: Document = Field(default_factory=dict)


class SocketEvent(Strict):
    """What the API Gateway WebSocket integration forwards."""

    world_id: Identifier
    connection_id: ConnectionId | None = None
    """Or the ``X-Connection-Id`` header (which wins when both are sent)."""
    agent_id: Identifier | None = None
    payload: Document = Field(default_factory=dict)


class SocketConnect(Strict):
    """``$connect`` (issue 15): API Gateway sends no body; the world comes from ``?world=``."""

    world_id: Identifier | None = None
    connection_id: ConnectionId | None = None
    agent_id: Identifier | None = None
    payload: Document = Field(default_factory=dict)


class SocketDisconnect(Strict):
    world_id: Identifier | None = None
    connection_id: ConnectionId | None = None
    agent_id: Identifier | None = None


class CompletionRequest(Strict):
    model_id: str = Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$")
    prompt: str = Field(min_length=1, max_length=32000)
    max_tokens: int = Field(default=512, ge=1, le=4096)
    temperature: float = Field(default=0.7, ge=0, le=1, allow_inf_nan=False)


ANY_VERSION = "*"


def parse_if_match(header: str | None) -> int | str | None:
    """An ``If-Match`` header as a version: ``"3"``, ``3`` or ``W/"3"`` give 3, ``*`` gives
    ``ANY_VERSION``, no header None; anything else is a ``ValueError`` (400)."""
    if header is None:
        return None
    text = header.strip()
    if text == ANY_VERSION:
        return ANY_VERSION
    text = text.removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 16 or int(text) > MAX_VERSION:
        raise ValueError(f'If-Match: {header!r} is not a version (an ETag such as "3", or *)')
    return int(text)


def expected_version(header: str | None, body_version: int | None) -> int | str | None:
    """The version a write expects, from ``If-Match`` or the body's ``version`` (both: they
    must agree)."""
    from_header = parse_if_match(header)
    if from_header is not None and body_version is not None and from_header != body_version:
        raise ValueError(
            f"If-Match ({header}) and version ({body_version}) disagree: send one of them"
        )
    return body_version if from_header is None else from_header


def etag(version: int) -> str:
    return f'"{version}"'
