"""Single sign-on for real: ``python -m mlflow_entrypoint`` as a process with
``MLFLOW_SSO_SIGNER`` (a PostgreSQL cluster and a moto S3 server, as in test_round_trip), its
public-key endpoint a local HTTP server standing in for ``public-keys.auth.elb.<region>``.

A request carrying a token the load balancer signed is served as that user, through
MLflow's Flask routes the UI calls; a forged one is refused; without the header the SDK's
basic auth decides, as on ``/mlflow/api/`` behind the load balancer.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from alb_tokens import ALB_ARN, KID, OTHER_ALB_ARN, AlbSigner
from mlflow_support import (
    ADMIN_PASSWORD,
    DB_PASSWORD,
    FLASK_KEY,
    MLFLOW_IMPORT_WARNINGS,
    REGION,
    PostgresCluster,
    ServerProcess,
    free_port,
)

pytestmark = MLFLOW_IMPORT_WARNINGS

BUCKET = "mlflow-sso-round-trip"
DB_USER = "mlflow_sso_admin"
SEARCH = "/mlflow/ajax-api/2.0/mlflow/experiments/search?max_results=5"


@dataclass
class Server:
    process: ServerProcess
    port: int
    alb: AlbSigner
    key_requests: list[str]

    def get(self, path: str, headers: dict[str, str]) -> tuple[int, Message, bytes]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        for name, value in headers.items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()


def key_server(alb: AlbSigner, requests: list[str]) -> ThreadingHTTPServer:
    class Keys(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            known = self.path == f"/{alb.kid}"
            body = alb.public_pem() if known else b"not found"
            self.send_response(200 if known else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def server(postgres: PostgresCluster, s3, moto_endpoint, tmp_path_factory) -> Iterator[Server]:
    postgres.create_owner(DB_USER, DB_PASSWORD, "mlflow_sso")
    s3.create_bucket(Bucket=BUCKET)
    alb, key_requests = AlbSigner(), []
    keys = key_server(alb, key_requests)
    scratch = tmp_path_factory.mktemp("mlflow-sso-server")
    port = free_port()
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(scratch),
        "TMPDIR": str(scratch),
        "PYTHONDONTWRITEBYTECODE": "1",
        "DB_HOST": postgres.host,
        "DB_PORT": str(postgres.port),
        "DB_NAME": "mlflow_sso",
        "DB_AUTH_NAME": "mlflow_sso_auth",
        "DB_SECRET": json.dumps({"username": DB_USER, "password": DB_PASSWORD}),
        "DB_SSLMODE": "disable",
        "ARTIFACTS_DESTINATION": f"s3://{BUCKET}/artifacts",
        "ALLOWED_HOSTS": "mlflow.corp.test",
        "STATIC_PREFIX": "/mlflow",
        "MLFLOW_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": FLASK_KEY,
        "MLFLOW_WORKERS": "1",
        "MLFLOW_SSO_SIGNER": ALB_ARN,
        "MLFLOW_SSO_PUBLIC_KEYS_URL": f"http://127.0.0.1:{keys.server_port}",
        "PORT": str(port),
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": moto_endpoint,
        "MLFLOW_S3_ENDPOINT_URL": moto_endpoint,
    }
    process = ServerProcess(env, scratch / "server.log")
    try:
        process.wait_until_healthy(f"http://127.0.0.1:{port}/mlflow/health")
        yield Server(process, port, alb, key_requests)
    finally:
        process.stop()
        keys.shutdown()


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_a_signed_in_user_reaches_the_uis_api_as_itself(server):
    token = server.alb.token({"email": "ada@corp.test"})

    status, _, body = server.get(SEARCH, {"x-amzn-oidc-data": token})
    current = server.get("/mlflow/ajax-api/2.0/mlflow/users/current", {"x-amzn-oidc-data": token})

    assert status == 200, server.process.output
    assert "experiments" in json.loads(body)
    assert current[0] == 200
    user = json.loads(current[2])["user"]
    assert (user["username"], user["is_admin"]) == ("ada@corp.test", False)
    assert server.key_requests and set(server.key_requests) == {f"/{KID}"}


def test_the_admin_sees_the_user_the_sign_in_created(server):
    server.get(SEARCH, {"x-amzn-oidc-data": server.alb.token({"email": "grace@corp.test"})})

    status, _, body = server.get(
        "/mlflow/api/2.0/mlflow/users/get?username=grace%40corp.test",
        basic("admin", ADMIN_PASSWORD),
    )

    assert status == 200
    assert json.loads(body)["user"]["username"] == "grace@corp.test"


@pytest.mark.parametrize(
    "forge",
    [
        lambda alb: AlbSigner(kid=alb.kid).token({"email": "mallory@corp.test"}),
        lambda alb: alb.token({"email": "mallory@corp.test"}, signer=OTHER_ALB_ARN),
        lambda alb: alb.token({"email": "mallory@corp.test"}, lifetime=-600),
        lambda alb: ".".join(alb.token({"email": "mallory@corp.test"}).split(".")[:2]),
    ],
    ids=["other-key", "other-load-balancer", "expired", "unsigned"],
)
def test_a_forged_header_is_refused_without_a_password_prompt(server, forge):
    status, headers, _ = server.get(SEARCH, {"x-amzn-oidc-data": forge(server.alb)})

    assert status == 401
    assert headers.get("WWW-Authenticate") is None
    listed = server.get(
        "/mlflow/api/2.0/mlflow/users/get?username=mallory%40corp.test",
        basic("admin", ADMIN_PASSWORD),
    )
    assert listed[0] == 404  # never created


def test_without_the_header_basic_auth_decides_as_for_the_sdk(server):
    api = "/mlflow/api/2.0/mlflow/experiments/search?max_results=1"

    assert server.get(api, basic("admin", ADMIN_PASSWORD))[0] == 200
    status, headers, _ = server.get(api, {})
    assert status == 401 and headers.get("WWW-Authenticate") == 'Basic realm="mlflow"'
    assert server.get(api, basic("admin", "wrong-password-123"))[0] == 401
