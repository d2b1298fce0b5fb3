"""The agent-runtime role: agents, memory streams, events and the WebSocket integration.

API Gateway's WebSocket API calls ``POST /ws/connect``, ``/ws/disconnect`` and
``/ws/message`` over its HTTP integration with the connection id in ``X-Connection-Id``
(a request-parameter mapping of ``context.connectionId``) or in the body; each is recorded
as a world event.

Agents are versioned: ``PATCH /agents/{id}`` changes an agent only at the version the
caller read (``If-Match: "<version>"`` or ``"version"`` in the body), as a conditional
write; a stale version is a 409 with ``current_version``. Agent items are read and written
only through ``agent_world.state``.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from boto3.dynamodb.conditions import Key
from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from pydantic import AwareDatetime

from agent_world import schema, state
from agent_world.models import (
    ANY_VERSION,
    CONNECTION_ID_PATTERN,
    ID_PATTERN,
    AgentCreate,
    AgentId,
    AgentUpdate,
    EventCreate,
    Limit,
    MemoryCreate,
    NextToken,
    SocketConnect,
    SocketDisconnect,
    SocketEvent,
    WorldId,
    etag,
    expected_version,
)
from agent_world.store import (
    PreconditionRequiredError,
    iso,
    query_page,
    sort_stamp,
    to_plain,
    utc_now,
)

log = logging.getLogger(__name__)

IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=64)]
ConnectionHeader = Annotated[
    str | None, Header(alias="X-Connection-Id", pattern=CONNECTION_ID_PATTERN, max_length=128)
]
# issue 15: the world a $connect subscribes to - the route's `world` query string, mapped to
# this header by the integration (or `?world=` / the body's world_id when called directly).
WorldHeader = Annotated[str | None, Header(alias="X-World-Id", pattern=ID_PATTERN, max_length=128)]
WorldQuery = Annotated[str | None, Query(alias="world", pattern=ID_PATTERN, max_length=128)]


@dataclass(frozen=True)
class AgentTables:
    worlds: Any
    agents: Any
    memory: Any
    events: Any


def router(t: AgentTables, sockets: Any = None) -> APIRouter:
    """``sockets``: the connection registry (``connections.py``), None without one."""
    api = APIRouter(tags=["agents"])

    def record_event(
        world_id: str, kind: str, agent_id: str | None, payload: dict[str, Any]
    ) -> dict[str, Any]:
        state.get_world(t.worlds, world_id)
        if agent_id is not None:
            agent = state.get_agent(t.agents, agent_id)
            if agent["world_id"] != world_id:
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT,
                    f"agent {agent_id!r} is not in world {world_id!r}",
                )
        item: dict[str, Any] = {
            "world_id": world_id,
            "timestamp": sort_stamp(utc_now()),
            "type": kind,
            "payload": payload,
        }
        # Left out rather than null: agent-index is sparse, holding only agents' events.
        if agent_id is not None:
            item["agent_id"] = agent_id
        t.events.put_item(Item=item)
        return to_plain(item)

    @api.post("/worlds/{world_id}/agents", status_code=status.HTTP_201_CREATED)
    def create_agent(world_id: WorldId, body: AgentCreate) -> dict[str, Any]:
        world = state.get_world(t.worlds, world_id)
        state.require_status(world, state.WRITABLE, "add agents")
        now = iso(utc_now())
        item = {
            "agent_id": body.agent_id or str(uuid.uuid4()),
            "world_id": world_id,
            "name": body.name,
            "persona": body.persona,
            "state": body.state,
            "created_at": now,
            "updated_at": now,
        }
        item = state.create_agent(t.agents, item, t.worlds)
        log.info("agent registered", extra={"agent_id": item["agent_id"], "world_id": world_id})
        return to_plain(item)

    @api.get("/agents/{agent_id}")
    def get_agent(agent_id: AgentId, response: Response) -> dict[str, Any]:
        agent = state.get_agent(t.agents, agent_id)
        response.headers["ETag"] = etag(state.version_of(agent))
        return to_plain({"version": 0, **agent})

    @api.patch("/agents/{agent_id}")
    def update_agent(
        agent_id: AgentId, body: AgentUpdate, response: Response, if_match: IfMatch = None
    ) -> dict[str, Any]:
        try:
            expected = expected_version(if_match, body.version)
        except ValueError as error:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None
        if expected is None:
            raise PreconditionRequiredError(
                'agent updates are versioned: send If-Match: "<version>" (the ETag of GET '
                '/agents/{id}) or "version" in the body'
            )
        changes = body.changes()
        if not changes:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "nothing to change: send name, persona or state",
            )
        agent = state.get_agent(t.agents, agent_id)
        world = state.get_world(t.worlds, agent["world_id"])
        state.require_status(world, state.WRITABLE, "update its agents")
        updated = state.update_agent(
            t.agents, agent_id, changes, None if expected == ANY_VERSION else expected,
            iso(utc_now()), world=(t.worlds, agent["world_id"]),
        )  # fmt: skip
        response.headers["ETag"] = etag(state.version_of(updated))
        return to_plain(updated)

    @api.get("/worlds/{world_id}/agents")
    def list_agents(
        world_id: WorldId, limit: Limit = 20, next_token: NextToken = None
    ) -> dict[str, Any]:
        state.get_world(t.worlds, world_id)
        page = query_page(
            t.agents,
            schema.AGENTS,
            index="world-index",
            limit=limit,
            token=next_token,
            KeyConditionExpression=Key("world_id").eq(world_id),
        )
        return page.body("agents")

    @api.post("/agents/{agent_id}/memories", status_code=status.HTTP_201_CREATED)
    def add_memory(agent_id: AgentId, body: MemoryCreate) -> dict[str, Any]:
        agent = state.get_agent(t.agents, agent_id)
        moment = utc_now()
        item: dict[str, Any] = {
            "agent_id": agent_id,
            "created_at": sort_stamp(moment),
            "world_id": agent["world_id"],
            "kind": body.kind,
            "content": body.content,
            "importance": Decimal(str(body.importance)),
        }
        if body.ttl_days is not None:
            # DynamoDB's TTL reads epoch seconds as a number; deletion is eventual.
            item["expires_at"] = int((moment + timedelta(days=body.ttl_days)).timestamp())
        t.memory.put_item(Item=item)
        return to_plain(item)

    @api.get("/agents/{agent_id}/memories")
    def list_memories(
        agent_id: AgentId,
        limit: Limit = 20,
        next_token: NextToken = None,
        min_importance: Annotated[float | None, Query(ge=0, le=10, allow_inf_nan=False)] = None,
        order: Literal["recent", "importance"] | None = None,
    ) -> dict[str, Any]:
        state.get_agent(t.agents, agent_id)
        by_importance = order == "importance" or (order is None and min_importance is not None)
        if order == "recent" and min_importance is not None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "min_importance needs order=importance (it is a range on importance-index)",
            )
        if by_importance:
            condition = Key("agent_id").eq(agent_id)
            if min_importance is not None:
                condition &= Key("importance").gte(Decimal(str(min_importance)))
            page = query_page(
                t.memory,
                schema.MEMORY,
                index="importance-index",
                limit=limit,
                token=next_token,
                KeyConditionExpression=condition,
                ScanIndexForward=False,
            )
        else:
            page = query_page(
                t.memory,
                schema.MEMORY,
                limit=limit,
                token=next_token,
                KeyConditionExpression=Key("agent_id").eq(agent_id),
                ScanIndexForward=False,
            )
        return page.body("memories")

    @api.post("/worlds/{world_id}/events", status_code=status.HTTP_201_CREATED)
    def add_event(world_id: WorldId, body: EventCreate) -> dict[str, Any]:
        return record_event(world_id, body.type, body.agent_id, body.payload)

    @api.get("/worlds/{world_id}/events")
    def list_events(
        world_id: WorldId,
        since: AwareDatetime | None = None,
        limit: Limit = 20,
        next_token: NextToken = None,
    ) -> dict[str, Any]:
        state.get_world(t.worlds, world_id)
        condition = Key("world_id").eq(world_id)
        if since is not None:
            condition &= Key("timestamp").gte(iso(since))
        page = query_page(
            t.events,
            schema.EVENTS,
            limit=limit,
            token=next_token,
            KeyConditionExpression=condition,
            ScanIndexForward=False,
        )
        return page.body("events")

    @api.get("/agents/{agent_id}/events")
    def list_agent_events(
        agent_id: AgentId, limit: Limit = 20, next_token: NextToken = None
    ) -> dict[str, Any]:
        state.get_agent(t.agents, agent_id)
        page = query_page(
            t.events,
            schema.EVENTS,
            index="agent-index",
            limit=limit,
            token=next_token,
            KeyConditionExpression=Key("agent_id").eq(agent_id),
            ScanIndexForward=False,
        )
        return page.body("events")

    def connection(header: str | None, body_value: str | None) -> str:
        found = header or body_value
        if not found:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "connection id missing: send X-Connection-Id or connection_id in the body",
            )
        return found

    @api.post("/ws/connect")
    def ws_connect(
        body: SocketConnect | None = None,
        x_connection_id: ConnectionHeader = None,
        x_world_id: WorldHeader = None,
        world: WorldQuery = None,
    ) -> dict[str, Any]:
        # A non-2xx answer makes API Gateway refuse the connection (422 no or bad world,
        # 404 unknown world, 503 registry unavailable).
        body = body or SocketConnect()
        connection_id = connection(x_connection_id, body.connection_id)
        world_id = x_world_id or world or body.world_id
        if world_id is None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "world missing: connect with ?world=<world id>",
            )
        state.get_world(t.worlds, world_id)
        subscribed = _subscribe(sockets, world_id, connection_id)
        payload = {**body.payload, "connection_id": connection_id}
        event = record_event(world_id, "ws.connect", body.agent_id, payload)
        return {"status": "connected", "connection_id": connection_id, "world_id": world_id,
                "subscribed": subscribed, "event": event}  # fmt: skip

    @api.post("/ws/message")
    def ws_message(body: SocketEvent, x_connection_id: ConnectionHeader = None) -> dict[str, Any]:
        connection_id = connection(x_connection_id, body.connection_id)
        payload = {**body.payload, "connection_id": connection_id}
        event = record_event(body.world_id, "ws.message", body.agent_id, payload)
        return {"status": "received", "connection_id": connection_id, "event": event}

    @api.post("/ws/disconnect")
    def ws_disconnect(
        body: SocketDisconnect | None = None, x_connection_id: ConnectionHeader = None
    ) -> dict[str, Any]:
        body = body or SocketDisconnect()
        connection_id = connection(x_connection_id, body.connection_id)
        if sockets is not None:  # issue 15: unsubscribe; its world names the event's partition
            body.world_id = _unsubscribe(sockets, connection_id) or body.world_id
        # $disconnect carries no body unless the integration maps one: without a world there
        # is no partition to record the event in, and API Gateway ignores the answer anyway.
        if body.world_id is None:
            return {"status": "disconnected", "connection_id": connection_id, "event": None}
        event = record_event(
            body.world_id, "ws.disconnect", body.agent_id, {"connection_id": connection_id}
        )
        return {"status": "disconnected", "connection_id": connection_id, "event": event}

    return api


def _subscribe(sockets: Any, world_id: str, connection_id: str) -> bool:
    """Register the connection under its world (issue 15); 503 when the registry fails."""
    if sockets is None:
        return False
    try:
        sockets.add(world_id, connection_id)
    except Exception as error:  # Redis or DynamoDB: the connection is refused, not half-made
        log.error(
            "subscription failed", extra={"connection_id": connection_id, "error": str(error)}
        )
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "subscription unavailable"
        ) from None
    return True


def _unsubscribe(sockets: Any, connection_id: str) -> str | None:
    try:
        return sockets.remove(connection_id)
    except Exception as error:  # the registration then expires (connections.CONNECTION_TTL)
        log.warning(
            "unsubscribe failed", extra={"connection_id": connection_id, "error": str(error)}
        )
        return None
