"""The basic-auth app's ini file, read back by the pinned MLflow's own reader, and the auth
database, created on a real PostgreSQL server."""

from __future__ import annotations

import json
import stat
import uuid

import psycopg2
import pytest
from alb_tokens import ALB_ARN
from mlflow_entrypoint import request_gate
from mlflow_entrypoint.auth import (
    DatabaseError,
    auth_config_text,
    ensure_database,
    write_auth_config,
)
from mlflow_entrypoint.settings import Settings
from mlflow_support import ADMIN_PASSWORD, MLFLOW_IMPORT_WARNINGS

pytestmark = MLFLOW_IMPORT_WARNINGS


def test_mlflow_reads_the_ini_back_exactly_percent_signs_and_all(env, scratch, monkeypatch):
    from mlflow.server.auth.config import read_auth_config

    settings = Settings.from_env(env)
    path = write_auth_config(settings)
    monkeypatch.setenv("MLFLOW_AUTH_CONFIG_PATH", str(path))

    config = read_auth_config()

    assert config.database_uri == settings.auth_database_uri()
    assert "%" in config.database_uri  # the URL-quoted password survived interpolation
    assert config.admin_username == "admin"
    assert config.admin_password == ADMIN_PASSWORD
    assert config.default_permission == "READ"
    assert config.authorization_function == "mlflow_entrypoint.request_gate:authenticate_request"
    assert config.grant_default_workspace_access is False


def test_with_single_sign_on_mlflow_reads_the_load_balancers_function(env, scratch, monkeypatch):
    from mlflow.server.auth import get_auth_func
    from mlflow.server.auth.config import read_auth_config

    env["MLFLOW_SSO_SIGNER"] = ALB_ARN
    monkeypatch.setenv("MLFLOW_AUTH_CONFIG_PATH", str(write_auth_config(Settings.from_env(env))))

    config = read_auth_config()

    assert config.authorization_function == "mlflow_entrypoint.request_gate:authenticate_request"
    assert get_auth_func(config.authorization_function) is request_gate.authenticate_request


def test_the_auth_store_is_the_same_server_and_user_in_its_own_database(env):
    settings = Settings.from_env(env)

    text = auth_config_text(settings)

    (line,) = [line for line in text.splitlines() if line.startswith("database_uri = ")]
    assert line.removeprefix("database_uri = ").replace("%%", "%") == (
        settings.database_uri("mlflow_auth")
    )


def test_the_ini_is_private_to_the_server_user_in_a_private_directory(env, scratch):
    path = write_auth_config(Settings.from_env(env))

    assert path.parent.parent == scratch
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_each_start_writes_a_new_file(env, scratch):
    settings = Settings.from_env(env)

    assert write_auth_config(settings) != write_auth_config(settings)


@pytest.fixture
def owner(postgres):
    """A fresh role owning a fresh database, with a password full of URL characters."""
    role, database = f"owner_{uuid.uuid4().hex[:8]}", f"db_{uuid.uuid4().hex[:8]}"
    password = "pw:/@%" + uuid.uuid4().hex
    postgres.create_owner(role, password, database)
    return role, password, database


def settings_for(postgres, role, password, database, **extra) -> Settings:
    return Settings.from_env(
        {
            "DB_HOST": postgres.host,
            "DB_PORT": str(postgres.port),
            "DB_NAME": database,
            "DB_SECRET": json.dumps({"username": role, "password": password}),
            "DB_SSLMODE": "disable",
            "ARTIFACTS_DESTINATION": "s3://bucket",
            "ALLOWED_HOSTS": "localhost",
            "MLFLOW_AUTH": "false",
            "AWS_REGION": "us-east-1",
            **extra,
        }
    )


def test_the_auth_database_is_created_once_and_then_found(postgres, owner):
    role, password, database = owner
    settings = settings_for(postgres, role, password, database)
    name = f"{database}_auth"

    assert ensure_database(settings, name) is True
    assert name in postgres.databases()
    assert ensure_database(settings, name) is False


def test_a_wrong_password_fails_at_once_without_quoting_any_password(postgres, owner):
    role, password, database = owner
    settings = settings_for(postgres, role, "wrong-" + password, database, DB_WAIT_SECONDS="0")

    with pytest.raises(DatabaseError) as raised:
        ensure_database(settings, "anything")

    message = str(raised.value)
    assert "password authentication failed" in message
    assert ":***@" in message
    assert password not in message and "wrong-" not in message


def test_a_user_who_may_not_create_databases_is_told_so(postgres, owner):
    role, password, database = owner
    with postgres.superuser() as connection, connection.cursor() as cursor:
        cursor.execute(f'ALTER ROLE "{role}" NOCREATEDB')
    connection.close()
    settings = settings_for(postgres, role, password, database)

    with pytest.raises(DatabaseError, match="it needs CREATEDB, or create the database"):
        ensure_database(settings, f"{database}_auth")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_an_unreachable_server_is_retried_until_db_wait_seconds_then_reported(env, capsys):
    env["DB_WAIT_SECONDS"] = "10"
    settings = Settings.from_env(env)
    clock = Clock()
    attempts = []

    def refuse(**kwargs):
        attempts.append(kwargs)
        raise psycopg2.OperationalError("connection refused")

    with pytest.raises(DatabaseError, match="cannot connect to postgresql\\+psycopg2://"):
        ensure_database(settings, "mlflow_auth", connect=refuse, sleep=clock.sleep, clock=clock)

    assert clock.sleeps == [2.0] * 5  # attempts at 0, 2, ... 10 s
    assert len(attempts) == 6
    assert attempts[0]["sslmode"] == "require" and attempts[0]["connect_timeout"] == 10
    assert capsys.readouterr().err.count("waiting for mlflow-db.") == 5
