"""The agent world's Redis cache and WebSocket event fan-out, measured.

1. World reads, ``GET /worlds/{id}`` to the app served by uvicorn on 127.0.0.1 (one
   keep-alive connection, sequential requests), and the wrapped table's ``get_item``
   alone: uncached (no Redis: every read a DynamoDB GetItem) and cached (a real
   ``redis-server`` with TLS and AUTH, as ElastiCache runs it; every read after the first a
   Redis hit). DynamoDB is moto in-process (``mock_aws``), so the uncached figure is moto's
   speed, not DynamoDB's (a real GetItem is a network round trip of a few milliseconds,
   which makes the cache's gain larger than here).
2. Event fan-out: one event posted to N connections of a world (registry in the same
   Redis) through the real boto3 ``apigatewaymanagementapi`` client against the local
   Management API on 127.0.0.1 (``service_testing.management_api``): seconds from
   ``publish`` until every post has been answered, and posts per second.

Usage: venv/bin/python bench/agent_world_realtime.py [--reads 2000] [--connections 10,100,1000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICE = ROOT / "services" / "agent_world"
COMMON = ROOT / "services" / "common"
sys.path[:0] = [str(SERVICE), str(COMMON)]

import boto3  # noqa: E402
import uvicorn  # noqa: E402
from agent_world import schema  # noqa: E402
from agent_world.app import create_app  # noqa: E402
from agent_world.connections import RedisRegistry  # noqa: E402
from agent_world.events import Publisher, encode, management_client, message  # noqa: E402
from agent_world.realtime import RealtimeSettings  # noqa: E402
from agent_world.settings import Settings  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from moto import mock_aws  # noqa: E402
from service_testing.management_api import ManagementApi  # noqa: E402
from service_testing.redis import RedisServer  # noqa: E402

REGION = "us-east-1"
NAMES = {t.env: f"bench-{t.stem}" for t in schema.TABLES}


def redis_settings(server: RedisServer) -> RealtimeSettings:
    return RealtimeSettings(
        redis_host=server.host, redis_port=server.port,
        redis_auth_token=server.password, redis_ca_file=str(server.ca_file),
    )  # fmt: skip


def reads_per_second(realtime: RealtimeSettings, reads: int) -> tuple[float, float]:
    """Requests/s of ``GET /worlds/w1`` through the app, and ``get_item``/s of the wrapped
    Worlds table alone (the store's part of a read, without HTTP and routing)."""
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        schema.create_tables(session.client("dynamodb"), NAMES)
        settings = Settings(role="world-management", tables=NAMES, snapshot_bucket="b",
                            region=REGION, realtime=realtime)  # fmt: skip
        app = create_app(settings, dynamodb=session.resource("dynamodb"),
                         s3=session.client("s3"))  # fmt: skip
        client = TestClient(app)
        assert client.post("/worlds", json={"world_id": "w1", "name": "Bench"}).status_code == 201
        elapsed = over_http(app, reads)
        worlds = app.state.realtime.wrap(
            session.resource("dynamodb").Table(NAMES["WORLDS_TABLE"]), schema.WORLDS
        )
        started = time.perf_counter()
        for _ in range(reads):
            item = worlds.get_item(Key={"world_id": "w1"})["Item"]
        store = reads / (time.perf_counter() - started)
        assert item["name"] == "Bench"
        return reads / elapsed, store


def over_http(app, reads: int) -> float:
    """Seconds for ``reads`` sequential ``GET /worlds/w1`` to uvicorn on 127.0.0.1 over one
    keep-alive connection (the service as ``python -m agent_world`` serves it, in a thread
    of this process so that moto's in-process DynamoDB answers it)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    connection = http.client.HTTPConnection("127.0.0.1", port)

    def get() -> dict:
        connection.request("GET", "/worlds/w1")
        answer = connection.getresponse()
        body = answer.read()
        assert answer.status == 200, body
        return json.loads(body)

    for _ in range(20):  # warm: the first fill, the connection
        get()
    started = time.perf_counter()
    for _ in range(reads):
        body = get()
    elapsed = time.perf_counter() - started
    assert body["name"] == "Bench"
    connection.close()
    server.should_exit = True
    thread.join(10)
    return elapsed


def fan_out(server: RedisServer, connections: int, workers: int) -> tuple[float, int]:
    """Seconds for one event to reach ``connections`` connections, and how many got it."""
    redis = server.client()
    redis.flushall()
    registry = RedisRegistry(redis)
    for n in range(connections):
        registry.add("w1", f"c{n:05d}")
    with ManagementApi() as api:
        client = management_client(api.url, REGION, workers)
        publisher = Publisher(registry, client, workers=workers)
        event = message("agents", "put", {"agent_id": "a1"}, None,
                        {"agent_id": "a1", "world_id": "w1", "name": "Isabella"})  # fmt: skip
        assert event is not None
        # Warm the client (its first request loads the model and opens connections).
        publisher.publish("w1", encode(event))
        publisher.wait_idle(120)
        api.received.clear()
        started = time.perf_counter()
        publisher.publish("w1", encode(event))
        publisher.wait_idle(300)
        elapsed = time.perf_counter() - started
        delivered = sum(len(v) for v in api.received.values())
        publisher.close()
    return elapsed, delivered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--connections", default="10,100,1000")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                      AWS_DEFAULT_REGION=REGION)  # fmt: skip
    with tempfile.TemporaryDirectory() as directory, RedisServer(Path(directory)) as server:
        uncached = reads_per_second(RealtimeSettings(), args.reads)
        cached = reads_per_second(redis_settings(server), args.reads)
        print(
            f"world reads, GET /worlds/{{id}} (uvicorn on 127.0.0.1, one connection), "
            f"{args.reads} each: "
            f"uncached (moto DynamoDB) {uncached[0]:,.0f} req/s, "
            f"cached (redis-server, TLS + AUTH) {cached[0]:,.0f} req/s "
            f"({cached[0] / uncached[0]:.2f}x)"
        )
        print(f"world reads, the wrapped table's get_item alone: "
              f"uncached {uncached[1]:,.0f}/s, cached {cached[1]:,.0f}/s "
              f"({cached[1] / uncached[1]:.2f}x)")  # fmt: skip
        for count in (int(c) for c in args.connections.split(",")):
            seconds, delivered = fan_out(server, count, args.workers)
            print(f"event fan-out to {count} connections ({args.workers} posting threads): "
                  f"{seconds * 1000:,.1f} ms, {delivered / seconds:,.0f} posts/s, "
                  f"{delivered}/{count} delivered")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
