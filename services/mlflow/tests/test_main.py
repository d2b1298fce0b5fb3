"""``python -m mlflow_entrypoint``: exit 2 naming every bad variable, 1 when the auth
database fails, otherwise exec of the server with the secrets off its command line and out
of every line the entrypoint prints."""

from __future__ import annotations

import subprocess
import sys

import pytest
from mlflow_entrypoint.__main__ import main
from mlflow_entrypoint.auth import DatabaseError
from mlflow_support import COMMON, SERVICE


class Recorder:
    """Stands in for ``os.execvpe`` and ``ensure_database``."""

    def __init__(self, database_error: DatabaseError | None = None) -> None:
        self.executed: list[tuple[str, list[str], dict[str, str]]] = []
        self.databases: list[str] = []
        self.database_error = database_error

    def execute(self, file: str, args: list[str], env: dict[str, str]) -> None:
        self.executed.append((file, args, env))

    def prepare(self, settings, name: str) -> bool:
        if self.database_error:
            raise self.database_error
        self.databases.append(name)
        return True


def run(env, recorder: Recorder) -> int:
    return main(env, execute=recorder.execute, prepare_database=recorder.prepare)


def test_a_bad_environment_exits_2_naming_every_bad_variable_and_starts_nothing(capsys):
    recorder = Recorder()

    status = run({"DB_PORT": "x", "MLFLOW_AUTH": "true"}, recorder)

    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("mlflow entrypoint: bad environment: DB_HOST: required")
    for name in (
        "DB_PORT",
        "DB_SECRET",
        "ARTIFACTS_DESTINATION",
        "ALLOWED_HOSTS",
        "MLFLOW_ADMIN_PASSWORD",
        "MLFLOW_FLASK_SERVER_SECRET_KEY",
        "AWS_REGION",
    ):
        assert f"{name}: " in err
    assert len(err.strip().splitlines()) == 1
    assert recorder.executed == [] and recorder.databases == []


def test_a_good_environment_creates_the_auth_database_and_execs_mlflow_server(env, scratch):
    recorder = Recorder()

    run(env, recorder)

    assert recorder.databases == ["mlflow_auth"]
    ((file, args, child_env),) = recorder.executed
    assert file == sys.executable
    assert args[:4] == [sys.executable, "-m", "mlflow", "server"]
    assert child_env["MLFLOW_AUTH_CONFIG_PATH"].startswith(str(scratch))
    assert "MLFLOW_BACKEND_STORE_URI" in child_env


def test_nothing_the_entrypoint_prints_or_puts_on_the_command_line_holds_a_secret(
    env, scratch, secrets, capsys
):
    recorder = Recorder()

    run(env, recorder)

    out, err = capsys.readouterr()
    ((_, args, _),) = recorder.executed
    for secret in secrets:
        assert secret not in out + err
        assert secret not in " ".join(args)
    assert "postgresql+psycopg2://mlflow_admin:***@" in err


def test_auth_off_touches_no_database_and_writes_no_ini(env, scratch):
    env["MLFLOW_AUTH"] = "false"
    recorder = Recorder()

    run(env, recorder)

    assert recorder.databases == []
    assert list(scratch.iterdir()) == []
    ((_, args, child_env),) = recorder.executed
    assert "--app-name" not in args
    assert "MLFLOW_AUTH_CONFIG_PATH" not in child_env


def test_an_auth_database_failure_exits_1_with_the_reason(env, scratch, capsys):
    recorder = Recorder(DatabaseError("cannot connect to postgresql+psycopg2://u:***@h: refused"))

    status = run(env, recorder)

    assert status == 1
    assert capsys.readouterr().err == (
        "mlflow entrypoint: auth database: cannot connect to postgresql+psycopg2://u:***@h: "
        "refused\n"
    )
    assert recorder.executed == []


@pytest.mark.parametrize("auth", ["true", "false"])
def test_the_module_as_a_process_exits_2_on_an_empty_environment(auth):
    done = subprocess.run(
        [sys.executable, "-m", "mlflow_entrypoint"],
        cwd=SERVICE,
        env={"MLFLOW_AUTH": auth, "PYTHONPATH": str(COMMON)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("mlflow entrypoint: bad environment: DB_HOST: required")
    assert ("MLFLOW_ADMIN_PASSWORD" in done.stderr) == (auth == "true")
