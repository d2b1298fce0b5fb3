"""Redis (a real ``redis-server`` with TLS and AUTH, ``service_testing.redis``) as the cache
of world and agent reads and the WebSocket registry; events through the real boto3
``apigatewaymanagementapi`` client to a local Management API (``service_testing.management_api``);
DynamoDB on moto. What each test asserts is what Redis, moto or the Management API hold.
"""

from __future__ import annotations

import logging
import os
import time

import pytest
import redis
from agent_world import schema
from agent_world.cache import Cache
from agent_world.connections import CONNECTING_GRACE
from agent_world.realtime import RealtimeSettings
from botocore.exceptions import ClientError, ReadTimeoutError
from fastapi.testclient import TestClient
from service_testing.management_api import ManagementApi
from service_testing.redis import RedisServer


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def flushed(redis_server):
    client = redis_server.client()
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def management():
    with ManagementApi() as api:
        yield api


def redis_settings(server: RedisServer, **more) -> RealtimeSettings:
    return RealtimeSettings(
        redis_host=server.host,
        redis_port=server.port,
        redis_auth_token=server.password,
        redis_ca_file=str(server.ca_file),
        **more,
    )


@pytest.fixture
def app_client(make_client):
    """``app_client(realtime)``: a TestClient of an ``all`` app with those settings."""

    def make(realtime: RealtimeSettings) -> TestClient:
        return make_client("all", realtime=realtime)

    return make


def raw_world_name(aws, table_names, world_id: str, name: str) -> None:
    """Change a world behind the service's back, straight in DynamoDB."""
    aws["dynamodb"].update_item(
        TableName=table_names["WORLDS_TABLE"],
        Key={"world_id": {"S": world_id}},
        UpdateExpression="SET #n = :n",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={":n": {"S": name}},
    )


def test_a_world_read_is_served_from_redis_once_cached(
    app_client, aws, table_names, redis_server, flushed
):
    client = app_client(redis_settings(redis_server))
    assert client.post("/worlds", json={"world_id": "w1", "name": "Smallville"}).status_code == 201
    assert client.get("/worlds/w1").json()["name"] == "Smallville"  # miss: DynamoDB, filled
    assert flushed.get("aw:{worlds:w1}:item") is not None

    raw_world_name(aws, table_names, "w1", "Changed behind its back")
    # A hit: Redis answers, so the change made around the service is not seen (until the TTL).
    assert client.get("/worlds/w1").json()["name"] == "Smallville"
    assert 0 < flushed.ttl("aw:{worlds:w1}:item") <= 60


def test_a_write_through_the_service_invalidates_the_entry(
    app_client, aws, table_names, redis_server, flushed
):
    client = app_client(redis_settings(redis_server))
    client.post("/worlds", json={"world_id": "w1", "name": "Smallville"})
    client.get("/worlds/w1")
    assert flushed.get("aw:{worlds:w1}:gen") == b"1"  # the create was a write too
    raw_world_name(aws, table_names, "w1", "Renamed")
    worlds = client.app.state.realtime.wrap(
        aws["resource"].Table(table_names["WORLDS_TABLE"]), schema.WORLDS
    )
    # A write through the wrapped table (what every route's write is): entry gone, generation up.
    worlds.update_item(
        Key={"world_id": "w1"},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": "paused"},
    )
    assert flushed.get("aw:{worlds:w1}:item") is None
    assert flushed.get("aw:{worlds:w1}:gen") == b"2"
    body = client.get("/worlds/w1").json()
    assert (body["name"], body["status"]) == ("Renamed", "paused")


def test_agent_reads_are_cached_and_a_conflicting_create_changes_nothing(
    app_client, aws, redis_server, flushed
):
    client = app_client(redis_settings(redis_server))
    client.post("/worlds", json={"world_id": "w1", "name": "Smallville"})
    client.post("/worlds/w1/agents", json={"agent_id": "a1", "name": "Isabella"})
    assert client.get("/agents/a1").status_code == 200
    assert flushed.exists("aw:{agents:a1}:item")
    assert flushed.get("aw:{agents:a1}:gen") == b"1"  # the create's
    # 409: the conditional put failed, nothing was written, so nothing is invalidated.
    again = client.post("/worlds/w1/agents", json={"agent_id": "a1", "name": "Other"})
    assert again.status_code == 409
    assert flushed.exists("aw:{agents:a1}:item") and flushed.get("aw:{agents:a1}:gen") == b"1"


def test_a_fill_that_raced_a_write_is_not_stored(redis_server, flushed):
    cache = Cache(redis_server.client(), ttl=60)
    item, generation = cache.lookup("worlds", {"world_id": "w9"})
    assert item is None and generation == "0"
    cache.invalidate("worlds", {"world_id": "w9"})  # a write lands between read and fill
    assert cache.fill("worlds", {"world_id": "w9"}, generation, {"world_id": "w9"}) is False
    assert flushed.get("aw:{worlds:w9}:item") is None
    _, fresh = cache.lookup("worlds", {"world_id": "w9"})
    assert cache.fill("worlds", {"world_id": "w9"}, fresh, {"world_id": "w9", "n": 1}) is True
    assert cache.lookup("worlds", {"world_id": "w9"})[0] == {"world_id": "w9", "n": 1}


def test_connect_and_disconnect_keep_the_registry_in_redis(app_client, aws, redis_server, flushed):
    client = app_client(redis_settings(redis_server))
    client.post("/worlds", json={"world_id": "w1", "name": "Smallville"})
    # As the $connect integration sends it: no body, the world in X-World-Id.
    joined = client.post("/ws/connect", headers={"X-Connection-Id": "c1", "X-World-Id": "w1"})
    assert joined.status_code == 200 and joined.json()["subscribed"] is True
    assert client.post("/ws/connect?world=w1", headers={"X-Connection-Id": "c2"}).status_code == 200
    assert flushed.smembers("aw:ws:{w1}:conns") == {b"c1", b"c2"}
    assert flushed.get("aw:ws:conn:c1") == b"w1"

    left = client.post("/ws/disconnect", headers={"X-Connection-Id": "c1"})
    assert left.status_code == 200 and left.json()["event"]["world_id"] == "w1"
    assert flushed.smembers("aw:ws:{w1}:conns") == {b"c2"}
    assert flushed.get("aw:ws:conn:c1") is None


def test_connect_refuses_a_missing_bad_or_unknown_world(app_client, aws, redis_server, flushed):
    client = app_client(redis_settings(redis_server))
    headers = {"X-Connection-Id": "c1"}
    assert client.post("/ws/connect", headers=headers).status_code == 422
    assert client.post("/ws/connect?world=bad/id", headers=headers).status_code == 422
    assert client.post("/ws/connect?world=nowhere", headers=headers).status_code == 404
    assert flushed.keys("aw:ws:*") == []


def test_a_wrong_password_is_refused(redis_server):
    with pytest.raises(redis.AuthenticationError):
        redis_server.client(password="not-the-token").ping()


def test_plain_tcp_is_refused(redis_server):
    plain = redis.Redis(host=redis_server.host, port=redis_server.port,
                        password=redis_server.password, socket_timeout=2)  # fmt: skip
    with pytest.raises(redis.ConnectionError):
        plain.ping()


def test_with_redis_down_the_service_serves_from_dynamodb_and_says_so(
    app_client, aws, tmp_path, caplog
):
    server = RedisServer(tmp_path / "redis")
    client = app_client(redis_settings(server))
    client.post("/worlds", json={"world_id": "w1", "name": "Smallville"})
    assert client.get("/worlds/w1").status_code == 200
    server.stop()

    with caplog.at_level(logging.WARNING, logger="agent_world.cache"):
        started = time.monotonic()
        answers = [client.get("/worlds/w1") for _ in range(5)]
        took = time.monotonic() - started
    assert [a.status_code for a in answers] == [200] * 5
    assert answers[0].json()["name"] == "Smallville"
    # Logged once, then skipped while the breaker is open: no per-request timeout.
    assert [r.message for r in caplog.records].count(
        "redis unavailable: serving from DynamoDB alone"
    ) == 1
    assert took < 2.5
    # The registry lives in Redis: a connection is refused (503) rather than half-made.
    refused = client.post("/ws/connect?world=w1", headers={"X-Connection-Id": "c1"})
    assert refused.status_code == 503


def test_a_wrong_token_in_the_service_degrades_to_dynamodb(app_client, aws, redis_server, caplog):
    settings = redis_settings(redis_server)
    client = app_client(RealtimeSettings(**{**settings.__dict__, "redis_auth_token": "x"}))
    client.post("/worlds", json={"world_id": "w1", "name": "Smallville"})
    with caplog.at_level(logging.WARNING, logger="agent_world.cache"):
        assert client.get("/worlds/w1").status_code == 200
    assert any("AuthenticationError" in getattr(r, "error", "") for r in caplog.records)


@pytest.mark.parametrize("store", ["redis", "dynamodb"])
def test_every_write_is_posted_to_every_connection_of_its_world_and_410_removes_one(
    app_client, aws, table_names, redis_server, flushed, management, store
):
    more = {"management_url": management.url}
    realtime = (
        redis_settings(redis_server, **more) if store == "redis" else RealtimeSettings(**more)
    )
    client = app_client(realtime)
    publisher = client.app.state.realtime.publisher
    client.post("/worlds", json={"world_id": "w1", "name": "Smallville"})
    client.post("/worlds", json={"world_id": "w2", "name": "Elsewhere"})
    for connection, world in (("c1", "w1"), ("c2", "w1"), ("c3", "w2")):
        answer = client.post(f"/ws/connect?world={world}", headers={"X-Connection-Id": connection})
        assert answer.status_code == 200, answer.text
    assert publisher.wait_idle()
    management.received.clear()
    management.gone.add("c2")
    # Past the grace a just-registered connection gets (still connecting: 410 is expected).
    publisher.clock = lambda: time.time() + CONNECTING_GRACE + 1

    created = client.post("/worlds/w1/agents", json={"agent_id": "a1", "name": "Isabella"})
    assert created.status_code == 201
    assert publisher.wait_idle()

    [event] = management.messages("c1")
    assert event["type"] == "agent.created" and event["world_id"] == "w1"
    assert event["key"] == {"agent_id": "a1"} and event["item"]["name"] == "Isabella"
    assert management.messages("c2") == [] and management.messages("c3") == []
    # The real client signed for execute-api, the Management API's signing name.
    assert all(
        s.endswith(f"{os.environ['AWS_REGION']}/execute-api/aws4_request")
        for s in management.scopes
    )
    # c2 answered 410: gone from the registry, so the next event goes to c1 alone.
    assert client.app.state.realtime.registry.members("w1") == ["c1"]
    management.scopes.clear()
    client.put("/worlds/w1/objects/tree-1", json={"object_type": "tree"})
    assert publisher.wait_idle()
    assert [e["type"] for e in management.messages("c1")] == ["agent.created", "object.created"]
    assert len(management.scopes) == 1


def test_posting_never_holds_up_the_write(app_client, aws, redis_server, flushed):
    with ManagementApi(delay=1.5) as slow:
        client = app_client(redis_settings(redis_server, management_url=slow.url))
        publisher = client.app.state.realtime.publisher
        client.post("/worlds", json={"world_id": "w1", "name": "Smallville"})
        for n in range(3):
            client.post("/ws/connect?world=w1", headers={"X-Connection-Id": f"c{n}"})
        started = time.monotonic()
        answer = client.post("/worlds/w1/agents", json={"agent_id": "a1", "name": "Isabella"})
        took = time.monotonic() - started
        assert answer.status_code == 201
        assert took < 1.0  # the posts (1.5 s each) are still under way
        assert publisher.wait_idle(30)
        assert all(slow.messages(f"c{n}") for n in range(3))


def test_a_world_event_reaches_subscribers_and_deletes_are_published(
    app_client, aws, table_names, redis_server, flushed, management
):
    client = app_client(redis_settings(redis_server, management_url=management.url))
    publisher = client.app.state.realtime.publisher
    client.post("/worlds", json={"world_id": "w1", "name": "Smallville"})
    client.post("/ws/connect?world=w1", headers={"X-Connection-Id": "c1"})
    client.post("/worlds/w1/events", json={"type": "agent.say", "payload": {"text": "hi"}})
    objects = client.app.state.realtime.wrap(
        aws["resource"].Table(table_names["OBJECTS_TABLE"]), schema.OBJECTS
    )
    client.put("/worlds/w1/objects/tree-1", json={"object_type": "tree"})
    objects.delete_item(Key={"world_id": "w1", "object_id": "tree-1"})
    objects.delete_item(Key={"world_id": "w1", "object_id": "never-was"})  # nothing: no event
    worlds = client.app.state.realtime.wrap(
        aws["resource"].Table(table_names["WORLDS_TABLE"]), schema.WORLDS
    )
    # A transition as a conditional update: published with the new image.
    answer = worlds.update_item(
        Key={"world_id": "w1"},
        UpdateExpression="SET #s = :to",
        ConditionExpression="#s = :from",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":to": "paused", ":from": "active"},
    )
    assert "Attributes" not in answer  # the caller asked for none: the wrapper's own
    assert publisher.wait_idle()
    types = [e["type"] for e in management.messages("c1")]
    # c1's own ws.connect is not posted to it (its $connect had not returned yet).
    assert types == ["event.recorded", "object.created", "object.deleted", "world.updated"]
    assert management.messages("c1")[-1]["item"]["status"] == "paused"
    said = management.messages("c1")[0]
    assert said["item"]["type"] == "agent.say" and said["item"]["payload"] == {"text": "hi"}


def realtime_for(store: str, redis_server, management) -> RealtimeSettings:
    more = {"management_url": management.url}
    return redis_settings(redis_server, **more) if store == "redis" else RealtimeSettings(**more)


@pytest.mark.parametrize("store", ["redis", "dynamodb"])
def test_a_new_subscriber_is_not_removed_while_its_connect_is_pending(
    app_client, aws, redis_server, flushed, management, store
):
    client = app_client(realtime_for(store, redis_server, management))
    publisher = client.app.state.realtime.publisher
    registry = client.app.state.realtime.registry
    client.post("/worlds", json={"world_id": "w1", "name": "Smallville"})
    assert client.post("/ws/connect?world=w1", headers={"X-Connection-Id": "c1"}).status_code == 200
    management.connected("c1")
    assert publisher.wait_idle()

    # c2's $connect is under way: API Gateway answers 410 for it until the integration returns.
    management.pending.add("c2")
    joined = client.post("/ws/connect?world=w1", headers={"X-Connection-Id": "c2"})
    assert joined.status_code == 200
    assert publisher.wait_idle()
    # A write landing while c2 is still connecting: 410 for c2, which is kept.
    client.post("/worlds/w1/events", json={"type": "agent.say", "payload": {"n": 1}})
    assert publisher.wait_idle()
    assert management.refused == {"c2": 1}  # the write's post; its own ws.connect was not sent
    assert registry.members("w1") == ["c1", "c2"]
    assert publisher.kept == 1 and publisher.gone == 0

    management.connected("c2")  # $connect returned 200: the connection is open
    client.post("/worlds/w1/events", json={"type": "agent.say", "payload": {"n": 2}})
    assert publisher.wait_idle()
    [later] = management.messages("c2")
    assert later["item"]["payload"] == {"n": 2}
    seen = [(e["item"]["type"], e["item"]["payload"].get("connection_id")) for e in
            management.messages("c1")]  # fmt: skip
    assert seen == [("ws.connect", "c2"), ("agent.say", None), ("agent.say", None)]


API_GATEWAY_IDS = ["L0SM9cOFvHcCIhw=", "a+b/c=="]
"""Connection ids as API Gateway makes them: base64 (its developer guide's example first)."""


@pytest.mark.parametrize("store", ["redis", "dynamodb"])
def test_api_gateway_connection_ids_connect_receive_and_disconnect(
    app_client, aws, redis_server, flushed, management, store
):
    client = app_client(realtime_for(store, redis_server, management))
    publisher = client.app.state.realtime.publisher
    registry = client.app.state.realtime.registry
    client.post("/worlds", json={"world_id": "w1", "name": "Smallville"})
    for connection_id in API_GATEWAY_IDS:
        headers = {"X-Connection-Id": connection_id}
        joined = client.post("/ws/connect?world=w1", headers=headers)
        assert joined.status_code == 200, joined.text
        assert joined.json()["connection_id"] == connection_id
    assert registry.members("w1") == sorted(API_GATEWAY_IDS)
    said = client.post(
        "/ws/message", headers={"X-Connection-Id": API_GATEWAY_IDS[0]}, json={"world_id": "w1"}
    )
    assert said.status_code == 200 and said.json()["connection_id"] == API_GATEWAY_IDS[0]
    assert publisher.wait_idle()
    # botocore percent-encoded the id in @connections/{id}; the stand-in decoded it back.
    [message] = management.messages(API_GATEWAY_IDS[1])
    assert message["item"]["type"] == "ws.message"
    assert message["item"]["payload"]["connection_id"] == API_GATEWAY_IDS[0]
    first = [(e["item"]["type"], e["item"]["payload"]["connection_id"])
             for e in management.messages(API_GATEWAY_IDS[0])]  # fmt: skip
    assert first == [("ws.connect", API_GATEWAY_IDS[1]), ("ws.message", API_GATEWAY_IDS[0])]
    left = client.post("/ws/disconnect", headers={"X-Connection-Id": API_GATEWAY_IDS[0]})
    assert left.status_code == 200 and left.json()["event"]["world_id"] == "w1"
    assert registry.members("w1") == [API_GATEWAY_IDS[1]]
    assert (
        client.post("/ws/connect?world=w1", headers={"X-Connection-Id": "bad id!"}).status_code
        == 422
    )


class LostAnswer:
    """A table whose writes land but whose answers are lost (a read timeout after DynamoDB
    applied the write)."""

    def __init__(self, table):
        self.table = table

    def __getattr__(self, name):
        return getattr(self.table, name)

    def update_item(self, **kwargs):
        self.table.update_item(**kwargs)
        raise ReadTimeoutError(endpoint_url="https://dynamodb.test")


def test_a_write_that_raised_still_invalidates_its_entry(
    app_client, aws, table_names, redis_server, flushed
):
    client = app_client(redis_settings(redis_server))
    client.post("/worlds", json={"world_id": "w1", "name": "Smallville"})
    client.get("/worlds/w1")  # cached
    realtime = client.app.state.realtime
    raw = aws["resource"].Table(table_names["WORLDS_TABLE"])
    worlds = realtime.wrap(LostAnswer(raw), schema.WORLDS)
    with pytest.raises(ReadTimeoutError):
        worlds.update_item(
            Key={"world_id": "w1"},
            UpdateExpression="SET #n = :n",
            ExpressionAttributeNames={"#n": "name"},
            ExpressionAttributeValues={":n": "Renamed"},
        )
    assert flushed.get("aw:{worlds:w1}:item") is None
    assert client.get("/worlds/w1").json()["name"] == "Renamed"
    # A failed condition wrote nothing: the entry (refilled above) stays.
    with pytest.raises(ClientError):
        realtime.wrap(raw, schema.WORLDS).update_item(
            Key={"world_id": "w1"},
            UpdateExpression="SET #n = :n",
            ConditionExpression="attribute_not_exists(world_id)",
            ExpressionAttributeNames={"#n": "name"},
            ExpressionAttributeValues={":n": "Never"},
        )
    assert flushed.get("aw:{worlds:w1}:item") is not None


def test_a_batch_that_raised_still_invalidates_what_it_queued(
    app_client, aws, table_names, redis_server, flushed
):
    client = app_client(redis_settings(redis_server))
    client.post("/worlds", json={"world_id": "w1", "name": "Smallville"})
    client.post("/worlds/w1/agents", json={"agent_id": "a1", "name": "Isabella"})
    client.get("/agents/a1")
    assert flushed.get("aw:{agents:a1}:item") is not None
    agents = client.app.state.realtime.wrap(
        aws["resource"].Table(table_names["AGENTS_TABLE"]), schema.AGENTS
    )
    item = {**client.get("/agents/a1").json(), "name": "Klaus"}
    with pytest.raises(RuntimeError), agents.batch_writer() as batch:
        batch.put_item(Item=item)
        raise RuntimeError("the task failed mid-batch")  # boto3 still flushes on exit
    assert flushed.get("aw:{agents:a1}:item") is None
    assert client.get("/agents/a1").json()["name"] == "Klaus"


def test_transactional_writes_are_invalidated_and_published(
    app_client, aws, redis_server, flushed, management
):
    """Agent and object writes go through TransactWriteItems (with the world's check),
    around the table's put_item/update_item: still invalidated and published."""
    client = app_client(redis_settings(redis_server, management_url=management.url))
    publisher = client.app.state.realtime.publisher
    client.post("/worlds", json={"world_id": "w1", "name": "Smallville"})
    client.post("/ws/connect?world=w1", headers={"X-Connection-Id": "c1"})
    client.post("/worlds/w1/agents", json={"agent_id": "a1", "name": "Isabella"})
    assert client.get("/agents/a1").json()["name"] == "Isabella"  # cached
    assert flushed.get("aw:{agents:a1}:item") is not None
    patched = client.patch("/agents/a1", json={"version": 1, "name": "Klaus"})
    assert patched.status_code == 200 and patched.json()["version"] == 2
    assert flushed.get("aw:{agents:a1}:item") is None
    assert client.get("/agents/a1").json()["name"] == "Klaus"
    client.put("/worlds/w1/objects/o1", json={"object_type": "tree"})
    client.put("/worlds/w1/objects/o1", json={"object_type": "stump"})
    assert publisher.wait_idle()
    sent = [(e["type"], e["item"].get("name") or e["item"].get("object_type"))
            for e in management.messages("c1")]  # fmt: skip
    assert sent == [
        ("agent.created", "Isabella"), ("agent.updated", "Klaus"),
        ("object.created", "tree"), ("object.updated", "stump"),
    ]  # fmt: skip
