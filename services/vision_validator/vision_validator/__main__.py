"""The image's entry point: ``python -m vision_validator``.

The same as ``uvicorn vision_validator.app:app --host 0.0.0.0 --port $PORT`` (default 8000),
plus JSON log lines on stdout and a one-line reason and status 2, instead of a traceback,
when the environment is unusable (no ``API_KEY``, a bad ``ANALYZER`` …).
The work is ``service_common.server.serve``, which every HTTP service's entry point calls.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from service_common.server import serve

from vision_validator.app import create_app
from vision_validator.settings import Settings


def main(environ: Mapping[str, str] | None = None) -> int:
    return serve("vision validator", Settings.from_env, create_app, environ)


if __name__ == "__main__":
    sys.exit(main())
