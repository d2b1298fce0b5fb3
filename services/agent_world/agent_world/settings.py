"""The service's configuration, read from the environment once and frozen.

There is no API key: API Gateway authenticates callers before a request reaches the task.
What a role needs (its tables, the bucket, Bedrock's model ids) is checked here, so a task
with a missing variable stops at start-up with the variable's name instead of failing per
request. ``SERVICE_ROLE=all`` (dev: one task serves every route) needs what all three need.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from service_common.env import ConfigError, EnvReader, server_problems

from agent_world import schema
from agent_world.realtime import RealtimeSettings

SINGLE_ROLES = ("world-management", "agent-runtime", "llm-integration")
ROLE_ALL = "all"
ROLES = (*SINGLE_ROLES, ROLE_ALL)
DEFAULT_PROVIDER = "agent_world.llm:EchoProvider"
BEDROCK_PROVIDER = "agent_world.llm:BedrockProvider"
DEFAULT_MAX_BODY_BYTES = 256 * 1024

# The tables (by their env variable) each role reads or writes.
ROLE_TABLES: dict[str, tuple[str, ...]] = {
    # MEMORY_TABLE too: deleting a world deletes its agents' memories.
    "world-management": (
        schema.WORLDS.env,
        schema.AGENTS.env,
        schema.MEMORY.env,
        schema.OBJECTS.env,
        schema.EVENTS.env,
        schema.SNAPSHOTS.env,
        schema.CONNECTIONS.env,  # issue 15: the events' registry without Redis
    ),
    "agent-runtime": (
        schema.WORLDS.env,
        schema.AGENTS.env,
        schema.MEMORY.env,
        schema.EVENTS.env,
        schema.CONNECTIONS.env,  # issue 15: $connect's registry without Redis
    ),
    "llm-integration": (),
}


def served_roles(role: str) -> tuple[str, ...]:
    """The single roles whose routes a ``role`` task serves: all three for ``all``."""
    return SINGLE_ROLES if role == ROLE_ALL else (role,)


def required_tables(role: str) -> tuple[str, ...]:
    """The table variables ``role`` needs (for ``all``, every role's, each once)."""
    needed = (env for served in served_roles(role) for env in ROLE_TABLES.get(served, ()))
    return tuple(dict.fromkeys(needed))


def is_base_path(prefix: str) -> bool:
    """Whether ``prefix`` can be an ``API_BASE_PATHS`` entry: ``/`` first, not last (so not
    ``/`` alone), and no whitespace anywhere."""
    return (
        prefix.startswith("/")
        and not prefix.endswith("/")
        and not any(char.isspace() for char in prefix)
    )


@dataclass(frozen=True)
class Settings:
    """The service's configuration; each field is read from the variable in its docstring."""

    role: str
    """SERVICE_ROLE: world-management, agent-runtime, llm-integration, or all (every route in
    one task, for dev). Required."""
    tables: Mapping[str, str] = field(default_factory=dict)
    """WORLDS_TABLE, AGENTS_TABLE, MEMORY_TABLE, OBJECTS_TABLE, EVENTS_TABLE, SNAPSHOTS_TABLE:
    the real table names, keyed by variable. Those the role uses are required."""
    snapshot_bucket: str = ""
    """SNAPSHOT_BUCKET: where snapshots are written. Required by world-management (and all)."""
    snapshot_kms_key_id: str = ""
    """SNAPSHOT_KMS_KEY_ID: the KMS key for snapshot objects. Default the bucket's (aws:kms)."""
    region: str | None = None
    """AWS_REGION (or AWS_DEFAULT_REGION): the region of the tables, bucket and Bedrock."""
    llm_provider: str = DEFAULT_PROVIDER
    """LLM_PROVIDER: ``module:attr`` of the completion provider. Default the offline echo."""
    model_ids: tuple[str, ...] = ()
    """BEDROCK_MODEL_IDS: comma-separated allow-list of model ids. Default empty: the echo
    provider accepts any id; required by the Bedrock provider in llm-integration (and all)."""
    enable_docs: bool = False
    """ENABLE_DOCS: serve ``/docs``, ``/redoc`` and ``/openapi.json``. Default false."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    """MAX_BODY_BYTES: larger request bodies get 413. Default 256 KiB (a DynamoDB item is
    at most 400 KB)."""
    log_level: str = "INFO"
    """LOG_LEVEL: DEBUG, INFO, WARNING or ERROR. Default INFO."""
    port: int = 8000
    """PORT: the port ``python -m agent_world`` listens on. Default 8000."""
    base_paths: tuple[str, ...] = ()
    """API_BASE_PATHS: comma-separated path prefixes (``/v1/api/world``) removed from a
    request's path before routing, so ``/v1/api/world/worlds/w1`` is served as ``/worlds/w1``;
    paths without one are served as they are. Each starts with ``/``, does not end with one and
    holds no whitespace. Default empty: nothing is removed."""
    # --- issue 15: Redis and the WebSocket events (agent_world/realtime.py) -------------
    realtime: RealtimeSettings = field(default_factory=RealtimeSettings)
    """REDIS_*, CACHE_TTL_SECONDS, WEBSOCKET_MANAGEMENT_URL, EVENT_WORKERS."""

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.role not in ROLES:
            problems.append(f"SERVICE_ROLE: expected one of {', '.join(ROLES)}, got {self.role!r}")
        for env in required_tables(self.role):
            if not self.tables.get(env):
                problems.append(f"{env}: required by the {self.role} role")
        if self.serves("world-management") and not self.snapshot_bucket:
            problems.append(f"SNAPSHOT_BUCKET: required by the {self.role} role")
        # The provider checks this too, but only once it is made: here it joins the others.
        bedrock = self.serves("llm-integration") and self.llm_provider == BEDROCK_PROVIDER
        if bedrock and not self.model_ids:
            problems.append("BEDROCK_MODEL_IDS: required by the Bedrock provider")
        problems += server_problems(self.max_body_bytes, self.log_level, self.port)
        if ":" not in self.llm_provider:
            problems.append(f"LLM_PROVIDER: expected module:attr, got {self.llm_provider!r}")
        bad_paths = [p for p in self.base_paths if not is_base_path(p)]
        if bad_paths:
            problems.append(
                "API_BASE_PATHS: expected paths that start with / and have no trailing / or "
                f"whitespace, got {', '.join(map(repr, bad_paths))}"
            )
        if problems:
            raise ConfigError("; ".join(problems))

    @property
    def roles(self) -> tuple[str, ...]:
        """The single roles this task serves: its own, or all three for ``all``."""
        return served_roles(self.role)

    def serves(self, role: str) -> bool:
        """Whether this task mounts ``role``'s routes."""
        return role in self.roles

    def table(self, table: schema.Table) -> str:
        return self.tables[table.env]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Settings from environment variables; ``ConfigError`` lists every problem."""
        read = EnvReader(env)
        enable_docs = read.flag("ENABLE_DOCS")
        log_level = read.log_level()
        values = {
            "role": env.get("SERVICE_ROLE", "").strip(),
            "tables": {t.env: env.get(t.env, "").strip() for t in schema.TABLES if env.get(t.env)},
            "snapshot_bucket": env.get("SNAPSHOT_BUCKET", "").strip(),
            "snapshot_kms_key_id": env.get("SNAPSHOT_KMS_KEY_ID", "").strip(),
            "region": (env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "").strip()
            or None,
            "llm_provider": env.get("LLM_PROVIDER", "").strip() or DEFAULT_PROVIDER,
            "model_ids": tuple(
                m.strip() for m in env.get("BEDROCK_MODEL_IDS", "").split(",") if m.strip()
            ),
            "enable_docs": enable_docs,
            "max_body_bytes": read.integer("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1, 64 << 20),
            "log_level": log_level,
            "port": read.integer("PORT", 8000, 1, 65535),
            "base_paths": tuple(
                p.strip() for p in env.get("API_BASE_PATHS", "").split(",") if p.strip()
            ),
            "realtime": RealtimeSettings.read(read),  # issue 15
        }
        try:
            settings = cls(**values)
        except ConfigError as error:
            read.problem(str(error))
            settings = None
        read.check()
        assert settings is not None
        return settings
