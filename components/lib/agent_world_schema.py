"""The agent world's tables, read from their one definition in the service.

The tables' keys, indexes, TTL and stream are defined once, in
``services/agent_world/agent_world/schema.py``, because the service queries them and its
image must work on its own (``services/agent_world`` is copied into the image; nothing
under ``components/`` is). The component that creates the tables, the physical-name list
and the tests all use that module, through this one:

    from components.lib.agent_world_schema import TABLES

How: ``services/agent_world`` goes on ``sys.path`` (appended, once) - exactly what
pyproject.toml's pytest ``pythonpath`` does for the service's own tests - and
``agent_world.schema`` is imported by its ordinary name. So there is one module object in
a process however it was reached (``from agent_world import schema`` in a service test is
the same module), and the directory is found from this file, not from the working
directory: it works under ``pulumi up`` (where only the project directory is on the path),
the offline runner, the policy pack and pytest alike. The service package's ``__init__``
imports nothing and ``schema`` only the standard library, so the program needs none of
the service's dependencies. If another ``agent_world`` shadowed the service's, the import
fails here rather than creating tables from a different definition.

Lib: pure, no resources; the one lib module that reads a service's code (that pure module).
"""

from __future__ import annotations

import sys
from pathlib import Path

SERVICE_ROOT = Path(__file__).resolve().parents[2] / "services" / "agent_world"
"""The agent world service's directory: its image's build context and its import root."""

if str(SERVICE_ROOT) not in sys.path:
    sys.path.append(str(SERVICE_ROOT))

from agent_world import schema  # noqa: E402

if Path(schema.__file__).resolve() != SERVICE_ROOT / "agent_world" / "schema.py":
    raise ImportError(
        f"agent_world.schema was imported from {schema.__file__}, not from {SERVICE_ROOT}: "
        "another agent_world package is ahead of the service on sys.path"
    )

Index = schema.Index
Table = schema.Table
TABLES = schema.TABLES
"""The seven tables (the seed's six, then the WebSocket registry), in the order the
service's environment names them."""

__all__ = ["SERVICE_ROOT", "TABLES", "Index", "Table", "schema"]
