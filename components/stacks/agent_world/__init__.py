"""The agent world stack (seed 004), one module per concern:

- ``stack``: :class:`AgentWorldStack` and its args, wiring the parts below;
- ``data``: :class:`AgentWorldData` - key, tables (the service's own schema), buckets, Redis;
- ``roles``: the three roles of the one image, their ports, paths and table actions (pure);
- ``services``: the tasks' network and IAM, an ECS service per role;
- ``private_path``: the internal NLB or the shared ALB's rules, and the VPC link;
- ``apis``: the REST and WebSocket APIs, the API key and usage plan, the access-log formats;
- ``cdn``: CloudFront in front of the assets bucket and the REST API;
- ``observability``: the dashboard and alarms.

The part modules create children of the stack under their fixed logical names; only
``stack`` and ``data`` define components (their type tokens are in the README's table).
The stacks and ``__main__`` import :class:`AgentWorldStack` and :class:`AgentWorldArgs`.
"""

from components.stacks.agent_world.data import AgentWorldData, AgentWorldDataArgs
from components.stacks.agent_world.stack import AgentWorldArgs, AgentWorldStack

__all__ = ["AgentWorldArgs", "AgentWorldData", "AgentWorldDataArgs", "AgentWorldStack"]
