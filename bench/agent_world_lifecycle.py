"""Requests per second of the agent world's lifecycle endpoints, in process against moto.

The app (``SERVICE_ROLE=all``, every route in one app) runs in this process under
Starlette's ``TestClient``, with the tables and the snapshot bucket in moto's in-process
``mock_aws`` (no network, no real DynamoDB): the figures measure the service's own code,
FastAPI and botocore plus moto's emulation, not DynamoDB's latency. One thread, requests
one after another. Measured, each for ``--seconds``:

- ``pause/resume``: ``POST /worlds/w1/pause`` then ``/resume`` alternately (each one a
  conditional ``UpdateItem``), every answer checked to be 200;
- ``agent update``: ``PATCH /agents/a1`` with ``If-Match`` of the version just returned
  (GetItem of the agent and its world, then a conditional ``UpdateItem``);
- ``stale update``: the same with a version already used (409 with the current version);
- ``snapshot get``: ``GET /worlds/w1/snapshots/{id}`` (the world and the snapshot item);
- ``snapshot document``: ``GET .../document`` (plus S3 ``GetObject``, 20 objects, 5 agents);
- and, to compare with, the existing ``GET /worlds/w1`` (one ``GetItem``).

Usage: venv/bin/python bench/agent_world_lifecycle.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "services" / "agent_world"), str(ROOT / "services" / "common")]

import boto3  # noqa: E402
from agent_world import schema  # noqa: E402
from agent_world.app import create_app  # noqa: E402
from agent_world.settings import Settings  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from moto import mock_aws  # noqa: E402

REGION = "us-east-1"
BUCKET = "bench-snapshots"
NAMES = {t.env: f"bench-{t.logical}" for t in schema.TABLES}


def rate(seconds: float, request: Callable[[int], None]) -> tuple[float, int]:
    """Requests per second of ``request(n)`` called for ``seconds``, and how many ran."""
    count = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        request(count)
        count += 1
    return count / elapsed, count


def expect(answer, code: int):
    if answer.status_code != code:
        raise SystemExit(f"{answer.request.method} {answer.request.url}: {answer.status_code} "
                         f"{answer.text}")  # fmt: skip
    return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # one request line per request would dominate
    os.environ.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION=REGION)
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        schema.create_tables(session.client("dynamodb"), NAMES)
        s3 = session.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        settings = Settings(role="all", tables=NAMES, snapshot_bucket=BUCKET, region=REGION)
        client = TestClient(create_app(settings, dynamodb=session.resource("dynamodb"), s3=s3))
        expect(client.post("/worlds", json={"world_id": "w1", "name": "bench"}), 201)
        expect(client.post("/worlds/w1/agents", json={"agent_id": "a1", "name": "A"}), 201)
        for n in range(4):
            expect(client.post("/worlds/w1/agents", json={"name": f"B{n}"}), 201)
        for n in range(20):
            body = {"object_type": "tree", "properties": {"x": n}}
            expect(client.put(f"/worlds/w1/objects/o{n}", json=body), 201)
        snapshot = expect(client.post("/worlds/w1/snapshots"), 201).json()["snapshot_id"]

        def transition(n: int) -> None:
            expect(client.post(f"/worlds/w1/{'pause' if n % 2 == 0 else 'resume'}"), 200)

        version = {"now": expect(client.get("/agents/a1"), 200).json()["version"]}

        def update(n: int) -> None:
            answer = client.patch(
                "/agents/a1",
                headers={"If-Match": f'"{version["now"]}"'},
                json={"state": {"tick": n}},
            )
            version["now"] = expect(answer, 200).json()["version"]

        def stale(n: int) -> None:
            expect(client.patch("/agents/a1", json={"version": 1, "state": {"t": n}}), 409)

        def get_snapshot(_n: int) -> None:
            expect(client.get(f"/worlds/w1/snapshots/{snapshot}"), 200)

        def get_document(_n: int) -> None:
            expect(client.get(f"/worlds/w1/snapshots/{snapshot}/document"), 200)

        # pause/resume last: it may leave the world paused, where agent updates are a 409.
        cases = {
            "world get (baseline)": lambda _n: expect(client.get("/worlds/w1"), 200),
            "agent update": update,
            "stale update (409)": stale,
            "snapshot get": get_snapshot,
            "snapshot document": get_document,
            "pause/resume": transition,
        }
        print(f"in-process moto (mock_aws), one thread, {args.seconds:g} s each")
        for name, request in cases.items():
            per_second, count = rate(args.seconds, request)
            print(f"{name:22} {per_second:8.0f} requests/s  ({count} requests)")


if __name__ == "__main__":
    main()
