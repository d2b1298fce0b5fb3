"""The image's entry point: ``python -m agent_world``.

The same as ``uvicorn agent_world.app:app --host 0.0.0.0 --port $PORT`` (default 8000),
plus JSON log lines on stdout and a one-line reason and status 2, instead of a traceback,
when the environment is unusable (no ``SERVICE_ROLE``, a table the role needs unnamed …).
The work is ``service_common.server.serve``, which every HTTP service's entry point calls.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from service_common.server import serve

from agent_world.app import create_app
from agent_world.settings import Settings


def main(environ: Mapping[str, str] | None = None) -> int:
    return serve("agent world", Settings.from_env, create_app, environ)


if __name__ == "__main__":
    sys.exit(main())
