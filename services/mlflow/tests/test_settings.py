"""Settings from the environment: defaults, the database URIs, and refusal of a bad
environment with every bad variable named and no secret quoted."""

from __future__ import annotations

import json
import re

import pytest
from alb_tokens import ALB_ARN
from mlflow_entrypoint.settings import ConfigError, Settings
from mlflow_support import DB_PASSWORD
from sqlalchemy.engine import make_url


def test_defaults_are_the_documented_ones(env):
    settings = Settings.from_env(env)

    assert settings.db_port == 5432
    assert settings.db_name == "mlflow"
    assert settings.db_sslmode == "require"
    assert settings.auth is True
    assert settings.db_auth_name == "mlflow_auth"
    assert settings.admin_username == "admin"
    assert settings.workers == 2
    assert settings.port == 5000
    assert settings.db_wait_seconds == 30


def test_without_a_static_prefix_routes_stay_at_the_root(env):
    del env["STATIC_PREFIX"]

    assert Settings.from_env(env).static_prefix == ""


def test_the_backend_store_uri_is_postgresql_psycopg2_with_sslmode_require(env):
    uri = Settings.from_env(env).backend_store_uri()

    assert uri.startswith("postgresql+psycopg2://mlflow_admin:")
    assert uri.endswith(
        "@mlflow-db.abc123xyz.us-east-1.rds.amazonaws.com:5432/mlflow?sslmode=require"
    )


def test_the_password_is_url_quoted_and_sqlalchemy_reads_it_back_unchanged(env):
    uri = Settings.from_env(env).backend_store_uri()
    url = make_url(uri)

    assert DB_PASSWORD not in uri
    assert "p%40ss%3Aw%2Frd%2541%23%3F%26%3D%2B%20%C3%A9%3B%24" in uri
    assert url.password == DB_PASSWORD
    assert url.username == "mlflow_admin"
    assert (url.host, url.port, url.database) == (
        "mlflow-db.abc123xyz.us-east-1.rds.amazonaws.com",
        5432,
        "mlflow",
    )
    assert url.query == {"sslmode": "require"}


def test_a_username_with_special_characters_is_quoted_too(env):
    env["DB_SECRET"] = json.dumps({"username": "ml@flow:admin", "password": "x"})

    url = make_url(Settings.from_env(env).backend_store_uri())

    assert url.username == "ml@flow:admin"
    assert url.password == "x"


def test_port_name_and_sslmode_come_from_the_environment(env):
    env.update(DB_PORT="6543", DB_NAME="tracking", DB_SSLMODE="disable")

    url = make_url(Settings.from_env(env).backend_store_uri())

    assert (url.port, url.database, url.query["sslmode"]) == (6543, "tracking", "disable")


def test_the_auth_database_uri_differs_only_in_the_database(env):
    settings = Settings.from_env(env)

    assert settings.auth_database_uri() == settings.backend_store_uri().replace(
        "/mlflow?", "/mlflow_auth?"
    )


def test_the_redacted_uri_hides_the_password(env):
    settings = Settings.from_env(env)

    assert settings.redacted_database_uri("mlflow") == (
        "postgresql+psycopg2://mlflow_admin:***@mlflow-db.abc123xyz.us-east-1.rds.amazonaws.com"
        ":5432/mlflow?sslmode=require"
    )


def test_no_secret_is_part_of_the_settings_repr(env, secrets):
    text = repr(Settings.from_env(env))

    for secret in secrets:
        assert secret not in text


def test_allowed_hosts_match_with_and_without_a_port_and_always_include_localhost(env):
    env["ALLOWED_HOSTS"] = " ml-alb-123.elb.amazonaws.com , mlflow.example.com:8443,*.corp.example"

    hosts = Settings.from_env(env).server_allowed_hosts()

    assert hosts == (
        "ml-alb-123.elb.amazonaws.com",
        "ml-alb-123.elb.amazonaws.com:*",
        "mlflow.example.com:8443",
        "*.corp.example",
        "*.corp.example:*",
        "localhost",
        "localhost:*",
        "127.0.0.1",
        "127.0.0.1:*",
    )


def test_a_host_with_capitals_is_also_allowed_in_lower_case_as_browsers_send_it(env):
    env["ALLOWED_HOSTS"] = "Dev-ALB-123.us-east-1.elb.amazonaws.com"
    settings = Settings.from_env(env)

    assert settings.server_allowed_hosts()[:4] == (
        "Dev-ALB-123.us-east-1.elb.amazonaws.com",
        "Dev-ALB-123.us-east-1.elb.amazonaws.com:*",
        "dev-alb-123.us-east-1.elb.amazonaws.com",
        "dev-alb-123.us-east-1.elb.amazonaws.com:*",
    )
    assert settings.server_cors_origins() == (
        "https://Dev-ALB-123.us-east-1.elb.amazonaws.com",
        "https://dev-alb-123.us-east-1.elb.amazonaws.com",
    )


def test_cors_origins_are_the_allowed_hosts_over_https(env):
    env["ALLOWED_HOSTS"] = "ml-alb-123.elb.amazonaws.com,mlflow.example.com:8443,*.corp.example"

    assert Settings.from_env(env).server_cors_origins() == (
        "https://ml-alb-123.elb.amazonaws.com",
        "https://mlflow.example.com:8443",
        "https://*.corp.example",
    )


def test_a_plain_http_load_balancer_gets_http_origins(env):
    env["ALLOWED_HOSTS"] = "dev-alb-123.elb.amazonaws.com"
    env["PUBLIC_SCHEME"] = "http"

    assert Settings.from_env(env).server_cors_origins() == ("http://dev-alb-123.elb.amazonaws.com",)


def test_an_unknown_public_scheme_is_refused(env):
    env["PUBLIC_SCHEME"] = "ftp"

    with pytest.raises(ConfigError, match="PUBLIC_SCHEME: expected https or http"):
        Settings.from_env(env)


def test_the_artifacts_destination_loses_a_trailing_slash(env):
    env["ARTIFACTS_DESTINATION"] = "s3://ml-platform-artifacts/mlflow/"

    assert Settings.from_env(env).artifacts_destination == "s3://ml-platform-artifacts/mlflow"


def test_auth_off_needs_neither_the_admin_password_nor_the_flask_key(env):
    env["MLFLOW_AUTH"] = "false"
    del env["MLFLOW_ADMIN_PASSWORD"], env["MLFLOW_FLASK_SERVER_SECRET_KEY"]

    assert Settings.from_env(env).auth is False


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"DB_HOST": None}, "DB_HOST: required"),
        ({"DB_HOST": "db host"}, "DB_HOST: expected a host name"),
        ({"DB_HOST": "user@db"}, "DB_HOST: expected a host name"),
        (
            {"DB_HOST": "db.example:5432"},
            "DB_HOST: expected a host name or IPv4 address, got 'db.example:5432' (the RDS "
            "instance's address, not its endpoint",
        ),
        ({"DB_PORT": "0"}, "DB_PORT: expected an integer from 1 to 65535"),
        ({"DB_PORT": "5432x"}, "DB_PORT: expected an integer"),
        ({"DB_NAME": "ml-flow"}, "DB_NAME: expected a database name"),
        ({"DB_SECRET": None}, "DB_SECRET: required"),
        ({"DB_SECRET": "hunter2"}, "DB_SECRET: not valid JSON, expected"),
        ({"DB_SECRET": '["a", "b"]'}, "DB_SECRET: expected a JSON object"),
        ({"DB_SECRET": '{"username": "u"}'}, "DB_SECRET: missing or empty password"),
        ({"DB_SECRET": '{"username": "", "password": 5}'}, "DB_SECRET: missing or empty username"),
        ({"DB_SSLMODE": "verify-full"}, "DB_SSLMODE: expected one of disable, allow, prefer, "),
        ({"ARTIFACTS_DESTINATION": None}, "ARTIFACTS_DESTINATION: required"),
        ({"ARTIFACTS_DESTINATION": "/srv/artifacts"}, "ARTIFACTS_DESTINATION: expected s3://"),
        ({"ARTIFACTS_DESTINATION": "s3://Bad_Bucket"}, "ARTIFACTS_DESTINATION: expected s3://"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS: required"),
        ({"ALLOWED_HOSTS": " , "}, "ALLOWED_HOSTS: required"),
        ({"ALLOWED_HOSTS": "ok.example,http://x.example"}, "ALLOWED_HOSTS: not a host name or "),
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS: not a host name or pattern: *"),
        ({"STATIC_PREFIX": "mlflow"}, "STATIC_PREFIX: expected a path that starts with /"),
        ({"STATIC_PREFIX": "/mlflow/"}, "STATIC_PREFIX: expected a path"),
        ({"MLFLOW_AUTH": "maybe"}, "MLFLOW_AUTH: expected true or false"),
        ({"DB_AUTH_NAME": "mlflow"}, "DB_AUTH_NAME: must differ from DB_NAME"),
        ({"MLFLOW_ADMIN_USERNAME": "ad:min"}, "MLFLOW_ADMIN_USERNAME: expected 1-64"),
        ({"MLFLOW_ADMIN_PASSWORD": None}, "MLFLOW_ADMIN_PASSWORD: required when MLFLOW_AUTH"),
        ({"MLFLOW_ADMIN_PASSWORD": "elevenchars"}, "MLFLOW_ADMIN_PASSWORD: shorter than 12"),
        ({"MLFLOW_ADMIN_PASSWORD": " padded-password "}, "MLFLOW_ADMIN_PASSWORD: must not"),
        ({"MLFLOW_ADMIN_PASSWORD": "two\nlines-password"}, "MLFLOW_ADMIN_PASSWORD: must not"),
        ({"MLFLOW_FLASK_SERVER_SECRET_KEY": None}, "MLFLOW_FLASK_SERVER_SECRET_KEY: required"),
        ({"MLFLOW_FLASK_SERVER_SECRET_KEY": "short"}, "MLFLOW_FLASK_SERVER_SECRET_KEY: shorter"),
        ({"MLFLOW_WORKERS": "0"}, "MLFLOW_WORKERS: expected an integer from 1 to 32"),
        ({"PORT": "70000"}, "PORT: expected an integer from 1 to 65535"),
        ({"DB_WAIT_SECONDS": "-1"}, "DB_WAIT_SECONDS: expected an integer from 0 to 3600"),
        ({"AWS_REGION": None}, "AWS_REGION: required"),
        (
            {
                "MLFLOW_SSO_SIGNER": "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
                "loadbalancer/net/nlb/0123abcd"
            },
            "MLFLOW_SSO_SIGNER: expected an application load",
        ),
        ({"MLFLOW_SSO_SIGNER": "my-alb"}, "MLFLOW_SSO_SIGNER: expected an application load"),
        (
            {"MLFLOW_SSO_SIGNER": ALB_ARN, "MLFLOW_AUTH": "false"},
            "MLFLOW_SSO_SIGNER: needs MLFLOW_AUTH on",
        ),
        ({"MLFLOW_SSO_USERNAME_CLAIM": "e mail"}, "MLFLOW_SSO_USERNAME_CLAIM: expected a claim"),
    ],
    ids=lambda value: value if isinstance(value, str) else ",".join(value),
)
def test_a_bad_variable_is_refused_by_name(env, changes, expected):
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value

    with pytest.raises(ConfigError, match="^(.*; )?" + re.escape(expected)):
        Settings.from_env(env)


def test_single_sign_on_is_off_unless_a_signer_is_given(env):
    assert (Settings.from_env(env).sso_signer, Settings.from_env(env).sso_username_claim) == (
        "",
        "email",
    )
    env.update({"MLFLOW_SSO_SIGNER": ALB_ARN, "MLFLOW_SSO_USERNAME_CLAIM": "sub"})
    settings = Settings.from_env(env)
    assert (settings.sso_signer, settings.sso_username_claim) == (ALB_ARN, "sub")


def test_every_bad_variable_is_named_at_once():
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"DB_PORT": "x", "DB_SECRET": "{", "MLFLOW_WORKERS": "many"})

    named = [problem.split(":")[0] for problem in str(raised.value).split("; ")]
    assert named == [
        "DB_HOST",
        "DB_PORT",
        "DB_SECRET",
        "ARTIFACTS_DESTINATION",
        "ALLOWED_HOSTS",
        "MLFLOW_ADMIN_PASSWORD",
        "MLFLOW_FLASK_SERVER_SECRET_KEY",
        "MLFLOW_WORKERS",
        "AWS_REGION",
    ]


@pytest.mark.parametrize(
    "changes",
    [
        {"DB_SECRET": "not json but " + DB_PASSWORD},
        {"DB_SECRET": json.dumps({"password": DB_PASSWORD})},
        {"DB_SECRET": json.dumps([DB_PASSWORD])},
        {"MLFLOW_ADMIN_PASSWORD": "short%pw"},
        {"MLFLOW_ADMIN_PASSWORD": " leading-space-secret"},
        {"MLFLOW_FLASK_SERVER_SECRET_KEY": "tiny-key"},
    ],
    ids=["db-not-json", "db-no-username", "db-list", "admin-short", "admin-space", "flask-short"],
)
def test_a_refused_secret_is_never_quoted(env, changes):
    env.update(changes)

    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env)

    for value in changes.values():
        assert value.strip() not in str(raised.value)
    assert DB_PASSWORD not in str(raised.value)
