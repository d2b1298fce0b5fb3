"""The ``mlflow server`` command line and environment: every option the contract asks for,
accepted by the pinned MLflow's own CLI, and no secret on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from alb_tokens import ALB_ARN
from mlflow_entrypoint.command import server_command, server_environment
from mlflow_entrypoint.settings import Settings
from mlflow_support import MLFLOW_IMPORT_WARNINGS

pytestmark = MLFLOW_IMPORT_WARNINGS


def option(command: list[str], flag: str) -> str | None:
    return command[command.index(flag) + 1] if flag in command else None


def test_the_command_runs_mlflow_server_with_this_interpreter(env):
    command = server_command(Settings.from_env(env), python="/usr/local/bin/python")

    assert command[:4] == ["/usr/local/bin/python", "-m", "mlflow", "server"]


def test_the_server_listens_on_all_interfaces_at_port_5000_with_two_workers(env):
    command = server_command(Settings.from_env(env))

    assert option(command, "--host") == "0.0.0.0"
    assert option(command, "--port") == "5000"
    assert option(command, "--workers") == "2"


def test_port_and_workers_follow_the_environment(env):
    env.update(PORT="5123", MLFLOW_WORKERS="4")

    command = server_command(Settings.from_env(env))

    assert (option(command, "--port"), option(command, "--workers")) == ("5123", "4")


def test_artifacts_are_served_through_the_server_from_the_destination(env):
    command = server_command(Settings.from_env(env))

    assert "--serve-artifacts" in command
    assert option(command, "--artifacts-destination") == "s3://ml-platform-artifacts/mlflow"
    assert "--default-artifact-root" not in command


def test_allowed_hosts_are_the_configured_ones_plus_localhost(env):
    command = server_command(Settings.from_env(env))

    assert option(command, "--allowed-hosts") == (
        "ml-alb-123.us-east-1.elb.amazonaws.com,ml-alb-123.us-east-1.elb.amazonaws.com:*,"
        "localhost,localhost:*,127.0.0.1,127.0.0.1:*"
    )


def test_the_load_balancers_origin_may_change_things_through_the_api(env):
    command = server_command(Settings.from_env(env))

    assert option(command, "--cors-allowed-origins") == (
        "https://ml-alb-123.us-east-1.elb.amazonaws.com"
    )


def test_the_static_prefix_is_passed_when_set_and_omitted_when_empty(env):
    assert option(server_command(Settings.from_env(env)), "--static-prefix") == "/mlflow"

    del env["STATIC_PREFIX"]

    assert "--static-prefix" not in server_command(Settings.from_env(env))


def test_auth_on_runs_the_basic_auth_app_and_auth_off_the_plain_server(env):
    assert option(server_command(Settings.from_env(env)), "--app-name") == "basic-auth"

    env["MLFLOW_AUTH"] = "false"

    assert "--app-name" not in server_command(Settings.from_env(env))


def test_no_secret_and_no_database_uri_is_on_the_command_line(env, secrets):
    settings = Settings.from_env(env)
    text = " ".join(server_command(settings))

    for secret in (*secrets, settings.backend_store_uri(), "postgresql", "mlflow_admin"):
        assert secret not in text
    assert "--backend-store-uri" not in text


def test_the_pinned_mlflow_cli_accepts_the_command_and_reads_the_uri_from_its_variable(
    env, monkeypatch
):
    from mlflow.cli import server

    settings = Settings.from_env(env)
    child = server_environment(settings, env, Path("/tmp/auth/basic_auth.ini"))
    monkeypatch.setenv("MLFLOW_BACKEND_STORE_URI", child["MLFLOW_BACKEND_STORE_URI"])

    # Parsing only: every option exists in this MLflow and passes its checks (the static
    # prefix's form, basic-auth among the installed apps), and the backend URI comes from
    # the environment, as it will in the container.
    context = server.make_context("server", server_command(settings)[4:])

    assert context.params["backend_store_uri"] == settings.backend_store_uri()
    assert context.params["app_name"] == "basic-auth"
    assert context.params["static_prefix"] == "/mlflow"
    assert context.params["serve_artifacts"] is True
    assert context.params["artifacts_destination"] == "s3://ml-platform-artifacts/mlflow"
    assert context.params["workers"] == "2"
    assert context.params["allowed_hosts"].startswith("ml-alb-123.us-east-1.elb.amazonaws.com,")
    assert (
        context.params["cors_allowed_origins"] == "https://ml-alb-123.us-east-1.elb.amazonaws.com"
    )


def test_the_environment_carries_the_backend_uri_and_the_auth_config(env):
    settings = Settings.from_env(env)

    child = server_environment(settings, env, Path("/tmp/mlflow-auth-x/basic_auth.ini"))

    assert child["MLFLOW_BACKEND_STORE_URI"] == settings.backend_store_uri()
    assert child["MLFLOW_AUTH_CONFIG_PATH"] == "/tmp/mlflow-auth-x/basic_auth.ini"
    assert child["MLFLOW_FLASK_SERVER_SECRET_KEY"] == env["MLFLOW_FLASK_SERVER_SECRET_KEY"]


@pytest.mark.parametrize(
    "name",
    [
        "DB_SECRET",
        "MLFLOW_ADMIN_PASSWORD",
        "MLFLOW_AUTH_ADMIN_PASSWORD",
        "MLFLOW_AUTH_ADMIN_USERNAME",
        "MLFLOW_STATIC_PREFIX",
    ],
)
def test_the_entrypoints_secrets_and_overriding_variables_stop_here(env, name):
    env[name] = env.get(name, "some-value")

    child = server_environment(Settings.from_env(env), env, None)

    assert name not in child


def test_without_auth_no_auth_config_is_named(env):
    env["MLFLOW_AUTH_CONFIG_PATH"] = "/somewhere/else.ini"

    child = server_environment(Settings.from_env(env), env, None)

    assert "MLFLOW_AUTH_CONFIG_PATH" not in child


def test_telemetry_and_the_job_runner_are_off_unless_the_task_says_otherwise(env):
    settings = Settings.from_env(env)

    child = server_environment(settings, env, None)

    assert child["MLFLOW_DISABLE_TELEMETRY"] == "true"
    assert child["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"

    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "true"

    assert server_environment(settings, env, None)["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "true"


def test_with_auth_the_workers_can_import_its_function_from_anywhere(env):
    from mlflow_entrypoint.command import PACKAGE_ROOT

    without_auth = {**env, "MLFLOW_AUTH": "false"}
    assert "PYTHONPATH" not in server_environment(
        Settings.from_env(without_auth), without_auth, None
    )
    env.update({"MLFLOW_SSO_SIGNER": ALB_ARN, "PYTHONPATH": "/opt/extra"})

    child = server_environment(Settings.from_env(env), env, None)

    assert child["PYTHONPATH"].split(":") == [str(PACKAGE_ROOT), "/opt/extra"]
    assert (PACKAGE_ROOT / "mlflow_entrypoint" / "request_gate.py").is_file()
    assert (PACKAGE_ROOT / "mlflow_entrypoint" / "alb_sso.py").is_file()
    assert child["MLFLOW_SSO_SIGNER"] == ALB_ARN  # the function reads it in the workers


def test_boto3_gets_the_region_as_aws_default_region(env):
    child = server_environment(Settings.from_env(env), env, None)

    assert child["AWS_DEFAULT_REGION"] == "us-east-1"
    assert child["AWS_REGION"] == "us-east-1"


def test_endpoint_overrides_pass_through_for_boto3(env):
    env.update(AWS_ENDPOINT_URL="http://127.0.0.1:5005", MLFLOW_S3_ENDPOINT_URL="http://s3.local")

    child = server_environment(Settings.from_env(env), env, None)

    assert child["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5005"
    assert child["MLFLOW_S3_ENDPOINT_URL"] == "http://s3.local"
