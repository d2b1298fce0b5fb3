"""Snapshots read back and restored on moto: one snapshot, its document, a restore that
replaces the world's settings, objects and agents, and what a restore refuses."""

from __future__ import annotations

import json

import pytest
from agent_world import state
from agent_world.store import ConflictError


@pytest.fixture
def snapshot(worlds, runtime, agent) -> dict:
    """w1 with objects o1, o2 and agent a1 (state calm), snapshotted."""
    worlds.put("/worlds/w1/objects/o1", json={"object_type": "tree", "properties": {"h": 2}})
    worlds.put("/worlds/w1/objects/o2", json={"object_type": "house"})
    runtime.patch("/agents/a1", json={"version": 1, "state": {"mood": "calm"}})
    answer = worlds.post("/worlds/w1/snapshots", json={"label": "before"})
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_one_snapshot_is_read_back(worlds, snapshot):
    answer = worlds.get(f"/worlds/w1/snapshots/{snapshot['snapshot_id']}")

    assert answer.status_code == 200 and answer.json() == snapshot


def test_a_snapshot_document_is_read_back_from_s3(worlds, snapshot):
    answer = worlds.get(f"/worlds/w1/snapshots/{snapshot['snapshot_id']}/document")

    assert answer.status_code == 200
    document = json.loads(answer.content)
    assert document["snapshot_id"] == snapshot["snapshot_id"]
    assert [o["object_id"] for o in document["objects"]] == ["o1", "o2"]
    assert document["agents"][0]["state"] == {"mood": "calm"}


def test_unknown_and_malformed_snapshot_ids(worlds, world):
    missing = worlds.get("/worlds/w1/snapshots/20250102T030405123456Z-1a2b3c4d")
    assert missing.status_code == 404 and "20250102T030405123456Z-1a2b3c4d" in missing.text
    assert worlds.get("/worlds/nope/snapshots/20250102T030405123456Z-1a2b3c4d").status_code == 404
    assert worlds.get("/worlds/w1/snapshots/not-an-id").status_code == 422
    restore = worlds.post("/worlds/w1/snapshots/20250102T030405123456Z-1a2b3c4d/restore")
    assert restore.status_code == 409  # w1 is active: the status is checked first
    worlds.post("/worlds/w1/pause")
    restore = worlds.post("/worlds/w1/snapshots/20250102T030405123456Z-1a2b3c4d/restore")
    assert restore.status_code == 404


def test_restore_replaces_settings_objects_and_agents_and_bumps_versions(worlds, runtime, snapshot):
    # After the snapshot: an object changed, one added, one deleted from view; agent
    # changed; a second agent added; the world's settings stay as they were.
    worlds.put("/worlds/w1/objects/o1", json={"object_type": "stump"})
    worlds.put("/worlds/w1/objects/o3", json={"object_type": "rock"})
    runtime.patch("/agents/a1", json={"version": 2, "state": {"mood": "angry"}})
    runtime.post("/worlds/w1/agents", json={"agent_id": "a2", "name": "Klaus"})
    paused = worlds.post("/worlds/w1/pause").json()

    answer = worlds.post(
        f"/worlds/w1/snapshots/{snapshot['snapshot_id']}/restore",
        headers={"If-Match": f'"{paused["version"]}"'},
    )

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["restored"] == {"agents": 1, "objects": 2}
    # Two writes of the world: paused → restoring (with the snapshot's settings) → paused.
    assert body["world"]["version"] == paused["version"] + 2
    assert body["world"]["status"] == "paused"
    assert body["world"]["restored_from"] == snapshot["snapshot_id"]
    assert body["world"]["status"] == "paused"
    objects = worlds.get("/worlds/w1/objects").json()["objects"]
    assert {o["object_id"]: o["object_type"] for o in objects} == {"o1": "tree", "o2": "house"}
    restored = runtime.get("/agents/a1").json()
    assert restored["state"] == {"mood": "calm"}
    assert restored["version"] == 4  # above both the snapshot's 2 and the current 3
    assert runtime.get("/agents/a2").status_code == 404
    # A client holding the pre-restore version loses.
    stale = runtime.patch("/agents/a1", json={"version": 3, "name": "x"})
    assert stale.status_code == 409  # paused: refused before the version is even tried
    worlds.post("/worlds/w1/resume")
    stale = runtime.patch("/agents/a1", json={"version": 3, "name": "x"})
    assert stale.status_code == 409 and stale.json()["current_version"] == 4


@pytest.mark.parametrize("status", ["active", "archived"])
def test_restore_needs_a_paused_world(worlds, snapshot, status):
    if status == "archived":
        worlds.post("/worlds/w1/archive")

    answer = worlds.post(f"/worlds/w1/snapshots/{snapshot['snapshot_id']}/restore")

    assert answer.status_code == 409 and answer.json()["current_status"] == status


def test_a_restore_racing_a_resume_loses(worlds, snapshot, aws, table_names, monkeypatch):
    """The restore read the world paused at version n; a resume lands before its conditional
    write: the restore is refused and nothing of the world is replaced."""
    worlds.post("/worlds/w1/pause")
    table = aws["resource"].Table(table_names["WORLDS_TABLE"])
    real = state.restore_world

    def resume_first(*args, **kwargs):
        state.transition_world(table, "w1", "resume", "t-race")
        return real(*args, **kwargs)

    monkeypatch.setattr(state, "restore_world", resume_first)
    answer = worlds.post(f"/worlds/w1/snapshots/{snapshot['snapshot_id']}/restore")

    assert answer.status_code == 409
    assert answer.json()["current_status"] == "active"
    assert "restored_from" not in worlds.get("/worlds/w1").json()


def test_of_two_restores_at_one_version_one_loses(worlds, snapshot, aws, table_names):
    worlds.post("/worlds/w1/pause")
    table = aws["resource"].Table(table_names["WORLDS_TABLE"])
    version = state.version_of(state.get_world(table, "w1"))

    state.restore_world(table, "w1", {"name": "A"}, snapshot["snapshot_id"], "t1", version)
    with pytest.raises(ConflictError) as lost:
        state.restore_world(table, "w1", {"name": "B"}, snapshot["snapshot_id"], "t2", version)

    assert lost.value.fields["current_version"] == version + 1
    assert state.get_world(table, "w1")["name"] == "A"


def test_a_stale_if_match_on_restore_is_409(worlds, snapshot):
    worlds.post("/worlds/w1/pause")

    answer = worlds.post(
        f"/worlds/w1/snapshots/{snapshot['snapshot_id']}/restore", json={"version": 1}
    )

    assert answer.status_code == 409 and answer.json()["current_version"] == 2


def test_a_truncated_snapshot_is_not_restored(worlds, runtime, world, monkeypatch):
    worlds.put("/worlds/w1/objects/o1", json={"object_type": "t"})
    worlds.put("/worlds/w1/objects/o2", json={"object_type": "t"})
    from agent_world import worlds as worlds_module

    monkeypatch.setattr(worlds_module, "SNAPSHOT_OBJECTS", 1)
    snap = worlds.post("/worlds/w1/snapshots").json()
    worlds.post("/worlds/w1/pause")

    answer = worlds.post(f"/worlds/w1/snapshots/{snap['snapshot_id']}/restore")

    assert answer.status_code == 409 and "truncated" in answer.json()["detail"]


def test_a_snapshot_whose_document_is_gone_is_409(worlds, snapshot, aws, bucket):
    aws["s3"].delete_object(Bucket=bucket, Key=snapshot["s3_key"])
    worlds.post("/worlds/w1/pause")

    document = worlds.get(f"/worlds/w1/snapshots/{snapshot['snapshot_id']}/document")
    restore = worlds.post(f"/worlds/w1/snapshots/{snapshot['snapshot_id']}/restore")

    for answer in (document, restore):
        assert answer.status_code == 409 and "gone" in answer.json()["detail"]


def test_a_snapshot_in_glacier_says_so(worlds, snapshot, aws, bucket):
    aws["s3"].copy_object(
        Bucket=bucket,
        Key=snapshot["s3_key"],
        CopySource={"Bucket": bucket, "Key": snapshot["s3_key"]},
        StorageClass="GLACIER",
        ServerSideEncryption="aws:kms",
    )

    answer = worlds.get(f"/worlds/w1/snapshots/{snapshot['snapshot_id']}/document")

    assert answer.status_code == 409 and "Glacier" in answer.json()["detail"]


def test_a_document_too_large_for_api_gateway_is_refused(worlds, snapshot, aws, table_names):
    table = aws["resource"].Table(table_names["SNAPSHOTS_TABLE"])
    key = {"world_id": "w1", "snapshot_id": snapshot["snapshot_id"]}
    table.update_item(
        Key=key, UpdateExpression="SET size_bytes = :n", ExpressionAttributeValues={":n": 11**7}
    )

    answer = worlds.get(f"/worlds/w1/snapshots/{snapshot['snapshot_id']}/document")

    assert answer.status_code == 409 and "10000000" in answer.json()["detail"]


def test_an_agent_id_taken_by_another_world_is_not_restored(
    worlds, runtime, snapshot, aws, table_names
):
    table = aws["resource"].Table(table_names["AGENTS_TABLE"])
    table.update_item(
        Key={"agent_id": "a1"},
        UpdateExpression="SET world_id = :w",
        ExpressionAttributeValues={":w": "w9"},
    )

    with pytest.raises(ConflictError):
        state.put_restored_agent(table, {"agent_id": "a1", "world_id": "w1", "name": "x"})
    assert state.get_agent(table, "a1")["world_id"] == "w9"


def test_while_restoring_no_transition_or_child_write_is_accepted(
    worlds, runtime, snapshot, monkeypatch
):
    """Mid-restore (its agents being written), a resume, an agent create or update and an
    object write are each refused with the world's status; afterwards it is paused again."""
    worlds.post("/worlds/w1/pause")
    real = state.put_restored_agent
    during: dict[str, object] = {}

    def meanwhile(table, item):
        during["status"] = worlds.get("/worlds/w1").json()["status"]
        during["resume"] = worlds.post("/worlds/w1/resume")
        during["archive"] = worlds.post("/worlds/w1/archive")
        during["create"] = runtime.post("/worlds/w1/agents", json={"agent_id": "a9", "name": "X"})
        during["patch"] = runtime.patch("/agents/a1", json={"name": "X"}, headers={"If-Match": "*"})
        during["object"] = worlds.put("/worlds/w1/objects/o9", json={"object_type": "rock"})
        return real(table, item)

    monkeypatch.setattr(state, "put_restored_agent", meanwhile)
    answer = worlds.post(f"/worlds/w1/snapshots/{snapshot['snapshot_id']}/restore")

    assert answer.status_code == 200, answer.text
    assert during.pop("status") == "restoring"
    for what, refused in during.items():
        assert refused.status_code == 409, what
        assert refused.json()["current_status"] == "restoring", what
    assert worlds.get("/worlds/w1").json()["status"] == "paused"
    assert runtime.get("/agents/a9").status_code == 404
    assert worlds.get("/worlds/w1/objects/o9").status_code == 404


def test_a_restore_that_stopped_part_way_is_finished_by_restoring_again(
    worlds, runtime, snapshot, monkeypatch
):
    worlds.post("/worlds/w1/pause")
    real = state.put_restored_agent

    def dies(table, item):
        raise ConnectionError("killed mid-restore")

    monkeypatch.setattr(state, "put_restored_agent", dies)
    path = f"/worlds/w1/snapshots/{snapshot['snapshot_id']}/restore"
    assert worlds.post(path).status_code == 500
    assert worlds.get("/worlds/w1").json()["status"] == "restoring"
    assert worlds.post("/worlds/w1/resume").json()["current_status"] == "restoring"

    monkeypatch.setattr(state, "put_restored_agent", real)
    again = worlds.post(path)
    assert again.status_code == 200, again.text
    assert again.json()["world"]["status"] == "paused"
    assert worlds.post("/worlds/w1/resume").status_code == 200
