"""Versioned agent updates on moto: If-Match or a body version, stale versions refused with
the current one, the race of two writers of one version, and bad input."""

from __future__ import annotations

import pytest
from agent_world import state
from agent_world.store import ConflictError, NotFoundError


def test_a_new_agent_is_version_1_with_its_etag(runtime, agent):
    assert agent["version"] == 1
    answer = runtime.get("/agents/a1")
    assert answer.json()["version"] == 1 and answer.headers["ETag"] == '"1"'


def test_an_update_with_if_match_changes_the_agent_and_bumps_its_version(runtime, agent):
    answer = runtime.patch(
        "/agents/a1", headers={"If-Match": '"1"'}, json={"state": {"mood": "happy", "x": 1.5}}
    )

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["version"] == 2 and body["state"] == {"mood": "happy", "x": 1.5}
    assert body["name"] == "Isabella"  # untouched fields stay
    assert answer.headers["ETag"] == '"2"'
    assert runtime.get("/agents/a1").json() == body


def test_an_update_with_a_body_version_and_a_weak_etag(runtime, agent):
    first = runtime.patch("/agents/a1", json={"version": 1, "persona": "baker"})
    second = runtime.patch("/agents/a1", headers={"If-Match": 'W/"2"'}, json={"name": "Bella"})

    assert first.json()["version"] == 2 and second.json()["version"] == 3
    assert runtime.get("/agents/a1").json()["persona"] == "baker"


def test_a_stale_version_is_409_with_the_current_version_and_changes_nothing(runtime, agent):
    runtime.patch("/agents/a1", json={"version": 1, "state": {"n": 1}})

    stale = runtime.patch("/agents/a1", json={"version": 1, "state": {"n": 99}})

    assert stale.status_code == 409
    assert stale.json()["current_version"] == 2 and "version 2" in stale.json()["detail"]
    assert runtime.get("/agents/a1").json()["state"] == {"n": 1}


def test_if_match_star_updates_whatever_the_version(runtime, agent):
    answer = runtime.patch("/agents/a1", headers={"If-Match": "*"}, json={"state": {"k": 1}})
    assert answer.status_code == 200 and answer.json()["version"] == 2


def test_of_two_writers_of_one_version_exactly_one_wins(agent, aws, table_names):
    table = aws["resource"].Table(table_names["AGENTS_TABLE"])
    read_by_a = state.version_of(state.get_agent(table, "a1"))
    read_by_b = state.version_of(state.get_agent(table, "a1"))

    won = state.update_agent(table, "a1", {"state": {"by": "a"}}, read_by_a, "t1")
    with pytest.raises(ConflictError) as lost:
        state.update_agent(table, "a1", {"state": {"by": "b"}}, read_by_b, "t2")

    assert won["version"] == 2 and lost.value.fields == {"current_version": 2}
    assert state.get_agent(table, "a1")["state"] == {"by": "a"}


def test_an_agent_without_a_version_is_version_0(agent, aws, table_names, runtime):
    table = aws["resource"].Table(table_names["AGENTS_TABLE"])
    table.update_item(Key={"agent_id": "a1"}, UpdateExpression="REMOVE version")

    assert runtime.get("/agents/a1").json()["version"] == 0
    assert runtime.patch("/agents/a1", json={"version": 1, "name": "x"}).status_code == 409
    answer = runtime.patch("/agents/a1", json={"version": 0, "name": "x"})
    assert answer.status_code == 200 and answer.json()["version"] == 1


def test_an_update_of_a_vanished_agent_is_not_found(aws, table_names):
    table = aws["resource"].Table(table_names["AGENTS_TABLE"])
    with pytest.raises(NotFoundError):
        state.update_agent(table, "gone", {"name": "x"}, 1, "t")


@pytest.mark.parametrize(
    ("headers", "body", "code"),
    [
        ({}, {"state": {"a": 1}}, 428),
        ({"If-Match": "one"}, {"state": {}}, 400),
        ({"If-Match": '"1"'}, {"version": 2, "state": {}}, 400),
        ({"If-Match": '"99999999999999999"'}, {"state": {}}, 400),
        ({}, {"version": 1}, 422),
        ({}, {"version": 1, "state": []}, 422),
        ({}, {"version": 1, "world_id": "w2"}, 422),
        ({}, {"version": 1.5, "name": "x"}, 422),
        ({}, {"version": 1, "name": ""}, 422),
    ],
    ids=[
        "no-version",
        "bad-if-match",
        "disagreeing",
        "huge-if-match",
        "nothing-to-change",
        "state-not-object",
        "world-not-changeable",
        "fractional-version",
        "empty-name",
    ],
)
def test_bad_updates_are_refused_with_a_reason(runtime, agent, headers, body, code):
    answer = runtime.patch("/agents/a1", headers=headers, json=body)

    assert answer.status_code == code, answer.text
    assert answer.json()["detail"]
    assert runtime.get("/agents/a1").json()["version"] == 1


def test_updates_of_unknown_or_badly_named_agents(runtime, world):
    assert runtime.patch("/agents/nope", json={"version": 1, "name": "x"}).status_code == 404
    assert runtime.patch("/agents/bad%20id", json={"version": 1, "name": "x"}).status_code == 422
    bad_json = runtime.patch(
        "/agents/nope", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert bad_json.status_code == 422
