"""The image's entry point: ``python -m vision_validator``.

The same as ``uvicorn vision_validator.app:app --host 0.0.0.0 --port $PORT`` (default 8000),
plus JSON log lines on stdout and a one-line reason and status 2, instead of a traceback,
when the environment is unusable (no ``API_KEY``, a bad ``ANALYZER`` …).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import uvicorn

from vision_validator import logs
from vision_validator.app import create_app
from vision_validator.settings import ConfigError, Settings


def main(environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    try:
        settings = Settings.from_env(env)
        logs.configure(settings.log_level)
        app = create_app(settings)
    except ConfigError as error:
        print(f"vision validator: bad environment: {error}", file=sys.stderr)
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
