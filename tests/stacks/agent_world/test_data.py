"""AgentWorldData, as the agent world stack registers it for the dev and prod stack files."""

from __future__ import annotations

import json

import pytest

from components.lib.agent_world_schema import TABLES

TABLE = "aws:dynamodb/table:Table"
EXPECTED = {
    # table: (hash, range, {index: (hash, range)}, ttl, stream)
    "worlds": ("world_id", None, {"status-index": ("status", "created_at")}, None, False),
    "agents": ("agent_id", None, {"world-index": ("world_id", "created_at")}, None, False),
    "memory-streams": ("agent_id", "created_at", {"importance-index": ("agent_id", "importance")},
                       "expires_at", False),
    "world-objects": ("world_id", "object_id", {"type-index": ("object_type", "world_id")}, None,
                      False),
    "events": ("world_id", "timestamp", {"agent-index": ("agent_id", "timestamp")}, None, True),
    "snapshots": ("world_id", "snapshot_id", {}, None, False),
    # issue 15: the WebSocket connection registry (used when the stack has no Redis)
    "connections": ("connection_id", None, {"world-index": ("world_id", "connected_at")},
                    "expires_at", False),
}  # fmt: skip


@pytest.fixture(scope="module")
def dev(dev):
    return dev.subtree("agent-world-data")


@pytest.fixture(scope="module")
def prod(prod):
    return prod.subtree("agent-world-data")


def tables(run):
    return {t.name.removeprefix("agent-world-data-"): t for t in run.of_type(TABLE)}


def test_the_seeds_six_tables_and_the_registry_with_their_keys_and_indexes(each_stack):
    found = tables(each_stack)
    assert set(found) == set(EXPECTED)
    for logical, (hash_key, range_key, indexes, _, _) in EXPECTED.items():
        table = found[logical].inputs
        assert table["name"] == f"mlplatform-{each_stack.stack}-{logical}"
        assert table["hashKey"] == hash_key
        assert table.get("rangeKey") == range_key
        got = {i["name"]: (i["hashKey"], i.get("rangeKey")) for i in table.get(
            "globalSecondaryIndexes", [])}  # fmt: skip
        assert got == indexes, logical
        declared = {a["name"] for a in table["attributes"]}
        used = {hash_key, range_key} | {k for pair in indexes.values() for k in pair}
        assert declared == used - {None}, logical


def test_importance_is_a_number_and_the_rest_strings(dev):
    memory = tables(dev)["memory-streams"].inputs
    types = {a["name"]: a["type"] for a in memory["attributes"]}
    assert types == {"agent_id": "S", "created_at": "S", "importance": "N"}


def test_every_table_is_on_demand_with_pitr_and_the_stack_key(each_stack):
    key = each_stack.one("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    for table in each_stack.of_type(TABLE):
        assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
        assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
        assert table.inputs["serverSideEncryption"] == {
            "enabled": True, "kmsKeyArn": key.outputs["arn"],
        }  # fmt: skip


def test_memories_expire_and_events_stream(dev):
    found = tables(dev)
    assert found["memory-streams"].inputs["ttl"] == {"attributeName": "expires_at", "enabled": True}
    assert found["events"].inputs["streamEnabled"] is True
    assert found["events"].inputs["streamViewType"] == "NEW_IMAGE"
    assert not found["worlds"].inputs.get("streamEnabled")
    # A registration outlives no connection by long: API Gateway closes them within 2 hours.
    assert found["connections"].inputs["ttl"] == {"attributeName": "expires_at", "enabled": True}


def test_prod_tables_are_protected_dev_tables_are_not(dev, prod):
    for table in prod.of_type(TABLE):
        assert table.inputs["deletionProtectionEnabled"] is True
        assert table.options["protect"] is True
    for table in dev.of_type(TABLE):
        assert table.inputs["deletionProtectionEnabled"] is False
        assert table.options["protect"] is False


def test_snapshots_archive_to_glacier_and_assets_use_sse_s3(each_stack):
    rules = {
        r["id"]: r for r in each_stack.named("agent-world-data-snapshots-lifecycle").inputs["rules"]
    }
    assert rules["archive-to-glacier"]["transitions"] == [{"days": 30, "storageClass": "GLACIER"}]
    (rule,) = each_stack.named("agent-world-data-assets-encryption").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    block = each_stack.named("agent-world-data-assets-public-access-block").inputs
    assert block["blockPublicPolicy"] is True and block["restrictPublicBuckets"] is True


def test_redis_is_encrypted_with_an_auth_token_from_secrets_manager(prod, run_stack):
    dev_with_redis = run_stack("dev", {"agent_world.redis": True}).subtree("agent-world-data")
    for run in (dev_with_redis, prod):
        redis = run.one("aws:elasticache/replicationGroup:ReplicationGroup").inputs
        key = run.one("aws:kms/key:Key").outputs["arn"]
        assert redis["atRestEncryptionEnabled"] is True
        assert redis["transitEncryptionEnabled"] is True
        assert redis["kmsKeyId"] == key
        secret = run.one("aws:secretsmanager/secret:Secret")
        assert secret.inputs["kmsKeyId"] == key
        version = run.one("aws:secretsmanager/secretVersion:SecretVersion")
        assert version.inputs["secretString"] == redis["authToken"]
        subnets = run.one("aws:elasticache/subnetGroup:SubnetGroup").inputs["subnetIds"]
        assert all(s.startswith("subnet-prv") for s in subnets)
    dev_redis = dev_with_redis.one("aws:elasticache/replicationGroup:ReplicationGroup").inputs
    prod_redis = prod.one("aws:elasticache/replicationGroup:ReplicationGroup").inputs
    assert (dev_redis["numCacheClusters"], dev_redis["automaticFailoverEnabled"]) == (1, False)
    assert dev_redis["nodeType"] == "cache.t4g.micro"
    assert (prod_redis["numCacheClusters"], prod_redis["automaticFailoverEnabled"]) == (2, True)
    assert prod_redis["multiAzEnabled"] is True


def test_dev_has_no_redis_nor_its_token(dev):
    # Nothing reads the cache yet: dev does not pay $12 a month for it.
    assert not [r for r in dev.resources if r.type.startswith("aws:elasticache/")]
    assert not dev.of_type("aws:secretsmanager/secret:Secret")


def test_redis_admits_only_the_agent_world_tasks(prod_program):
    group = prod_program.named("agent-world-data-redis-sg")
    assert "ingress" not in group.inputs and "egress" not in group.inputs
    rules = [
        r for r in prod_program.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["securityGroupId"] == group.id
    ]  # fmt: skip
    assert [(r.inputs["referencedSecurityGroupId"], r.inputs["fromPort"]) for r in rules] == [
        (prod_program.named("agent-world-tasks-sg").id, 6379)
    ]


def test_the_key_admits_no_service_of_its_own_the_logs_have_the_platforms_key(each_stack):
    policy = json.loads(each_stack.one("aws:kms/key:Key").inputs["policy"])
    # Only the delegation to IAM: the stack's log groups use the logs key (AuditLogs).
    assert [st["Principal"] for st in policy["Statement"]] == [
        {"AWS": "arn:aws:iam::123456789012:root"}
    ]


def test_the_tables_created_are_the_ones_the_service_defines_and_queries(each_stack):
    # given the service's own definition of its tables (agent_world.schema)
    found = tables(each_stack)
    assert sorted(found) == sorted(spec.stem for spec in TABLES)
    for spec in TABLES:
        # then each registered table has exactly its keys, attribute types, indexes,
        # TTL and stream
        table = found[spec.stem].inputs
        assert (table["hashKey"], table.get("rangeKey")) == (spec.hash_key, spec.range_key)
        assert {a["name"]: a["type"] for a in table["attributes"]} == spec.attribute_types
        assert [
            (i["name"], i["hashKey"], i.get("rangeKey"), i["projectionType"])
            for i in table.get("globalSecondaryIndexes", [])
        ] == [(i.name, i.hash_key, i.range_key, "ALL") for i in spec.indexes], spec.stem
        ttl = table.get("ttl")
        assert (ttl["attributeName"] if ttl else None) == spec.ttl_attribute, spec.stem
        assert bool(table.get("streamEnabled")) is spec.stream, spec.stem
