"""The key schema the infrastructure must create, and that moto builds from it."""

from __future__ import annotations

from agent_world import schema


def keys(description, kind):
    return next(k["AttributeName"] for k in description if k["KeyType"] == kind)


def test_the_tables_are_the_seeds_six_and_the_connections_with_their_env_variables():
    assert [(t.logical, t.env) for t in schema.TABLES] == [
        ("Worlds", "WORLDS_TABLE"),
        ("Agents", "AGENTS_TABLE"),
        ("MemoryStreams", "MEMORY_TABLE"),
        ("WorldObjects", "OBJECTS_TABLE"),
        ("Events", "EVENTS_TABLE"),
        ("Snapshots", "SNAPSHOTS_TABLE"),
        # issue 15: the WebSocket connection registry (used when Redis is not configured)
        ("Connections", "CONNECTIONS_TABLE"),
    ]


def test_the_infrastructure_names_each_table_by_its_fixed_stem():
    # The stems are in the tables' physical names and resource names: they never change.
    assert [t.stem for t in schema.TABLES] == [
        "worlds", "agents", "memory-streams", "world-objects", "events", "snapshots",
        "connections",
    ]  # fmt: skip


def test_only_the_events_table_streams_and_create_tables_leaves_the_stream_off():
    assert [t.logical for t in schema.TABLES if t.stream] == ["Events"]
    assert "StreamSpecification" not in schema.create_table_request(schema.EVENTS, "events")


def test_keys_and_indexes_are_exactly_the_agreed_ones():
    summary = {
        t.logical: (
            t.hash_key,
            t.range_key,
            {i.name: (i.hash_key, i.range_key) for i in t.indexes},
            t.ttl_attribute,
        )
        for t in schema.TABLES
    }
    assert summary == {
        "Worlds": ("world_id", None, {"status-index": ("status", "created_at")}, None),
        "Agents": ("agent_id", None, {"world-index": ("world_id", "created_at")}, None),
        "MemoryStreams": (
            "agent_id",
            "created_at",
            {"importance-index": ("agent_id", "importance")},
            "expires_at",
        ),
        "WorldObjects": (
            "world_id",
            "object_id",
            {"type-index": ("object_type", "world_id")},
            None,
        ),
        "Events": ("world_id", "timestamp", {"agent-index": ("agent_id", "timestamp")}, None),
        "Snapshots": ("world_id", "snapshot_id", {}, None),
        "Connections": (
            "connection_id",
            None,
            {"world-index": ("world_id", "connected_at")},
            "expires_at",
        ),
    }
    assert schema.MEMORY.attribute_types["importance"] == "N"
    # Every key attribute has a type, and only key attributes do.
    for table in schema.TABLES:
        used = {table.hash_key, table.range_key} - {None}
        for index in table.indexes:
            used |= {index.hash_key, index.range_key} - {None}
        assert set(table.attribute_types) == used, table.logical


def test_moto_builds_the_tables_as_described(aws, table_names):
    client = aws["dynamodb"]
    for table in schema.TABLES:
        description = client.describe_table(TableName=table_names[table.env])["Table"]
        assert keys(description["KeySchema"], "HASH") == table.hash_key
        assert description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        indexes = {
            i["IndexName"]: keys(i["KeySchema"], "HASH")
            for i in description.get("GlobalSecondaryIndexes", [])
        }
        assert indexes == {i.name: i.hash_key for i in table.indexes}
    ttl = client.describe_time_to_live(TableName=table_names["MEMORY_TABLE"])
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"


def test_page_token_key_attributes_cover_table_and_index_keys():
    assert schema.EVENTS.key_attributes("agent-index") == {"world_id", "timestamp", "agent_id"}
    assert schema.WORLDS.key_attributes() == {"world_id"}
