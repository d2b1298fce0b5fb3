"""The image's entry point: ``python -m hokusai_api``.

Reads the settings, creates the API's database if it is missing and migrates it to the
newest schema (Alembic, under an advisory lock so tasks starting together take turns), then
serves on ``PORT`` (default 8000) with JSON log lines. A bad environment, or a database that
cannot be reached or migrated, exits 2 with one line instead of a traceback. The work is
``service_common.server.serve``, which every HTTP service's entry point calls.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from service_common.server import serve

from hokusai_api.app import create_app
from hokusai_api.settings import Settings


def main(environ: Mapping[str, str] | None = None) -> int:
    return serve("hokusai api", Settings.from_env, create_app, environ)


if __name__ == "__main__":
    sys.exit(main())
