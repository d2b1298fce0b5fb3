"""The real thing: ``python -m mlflow_entrypoint`` as a process against a throwaway
PostgreSQL cluster and a moto S3 server, driven by the MLflow client through the static
prefix with basic auth on, the way the platform's users reach it behind the load balancer.

One server is started for the module (about ten seconds) and stopped by the last test,
which checks that SIGTERM, what ECS sends, ends it and its workers cleanly.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest
from mlflow_support import (
    ADMIN_PASSWORD,
    DB_PASSWORD,
    FLASK_KEY,
    MLFLOW_IMPORT_WARNINGS,
    REGION,
    SERVICE,
    PostgresCluster,
    ServerProcess,
    free_port,
    postgres_bin_dir,
)

pytestmark = MLFLOW_IMPORT_WARNINGS

BUCKET = "mlflow-round-trip"
DESTINATION = f"s3://{BUCKET}/artifacts"
ALB_HOST = "ml-alb-123.us-east-1.elb.amazonaws.com"
DB_USER = "mlflow_admin"


@dataclass
class Server:
    process: ServerProcess
    port: int
    scratch: Path
    """The server's HOME and TMPDIR: the container's /tmp."""
    workdir_before: list[str]
    """What the working directory (the image's /app) held before the server started."""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def tracking_uri(self) -> str:
        return f"{self.base}/mlflow"

    def get(
        self, path: str, *, host: str | None = None, login: tuple[str, str] | None = None
    ) -> tuple[int, Message, bytes]:
        return self.send(urllib.request.Request(self.base + path), host, login)

    def post(
        self,
        path: str,
        body: bytes,
        *,
        headers: dict[str, str],
        login: tuple[str, str] | None = None,
    ) -> tuple[int, Message, bytes]:
        request = urllib.request.Request(self.base + path, data=body, method="POST")
        for name, value in headers.items():
            request.add_header(name, value)
        return self.send(request, None, login)

    def send(
        self,
        request: urllib.request.Request,
        host: str | None,
        login: tuple[str, str] | None,
    ) -> tuple[int, Message, bytes]:
        if host:
            request.add_header("Host", host)
        if login:
            token = base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()


ADMIN = ("admin", ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def server(postgres: PostgresCluster, s3, moto_endpoint, tmp_path_factory) -> Iterator[Server]:
    postgres.create_owner(DB_USER, DB_PASSWORD, "mlflow")  # as RDS makes its master user
    s3.create_bucket(Bucket=BUCKET)
    scratch = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(scratch),
        "TMPDIR": str(scratch),  # the container's /tmp
        "PYTHONDONTWRITEBYTECODE": "1",  # as in the image
        "DB_HOST": postgres.host,
        "DB_PORT": str(postgres.port),
        "DB_SECRET": json.dumps({"username": DB_USER, "password": DB_PASSWORD}),
        # The local cluster has no TLS; production keeps the default, require (RDS forces SSL).
        "DB_SSLMODE": "disable",
        "ARTIFACTS_DESTINATION": DESTINATION,
        "ALLOWED_HOSTS": ALB_HOST,
        "STATIC_PREFIX": "/mlflow",
        "MLFLOW_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": FLASK_KEY,
        "PORT": str(port),
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": moto_endpoint,
        "MLFLOW_S3_ENDPOINT_URL": moto_endpoint,
    }
    workdir_before = sorted(path.name for path in SERVICE.iterdir())
    process = ServerProcess(env, scratch / "server.log")
    try:
        process.wait_until_healthy(f"http://127.0.0.1:{port}/mlflow/health")
        yield Server(process, port, scratch, workdir_before)
    finally:
        process.stop()


@pytest.fixture
def client(server, monkeypatch):
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN[1])
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    return MlflowClient(tracking_uri=server.tracking_uri)


def test_postgresql_server_binaries_are_installed():
    # Fails, rather than skips, where the round trip cannot run: CI must run it.
    assert postgres_bin_dir().is_dir()


@pytest.mark.parametrize(
    "host", [None, "10.0.3.7:5000", "evil.example"], ids=["local", "alb-checker", "any"]
)
def test_health_is_200_under_the_prefix_without_credentials_whatever_the_host(server, host):
    # The ALB's health checker sends no credentials and Host: <target private IP>:5000.
    status, _, body = server.get("/mlflow/health", host=host)

    assert (status, body) == (200, b"OK")


def test_health_is_not_at_the_root_when_a_prefix_is_set(server):
    assert server.get("/health")[0] == 404


@pytest.mark.parametrize(
    "path",
    [
        "/mlflow/api/2.0/mlflow/experiments/search?max_results=1",
        "/mlflow/api/2.0/mlflow-artifacts/artifacts/0",
        "/mlflow/",
        "/mlflow/version",
    ],
    ids=["api", "artifacts", "ui", "version"],
)
def test_a_request_without_credentials_gets_401(server, path):
    status, headers, _ = server.get(path)

    assert status == 401
    assert headers.get("WWW-Authenticate") == 'Basic realm="mlflow"'


def test_wrong_credentials_get_401(server):
    path = "/mlflow/api/2.0/mlflow/experiments/search?max_results=1"

    assert server.get(path, login=("admin", "not-the-password"))[0] == 401


@pytest.mark.parametrize(
    ("host", "expected"),
    [(ALB_HOST, 200), (f"{ALB_HOST}:443", 200), ("evil.example", 403), ("10.0.3.7:5000", 403)],
    ids=["alb", "alb-port", "other", "private-ip"],
)
def test_only_allowed_hosts_reach_the_api(server, host, expected):
    path = "/mlflow/api/2.0/mlflow/experiments/search?max_results=1"

    assert server.get(path, host=host, login=ADMIN)[0] == expected


@pytest.mark.parametrize(
    ("origin", "expected"),
    [(None, 200), (f"https://{ALB_HOST}", 200), ("https://evil.example", 403)],
    ids=["no-origin", "the-ui", "other-site"],
)
def test_the_ui_behind_the_load_balancer_may_change_things_and_other_sites_may_not(
    server, origin, expected
):
    # Browsers send Origin with every POST, same-origin ones included.
    headers = {"Host": ALB_HOST, "Content-Type": "application/json"}
    if origin:
        headers["Origin"] = origin
    body = json.dumps({"name": f"from-the-ui-{origin}"}).encode()

    status, _, _ = server.post(
        "/mlflow/ajax-api/2.0/mlflow/experiments/create", body, headers=headers, login=ADMIN
    )

    assert status == expected


def test_a_run_and_its_artifact_round_trip_through_postgresql_and_s3(
    server, client, postgres, s3, tmp_path
):
    experiment_id = client.create_experiment("round-trip")
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "learning_rate", "0.01")
    for step, loss in enumerate((0.9, 0.5, 0.25)):
        client.log_metric(run_id, "loss", loss, step=step)
    notes = tmp_path / "notes.txt"
    notes.write_text("trained on the round-trip data set\n")
    client.log_artifact(run_id, str(notes))
    client.set_terminated(run_id)

    # Read back through the server.
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"learning_rate": "0.01"}
    assert run.data.metrics == {"loss": 0.25}
    assert [m.value for m in client.get_metric_history(run_id, "loss")] == [0.9, 0.5, 0.25]
    assert run.info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"
    assert [a.path for a in client.list_artifacts(run_id)] == ["notes.txt"]
    downloaded = client.download_artifacts(run_id, "notes.txt", str(tmp_path / "download"))
    assert Path(downloaded).read_text() == "trained on the round-trip data set\n"

    # The run is in PostgreSQL, the artifact in the bucket under the destination.
    assert postgres.query("mlflow", "SELECT status FROM runs WHERE run_uuid = %s", run_id) == [
        ("FINISHED",)
    ]
    assert postgres.query(
        "mlflow", "SELECT key, value FROM params WHERE run_uuid = %s", run_id
    ) == [("learning_rate", "0.01")]
    key = f"artifacts/{experiment_id}/{run_id}/artifacts/notes.txt"
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="artifacts/")
    assert [item["Key"] for item in listed.get("Contents", [])] == [key]
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert body == b"trained on the round-trip data set\n"


def test_the_admin_creates_users_under_the_prefix_and_they_can_sign_in(server):
    user = ("analyst", "analyst-password-1")
    body = json.dumps({"username": user[0], "password": user[1]}).encode()
    headers = {"Content-Type": "application/json"}

    status, _, _ = server.post(
        "/mlflow/api/2.0/mlflow/users/create", body, headers=headers, login=ADMIN
    )

    assert status == 200
    path = "/mlflow/api/2.0/mlflow/experiments/search?max_results=1"
    assert server.get(path, login=user)[0] == 200


def test_the_auth_database_was_created_and_holds_the_admin(server, postgres):
    assert {"mlflow", "mlflow_auth"} <= postgres.databases()
    users = postgres.query("mlflow_auth", "SELECT username, is_admin FROM users")
    assert ("admin", True) in users


def test_the_server_writes_only_to_its_temporary_directory(server):
    # The image's root file system is read-only but for /tmp: no mlruns/, no SQLite file,
    # no bytecode in the working directory, nothing left of uploads and downloads.
    assert sorted(path.name for path in SERVICE.iterdir()) == server.workdir_before
    left = sorted(path.name for path in server.scratch.iterdir())
    assert left[-1] == "server.log"
    assert [name for name in left[:-1] if not name.startswith("mlflow-auth-")] == []


def test_no_secret_is_on_any_command_line_or_in_the_log(server):
    command_lines = server.process.process_tree_command_lines()
    assert len(command_lines) >= 3  # mlflow server, uvicorn, its workers
    assert "mlflow server" in command_lines[0]
    text = "\n".join(command_lines) + server.process.output
    for secret in (DB_PASSWORD, ADMIN_PASSWORD, FLASK_KEY, "p%40ss"):
        assert secret not in text
    assert "mlflow_admin:***@" in server.process.output


def test_the_rotation_function_changes_the_admin_password_through_the_rest_api(server):
    # The secret_rotation function's mlflow-admin kind, against this real server: setSecret
    # authenticates with the current password and sets the pending one
    # (PATCH users/update-password); testSecret signs in with it.
    from secret_rotation.kinds import MlflowAdminPassword
    from secret_rotation.steps import RotationError

    kind = MlflowAdminPassword(server.tracking_uri)
    pending = kind.generate(ADMIN_PASSWORD)
    path = "/mlflow/api/2.0/mlflow/experiments/search?max_results=1"
    try:
        kind.set(ADMIN_PASSWORD, pending, None, None)
        kind.test(pending)
        assert server.get(path, login=("admin", pending))[0] == 200
        assert server.get(path, login=ADMIN)[0] == 401
        kind.set(ADMIN_PASSWORD, pending, None, None)  # a retried setSecret: already done
        kind.test(pending)
        # a current value MLflow refuses changes nothing
        with pytest.raises(RotationError, match="refuses the current admin password"):
            kind.set("not-the-password-0123", kind.generate(""), None, None)
        kind.test(pending)
    finally:
        kind.set(pending, ADMIN_PASSWORD, None, None)  # back, for the tests after this one
    assert server.get(path, login=ADMIN)[0] == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/mlflow/api/2.0/mlflow/experiments/create", {"name": "bad\u0000name"}),
        ("/mlflow/ajax-api/2.0/mlflow/experiments/create", {"name": "nul\u0000"}),
    ],
    ids=["api", "ajax-api"],
)
def test_a_nul_character_in_a_name_gets_400_with_the_reason_not_500(server, path, body):
    # PostgreSQL text cannot hold NUL: psycopg2 refuses it with a ValueError, a 500 before.
    status, _, answer = server.post(
        path,
        json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "Host": ALB_HOST,
            "Origin": f"https://{ALB_HOST}",
        },
        login=ADMIN,
    )

    assert status == 400, answer
    error = json.loads(answer)
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "NUL" in error["message"]


def test_sigterm_stops_the_server_and_its_workers_cleanly(server):
    # Last in the module: ECS stops a task with SIGTERM to the entrypoint's pid, which
    # exec made the `mlflow server` process; it forwards the signal to uvicorn.
    assert server.process.stop() == 0
    assert "Finished server process" in server.process.output
