"""A world's events, pushed to its WebSocket connections through the API Gateway
Management API.

``Events`` is the write listener of ``cache.HookedTable``: each write to Worlds, Agents,
WorldObjects, Events or Snapshots becomes one JSON message (see the README, "Events"),
handed to ``Publisher``, which posts it to every connection of the world
(``post_to_connection`` on ``https://{api-id}.execute-api.{region}.amazonaws.com/{stage}``)
on a small pool of threads, in order for each world (a world's fan-outs run one after
another on its lane, so a connection receives its world's events in the order they were
written), and removes a connection API Gateway answers 410
(``GoneException``) for - unless it registered less than ``connections.CONNECTING_GRACE``
seconds ago (a connection whose ``$connect`` has not returned yet is 410 too). A
connection's own ``ws.connect`` event is not posted to it (it could not be delivered). The
HTTP write never waits for the posts and never fails because
of them: ``publish`` only queues, at most ``max_pending`` fan-outs are queued (more are
dropped and logged), and every failure is logged.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import zlib
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from agent_world import schema
from agent_world.connections import CONNECTING_GRACE
from agent_world.store import iso, to_plain, utc_now

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 128 * 1024
"""PostToConnection's ``Data`` maximum (botocore apigatewaymanagementapi model, 131072)."""

# The kind of item each watched table holds, as it appears in a message's ``type``.
KINDS = {
    schema.WORLDS.stem: "world",
    schema.AGENTS.stem: "agent",
    schema.OBJECTS.stem: "object",
    schema.EVENTS.stem: "event",
    schema.SNAPSHOTS.stem: "snapshot",
}


def management_client(endpoint_url: str, region: str | None, workers: int = 4) -> Any:
    """The Management API client of one stage: short timeouts, one retry (a slow
    connection must not hold a worker for long), an HTTP connection per posting thread
    (botocore's default pool of 10 would make more workers wait for one)."""
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint_url,
        region_name=region,
        config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2},
                      max_pool_connections=max(workers, 1)),
    )  # fmt: skip


def message(stem: str, op: str, key: dict, old: dict | None, new: dict | None) -> dict | None:
    """The event for a write, or None when it is not one (a delete of nothing, an agent
    whose world is unknown)."""
    kind = KINDS.get(stem)
    if kind is None or (op == "delete" and old is None):
        return None
    item = new if new is not None else old
    world_id = (item or {}).get("world_id") or key.get("world_id")
    if world_id is None:
        return None
    if op == "put":
        action = "updated" if old is not None else "created"
    else:
        action = "updated" if op == "update" else "deleted"
    if kind == "event":
        action = "recorded"
    return {
        "type": f"{kind}.{action}",
        "world_id": world_id,
        "key": to_plain(key),
        "item": to_plain(item) if item is not None else None,
        "at": iso(utc_now()),
    }


def encode(event: dict[str, Any]) -> bytes:
    """The message as sent; without its item (``"truncated": true``) when it would be
    larger than a WebSocket message may be."""
    data = json.dumps(event, sort_keys=True, separators=(",", ":")).encode()
    if len(data) > MAX_MESSAGE_BYTES:
        data = json.dumps({**event, "item": None, "truncated": True}, sort_keys=True,
                          separators=(",", ":")).encode()  # fmt: skip
    return data


FANOUT_LANES = 2
"""Fan-out threads; a world's events all go through one of them, in order."""


class Publisher:
    """Posts messages to a world's connections in the background (``workers`` threads)."""

    def __init__(
        self,
        registry: Any,
        client: Any,
        *,
        workers: int = 4,
        max_pending: int = 1000,
        grace: float = CONNECTING_GRACE,
        clock: Callable[[], float] = time.time,
    ):
        self.registry = registry
        self.client = client
        self.max_pending = max_pending
        self.grace = grace
        self.clock = clock
        # Fan-outs (a world's registry read, then its posts) run on lanes of one thread
        # each, a world always on the same lane: its events are posted in the order they
        # were written (two threads taking one world's fan-outs delivered a pause before the
        # object delete that preceded it), while two worlds on two lanes go in parallel.
        # The posts of all fan-outs share one pool, so a world with many connections is
        # posted to in parallel and a fan-out waiting for its posts never holds a thread
        # the posts need.
        self._lanes = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"ws-fanout-{lane}")
            for lane in range(FANOUT_LANES)
        ]
        self._posters = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ws-post")
        self._pending = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self.sent = 0
        self.gone = 0
        self.failed = 0
        self.dropped = 0
        self.kept = 0

    def publish(self, world_id: str, data: bytes, skip: Collection[str] = ()) -> bool:
        """Queue a fan-out to the world's connections but ``skip``; False (and logged) when
        ``max_pending`` are already queued."""
        with self._lock:
            if self._pending >= self.max_pending:
                self.dropped += 1
                log.warning("event dropped: fan-out queue full", extra={"world_id": world_id})
                return False
            self._pending += 1
        lane = self._lanes[zlib.crc32(world_id.encode()) % len(self._lanes)]
        lane.submit(self._fan_out, world_id, data, frozenset(skip))
        return True

    def _fan_out(self, world_id: str, data: bytes, skip: frozenset[str]) -> None:
        try:
            try:
                registered = self.registry.registered(world_id)
            except Exception as error:  # Redis or DynamoDB down: nobody to tell
                log.warning("event not sent: registry unavailable",
                            extra={"world_id": world_id, "error": str(error)})  # fmt: skip
                return
            targets = [(c, at) for c, at in sorted(registered.items()) if c not in skip]
            if len(targets) == 1:
                self._post(world_id, *targets[0], data)
            else:
                list(self._posters.map(lambda t: self._post(world_id, *t, data), targets))
        finally:
            with self._lock:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.notify_all()

    def _post(self, world_id: str, connection_id: str, since: float, data: bytes) -> None:
        try:
            self.client.post_to_connection(ConnectionId=connection_id, Data=data)
            self._count("sent")
        except ClientError as error:
            if error.response["Error"]["Code"] == "GoneException":
                if self.clock() - since < self.grace:  # still connecting: not gone
                    self._count("kept")
                    log.info("connection not open yet", extra={"connection_id": connection_id})
                    return
                self._count("gone")
                try:
                    self.registry.discard(world_id, connection_id)
                except Exception as discard_error:  # kept until its TTL
                    log.warning("gone connection not removed",
                                extra={"connection_id": connection_id,
                                       "error": str(discard_error)})  # fmt: skip
                log.info("connection gone", extra={"connection_id": connection_id})
                return
            self._count("failed")
            log.warning("event not delivered",
                        extra={"connection_id": connection_id,
                               "code": error.response["Error"]["Code"]})  # fmt: skip
        except BotoCoreError as error:
            self._count("failed")
            log.warning("event not delivered",
                        extra={"connection_id": connection_id, "error": str(error)})  # fmt: skip

    def _count(self, what: str) -> None:
        with self._lock:
            setattr(self, what, getattr(self, what) + 1)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Until every queued fan-out has finished (tests, the bench, shutdown)."""
        with self._lock:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        for lane in self._lanes:
            lane.shutdown(wait=True)
        self._posters.shutdown(wait=True)


class Events:
    """The write listener: a message per write, published for its world."""

    def __init__(self, publish: Callable[..., Any]):
        self.publish = publish

    def __call__(self, stem: str, op: str, key: dict, old: dict | None, new: dict | None):
        event = message(stem, op, key, old, new)
        if event is not None:
            self.publish(event["world_id"], encode(event), connecting(stem, new))


def connecting(stem: str, new: dict | None) -> tuple[str, ...]:
    """The connection a ``ws.connect`` event is about: not posted to (API Gateway has not
    opened it while its ``$connect`` integration runs)."""
    if stem != schema.EVENTS.stem or not new or new.get("type") != "ws.connect":
        return ()
    connection_id = (new.get("payload") or {}).get("connection_id")
    return (connection_id,) if isinstance(connection_id, str) else ()
