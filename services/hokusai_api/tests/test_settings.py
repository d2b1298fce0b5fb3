"""Settings.from_env: every problem named at once, defaults, and no secret in a message."""

from __future__ import annotations

import json

import pytest
from hokusai_api.settings import Settings
from service_common.env import ConfigError

GOOD = {
    "DB_HOST": "hokusai-mlflow.abc.us-east-1.rds.amazonaws.com",
    "DB_SECRET": json.dumps({"username": "mlflow_admin", "password": "s3cret-db-pw"}),
    "API_SECRET_KEY": "K" * 40,
    "MLFLOW_TRACKING_URI": "https://lb.example.com/mlflow/",
    "MLFLOW_TRACKING_PASSWORD": "mlflow-admin-pw",
}


def test_the_task_definitions_environment_is_accepted_with_the_documented_defaults():
    s = Settings.from_env(GOOD)
    assert (s.db_name, s.db_maintenance_name, s.db_sslmode, s.db_port) == (
        "hokusai_api",
        "mlflow",
        "require",
        5432,
    )
    assert (s.base_path, s.port, s.mlflow_username, s.eth_max_lifetime_seconds) == (
        "/api",
        8000,
        "admin",
        900,
    )
    assert s.mlflow_base == "https://lb.example.com/mlflow" and s.db_null_pool is False
    assert Settings.from_env({**GOOD, "DB_NULL_POOL": "true"}).db_null_pool is True
    assert "s3cret-db-pw" not in repr(s) and "K" * 40 not in repr(s)


def test_an_empty_environment_names_every_required_variable_in_one_error():
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({})
    for name in (
        "DB_HOST",
        "DB_SECRET",
        "API_SECRET_KEY",
        "MLFLOW_TRACKING_URI",
        "MLFLOW_TRACKING_PASSWORD",
    ):
        assert f"{name}:" in str(raised.value)


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"DB_SECRET": "not json"}, "DB_SECRET: not valid JSON"),
        ({"DB_SECRET": json.dumps({"username": "u"})}, "DB_SECRET: missing or empty"),
        ({"DB_SECRET": "[1]"}, "DB_SECRET: expected"),
        ({"API_SECRET_KEY": "short"}, "API_SECRET_KEY: shorter than 16"),
        ({"DB_NAME": "Bad-Name"}, "DB_NAME: expected a lower-case"),
        ({"DB_SSLMODE": "maybe"}, "DB_SSLMODE: expected one of"),
        ({"MLFLOW_TRACKING_URI": "ftp://x/mlflow"}, "MLFLOW_TRACKING_URI: expected"),
        ({"BASE_PATH": "api v1"}, "BASE_PATH: expected a path"),
        ({"PORT": "70000"}, "PORT: expected an integer"),
        ({"ETH_MAX_LIFETIME_SECONDS": "5"}, "ETH_MAX_LIFETIME_SECONDS: expected an integer"),
    ],
)
def test_a_bad_variable_is_named_with_the_accepted_form(overrides, named):
    with pytest.raises(ConfigError, match=named):
        Settings.from_env({**GOOD, **overrides})


def test_no_secret_appears_in_the_error():
    secret = json.dumps({"username": "u", "password": ""})
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({**GOOD, "DB_SECRET": secret, "API_SECRET_KEY": "tiny-secret"})
    assert "tiny-secret" not in str(raised.value)


def test_the_database_uri_quotes_the_password():
    env = {**GOOD, "DB_SECRET": json.dumps({"username": "u", "password": "p@ss:w/rd%#?"})}
    uri = Settings.from_env(env).database_uri("hokusai_api")
    assert "p%40ss%3Aw%2Frd%25%23%3F@" in uri and uri.endswith(
        "/hokusai_api?sslmode=require&application_name=hokusai-api"
    )
