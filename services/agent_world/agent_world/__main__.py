"""The image's entry point: ``python -m agent_world``.

The same as ``uvicorn agent_world.app:app --host 0.0.0.0 --port $PORT`` (default 8000),
plus JSON log lines on stdout and a one-line reason and status 2, instead of a traceback,
when the environment is unusable (no ``SERVICE_ROLE``, a table the role needs unnamed …).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import uvicorn

from agent_world import logs
from agent_world.app import create_app
from agent_world.settings import ConfigError, Settings


def main(environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    try:
        settings = Settings.from_env(env)
        logs.configure(settings.log_level)
        app = create_app(settings)
    except ConfigError as error:
        print(f"agent world: bad environment: {error}", file=sys.stderr)
        return 2
    uvicorn.run(
        app,
        host="0.0.0.0",
        port=settings.port,
        log_config=None,  # keep the JSON handler configured above
        log_level=settings.log_level.lower(),
        access_log=False,  # RequestLog writes one line per request instead
        server_header=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
