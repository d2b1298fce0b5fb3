"""What MLflow's basic-auth app needs before it starts: its own database on the tracking
database's server, and its configuration file.

MLflow creates the auth app's tables itself (alembic, at start) but not the database, and it
reads the app's settings only from an ini file named by ``MLFLOW_AUTH_CONFIG_PATH``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import psycopg2
from psycopg2 import errors, sql

from mlflow_entrypoint.settings import Settings

AUTHORIZATION_FUNCTION = "mlflow_entrypoint.request_gate:authenticate_request"
"""Basic auth, or with MLFLOW_SSO_SIGNER the load balancer's signed users (alb_sso.py); then
a 400 for a NUL character MLflow would store (request_gate.py)."""
# Every signed-in user may read every experiment and model; writing needs a grant by an admin.
DEFAULT_PERMISSION = "READ"
CONFIG_FILE_NAME = "basic_auth.ini"
CONNECT_TIMEOUT_SECONDS = 10
RETRY_INTERVAL_SECONDS = 2.0


class DatabaseError(RuntimeError):
    """The auth database could not be reached or created; the text holds no secret."""


def auth_config_text(settings: Settings) -> str:
    """The ini file of the basic-auth app.

    MLflow reads it with ``configparser``'s default interpolation, where ``%`` starts a
    reference, so every ``%`` (the URL-quoted password is full of them) is written as ``%%``.
    """

    def value(text: str) -> str:
        return text.replace("%", "%%")

    assert settings.admin_password is not None, "auth is on, so the settings hold a password"
    return "\n".join(
        [
            "# Written by mlflow_entrypoint at start; it holds secrets (mode 0600).",
            "[mlflow]",
            f"default_permission = {DEFAULT_PERMISSION}",
            f"database_uri = {value(settings.auth_database_uri())}",
            f"admin_username = {value(settings.admin_username)}",
            f"admin_password = {value(settings.admin_password)}",
            f"authorization_function = {AUTHORIZATION_FUNCTION}",
            "grant_default_workspace_access = false",
            "",
        ]
    )


def write_auth_config(settings: Settings, directory: str | None = None) -> Path:
    """Write the ini file into a new private directory under ``directory`` (default the
    temporary directory: ``/tmp`` is the container's only writable path); its path."""
    private = Path(tempfile.mkdtemp(prefix="mlflow-auth-", dir=directory))  # mode 0700
    path = private / CONFIG_FILE_NAME
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(auth_config_text(settings))
    return path


def ensure_database(
    settings: Settings,
    name: str,
    *,
    connect: Callable[..., psycopg2.extensions.connection] = psycopg2.connect,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """Create database ``name`` on the settings' server unless it exists; True if created.

    Connects to DB_NAME as the DB_SECRET user (RDS's master user may create databases),
    retrying an unreachable server for ``db_wait_seconds``. Two tasks starting together may
    both try to create it: the loser's "already exists" counts as success.
    """
    deadline = clock() + settings.db_wait_seconds
    while True:
        try:
            connection = connect(
                host=settings.db_host,
                port=settings.db_port,
                dbname=settings.db_name,
                user=settings.db_username,
                password=settings.db_password,
                sslmode=settings.db_sslmode,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                application_name="mlflow-entrypoint",
            )
            break
        except psycopg2.OperationalError as error:
            if clock() + RETRY_INTERVAL_SECONDS > deadline:
                raise DatabaseError(
                    f"cannot connect to {settings.redacted_database_uri(settings.db_name)}: "
                    f"{_scrub(str(error), settings)}"
                ) from None
            print(
                f"mlflow entrypoint: waiting for {settings.db_host}:{settings.db_port}: "
                f"{_scrub(str(error), settings).splitlines()[0] if str(error) else 'no answer'}",
                file=sys.stderr,
                flush=True,
            )
            sleep(RETRY_INTERVAL_SECONDS)
    try:
        connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cursor.fetchone():
                return False
            try:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except (errors.DuplicateDatabase, errors.UniqueViolation):
                return False
            return True
    except psycopg2.Error as error:
        raise DatabaseError(
            f"cannot create database {name!r} on {settings.db_host}:{settings.db_port} as "
            f"{settings.db_username!r} (it needs CREATEDB, or create the database beforehand): "
            f"{_scrub(str(error), settings)}"
        ) from None
    finally:
        connection.close()


def _scrub(message: str, settings: Settings) -> str:
    """``message`` without the password, in case a driver ever quotes it."""
    for secret in (settings.db_password, quote(settings.db_password, safe="")):
        message = message.replace(secret, "***")
    return message.strip()
