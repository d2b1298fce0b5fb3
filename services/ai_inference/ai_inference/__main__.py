"""The image's entry point: ``python -m ai_inference``.

The same as ``uvicorn ai_inference.app:app --host 0.0.0.0 --port $PORT`` (default 8000),
plus JSON log lines on stdout and a one-line reason and status 2, instead of a traceback,
when the environment is unusable (no ``API_KEY``, a ``MODEL_DIR`` that is not there …).
The work is ``service_common.server.serve``, which every HTTP service's entry point calls.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from service_common.server import serve

from ai_inference.app import create_app
from ai_inference.settings import Settings


def main(environ: Mapping[str, str] | None = None) -> int:
    return serve("ai inference", Settings.from_env, create_app, environ)


if __name__ == "__main__":
    sys.exit(main())
