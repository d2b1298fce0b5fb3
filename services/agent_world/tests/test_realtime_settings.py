"""The Redis and event variables (``RealtimeSettings``), and the event messages themselves."""

from __future__ import annotations

import json
import random
import threading
import time
from decimal import Decimal

import pytest
from agent_world import events
from agent_world.events import MAX_MESSAGE_BYTES, Publisher, encode, message
from agent_world.realtime import RealtimeSettings
from agent_world.settings import Settings
from service_common.env import ConfigError

BASE = {
    "SERVICE_ROLE": "agent-runtime",
    "WORLDS_TABLE": "w",
    "AGENTS_TABLE": "a",
    "MEMORY_TABLE": "m",
    "EVENTS_TABLE": "e",
    "CONNECTIONS_TABLE": "c",
}


def test_defaults_mean_no_redis_and_no_events():
    realtime = Settings.from_env(BASE).realtime
    assert (realtime.redis_host, realtime.management_url) == ("", "")
    assert (realtime.redis_port, realtime.redis_tls, realtime.cache_ttl) == (6379, True, 60)


def test_the_stacks_variables_are_read():
    realtime = Settings.from_env(
        {
            **BASE,
            "REDIS_HOST": "master.x.cache.amazonaws.com",
            "REDIS_PORT": "6380",
            "REDIS_TLS": "true",
            "REDIS_AUTH_TOKEN": "t0ken",
            "CACHE_TTL_SECONDS": "30",
            "WEBSOCKET_MANAGEMENT_URL": "https://abc123.execute-api.us-east-1.amazonaws.com/v1",
        }
    ).realtime
    assert realtime.redis_host == "master.x.cache.amazonaws.com"
    assert (realtime.redis_port, realtime.redis_auth_token, realtime.cache_ttl) == (
        6380,
        "t0ken",
        30,
    )
    assert realtime.management_url.endswith("amazonaws.com/v1")
    assert Settings.from_env({**BASE, "REDIS_TLS": "false"}).realtime.redis_tls is False


def test_bad_variables_are_named_together():
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(
            {
                **BASE,
                "REDIS_PORT": "seventy",
                "REDIS_TLS": "maybe",
                "CACHE_TTL_SECONDS": "0",
                "WEBSOCKET_MANAGEMENT_URL": "ftp://example.com/v1",
            }
        )
    text = str(raised.value)
    for name in ("REDIS_PORT", "REDIS_TLS", "CACHE_TTL_SECONDS", "WEBSOCKET_MANAGEMENT_URL"):
        assert f"{name}:" in text


def test_the_connections_table_is_required_by_the_table_roles():
    without = {k: v for k, v in BASE.items() if k != "CONNECTIONS_TABLE"}
    with pytest.raises(ConfigError, match="CONNECTIONS_TABLE: required by the agent-runtime"):
        Settings.from_env(without)


def test_messages_say_what_was_written():
    agent = {"agent_id": "a1", "world_id": "w1", "version": Decimal(3)}
    created = message("agents", "put", {"agent_id": "a1"}, None, agent)
    assert created["type"] == "agent.created" and created["item"]["version"] == 3
    assert message("agents", "put", {"agent_id": "a1"}, agent, agent)["type"] == "agent.updated"
    world = {"world_id": "w1", "status": "paused"}
    updated = message("worlds", "update", {"world_id": "w1"}, None, world)
    assert (updated["type"], updated["item"]["status"]) == ("world.updated", "paused")
    deleted = message("worlds", "delete", {"world_id": "w1"}, world, None)
    assert (deleted["type"], deleted["item"]) == ("world.deleted", world)
    # Nothing deleted, a table that is not watched, an agent whose world is unknown: no event.
    assert message("worlds", "delete", {"world_id": "w1"}, None, None) is None
    assert message("memory-streams", "put", {"agent_id": "a1"}, None, agent) is None
    assert message("agents", "update", {"agent_id": "a1"}, None, None) is None


def test_a_message_too_large_for_the_management_api_goes_without_its_item():
    big = {"world_id": "w1", "object_id": "o", "properties": {"blob": "x" * MAX_MESSAGE_BYTES}}
    data = encode(message("world-objects", "put", {"world_id": "w1", "object_id": "o"}, None, big))
    sent = json.loads(data)
    assert len(data) <= MAX_MESSAGE_BYTES
    assert sent["item"] is None and sent["truncated"] is True and sent["type"] == "object.created"


class StuckClient:
    """A Management API client whose posts wait until released (a hung connection)."""

    def __init__(self):
        self.release = threading.Event()

    def post_to_connection(self, **_):
        self.release.wait(10)


class OneWorld:
    def registered(self, world_id):
        return {"c1": 0.0}


def test_a_full_queue_drops_the_event_instead_of_holding_up_the_write(caplog):
    client = StuckClient()
    publisher = Publisher(OneWorld(), client, workers=1, max_pending=2)
    assert publisher.publish("w1", b"{}") and publisher.publish("w1", b"{}")
    assert publisher.publish("w1", b"{}") is False
    assert publisher.dropped == 1
    assert "event dropped: fan-out queue full" in caplog.text
    client.release.set()
    assert publisher.wait_idle()
    publisher.close()


class SlowAtRandomClient:
    """Posts that take 0-5 ms each, at random, recorded in the order they finish."""

    def __init__(self):
        self.received: list[bytes] = []
        self.lock = threading.Lock()

    def post_to_connection(self, ConnectionId, Data):  # noqa: N803 - boto3's names
        time.sleep(random.uniform(0, 0.005))
        with self.lock:
            self.received.append(Data)


def test_a_worlds_events_reach_a_connection_in_the_order_they_were_written():
    # Two fan-out threads once took one world's events side by side: a pause could arrive
    # before the object delete written before it (seen in CI).
    client = SlowAtRandomClient()
    publisher = Publisher(OneWorld(), client, workers=4)
    sent = [str(n).encode() for n in range(60)]
    for data in sent:
        assert publisher.publish("w1", data)
    assert publisher.wait_idle()
    publisher.close()
    assert client.received == sent


def test_a_registry_failure_is_logged_not_raised(caplog):
    class Down:
        def registered(self, world_id):
            raise ConnectionError("redis is down")

    publisher = Publisher(Down(), StuckClient())
    publisher.publish("w1", b"{}")
    assert publisher.wait_idle()
    assert "event not sent: registry unavailable" in caplog.text
    publisher.close()


def test_every_watched_table_has_a_kind():
    assert set(events.KINDS) == {"worlds", "agents", "world-objects", "events", "snapshots"}


def test_repr_hides_the_redis_auth_token():
    settings = RealtimeSettings(redis_host="cache.internal", redis_auth_token="s3cr3t-token")
    assert "s3cr3t-token" not in repr(settings) and "cache.internal" in repr(settings)
    assert settings.redis_auth_token == "s3cr3t-token"
    assert "s3cr3t" not in repr(Settings.from_env({**BASE, "REDIS_AUTH_TOKEN": "s3cr3t"}))


def test_the_management_client_has_a_connection_per_posting_thread():
    client = events.management_client("https://example.test/v1", "eu-west-1", workers=24)
    assert client.meta.config.max_pool_connections == 24
