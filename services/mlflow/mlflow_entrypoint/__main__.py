"""``python -m mlflow_entrypoint``: prepare, then exec ``mlflow server``.

Exit status 2, with one line naming every bad variable, when the environment is unusable;
1 when the auth database cannot be reached or created. Otherwise the process becomes
``python -m mlflow server`` (same pid, so ECS's stop signal reaches MLflow, which forwards it
to its uvicorn workers).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from mlflow_entrypoint.auth import DatabaseError, ensure_database, write_auth_config
from mlflow_entrypoint.command import describe, server_command, server_environment
from mlflow_entrypoint.settings import ConfigError, Settings

Exec = Callable[[str, list[str], dict[str, str]], object]


def main(
    environ: Mapping[str, str] | None = None,
    *,
    execute: Exec = os.execvpe,
    prepare_database: Callable[[Settings, str], bool] = ensure_database,
) -> int:
    """Prepare and exec the server; returns only on failure (2: environment, 1: database)."""
    env = dict(os.environ if environ is None else environ)
    try:
        settings = Settings.from_env(env)
    except ConfigError as error:
        print(f"mlflow entrypoint: bad environment: {error}", file=sys.stderr)
        return 2

    auth_config: Path | None = None
    if settings.auth:
        try:
            created = prepare_database(settings, settings.db_auth_name)
        except DatabaseError as error:
            print(f"mlflow entrypoint: auth database: {error}", file=sys.stderr)
            return 1
        state = "created" if created else "exists"
        print(f"mlflow entrypoint: auth database {settings.db_auth_name} {state}", file=sys.stderr)
        auth_config = write_auth_config(settings)

    command = server_command(settings)
    print(f"mlflow entrypoint: starting mlflow server: {describe(settings)}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    execute(command[0], command, server_environment(settings, env, auth_config))
    return 1  # only a stand-in `execute` returns


if __name__ == "__main__":
    sys.exit(main())
