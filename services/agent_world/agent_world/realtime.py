"""Redis and the WebSocket events, put together for ``create_app``: their settings (part
of ``Settings``, as ``Settings.realtime``) and ``Realtime``, which wraps the tables
(``cache.HookedTable``) and gives the ``$connect``/``$disconnect`` routes the registry.

What is on depends on the environment:

- ``REDIS_HOST`` set: Redis (TLS unless ``REDIS_TLS=false``, ``REDIS_AUTH_TOKEN`` as the
  AUTH password) caches world and agent reads and holds the connection registry;
- no Redis: no cache; the registry is the Connections table (``CONNECTIONS_TABLE``);
- ``WEBSOCKET_MANAGEMENT_URL`` set: writes are pushed to the world's connections.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from service_common.env import EnvReader

from agent_world import schema
from agent_world.cache import Breaker, Cache, HookedTable
from agent_world.connections import DynamoRegistry, RedisRegistry
from agent_world.events import Events, Publisher, management_client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RealtimeSettings:
    """Each field is read from the variable in its docstring."""

    redis_host: str = ""
    """REDIS_HOST: the Redis primary endpoint. Default unset: no cache, registry in DynamoDB."""
    redis_port: int = 6379
    """REDIS_PORT. Default 6379."""
    redis_tls: bool = True
    """REDIS_TLS: TLS to Redis (ElastiCache in-transit encryption). Default true."""
    redis_auth_token: str = field(default="", repr=False)
    """REDIS_AUTH_TOKEN: the AUTH token (an ECS secret). Default none."""
    redis_ca_file: str = ""
    """REDIS_CA_FILE: a CA bundle for Redis' certificate. Default the system's (which
    trusts ElastiCache's)."""
    cache_ttl: int = 60
    """CACHE_TTL_SECONDS: how long a cached world or agent lives. Default 60."""
    management_url: str = ""
    """WEBSOCKET_MANAGEMENT_URL: ``https://{api-id}.execute-api.{region}.amazonaws.com/{stage}``.
    Default unset: no events are pushed."""
    fanout_workers: int = 4
    """EVENT_WORKERS: threads posting events. Default 4."""

    @classmethod
    def read(cls, read: EnvReader) -> RealtimeSettings:
        url = read.text("WEBSOCKET_MANAGEMENT_URL")
        parts = urlsplit(url)
        if url and (parts.scheme not in ("https", "http") or not parts.hostname):
            read.problem(f"WEBSOCKET_MANAGEMENT_URL: expected an https:// URL, got {url!r}")
            url = ""
        return cls(
            redis_host=read.text("REDIS_HOST"),
            redis_port=read.integer("REDIS_PORT", 6379, 1, 65535),
            redis_tls=read.flag("REDIS_TLS") if read.text("REDIS_TLS") else True,
            redis_auth_token=read.text("REDIS_AUTH_TOKEN"),
            redis_ca_file=read.text("REDIS_CA_FILE"),
            cache_ttl=read.integer("CACHE_TTL_SECONDS", 60, 1, 86400),
            management_url=url,
            fanout_workers=read.integer("EVENT_WORKERS", 4, 1, 64),
        )


def redis_client(s: RealtimeSettings) -> Any:
    """A ``redis.Redis`` for ``s``: short timeouts (a request must not wait long for a dead
    cache), no retries (the breaker decides), verified TLS."""
    import redis

    options: dict[str, Any] = {
        "host": s.redis_host,
        "port": s.redis_port,
        "password": s.redis_auth_token or None,
        "socket_timeout": 0.5,
        "socket_connect_timeout": 0.5,
        "retry": None,
        "retry_on_error": [],
        "health_check_interval": 30,
    }
    if s.redis_tls:
        options |= {"ssl": True, "ssl_cert_reqs": "required",
                    "ssl_ca_certs": s.redis_ca_file or None}  # fmt: skip
    return redis.Redis(**options)


class Realtime:
    """The cache, registry and publisher of one app (each None when not configured)."""

    def __init__(
        self,
        settings: RealtimeSettings,
        tables: Mapping[str, str],
        dynamodb: Any,
        region: str | None,
        *,
        redis: Any = None,
        management: Any = None,
    ):
        self.cache: Cache | None = None
        self.registry: Any = None
        self.publisher: Publisher | None = None
        if settings.redis_host or redis is not None:
            redis = redis or redis_client(settings)
            self.cache = Cache(redis, settings.cache_ttl, Breaker())
            self.registry = RedisRegistry(redis)
        elif tables.get(schema.CONNECTIONS.env):
            self.registry = DynamoRegistry(dynamodb.Table(tables[schema.CONNECTIONS.env]))
        if settings.management_url or management is not None:
            client = management or management_client(
                settings.management_url, region, settings.fanout_workers
            )
            if self.registry is None:
                log.warning("events off: no registry (neither REDIS_HOST nor CONNECTIONS_TABLE)")
            else:
                self.publisher = Publisher(self.registry, client, workers=settings.fanout_workers)
        self.listener = Events(self.publisher.publish) if self.publisher else None
        log.info("realtime ready", extra={"cache": self.cache is not None,
                 "registry": type(self.registry).__name__ if self.registry else None,
                 "events": self.publisher is not None})  # fmt: skip

    def wrap(self, table: Any, spec: schema.Table) -> HookedTable:
        """``table`` with the cache and the event listener in front."""
        return HookedTable(table, spec, self.cache, self.listener)
