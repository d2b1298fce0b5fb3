"""World lifecycle on moto: every transition of the status machine, the illegal ones (409
with the current status), the race of two conditional writes, writes refused in a world
that is not active, and the delete cascade."""

from __future__ import annotations

import pytest
from agent_world import lifecycle, state
from agent_world.store import ConflictError, NotFoundError
from boto3.dynamodb.conditions import Key

ACTIONS = ("pause", "resume", "archive")
# From each status, the actions that are legal and the status they lead to.
LEGAL = {
    "active": {"pause": "paused", "archive": "archived"},
    "paused": {"resume": "active", "archive": "archived"},
    "archived": {},
}


def put_world_in(worlds, status: str) -> None:
    """World w1, brought to ``status`` through the API."""
    path = {"active": [], "paused": ["pause"], "archived": ["archive"]}[status]
    for action in path:
        assert worlds.post(f"/worlds/w1/{action}").status_code == 200


@pytest.mark.parametrize(
    ("start", "action"), [(s, a) for s in LEGAL for a in ACTIONS], ids=lambda v: v
)
def test_every_transition_is_applied_or_refused_with_the_current_status(
    worlds, world, start, action
):
    put_world_in(worlds, start)
    before = worlds.get("/worlds/w1").json()

    answer = worlds.post(f"/worlds/w1/{action}")

    if action in LEGAL[start]:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["status"] == LEGAL[start][action]
        assert body["version"] == before["version"] + 1
        assert answer.headers["ETag"] == f'"{body["version"]}"'
        assert worlds.get("/worlds/w1").json() == body
    else:
        assert answer.status_code == 409, answer.text
        assert answer.json()["current_status"] == start
        assert answer.json()["current_version"] == before["version"]
        assert worlds.get("/worlds/w1").json() == before


def test_a_paused_world_is_listed_under_its_new_status(worlds, world):
    worlds.post("/worlds/w1/pause")

    assert worlds.get("/worlds?status=active").json()["worlds"] == []
    assert [w["world_id"] for w in worlds.get("/worlds?status=paused").json()["worlds"]] == ["w1"]


def test_transitions_of_an_unknown_world_are_404(worlds, aws):
    for action in ACTIONS:
        assert worlds.post(f"/worlds/nope/{action}").status_code == 404
    assert worlds.delete("/worlds/nope").status_code == 404


def test_of_two_racing_pauses_exactly_one_wins(world, aws, table_names):
    """Both callers read the world active, then both write: DynamoDB's condition lets the
    first through and refuses the second, which learns the status it lost to."""
    table = aws["resource"].Table(table_names["WORLDS_TABLE"])
    first_read = state.get_world(table, "w1")
    second_read = state.get_world(table, "w1")
    assert first_read["status"] == second_read["status"] == "active"

    winner = state.transition_world(table, "w1", "pause", "t1", state.version_of(first_read))
    with pytest.raises(ConflictError) as lost:
        state.transition_world(table, "w1", "pause", "t2", state.version_of(second_read))

    assert winner["status"] == "paused" and winner["version"] == 2
    assert lost.value.fields == {"current_status": "paused", "current_version": 2}
    assert state.get_world(table, "w1")["updated_at"] == "t1"


def test_a_pause_racing_an_archive_loses_without_a_version(world, aws, table_names):
    table = aws["resource"].Table(table_names["WORLDS_TABLE"])
    state.transition_world(table, "w1", "archive", "t1")

    with pytest.raises(ConflictError) as lost:
        state.transition_world(table, "w1", "pause", "t2")

    assert lost.value.fields["current_status"] == "archived"


def test_a_stale_if_match_on_a_transition_is_409_with_the_current_version(worlds, world):
    worlds.post("/worlds/w1/pause")  # version 2

    stale = worlds.post("/worlds/w1/resume", headers={"If-Match": '"1"'})
    fresh = worlds.post("/worlds/w1/resume", json={"version": 2})

    assert stale.status_code == 409 and stale.json()["current_version"] == 2
    assert fresh.status_code == 200 and fresh.json()["version"] == 3


@pytest.mark.parametrize(
    ("headers", "body", "code"),
    [
        ({"If-Match": "abc"}, None, 400),
        ({"If-Match": '"1"'}, {"version": 2}, 400),
        ({}, {"version": -1}, 422),
        ({}, {"version": "x"}, 422),
        ({}, {"other": 1}, 422),
    ],
    ids=["bad-if-match", "disagreeing", "negative", "not-int", "unknown-field"],
)
def test_bad_versions_on_a_transition_are_refused(worlds, world, headers, body, code):
    answer = worlds.post("/worlds/w1/pause", headers=headers, json=body)
    assert answer.status_code == code, answer.text
    assert answer.json()["detail"]


def test_bad_json_is_422(worlds, world):
    answer = worlds.post(
        "/worlds/w1/pause", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 422


@pytest.mark.parametrize("status", ["paused", "archived"])
def test_objects_and_agents_of_a_world_not_active_are_refused(worlds, runtime, agent, status):
    worlds.put("/worlds/w1/objects/o1", json={"object_type": "tree"})
    put_world_in(worlds, status)

    put = worlds.put("/worlds/w1/objects/o1", json={"object_type": "rock"})
    create = runtime.post("/worlds/w1/agents", json={"name": "Klaus"})
    update = runtime.patch("/agents/a1", json={"version": 1, "state": {"mood": "x"}})

    for answer in (put, create, update):
        assert answer.status_code == 409, answer.text
        assert answer.json()["current_status"] == status
    assert worlds.get("/worlds/w1/objects/o1").json()["object_type"] == "tree"
    assert runtime.get("/agents/a1").json()["version"] == 1


def test_a_world_must_be_archived_before_it_is_deleted(worlds, world):
    answer = worlds.delete("/worlds/w1")

    assert answer.status_code == 409
    assert answer.json()["current_status"] == "active"
    assert worlds.get("/worlds/w1").status_code == 200


def seed_world(worlds, runtime, objects: int, agents: int, snapshots: int) -> None:
    for n in range(objects):
        assert worlds.put(f"/worlds/w1/objects/o{n}", json={"object_type": "t"}).status_code == 201
    for n in range(agents):
        body = {"agent_id": f"a{n}", "name": f"A{n}"}
        assert runtime.post("/worlds/w1/agents", json=body).status_code == 201
    for _ in range(snapshots):
        assert worlds.post("/worlds/w1/snapshots").status_code == 201


def test_deleting_an_archived_world_deletes_its_objects_agents_and_snapshots(
    worlds, runtime, world, aws, table_names, bucket, monkeypatch
):
    # Pages of 7 so that every listing takes several pages and batches.
    monkeypatch.setattr(lifecycle, "PAGE", 7)
    worlds.post("/worlds", json={"world_id": "w2", "name": "other"})
    worlds.put("/worlds/w2/objects/o0", json={"object_type": "t"})
    runtime.post("/worlds/w2/agents", json={"agent_id": "b0", "name": "B"})
    seed_world(worlds, runtime, objects=30, agents=16, snapshots=3)
    for n in range(9):
        runtime.post("/worlds/w1/events", json={"type": "tick"})
        runtime.post("/agents/a0/memories", json={"content": f"m{n}", "importance": 1})
    runtime.post("/agents/a1/memories", json={"content": "x", "importance": 1})
    runtime.post("/worlds/w2/events", json={"type": "tick"})
    runtime.post("/agents/b0/memories", json={"content": "kept", "importance": 1})
    keys = [s["s3_key"] for s in worlds.get("/worlds/w1/snapshots").json()["snapshots"]]
    worlds.post("/worlds/w1/archive")

    answer = worlds.delete("/worlds/w1")

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "world_id": "w1",
        "deleted": {"objects": 30, "events": 9, "agents": 16, "memories": 10, "snapshots": 3},
    }
    assert worlds.get("/worlds/w1").status_code == 404
    table = aws["resource"].Table
    where = Key("world_id").eq("w1")
    assert table(table_names["OBJECTS_TABLE"]).query(KeyConditionExpression=where)["Count"] == 0
    assert table(table_names["SNAPSHOTS_TABLE"]).query(KeyConditionExpression=where)["Count"] == 0
    assert table(table_names["EVENTS_TABLE"]).query(KeyConditionExpression=where)["Count"] == 0
    memories = table(table_names["MEMORY_TABLE"]).scan()["Items"]
    assert [m["content"] for m in memories] == ["kept"]
    agents = table(table_names["AGENTS_TABLE"]).scan()["Items"]
    assert [a["agent_id"] for a in agents] == ["b0"]
    listed = aws["s3"].list_objects_v2(Bucket=bucket, Prefix="snapshots/w1/")
    assert listed["KeyCount"] == 0 and len(keys) == 3
    # The other world is untouched.
    assert worlds.get("/worlds/w2/objects/o0").status_code == 200
    assert runtime.get("/agents/b0").status_code == 200
    assert len(runtime.get("/worlds/w2/events").json()["events"]) == 1


def test_a_delete_that_stopped_part_way_is_finished_by_deleting_again(
    worlds, runtime, world, aws, table_names, monkeypatch
):
    seed_world(worlds, runtime, objects=5, agents=2, snapshots=0)
    runtime.post("/agents/a1/memories", json={"content": "x", "importance": 1})
    worlds.post("/worlds/w1/archive")
    real = lifecycle.delete_matching

    def fail_on_agents(table, *args, **kwargs):
        if kwargs.get("IndexName") == "world-index":
            raise ConnectionError("killed mid-cascade")
        return real(table, *args, **kwargs)

    monkeypatch.setattr(lifecycle, "delete_matching", fail_on_agents)
    # An unexpected failure is the service's 500 (its handler logs the traceback).
    assert worlds.delete("/worlds/w1").status_code == 500
    assert worlds.get("/worlds/w1").json()["status"] == "deleting"
    assert worlds.post("/worlds/w1/resume").status_code == 409

    monkeypatch.setattr(lifecycle, "delete_matching", real)
    answer = worlds.delete("/worlds/w1")

    assert answer.status_code == 200
    counts = {"objects": 0, "events": 0, "agents": 2, "memories": 1, "snapshots": 0}
    assert answer.json()["deleted"] == counts
    assert worlds.get("/worlds/w1").status_code == 404


def test_the_world_item_goes_only_once_it_is_marked_deleting(world, aws, table_names):
    table = aws["resource"].Table(table_names["WORLDS_TABLE"])

    with pytest.raises(ConflictError):
        state.delete_world(table, "w1")
    with pytest.raises(NotFoundError):
        state.delete_world(table, "nope")
    assert state.get_world(table, "w1")["status"] == "active"


def test_a_failed_s3_delete_then_a_retry_leaves_no_snapshot_document(
    worlds, runtime, world, aws, table_names, bucket, monkeypatch
):
    seed_world(worlds, runtime, objects=1, agents=1, snapshots=2)
    worlds.post("/worlds/w1/archive")
    real = aws["s3"].delete_object
    calls = []

    def fail_second(**kwargs):
        calls.append(kwargs["Key"])
        if len(calls) == 2:
            raise ConnectionError("S3 unreachable mid-cascade")
        return real(**kwargs)

    monkeypatch.setattr(aws["s3"], "delete_object", fail_second)
    assert worlds.delete("/worlds/w1").status_code == 500
    # The page's items stay with the document that could not be deleted: a retry finds it.
    snapshots = aws["resource"].Table(table_names["SNAPSHOTS_TABLE"])
    assert snapshots.query(KeyConditionExpression=Key("world_id").eq("w1"))["Count"] == 2

    monkeypatch.setattr(aws["s3"], "delete_object", real)
    answer = worlds.delete("/worlds/w1")

    assert answer.status_code == 200, answer.text
    assert answer.json()["deleted"]["snapshots"] == 2
    assert aws["s3"].list_objects_v2(Bucket=bucket, Prefix="snapshots/w1/")["KeyCount"] == 0
    assert snapshots.query(KeyConditionExpression=Key("world_id").eq("w1"))["Count"] == 0


def test_a_pause_between_the_status_read_and_the_write_refuses_the_write(
    worlds, runtime, agent, aws, table_names, monkeypatch
):
    """The route reads the world active; a pause lands before its write: the write, in one
    transaction with the world being active, is refused and nothing is written."""
    table = aws["resource"].Table(table_names["WORLDS_TABLE"])
    real = state.require_status

    def pause_after_the_check(world, allowed, doing):
        real(world, allowed, doing)
        if world["status"] == "active":
            state.transition_world(table, world["world_id"], "pause", "t-race")

    for attempt in ("create", "patch", "object"):
        monkeypatch.setattr(state, "require_status", pause_after_the_check)
        if attempt == "create":
            answer = runtime.post("/worlds/w1/agents", json={"agent_id": "a9", "name": "X"})
        elif attempt == "patch":
            answer = runtime.patch("/agents/a1", json={"version": 1, "name": "X"})
        else:
            answer = worlds.put("/worlds/w1/objects/o9", json={"object_type": "rock"})
        monkeypatch.setattr(state, "require_status", real)
        assert answer.status_code == 409, (attempt, answer.text)
        assert answer.json()["current_status"] == "paused"
        assert worlds.post("/worlds/w1/resume").status_code == 200
    assert runtime.get("/agents/a9").status_code == 404
    assert runtime.get("/agents/a1").json()["name"] != "X"
    assert worlds.get("/worlds/w1/objects/o9").status_code == 404


def test_writes_in_an_active_world_still_create_replace_and_conflict(worlds, runtime, agent):
    assert worlds.put("/worlds/w1/objects/o1", json={"object_type": "t"}).status_code == 201
    again = worlds.put("/worlds/w1/objects/o1", json={"object_type": "u"})
    assert again.status_code == 200
    assert worlds.get("/worlds/w1/objects/o1").json()["object_type"] == "u"
    assert (
        runtime.post("/worlds/w1/agents", json={"agent_id": "a1", "name": "Y"}).status_code == 409
    )
    patched = runtime.patch("/agents/a1", json={"version": 1, "name": "Z"})
    assert patched.status_code == 200 and patched.json()["version"] == 2
    assert patched.headers["ETag"] == '"2"'
    stale = runtime.patch("/agents/a1", json={"version": 1, "name": "W"})
    assert stale.status_code == 409 and stale.json()["current_version"] == 2
    assert runtime.patch("/agents/nope", json={"version": 1, "name": "W"}).status_code == 404
