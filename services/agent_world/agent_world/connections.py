"""The WebSocket connection registry: which connections are subscribed to which world.

``$connect`` (``POST /ws/connect``, the route's HTTP integration over the private path)
adds a connection under its world, ``$disconnect`` removes it, and the event publisher
(``events.py``) reads a world's connections and removes those API Gateway says are gone
(410). Two stores, one interface:

- ``RedisRegistry`` (Redis configured): a set per world, ``aw:ws:{<world>}:conns``, and
  the connection's world, ``aw:ws:conn:<id>``, both expiring after ``CONNECTION_TTL``
  (API Gateway closes every connection after 2 hours at most), so a lost ``$disconnect``
  leaves nothing behind for good.
- ``DynamoRegistry`` (no Redis): the Connections table of ``schema.CONNECTIONS`` - an item
  per connection, its world in ``world-index``, TTL ``expires_at``.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from boto3.dynamodb.conditions import Key

from agent_world import schema

CONNECTION_TTL = 2 * 3600 + 300
"""Seconds a registration lives: API Gateway's 2-hour maximum connection duration (its
WebSocket quotas), plus a margin."""


class Registry(Protocol):
    def add(self, world_id: str, connection_id: str) -> None: ...

    def remove(self, connection_id: str) -> str | None:
        """Forget the connection; its world, or None when it was not registered."""
        ...

    def members(self, world_id: str) -> list[str]: ...


class RedisRegistry:
    """The registry in Redis (``client``: a ``redis.Redis``). Errors are the caller's
    (``$connect`` answers 503, so API Gateway refuses the connection)."""

    def __init__(self, client: Any, prefix: str = "aw"):
        self.client = client
        self.prefix = prefix

    def _world(self, world_id: str) -> str:
        return f"{self.prefix}:ws:{{{world_id}}}:conns"

    def _conn(self, connection_id: str) -> str:
        return f"{self.prefix}:ws:conn:{connection_id}"

    def add(self, world_id: str, connection_id: str) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self._conn(connection_id), world_id, ex=CONNECTION_TTL)
        pipe.sadd(self._world(world_id), connection_id)
        pipe.expire(self._world(world_id), CONNECTION_TTL)
        pipe.execute()

    def remove(self, connection_id: str) -> str | None:
        raw = self.client.getdel(self._conn(connection_id))
        if raw is None:
            return None
        world_id = raw.decode() if isinstance(raw, bytes) else raw
        self.client.srem(self._world(world_id), connection_id)
        return world_id

    def discard(self, world_id: str, connection_id: str) -> None:
        """A gone connection (410) of ``world_id``."""
        pipe = self.client.pipeline(transaction=False)
        pipe.srem(self._world(world_id), connection_id)
        pipe.delete(self._conn(connection_id))
        pipe.execute()

    def members(self, world_id: str) -> list[str]:
        return sorted(m.decode() if isinstance(m, bytes) else m
                      for m in self.client.smembers(self._world(world_id)))  # fmt: skip


class DynamoRegistry:
    """The registry in the Connections table (``table``: a boto3 ``Table``)."""

    def __init__(self, table: Any, clock: Any = time.time):
        self.table = table
        self.clock = clock

    def add(self, world_id: str, connection_id: str) -> None:
        now = int(self.clock())
        self.table.put_item(
            Item={
                "connection_id": connection_id,
                "world_id": world_id,
                "connected_at": str(now),
                "expires_at": now + CONNECTION_TTL,
            }
        )

    def remove(self, connection_id: str) -> str | None:
        old = self.table.delete_item(
            Key={"connection_id": connection_id}, ReturnValues="ALL_OLD"
        ).get("Attributes")
        return old["world_id"] if old else None

    def discard(self, world_id: str, connection_id: str) -> None:
        self.table.delete_item(Key={"connection_id": connection_id})

    def members(self, world_id: str) -> list[str]:
        found: list[str] = []
        query: dict[str, Any] = {
            "IndexName": "world-index",
            "KeyConditionExpression": Key("world_id").eq(world_id),
        }
        while True:
            answer = self.table.query(**query)
            found += [item["connection_id"] for item in answer.get("Items", [])]
            if "LastEvaluatedKey" not in answer:
                return sorted(found)
            query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


__all__ = ["CONNECTION_TTL", "DynamoRegistry", "RedisRegistry", "Registry", "schema"]
