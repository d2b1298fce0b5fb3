"""The WebSocket connection registry: which connections are subscribed to which world.

``$connect`` (``POST /ws/connect``, the route's HTTP integration over the private path)
adds a connection under its world, ``$disconnect`` removes it, and the event publisher
(``events.py``) reads a world's connections and removes those API Gateway says are gone
(410). Two stores, one interface:

- ``RedisRegistry`` (Redis configured): a set per world, ``aw:ws:{<world>}:conns``, each
  connection's registration time in ``aw:ws:{<world>}:since`` (a hash), and the
  connection's world, ``aw:ws:conn:<id>``, all expiring after ``CONNECTION_TTL``
  (API Gateway closes every connection after 2 hours at most), so a lost ``$disconnect``
  leaves nothing behind for good.
- ``DynamoRegistry`` (no Redis): the Connections table of ``schema.CONNECTIONS`` - an item
  per connection, its world in ``world-index``, its registration time ``connected_at``,
  TTL ``expires_at``.

``registered(world)`` gives each connection's registration time (epoch seconds): the
publisher does not remove a connection API Gateway calls gone (410) within
``CONNECTING_GRACE`` seconds of its registration, because a connection does not exist for
the Management API until its ``$connect`` integration has answered, after it registered.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from boto3.dynamodb.conditions import Key

from agent_world import schema

CONNECTION_TTL = 2 * 3600 + 300
"""Seconds a registration lives: API Gateway's 2-hour maximum connection duration (its
WebSocket quotas), plus a margin."""
CONNECTING_GRACE = 30.0
"""Seconds after its registration a connection is kept though API Gateway answers 410 for
it: until the ``$connect`` integration returns (its timeout is at most 29 s, API Gateway's
integration maximum) the connection is not open, and posts to it are refused
("Working with $connect and $disconnect routes", API Gateway developer guide)."""


class Registry(Protocol):
    def add(self, world_id: str, connection_id: str) -> None: ...

    def remove(self, connection_id: str) -> str | None:
        """Forget the connection; its world, or None when it was not registered."""
        ...

    def members(self, world_id: str) -> list[str]: ...

    def registered(self, world_id: str) -> dict[str, float]:
        """The world's connections and when each registered (epoch seconds; 0 unknown)."""
        ...


class RedisRegistry:
    """The registry in Redis (``client``: a ``redis.Redis``). Errors are the caller's
    (``$connect`` answers 503, so API Gateway refuses the connection)."""

    def __init__(self, client: Any, prefix: str = "aw", clock: Any = time.time):
        self.client = client
        self.prefix = prefix
        self.clock = clock

    def _world(self, world_id: str) -> str:
        return f"{self.prefix}:ws:{{{world_id}}}:conns"

    def _since(self, world_id: str) -> str:
        return f"{self.prefix}:ws:{{{world_id}}}:since"

    def _conn(self, connection_id: str) -> str:
        return f"{self.prefix}:ws:conn:{connection_id}"

    def add(self, world_id: str, connection_id: str) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self._conn(connection_id), world_id, ex=CONNECTION_TTL)
        pipe.sadd(self._world(world_id), connection_id)
        pipe.hset(self._since(world_id), connection_id, repr(float(self.clock())))
        pipe.expire(self._world(world_id), CONNECTION_TTL)
        pipe.expire(self._since(world_id), CONNECTION_TTL)
        pipe.execute()

    def remove(self, connection_id: str) -> str | None:
        raw = self.client.getdel(self._conn(connection_id))
        if raw is None:
            return None
        world_id = raw.decode() if isinstance(raw, bytes) else raw
        pipe = self.client.pipeline(transaction=False)
        pipe.srem(self._world(world_id), connection_id)
        pipe.hdel(self._since(world_id), connection_id)
        pipe.execute()
        return world_id

    def discard(self, world_id: str, connection_id: str) -> None:
        """A gone connection (410) of ``world_id``."""
        pipe = self.client.pipeline(transaction=False)
        pipe.srem(self._world(world_id), connection_id)
        pipe.hdel(self._since(world_id), connection_id)
        pipe.delete(self._conn(connection_id))
        pipe.execute()

    def members(self, world_id: str) -> list[str]:
        return sorted(self.registered(world_id))

    def registered(self, world_id: str) -> dict[str, float]:
        pipe = self.client.pipeline(transaction=False)
        pipe.smembers(self._world(world_id))
        pipe.hgetall(self._since(world_id))
        members, since = pipe.execute()
        times = {_text(k): float(v) for k, v in since.items()}
        return {_text(m): times.get(_text(m), 0.0) for m in members}


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
        return sorted(self.registered(world_id))

    def registered(self, world_id: str) -> dict[str, float]:
        found: dict[str, float] = {}
        query: dict[str, Any] = {
            "IndexName": "world-index",
            "KeyConditionExpression": Key("world_id").eq(world_id),
        }
        while True:
            answer = self.table.query(**query)
            for item in answer.get("Items", []):
                found[item["connection_id"]] = float(item.get("connected_at") or 0)
            if "LastEvaluatedKey" not in answer:
                return found
            query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else value


__all__ = [
    "CONNECTING_GRACE",
    "CONNECTION_TTL",
    "DynamoRegistry",
    "RedisRegistry",
    "Registry",
    "schema",
]
