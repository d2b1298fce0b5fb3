"""Start-up against the real PostgreSQL: the database created if missing, Alembic migrations
to head, safe when several tasks start at once (the advisory lock), and ``python -m
hokusai_api`` exiting 2 with one line on a bad environment or an unusable database."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
from pathlib import Path

from hokusai_api import db
from hokusai_api.__main__ import main
from hokusai_api.settings import Settings
from hokusai_support import environment

SERVICE = Path(__file__).resolve().parent.parent


def test_concurrent_starts_create_and_migrate_one_database_once(postgres, settings):
    fresh = dataclasses.replace(settings, db_name="hokusai_race")
    errors: list[BaseException] = []
    engines: list = []

    def start() -> None:
        try:
            engines.append(db.prepare(fresh))
        except BaseException as error:  # reported below, with the others
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for engine in engines:
        engine.dispose()
    assert errors == [] and len(engines) == 4
    assert postgres.query("hokusai_race", "SELECT version_num FROM alembic_version") == [("0001",)]
    tables = postgres.query(
        "hokusai_race", "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    )
    assert {t for (t,) in tables} == {"alembic_version", "api_keys", "eth_addresses", "eth_nonces"}


def test_the_nonce_is_the_primary_key_so_a_replay_cannot_be_inserted(postgres, client):
    rows = postgres.query(
        "hokusai_api",
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'eth_nonces'::regclass "
        "AND i.indisprimary",
    )
    assert rows == [("nonce",)]


def test_a_bad_environment_exits_2_naming_the_variables(capsys):
    assert main({}) == 2
    err = capsys.readouterr().err
    assert err.startswith("hokusai api: bad environment:") and "DB_SECRET:" in err
    assert err.count("\n") == 1


def test_a_refused_database_password_exits_2_at_once_without_the_password(postgres, capsys):
    env = environment(postgres, "http://127.0.0.1:9/mlflow", DB_WAIT_SECONDS="30")
    env["DB_SECRET"] = '{"username": "mlflow_test", "password": "wrong-password-xyz"}'
    assert main(env) == 2
    err = capsys.readouterr().err
    assert "password authentication failed" in err and "wrong-password-xyz" not in err


def test_an_unreachable_database_exits_2_after_the_wait(capsys):
    env = environment(
        type("Cluster", (), {"host": "127.0.0.1", "port": 9})(),
        "http://127.0.0.1:9/mlflow",
        DB_WAIT_SECONDS="0",
    )
    assert main(env) == 2
    assert "cannot connect to 127.0.0.1:9/mlflow" in capsys.readouterr().err


def test_the_module_runs_as_the_image_runs_it():
    done = subprocess.run(
        [sys.executable, "-m", "hokusai_api"],
        cwd=SERVICE,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(SERVICE.parent / "common")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "API_SECRET_KEY:" in done.stderr


def test_settings_are_what_the_task_sets(settings):
    assert isinstance(settings, Settings) and settings.db_name == "hokusai_api"


def test_importing_the_app_keeps_the_interpreters_recursion_limit():
    # py_ecc (under eth-account) raises it to 100,000 on import; the service puts it back.
    code = "import sys; before = sys.getrecursionlimit(); import hokusai_api.app; "
    code += "print(before, sys.getrecursionlimit())"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=SERVICE,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(SERVICE.parent / "common")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    before, after = done.stdout.split()
    assert before == after == "1000", done.stderr
