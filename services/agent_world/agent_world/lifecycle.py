"""The world operations that touch many items: the delete cascade and the restore from a
snapshot, and reading a snapshot's document back from S3.

Both go page by page (``PAGE`` items per query, deletes in DynamoDB batches of 25 through
boto3's batch writer, which resends unprocessed items), so a world of any size is deleted
without holding it in memory. World and agent items are written only through ``state``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from agent_world import state
from agent_world.store import ConflictError, NotFoundError, to_dynamo

log = logging.getLogger(__name__)

PAGE = 100
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
"""A snapshot document larger than this is not read into memory (restore refuses it)."""


def delete_matching(
    table: Any, key_names: tuple[str, ...], before: Callable[[list], None] | None = None,
    **query: Any,
) -> list[dict]:  # fmt: skip
    """Delete every item a query returns, page by page (``before(items)`` first, for each
    page); returns the deleted items' keys (and their ``s3_key`` where they have one)."""
    deleted: list[dict] = []
    while True:
        answer = table.query(Limit=PAGE, **query)
        items = answer.get("Items", [])
        if before is not None:
            before(items)
        with table.batch_writer() as batch:
            for item in items:
                # The batch writer's delete_item is a BatchWriteItem entry, not a DeleteItem.
                batch.delete_item(Key={k: item[k] for k in key_names})
        deleted += [{k: item[k] for k in (*key_names, "s3_key") if k in item} for item in items]
        last = answer.get("LastEvaluatedKey")
        if not last:
            return deleted
        # Deleted items still work as a start key: a key need not exist to continue from.
        query["ExclusiveStartKey"] = last


def delete_cascade(t: Any, world_id: str, now: str) -> dict[str, int]:
    """Mark the world ``deleting`` (conditional: only an archived world, or one already being
    deleted), delete its objects, events, agents (each agent's memories before it, so that
    a retry still finds the agent whose memories are left) and snapshots (each page's S3
    documents before its items, so a retry still finds a document left), then the world.
    Returns the counts deleted."""
    state.transition_world(t.worlds, world_id, "delete", now)
    where = Key("world_id").eq(world_id)
    objects = delete_matching(t.objects, ("world_id", "object_id"), KeyConditionExpression=where)
    events = delete_matching(t.events, ("world_id", "timestamp"), KeyConditionExpression=where)
    memories: list[dict] = []

    def forget(agents: list) -> None:
        for agent in agents:
            memories.extend(
                delete_matching(
                    t.memory, ("agent_id", "created_at"),
                    KeyConditionExpression=Key("agent_id").eq(agent["agent_id"]),
                )
            )  # fmt: skip

    agents = delete_matching(
        t.agents, ("agent_id",), forget, IndexName="world-index", KeyConditionExpression=where
    )

    def drop_documents(page: list) -> None:
        # Each page's S3 documents before its items: a failure (or a task dying) here leaves
        # the items, so a retried delete finds the documents again (deleting a key already
        # gone is a 204). A versioned bucket keeps the old version until its lifecycle
        # expires it.
        for snapshot in page:
            if "s3_key" in snapshot:
                t.s3.delete_object(Bucket=t.bucket, Key=snapshot["s3_key"])

    snapshots = delete_matching(
        t.snapshots, ("world_id", "snapshot_id"), drop_documents, KeyConditionExpression=where
    )
    state.delete_world(t.worlds, world_id)
    counts = {
        "objects": len(objects),
        "events": len(events),
        "agents": len(agents),
        "memories": len(memories),
        "snapshots": len(snapshots),
    }
    log.info("world deleted", extra={"world_id": world_id, **counts})
    return counts


def get_snapshot(t: Any, world_id: str, snapshot_id: str) -> dict[str, Any]:
    state.get_world(t.worlds, world_id)
    item = t.snapshots.get_item(Key={"world_id": world_id, "snapshot_id": snapshot_id}).get("Item")
    if item is None:
        raise NotFoundError(f"snapshot {snapshot_id!r} of world {world_id!r} not found")
    return item


def read_document(t: Any, snapshot: Mapping[str, Any]) -> bytes:
    """The snapshot's JSON document from S3; ``ConflictError`` when S3 cannot hand it over
    now (moved to Glacier, gone) or it is too large to hold in memory."""
    if int(snapshot.get("size_bytes", 0)) > MAX_DOCUMENT_BYTES:
        raise ConflictError(
            f"snapshot {snapshot['snapshot_id']!r} is {snapshot['size_bytes']} bytes, "
            f"over the {MAX_DOCUMENT_BYTES} bytes this service reads"
        )
    try:
        answer = t.s3.get_object(Bucket=snapshot.get("s3_bucket", t.bucket), Key=snapshot["s3_key"])
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "InvalidObjectState":
            raise ConflictError(
                f"snapshot {snapshot['snapshot_id']!r} has moved to Glacier: restore the S3 "
                f"object {snapshot['s3_key']!r} (S3 RestoreObject) first"
            ) from None
        if code in ("NoSuchKey", "404"):
            raise ConflictError(
                f"snapshot {snapshot['snapshot_id']!r}: its document is gone from S3"
            ) from None
        raise
    return answer["Body"].read()


def restore(t: Any, world_id: str, snapshot_id: str, expected_version: int | None, now: str):
    """Replace the paused world's settings, objects and agents with the snapshot's.

    The world item is updated first, conditionally (still paused, still at the version read
    here, or at ``expected_version``), and marked ``restoring``: of two restores, or a
    restore and a resume, one wins, and until the agents and objects are written no
    transition (resume included) and no write of an object or agent is accepted; then the
    world is ``paused`` again (``state.finish_restore``). A restore that stopped part way
    leaves the world ``restoring``: restoring again finishes it. Agents
    come back at a version above both their snapshot's and their current one, so a client
    holding an old version cannot overwrite a restored agent."""
    world = state.get_world(t.worlds, world_id)
    state.require_status(world, state.RESTORABLE, "restore")
    version = state.version_of(world) if expected_version is None else expected_version
    snapshot = get_snapshot(t, world_id, snapshot_id)
    document = json.loads(read_document(t, snapshot))
    if any(document.get("truncated", {}).values()):
        raise ConflictError(
            f"snapshot {snapshot_id!r} is truncated ({document['truncated']}): restoring it "
            "would delete what it left out"
        )
    restored = state.restore_world(
        t.worlds, world_id, to_dynamo(document["world"]), snapshot_id, now, version
    )
    where = Key("world_id").eq(world_id)
    old_agents = _all(t.agents, IndexName="world-index", KeyConditionExpression=where)
    current_versions = {a["agent_id"]: state.version_of(a) for a in old_agents}
    keep = {a["agent_id"] for a in document["agents"]}
    with t.agents.batch_writer() as batch:
        for agent in old_agents:
            if agent["agent_id"] not in keep:
                batch.delete_item(Key={"agent_id": agent["agent_id"]})
    for agent in to_dynamo(document["agents"]):
        before = max(state.version_of(agent), current_versions.get(agent["agent_id"], 0))
        state.put_restored_agent(
            t.agents, {**agent, "world_id": world_id, "version": before + 1, "updated_at": now}
        )
    kept_objects = {o["object_id"] for o in document["objects"]}
    old_objects = _all(t.objects, KeyConditionExpression=where, ProjectionExpression="object_id")
    with t.objects.batch_writer() as batch:
        for item in old_objects:
            if item["object_id"] not in kept_objects:
                batch.delete_item(Key={"world_id": world_id, "object_id": item["object_id"]})
        for item in to_dynamo(document["objects"]):
            batch.put_item(Item={**item, "world_id": world_id})
    restored = state.finish_restore(t.worlds, world_id, now, state.version_of(restored))
    counts = {"agents": len(document["agents"]), "objects": len(document["objects"])}
    log.info("world restored", extra={"world_id": world_id, "snapshot_id": snapshot_id})
    return restored, counts


def _all(table: Any, **query: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        answer = table.query(**query)
        items += answer.get("Items", [])
        if not answer.get("LastEvaluatedKey"):
            return items
        query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
