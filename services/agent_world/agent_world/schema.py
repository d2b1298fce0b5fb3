"""The DynamoDB tables as data: keys, indexes, TTL and stream - the one definition of them.

The service's queries depend on these names and types, so they are fixed here once, and
everything else reads this module: the Pulumi component creates exactly ``TABLES``
(``components/stacks/agent_world/data.py``, through ``components/lib/agent_world_schema.py``,
which imports this file from the program), the physical-name list names them, and the tests
of both check what was built against it. It stays pure Python (standard library only) so
that both the image and the Pulumi program can import it. ``create_tables`` makes the tables
(on-demand billing, TTL) for tests and local development against moto or DynamoDB Local.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Index:
    """A global secondary index projecting every attribute."""

    name: str
    hash_key: str
    range_key: str | None = None


@dataclass(frozen=True)
class Table:
    """One table: ``logical`` is the seed's name, ``env`` the variable holding the real name."""

    logical: str
    stem: str
    """The infrastructure's name for it, fixed for good: the component's child is
    ``<component>-<stem>`` and the table's physical name ``<prefix>-<stem>``."""
    env: str
    hash_key: str
    range_key: str | None
    attribute_types: dict[str, str]
    """Every key attribute of the table and its indexes: ``S`` or ``N``."""
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None
    stream: bool = False
    """A stream of new images (consumers react to events). The infrastructure enables it;
    ``create_tables`` leaves it off, since nothing in the service reads it."""
    access_patterns: tuple[str, ...] = field(default=(), compare=False)

    def key_attributes(self, index: str | None = None) -> frozenset[str]:
        """The attributes of a ``LastEvaluatedKey`` of a query on the table or ``index``."""
        names = {self.hash_key, *([self.range_key] if self.range_key else [])}
        if index is not None:
            found = next(i for i in self.indexes if i.name == index)
            names |= {found.hash_key, *([found.range_key] if found.range_key else [])}
        return frozenset(names)


WORLDS = Table(
    logical="Worlds",
    stem="worlds",
    env="WORLDS_TABLE",
    hash_key="world_id",
    range_key=None,
    attribute_types={"world_id": "S", "status": "S", "created_at": "S"},
    indexes=(Index("status-index", "status", "created_at"),),
    access_patterns=("get a world by id", "status-index: worlds in a status, newest first"),
)
AGENTS = Table(
    logical="Agents",
    stem="agents",
    env="AGENTS_TABLE",
    hash_key="agent_id",
    range_key=None,
    attribute_types={"agent_id": "S", "world_id": "S", "created_at": "S"},
    indexes=(Index("world-index", "world_id", "created_at"),),
    access_patterns=("get an agent by id", "world-index: a world's agents, oldest first"),
)
MEMORY = Table(
    logical="MemoryStreams",
    stem="memory-streams",
    env="MEMORY_TABLE",
    hash_key="agent_id",
    range_key="created_at",
    attribute_types={"agent_id": "S", "created_at": "S", "importance": "N"},
    indexes=(Index("importance-index", "agent_id", "importance"),),
    ttl_attribute="expires_at",
    access_patterns=(
        "an agent's memories, newest first",
        "importance-index: an agent's memories, most important first, above a threshold",
    ),
)
OBJECTS = Table(
    logical="WorldObjects",
    stem="world-objects",
    env="OBJECTS_TABLE",
    hash_key="world_id",
    range_key="object_id",
    attribute_types={"world_id": "S", "object_id": "S", "object_type": "S"},
    indexes=(Index("type-index", "object_type", "world_id"),),
    access_patterns=("a world's objects; one by id", "type-index: a world's objects of a type"),
)
EVENTS = Table(
    logical="Events",
    stem="events",
    env="EVENTS_TABLE",
    hash_key="world_id",
    range_key="timestamp",
    attribute_types={"world_id": "S", "timestamp": "S", "agent_id": "S"},
    indexes=(Index("agent-index", "agent_id", "timestamp"),),
    stream=True,
    access_patterns=(
        "a world's events, newest first, since a time",
        "agent-index: one agent's events, newest first (sparse: only events with an agent)",
    ),
)
SNAPSHOTS = Table(
    logical="Snapshots",
    stem="snapshots",
    env="SNAPSHOTS_TABLE",
    hash_key="world_id",
    range_key="snapshot_id",
    attribute_types={"world_id": "S", "snapshot_id": "S"},
    access_patterns=("a world's snapshots, newest first (ids sort by time)",),
)

CONNECTIONS = Table(
    logical="Connections",
    stem="connections",
    env="CONNECTIONS_TABLE",
    hash_key="connection_id",
    range_key=None,
    attribute_types={"connection_id": "S", "world_id": "S", "connected_at": "S"},
    indexes=(Index("world-index", "world_id", "connected_at"),),
    ttl_attribute="expires_at",
    access_patterns=(
        "the WebSocket connection registry without Redis: a connection by id ($disconnect)",
        "world-index: a world's connections (the events' fan-out)",
    ),
)
"""Added for the WebSocket events (issue 15): used only when Redis is not configured."""

TABLES: tuple[Table, ...] = (WORLDS, AGENTS, MEMORY, OBJECTS, EVENTS, SNAPSHOTS, CONNECTIONS)


def _key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema


def create_table_request(table: Table, name: str) -> dict[str, Any]:
    """The ``CreateTable`` parameters for ``table`` under the real ``name``."""
    request: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": _key_schema(table.hash_key, table.range_key),
        "AttributeDefinitions": [
            {"AttributeName": attribute, "AttributeType": kind}
            for attribute, kind in table.attribute_types.items()
        ],
    }
    if table.indexes:
        request["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index.name,
                "KeySchema": _key_schema(index.hash_key, index.range_key),
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in table.indexes
        ]
    return request


def create_tables(client: Any, names: dict[str, str]) -> None:
    """Create every table with a low-level DynamoDB ``client``; ``names`` maps each table's
    ``env`` variable to its real name. TTL is switched on where the table has one."""
    for table in TABLES:
        client.create_table(**create_table_request(table, names[table.env]))
        if table.ttl_attribute:
            client.update_time_to_live(
                TableName=names[table.env],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )
