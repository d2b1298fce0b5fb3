"""The agent world's three roles of one image: their ports, REST paths and table actions.

Pure data and functions (no resources), shared by the modules that build the stack
(services, private path, APIs) and by the tests, the preflight and the quota check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from components.lib import listener_rules

CONTAINER_PORT = 8000
"""The port every role's container listens on."""
STAGE = "v1"
"""The stage of both APIs: the first part of every public path (``/v1/api/world/...``)."""


@dataclass(frozen=True)
class Role:
    """One of the three services of the one image."""

    name: str
    """``SERVICE_ROLE`` of the container and the service's name."""
    listener_port: int
    """The NLB port in front of it."""
    api_path: str
    """REST path prefix under ``/api``."""


ROLES: tuple[Role, ...] = (
    Role("world-management", 8001, "world"),
    Role("agent-runtime", 8002, "runtime"),
    Role("llm-integration", 8003, "llm"),
)
ALL = Role("all", 8001, "")
"""The one service of ``single_service``: every role's routes in one task."""
SERVICE_HEADER = "X-Agent-World-Service"
"""Shared-ALB mode: names the service a request is for (set by the REST integration)."""
RULE_PRIORITY = listener_rules.AGENT_WORLD_FIRST
"""Shared-ALB mode: the services' rules come first, so that no path rule of another stack
(``/health`` of the inference stack, say) takes a request API Gateway sent here."""

# Table actions per service: only their own tables, only what they call.
_READ = ["dynamodb:GetItem", "dynamodb:Query"]
_WRITE = ["dynamodb:PutItem", "dynamodb:UpdateItem"]
_BATCH = "dynamodb:BatchWriteItem"
_CHECK = "dynamodb:ConditionCheckItem"
"""A ``ConditionCheck`` of ``TransactWriteItems`` (the transaction itself has no action:
each of its items is authorized as its own action on its own table)."""
TABLE_ACCESS: dict[str, dict[str, list[str]]] = {
    # A world's delete cascade and its restore from a snapshot (services/agent_world
    # lifecycle.py) batch-delete its objects, events, agents, their memories and its
    # snapshots, and put its agents back.
    "world-management": {
        # ConditionCheckItem: an object write is one TransactWriteItems with the world's
        # status checked (services/agent_world state.write_in_active_world).
        "worlds": [*_READ, *_WRITE, "dynamodb:DeleteItem", _CHECK],
        "world-objects": [*_READ, *_WRITE, "dynamodb:DeleteItem", _BATCH],
        "snapshots": [*_READ, "dynamodb:PutItem", _BATCH],
        "agents": ["dynamodb:Query", "dynamodb:PutItem", _BATCH],
        "events": ["dynamodb:Query", _BATCH],
        "memory-streams": ["dynamodb:Query", _BATCH],
        # issue 15, without Redis: a world's connections for its events; gone ones removed.
        "connections": ["dynamodb:Query", "dynamodb:DeleteItem"],
    },
    "agent-runtime": {
        "agents": [*_READ, *_WRITE],
        "memory-streams": [*_READ, "dynamodb:PutItem"],
        "events": [*_READ, "dynamodb:PutItem"],
        # Agent creates and updates are transactions with the world's status checked.
        "worlds": ["dynamodb:GetItem", _CHECK],
        # issue 15, without Redis: $connect registers, $disconnect and a 410 remove.
        "connections": ["dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"],
    },
    "llm-integration": {},
}
"""Per role, the tables (by the schema's ``stem``) it may touch and the actions on each.
``connections`` is granted only where the stack has no Redis (Redis holds the registry
then: ``REGISTRY_TABLE``)."""
REGISTRY_TABLE = "connections"
"""The WebSocket registry's table (stem), used only without Redis."""
PUSHING_ROLES = ("world-management", "agent-runtime")
"""The roles whose writes are pushed to WebSocket connections
(``execute-api:ManageConnections``)."""


def served_roles(service: str) -> tuple[str, ...]:
    """The roles whose routes the service ``service`` answers: all three for ``all``."""
    return tuple(r.name for r in ROLES) if service == ALL.name else (service,)


def table_access(services: Sequence[str]) -> dict[str, list[str]]:
    """The table actions of a task that serves ``services`` (``all``: every role's)."""
    merged: dict[str, list[str]] = {}
    for name in (role for service in services for role in served_roles(service)):
        for table, actions in TABLE_ACCESS[name].items():
            merged[table] = list(dict.fromkeys([*merged.get(table, []), *actions]))
    return merged
