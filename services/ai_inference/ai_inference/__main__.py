"""The image's entry point: ``python -m ai_inference``.

The same as ``uvicorn ai_inference.app:app --host 0.0.0.0 --port $PORT`` (default 8000),
plus JSON log lines on stdout and a one-line reason and status 2, instead of a traceback,
when the environment is unusable (no ``API_KEY``, a ``MODEL_DIR`` that is not there …).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import uvicorn

from ai_inference import logs
from ai_inference.app import create_app
from ai_inference.settings import ConfigError, Settings


def main(environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    try:
        settings = Settings.from_env(env)
        logs.configure(settings.log_level)
        app = create_app(settings)
    except ConfigError as error:
        print(f"ai inference: bad environment: {error}", file=sys.stderr)
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
