"""The entry point of an HTTP service: ``python -m <service>`` calls :func:`serve`.

The same as ``uvicorn <service>.app:app --host 0.0.0.0 --port $PORT`` (default 8000), plus
JSON log lines on stdout and a one-line reason and status 2, instead of a traceback, when
the environment is unusable.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import uvicorn

from service_common import logs
from service_common.env import ConfigError


class ServerSettings(Protocol):
    log_level: str
    port: int


def serve(
    label: str,
    settings_from_env: Callable[[Mapping[str, str]], ServerSettings],
    create_app: Callable[[Any], Any],
    environ: Mapping[str, str] | None = None,
) -> int:
    """Reads the settings from ``environ`` (default ``os.environ``), builds the app and runs
    it until uvicorn stops: 0, or 2 with ``"<label>: bad environment: ..."`` on stderr."""
    env = os.environ if environ is None else environ
    try:
        settings = settings_from_env(env)
        logs.configure(settings.log_level)
        app = create_app(settings)
    except ConfigError as error:
        print(f"{label}: bad environment: {error}", file=sys.stderr)
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
