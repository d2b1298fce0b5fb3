"""The agent world stack (seed 004): its data (``data``: key, tables, buckets, Redis) and
the stack around it (``stack``: services, private path, APIs, CDN, observability)."""

from components.stacks.agent_world.data import AgentWorldData, AgentWorldDataArgs
from components.stacks.agent_world.stack import AgentWorldArgs, AgentWorldStack

__all__ = ["AgentWorldArgs", "AgentWorldData", "AgentWorldDataArgs", "AgentWorldStack"]
