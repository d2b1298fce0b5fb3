"""Read-through cache of world and agent reads in Redis, and the table wrapper that keeps it
(and the WebSocket events) in step with every write.

``HookedTable`` stands in front of a boto3 DynamoDB ``Table``: every attribute is the
table's own, except that

- ``get_item(Key=...)`` on a cached table (Worlds, Agents) answers from Redis when it can,
  and otherwise reads DynamoDB with ``ConsistentRead`` and fills Redis;
- ``put_item``, ``update_item``, ``delete_item``, ``batch_writer`` and ``transact`` (a
  write conditional on another table's item, one ``TransactWriteItems``) write DynamoDB
  first, then invalidate the item's cache entry and tell the listener (``events.Events``)
  what was written, so no route has to remember to do either.

A fill can race a write (read the old item, the write lands and invalidates, the fill then
stores the old item). Each key has a generation that every write increments; a fill stores
its item only if the generation is still the one it saw before reading (one Lua script,
atomic in Redis), so an item older than the last write is never cached. Entries expire
after ``ttl`` seconds regardless.

Redis failing never fails a request: the call is logged (once per ``retry_after`` seconds),
Redis is skipped for ``retry_after`` seconds, and DynamoDB serves alone meanwhile.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from redis.exceptions import RedisError

from agent_world import schema

log = logging.getLogger(__name__)

Listener = Callable[[str, str, dict[str, Any], dict | None, dict | None], None]
"""``(table stem, "put" | "update" | "delete", key, old item, new item)`` after a write."""

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()

# KEYS[1] the generation, KEYS[2] the entry; ARGV: generation seen, item, ttl seconds.
_FILL = """
local current = redis.call('GET', KEYS[1]) or '0'
if current == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2], 'EX', tonumber(ARGV[3]))
  return 1
end
return 0
"""
GENERATION_TTL = 86400
"""Seconds a key's generation lives after its last write: far longer than an entry's TTL
(a generation that expired reads as 0, which no fill in flight holds after a write)."""


class Breaker:
    """After a Redis error, Redis is skipped for ``retry_after`` seconds (a request does not
    wait for a dead server each time); each outage is logged once."""

    def __init__(self, retry_after: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.retry_after = retry_after
        self.clock = clock
        self._open_until = 0.0
        self._lock = threading.Lock()

    def closed(self) -> bool:
        return self.clock() >= self._open_until

    def failed(self, what: str, error: Exception) -> None:
        with self._lock:
            first = self.closed()
            self._open_until = self.clock() + self.retry_after
        if first:
            log.warning(
                "redis unavailable: serving from DynamoDB alone",
                extra={"operation": what, "error": f"{type(error).__name__}: {error}"},
            )


def encode_item(item: Mapping[str, Any]) -> str:
    """An item as DynamoDB-typed JSON, so it comes back exactly (``Decimal`` stays)."""
    return json.dumps({k: _SERIALIZER.serialize(v) for k, v in item.items()}, sort_keys=True)


def decode_item(raw: str | bytes) -> dict[str, Any]:
    return {k: _DESERIALIZER.deserialize(v) for k, v in json.loads(raw).items()}


class Cache:
    """World and agent items in Redis (``client``: a ``redis.Redis``), ``ttl`` seconds."""

    def __init__(self, client: Any, ttl: int, breaker: Breaker | None = None, prefix: str = "aw"):
        self.client = client
        self.ttl = ttl
        self.breaker = breaker or Breaker()
        self.prefix = prefix
        self._fill = client.register_script(_FILL)

    def _keys(self, stem: str, key: Mapping[str, Any]) -> tuple[str, str]:
        ident = ":".join(str(key[k]) for k in sorted(key))
        # One hash tag per item: both keys land in one slot even on a cluster.
        base = f"{self.prefix}:{{{stem}:{ident}}}"
        return f"{base}:gen", f"{base}:item"

    def lookup(self, stem: str, key: Mapping[str, Any]) -> tuple[dict | None, str | None]:
        """``(item, None)`` on a hit; ``(None, generation)`` on a miss; ``(None, None)``
        when Redis is unavailable (then nothing is filled either)."""
        if not self.breaker.closed():
            return None, None
        gen_key, item_key = self._keys(stem, key)
        try:
            generation, raw = self.client.mget(gen_key, item_key)
        except RedisError as error:
            self.breaker.failed("get", error)
            return None, None
        if raw is not None:
            return decode_item(raw), None
        return None, (generation.decode() if isinstance(generation, bytes) else generation) or "0"

    def fill(self, stem: str, key: Mapping[str, Any], generation: str, item: Mapping) -> bool:
        """Store ``item`` unless a write came after ``generation`` was read."""
        gen_key, item_key = self._keys(stem, key)
        try:
            return bool(
                self._fill(keys=[gen_key, item_key], args=[generation, encode_item(item), self.ttl])
            )
        except (RedisError, TypeError, ValueError) as error:
            if isinstance(error, RedisError):
                self.breaker.failed("fill", error)
            return False

    def invalidate(self, stem: str, key: Mapping[str, Any]) -> None:
        """After a write: a new generation, and the entry gone. With Redis down the entry
        (if any) lives until its TTL: the staleness bound of an outage."""
        gen_key, item_key = self._keys(stem, key)
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.incr(gen_key)
            pipe.expire(gen_key, GENERATION_TTL)
            pipe.delete(item_key)
            pipe.execute()
        except RedisError as error:
            self.breaker.failed("invalidate", error)


CACHED_STEMS = (schema.WORLDS.stem, schema.AGENTS.stem)
"""The tables whose single-item reads are cached."""


def _condition_failed(error: Exception) -> bool:
    return isinstance(error, ClientError) and (
        error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
    )


def _cancelled(error: Exception) -> bool:
    return isinstance(error, ClientError) and (
        error.response.get("Error", {}).get("Code") == "TransactionCanceledException"
    )


def cancellation_codes(error: ClientError) -> list[str]:
    """A cancelled transaction's reason per item (``ConditionalCheckFailed``, ``None``...)."""
    return [r.get("Code", "") for r in error.response.get("CancellationReasons") or []]


def _key_of(spec: schema.Table, item: Mapping[str, Any]) -> dict[str, Any]:
    names = [spec.hash_key, *([spec.range_key] if spec.range_key else [])]
    return {n: item[n] for n in names if n in item}


class HookedTable:
    """A boto3 ``Table`` with the cache (``cache``, for Worlds and Agents) and the write
    ``listener`` in front; everything else is the table's own."""

    def __init__(
        self, table: Any, spec: schema.Table, cache: Cache | None, listener: Listener | None
    ):
        self._table = table
        self._spec = spec
        self._cache = cache if spec.stem in CACHED_STEMS else None
        self._listener = listener

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        # Only the plain read by key is cached (projections, explicit consistency: as asked).
        if self._cache is None or set(kwargs) != {"Key"}:
            return self._table.get_item(**kwargs)
        key = kwargs["Key"]
        item, generation = self._cache.lookup(self._spec.stem, key)
        if item is not None:
            return {"Item": item}
        # A consistent read, so a fill never stores what an earlier write replaced.
        answer = self._table.get_item(Key=key, ConsistentRead=generation is not None)
        if generation is not None and "Item" in answer:
            self._cache.fill(self._spec.stem, key, generation, answer["Item"])
        return answer

    def _write(self, method: str, op: str, ask: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        added = "ReturnValues" not in kwargs
        if added:
            kwargs["ReturnValues"] = ask
        try:
            answer = getattr(self._table, method)(**kwargs)
        except Exception as error:
            # A timeout or a 5xx may still have written: the entry goes (no event, as what
            # was written is unknown). A failed condition wrote nothing: it is kept.
            if not _condition_failed(error):
                self._invalidate(self._key_for(op, kwargs))
            raise
        attributes = answer.get("Attributes")
        if op == "put":
            key, old, new = _key_of(self._spec, kwargs["Item"]), attributes, kwargs["Item"]
        elif op == "update":
            returned = kwargs["ReturnValues"]
            new = attributes if returned == "ALL_NEW" else None
            old = attributes if returned == "ALL_OLD" else None
            key = dict(kwargs["Key"])
        else:
            key, old, new = dict(kwargs["Key"]), attributes, None
        self._written(op, key, old, new)
        if added:
            answer = {k: v for k, v in answer.items() if k != "Attributes"}
        return answer

    def _key_for(self, op: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        return _key_of(self._spec, kwargs["Item"]) if op == "put" else dict(kwargs["Key"])

    def _invalidate(self, key: dict) -> None:
        if self._cache is not None:
            self._cache.invalidate(self._spec.stem, key)

    def _written(self, op: str, key: dict, old: dict | None, new: dict | None) -> None:
        self._invalidate(key)
        if self._listener is not None:
            try:
                self._listener(self._spec.stem, op, key, old, new)
            except Exception:  # an event must never fail the write that already happened
                log.exception("event not published", extra={"table": self._spec.stem})

    def put_item(self, **kwargs: Any) -> dict[str, Any]:
        return self._write("put_item", "put", "ALL_OLD", kwargs)

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        return self._write("update_item", "update", "ALL_NEW", kwargs)

    def delete_item(self, **kwargs: Any) -> dict[str, Any]:
        return self._write("delete_item", "delete", "ALL_OLD", kwargs)

    def transact(
        self, check: dict[str, Any], op: str, params: dict[str, Any], old: dict | None = None
    ) -> dict[str, Any] | None:
        """One ``TransactWriteItems``, all or nothing: ``check`` (a ``ConditionCheck`` on
        another table's item, e.g. the world being active) and this table's ``op``
        (``"Put"`` or ``"Update"``; ``params`` as for ``put_item``/``update_item``, without
        ``ReturnValues``). It goes through the low-level client, around ``put_item`` and
        ``update_item``, so it is invalidated and published here like them: ``old`` is the
        item replaced (``{}`` when it existed but was not read), the new image a Put's item
        or, for an Update, read back consistently. Returns the new image."""
        key = dict(params["Key"]) if op == "Update" else _key_of(self._spec, params["Item"])
        write = {"TableName": self._table.name, **params}
        try:
            self._table.meta.client.transact_write_items(
                TransactItems=[{"ConditionCheck": check}, {op: write}]
            )
        except Exception as error:
            # A cancelled transaction wrote nothing; a timeout or a 5xx may have.
            if not _cancelled(error):
                self._invalidate(key)
            raise
        if op == "Put":
            new = params["Item"]
        else:
            new = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
        self._written("put" if op == "Put" else "update", key, old, new)
        return new

    def batch_writer(self, **kwargs: Any) -> _HookedBatch:
        return _HookedBatch(self, self._table.batch_writer(**kwargs))


class _HookedBatch:
    """``batch_writer()``: the writes are reported once the batch is flushed."""

    def __init__(self, owner: HookedTable, batch: Any):
        self._owner = owner
        self._batch = batch
        self._done: list[tuple[str, dict, dict | None]] = []

    def __enter__(self) -> _HookedBatch:
        self._batch.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        try:
            result = self._batch.__exit__(*exc)
        except BaseException:
            self._failed()
            raise
        if exc[0] is None:
            for op, key, new in self._done:
                self._owner._written(op, key, None, new)
        else:
            self._failed()
        return result

    def _failed(self) -> None:
        # Some of the batch may have been sent (boto3 flushes every 25 items): every
        # entry queued goes from the cache; no events, since which landed is unknown.
        for _, key, _ in self._done:
            self._owner._invalidate(key)

    def put_item(self, Item: dict[str, Any], **kwargs: Any) -> None:  # noqa: N803 (boto3's name)
        # Queued first: the batch may flush (and fail) inside this call.
        self._done.append(("put", _key_of(self._owner._spec, Item), Item))
        self._batch.put_item(Item=Item, **kwargs)

    def delete_item(self, Key: dict[str, Any], **kwargs: Any) -> None:  # noqa: N803
        self._done.append(("delete", dict(Key), None))
        self._batch.delete_item(Key=Key, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._batch, name)
