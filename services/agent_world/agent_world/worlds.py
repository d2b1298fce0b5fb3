"""The world-management role: worlds and their lifecycle, world objects and snapshots.

World items are read and written only through ``agent_world.state`` (the status machine and
its conditional writes); the delete cascade and the restore are in ``agent_world.lifecycle``.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from boto3.dynamodb.conditions import Key
from fastapi import APIRouter, Header, HTTPException, Path, Response, status

from agent_world import lifecycle, schema, state
from agent_world.models import (
    ANY_VERSION,
    Limit,
    NextToken,
    ObjectId,
    ObjectPut,
    SnapshotCreate,
    VersionedAction,
    WorldCreate,
    WorldId,
    WorldStatus,
    etag,
    expected_version,
)
from agent_world.store import (
    compact_id,
    get_or_404,
    iso,
    put_new,
    query_all,
    query_page,
    to_plain,
    utc_now,
)

SnapshotId = Annotated[str, Path(pattern=r"^[0-9]{8}T[0-9]{12}Z-[0-9a-f]{8}$")]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=64)]
SNAPSHOTTABLE = ("active", "paused", "archived")

log = logging.getLogger(__name__)

SNAPSHOT_AGENTS = 1000
SNAPSHOT_OBJECTS = 5000
SNAPSHOT_EVENTS = 100


@dataclass(frozen=True)
class WorldTables:
    worlds: Any
    agents: Any
    memory: Any
    objects: Any
    events: Any
    snapshots: Any
    s3: Any
    bucket: str
    kms_key_id: str = ""


def router(t: WorldTables) -> APIRouter:
    api = APIRouter(tags=["worlds"])

    @api.post("/worlds", status_code=status.HTTP_201_CREATED)
    def create_world(body: WorldCreate) -> dict[str, Any]:
        now = iso(utc_now())
        item = {
            "world_id": body.world_id or str(uuid.uuid4()),
            "name": body.name,
            "description": body.description,
            "settings": body.settings,
            "status": "active",
            "created_at": now,
            "updated_at": now,
        }
        item = state.create_world(t.worlds, item)
        log.info("world created", extra={"world_id": item["world_id"]})
        return to_plain(item)

    @api.get("/worlds/{world_id}")
    def get_world(world_id: WorldId, response: Response) -> dict[str, Any]:
        world = state.get_world(t.worlds, world_id)
        response.headers["ETag"] = etag(state.version_of(world))
        return to_plain(world)

    def transition(
        world_id: str, action: str, body: VersionedAction | None, if_match: str | None,
        response: Response,
    ) -> dict[str, Any]:  # fmt: skip
        expected = _expected(if_match, body.version if body else None)
        world = state.transition_world(
            t.worlds, world_id, action, iso(utc_now()),
            None if expected == ANY_VERSION else expected,
        )  # fmt: skip
        log.info("world " + state.TRANSITIONS[action].to, extra={"world_id": world_id})
        response.headers["ETag"] = etag(state.version_of(world))
        return to_plain(world)

    @api.post("/worlds/{world_id}/pause")
    def pause_world(
        world_id: WorldId, response: Response, body: VersionedAction | None = None,
        if_match: IfMatch = None,
    ) -> dict[str, Any]:  # fmt: skip
        return transition(world_id, "pause", body, if_match, response)

    @api.post("/worlds/{world_id}/resume")
    def resume_world(
        world_id: WorldId, response: Response, body: VersionedAction | None = None,
        if_match: IfMatch = None,
    ) -> dict[str, Any]:  # fmt: skip
        return transition(world_id, "resume", body, if_match, response)

    @api.post("/worlds/{world_id}/archive")
    def archive_world(
        world_id: WorldId, response: Response, body: VersionedAction | None = None,
        if_match: IfMatch = None,
    ) -> dict[str, Any]:  # fmt: skip
        return transition(world_id, "archive", body, if_match, response)

    @api.delete("/worlds/{world_id}")
    def delete_world(world_id: WorldId) -> dict[str, Any]:
        counts = lifecycle.delete_cascade(t, world_id, iso(utc_now()))
        return {"world_id": world_id, "deleted": counts}

    @api.get("/worlds")
    def list_worlds(
        status: WorldStatus = "active", limit: Limit = 20, next_token: NextToken = None
    ) -> dict[str, Any]:
        page = query_page(
            t.worlds,
            schema.WORLDS,
            index="status-index",
            limit=limit,
            token=next_token,
            KeyConditionExpression=Key("status").eq(status),
            ScanIndexForward=False,
        )
        return page.body("worlds")

    @api.put("/worlds/{world_id}/objects/{object_id}")
    def put_object(
        world_id: WorldId, object_id: ObjectId, body: ObjectPut, response: Response
    ) -> dict[str, Any]:
        world = state.get_world(t.worlds, world_id)
        state.require_status(world, state.WRITABLE, "write its objects")
        item = {
            "world_id": world_id,
            "object_id": object_id,
            "object_type": body.object_type,
            "name": body.name,
            "properties": body.properties,
            "updated_at": iso(utc_now()),
        }
        # In one transaction with the world being active (no pause or restore in between);
        # a transaction returns no old item, so: create, else replace.
        new = {"Item": item, "ConditionExpression": "attribute_not_exists(#k)",
               "ExpressionAttributeNames": {"#k": "object_id"}}  # fmt: skip
        doing = "write its objects"
        try:
            state.write_in_active_world(t.worlds, t.objects, world_id, doing, "Put", new)
            response.status_code = status.HTTP_201_CREATED
        except state.ChildConditionError:
            state.write_in_active_world(
                t.worlds, t.objects, world_id, doing, "Put", {"Item": item}, old={}
            )
            response.status_code = status.HTTP_200_OK
        return to_plain(item)

    @api.get("/worlds/{world_id}/objects/{object_id}")
    def get_object(world_id: WorldId, object_id: ObjectId) -> dict[str, Any]:
        key = {"world_id": world_id, "object_id": object_id}
        return to_plain(get_or_404(t.objects, key, "object"))

    @api.get("/worlds/{world_id}/objects")
    def list_objects(
        world_id: WorldId,
        type: ObjectId | None = None,
        limit: Limit = 20,
        next_token: NextToken = None,
    ) -> dict[str, Any]:
        state.get_world(t.worlds, world_id)
        if type is None:
            page = query_page(
                t.objects,
                schema.OBJECTS,
                limit=limit,
                token=next_token,
                KeyConditionExpression=Key("world_id").eq(world_id),
            )
        else:
            page = query_page(
                t.objects,
                schema.OBJECTS,
                index="type-index",
                limit=limit,
                token=next_token,
                KeyConditionExpression=Key("object_type").eq(type) & Key("world_id").eq(world_id),
            )
        return page.body("objects")

    @api.post("/worlds/{world_id}/snapshots", status_code=status.HTTP_201_CREATED)
    def create_snapshot(world_id: WorldId, body: SnapshotCreate | None = None) -> dict[str, Any]:
        world = state.get_world(t.worlds, world_id)
        state.require_status(world, SNAPSHOTTABLE, "snapshot it")
        moment = utc_now()
        snapshot_id = compact_id(moment)
        agents, agents_cut = query_all(
            t.agents,
            SNAPSHOT_AGENTS,
            IndexName="world-index",
            KeyConditionExpression=Key("world_id").eq(world_id),
        )
        objects, objects_cut = query_all(
            t.objects, SNAPSHOT_OBJECTS, KeyConditionExpression=Key("world_id").eq(world_id)
        )
        events = t.events.query(
            KeyConditionExpression=Key("world_id").eq(world_id),
            ScanIndexForward=False,
            Limit=SNAPSHOT_EVENTS,
        ).get("Items", [])
        document = {
            "format": 1,
            "snapshot_id": snapshot_id,
            "created_at": iso(moment),
            "world": world,
            "agents": agents,
            "objects": objects,
            "recent_events": events,
            "truncated": {"agents": agents_cut, "objects": objects_cut},
        }
        data = json.dumps(to_plain(document), sort_keys=True).encode()
        s3_key = f"snapshots/{world_id}/{snapshot_id}.json"
        encryption: dict[str, str] = {"ServerSideEncryption": "aws:kms"}
        if t.kms_key_id:
            encryption["SSEKMSKeyId"] = t.kms_key_id
        t.s3.put_object(
            Bucket=t.bucket,
            Key=s3_key,
            Body=data,
            ContentType="application/json",
            **encryption,
        )
        item = {
            "world_id": world_id,
            "snapshot_id": snapshot_id,
            "label": body.label if body else "",
            "created_at": iso(moment),
            "s3_bucket": t.bucket,
            "s3_key": s3_key,
            "size_bytes": len(data),
            "counts": {"agents": len(agents), "objects": len(objects), "events": len(events)},
        }
        put_new(t.snapshots, item, "snapshot_id", "snapshot")
        log.info("snapshot written", extra={"world_id": world_id, "snapshot_id": snapshot_id})
        return to_plain(item)

    @api.get("/worlds/{world_id}/snapshots")
    def list_snapshots(
        world_id: WorldId, limit: Limit = 20, next_token: NextToken = None
    ) -> dict[str, Any]:
        state.get_world(t.worlds, world_id)
        page = query_page(
            t.snapshots,
            schema.SNAPSHOTS,
            limit=limit,
            token=next_token,
            KeyConditionExpression=Key("world_id").eq(world_id),
            ScanIndexForward=False,
        )
        return page.body("snapshots")

    @api.get("/worlds/{world_id}/snapshots/{snapshot_id}")
    def get_snapshot(world_id: WorldId, snapshot_id: SnapshotId) -> dict[str, Any]:
        return to_plain(lifecycle.get_snapshot(t, world_id, snapshot_id))

    @api.get("/worlds/{world_id}/snapshots/{snapshot_id}/document")
    def get_snapshot_document(world_id: WorldId, snapshot_id: SnapshotId) -> Response:
        snapshot = lifecycle.get_snapshot(t, world_id, snapshot_id)
        if int(snapshot.get("size_bytes", 0)) > MAX_RESPONSE_BYTES:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"snapshot {snapshot_id!r} is {snapshot['size_bytes']} bytes, over API "
                f"Gateway's {MAX_RESPONSE_BYTES}-byte response limit: restore it instead",
            )
        data = lifecycle.read_document(t, snapshot)
        return Response(data, media_type="application/json")

    @api.post("/worlds/{world_id}/snapshots/{snapshot_id}/restore")
    def restore_snapshot(
        world_id: WorldId, snapshot_id: SnapshotId, response: Response,
        body: VersionedAction | None = None, if_match: IfMatch = None,
    ) -> dict[str, Any]:  # fmt: skip
        expected = _expected(if_match, body.version if body else None)
        world, counts = lifecycle.restore(
            t, world_id, snapshot_id, None if expected == ANY_VERSION else expected,
            iso(utc_now()),
        )  # fmt: skip
        response.headers["ETag"] = etag(state.version_of(world))
        return {"world": to_plain(world), "restored": counts}

    return api


MAX_RESPONSE_BYTES = 10_000_000
"""API Gateway REST APIs return at most 10 MB ("Amazon API Gateway quotas")."""


def _expected(if_match: str | None, body_version: int | None) -> int | str | None:
    try:
        return expected_version(if_match, body_version)
    except ValueError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None
