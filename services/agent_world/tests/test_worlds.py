"""world-management: worlds, objects, snapshots (moto), and what it refuses."""

from __future__ import annotations

import json

import pytest


def test_creating_a_world_returns_it_active_with_an_id(worlds):
    answer = worlds.post(
        "/worlds", json={"name": "Smallville", "description": "a town", "settings": {"g": 9.8}}
    )

    assert answer.status_code == 201
    body = answer.json()
    assert body["status"] == "active" and body["world_id"] and body["settings"] == {"g": 9.8}
    assert worlds.get(f"/worlds/{body['world_id']}").json() == body


def test_creating_an_existing_world_id_is_a_conflict(worlds, world):
    answer = worlds.post("/worlds", json={"world_id": "w1", "name": "again"})

    assert answer.status_code == 409
    assert "already exists" in answer.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x", "settings": []},
        {"name": "x", "world_id": "bad id!"},
        {"name": "x", "unknown": 1},
        {"name": "x", "settings": {"n": 10**60}},
    ],
    ids=["no-name", "empty-name", "settings-not-object", "bad-id", "unknown-field", "huge-number"],
)
def test_a_bad_world_is_refused_with_422(worlds, body):
    assert worlds.post("/worlds", json=body).status_code == 422


def test_an_unknown_world_is_404(worlds, aws):
    answer = worlds.get("/worlds/nope")
    assert answer.status_code == 404 and "nope" in answer.json()["detail"]


def test_worlds_are_listed_by_status_with_pages(worlds):
    for n in range(3):
        worlds.post("/worlds", json={"world_id": f"w{n}", "name": f"W{n}"})

    first = worlds.get("/worlds?status=active&limit=2").json()
    second = worlds.get(f"/worlds?status=active&limit=2&next_token={first['next_token']}").json()

    ids = [w["world_id"] for w in first["worlds"] + second["worlds"]]
    assert sorted(ids) == ["w0", "w1", "w2"]
    assert second["next_token"] is None
    assert worlds.get("/worlds?status=archived").json()["worlds"] == []


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("status=gone", 422),
        ("limit=0", 422),
        ("limit=101", 422),
        ("next_token=%%%", 400),
        ("next_token=eyJ4Ijp7IlMiOiJ5In19", 400),  # {"x":{"S":"y"}}: not this listing's keys
    ],
)
def test_bad_listing_parameters_are_refused(worlds, query, code):
    answer = worlds.get(f"/worlds?{query}")
    assert answer.status_code == code, answer.text


def test_objects_are_put_and_listed_by_type(worlds, world):
    created = worlds.put(
        "/worlds/w1/objects/o1", json={"object_type": "tree", "properties": {"h": 2.5}}
    )
    replaced = worlds.put("/worlds/w1/objects/o1", json={"object_type": "tree", "name": "oak"})
    worlds.put("/worlds/w1/objects/o2", json={"object_type": "house"})

    assert created.status_code == 201 and replaced.status_code == 200
    assert worlds.get("/worlds/w1/objects/o1").json()["name"] == "oak"
    trees = worlds.get("/worlds/w1/objects?type=tree").json()["objects"]
    assert [o["object_id"] for o in trees] == ["o1"]
    every = worlds.get("/worlds/w1/objects").json()["objects"]
    assert {o["object_id"] for o in every} == {"o1", "o2"}


def test_objects_need_an_existing_world_and_a_type(worlds, world):
    assert worlds.put("/worlds/zz/objects/o1", json={"object_type": "t"}).status_code == 404
    assert worlds.put("/worlds/w1/objects/o1", json={}).status_code == 422
    assert worlds.get("/worlds/w1/objects/missing").status_code == 404
    assert worlds.get("/worlds/zz/objects").status_code == 404


def test_a_snapshot_is_written_to_s3_with_kms_and_recorded(worlds, world, aws, bucket):
    worlds.put("/worlds/w1/objects/o1", json={"object_type": "tree"})

    answer = worlds.post("/worlds/w1/snapshots", json={"label": "before"})

    assert answer.status_code == 201, answer.text
    snap = answer.json()
    assert snap["s3_key"] == f"snapshots/w1/{snap['snapshot_id']}.json"
    stored = aws["s3"].get_object(Bucket=bucket, Key=snap["s3_key"])
    assert stored["ServerSideEncryption"] == "aws:kms"
    document = json.loads(stored["Body"].read())
    assert document["world"]["world_id"] == "w1"
    assert [o["object_id"] for o in document["objects"]] == ["o1"]
    assert snap["counts"] == {"agents": 0, "objects": 1, "events": 0}
    listed = worlds.get("/worlds/w1/snapshots").json()["snapshots"]
    assert [s["snapshot_id"] for s in listed] == [snap["snapshot_id"]]


def test_snapshot_uses_the_configured_kms_key(make_client, world, aws, bucket):
    client = make_client("world-management", snapshot_kms_key_id="alias/aw-test")

    snap = client.post("/worlds/w1/snapshots").json()

    head = aws["s3"].head_object(Bucket=bucket, Key=snap["s3_key"])
    assert head["SSEKMSKeyId"].endswith("alias/aw-test")


def test_snapshots_of_an_unknown_world_are_404(worlds, aws):
    assert worlds.post("/worlds/nope/snapshots").status_code == 404
    assert worlds.get("/worlds/nope/snapshots").status_code == 404


def test_world_management_serves_no_agent_or_llm_paths(worlds, world):
    assert worlds.get("/agents/a1").status_code == 404
    assert worlds.post("/worlds/w1/agents", json={"name": "x"}).status_code == 404
    assert worlds.post("/completions", json={}).status_code == 404
    assert worlds.get("/health").json() == {"status": "ok", "role": "world-management"}


def test_a_missing_table_is_503_with_its_code_not_a_500(worlds, aws, table_names):
    aws["dynamodb"].delete_table(TableName=table_names["WORLDS_TABLE"])

    answer = worlds.get("/worlds/w1")

    assert answer.status_code == 503
    assert answer.json()["detail"] == "storage unavailable: ResourceNotFoundException"


def test_a_body_over_the_limit_is_413(make_client):
    client = make_client("world-management", max_body_bytes=100)
    answer = client.post("/worlds", json={"name": "x" * 200})
    assert answer.status_code == 413
