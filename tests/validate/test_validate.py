"""``./tasks validate``: each check against moto (a ``ThreadedMotoServer`` on 127.0.0.1 that
boto3 reaches through ``AWS_ENDPOINT_URL``) and HTTP endpoints on 127.0.0.1: the real
``ai_inference`` and ``agent_world`` apps under uvicorn, a stopped port, and a small stand-in
for what has no cheap local server here (MLflow's auth gate and SSO redirect, the Hokusai
API, API Gateway's key check). Every check passes on a healthy stack and fails on its own
kind of breakage; bad usage exits 2 with one line; secret outputs are never printed.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
import uvicorn
from agent_world import schema
from agent_world.app import create_app as agent_world_app
from agent_world.settings import Settings as AgentWorldSettings
from ai_inference.app import create_app as inference_app
from ai_inference.model_store import ModelStore
from ai_inference.settings import Settings as InferenceSettings
from moto.server import ThreadedMotoServer
from service_testing.ports import free_port

from validate import __main__ as cli
from validate import checks, probe
from validate.__main__ import main

REGION = "eu-west-1"
API_KEY = "aw-validate-key-3f9c1e7a5b2d8046"
COORDINATOR_SECRET = "coordinator-secret-Zq81Xv0wPl3m"
STANDIN_PATHS = {
    "/mlflow/health": (200, {}),
    "/mlflow/": (401, {"WWW-Authenticate": 'Basic realm="mlflow"'}),
    "/sso/mlflow/": (302, {"Location": "https://auth.example.test/oauth2/authorize?state=x"}),
    "/open/mlflow/": (200, {}),
    "/broken/mlflow/": (500, {}),
    "/broken/mlflow/health": (503, {}),
    "/api/health": (200, {}),
    "/down/api/health": (503, {}),
}


# --- servers -------------------------------------------------------------------------------


class Uvicorn:
    """An ASGI app served on 127.0.0.1 in a thread, as ``python -m <service>`` would."""

    def __init__(self, app: Any):
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="off")  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class StandIn(BaseHTTPRequestHandler):
    """Fixed answers (STANDIN_PATHS), and ``/keyed/...``: 200 only with the stack's key."""

    def do_GET(self) -> None:
        if self.path.startswith("/keyed/"):
            ok = self.headers.get("x-api-key") == API_KEY
            status, headers = (200, {}) if ok else (403, {})
        else:
            status, headers = STANDIN_PATHS.get(self.path, (404, {}))
        body = json.dumps({"status": "ok" if status < 300 else "no"}).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def environment(monkeypatch, moto_url):
    for name in ("AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)


def client(service: str, moto_url: str) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=moto_url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip


@pytest.fixture(scope="module")
def aws(moto_url) -> dict[str, Any]:
    """The stack's resources in moto, healthy ones and broken ones side by side."""
    s3, sqs, ecs, rds = (client(s, moto_url) for s in ("s3", "sqs", "ecs", "rds"))
    location = {"LocationConstraint": REGION}
    for bucket in ("v-training", "v-artifacts", "v-snapshots"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration=location)
    s3.put_object(Bucket="v-artifacts", Key="run/model.pkl", Body=b"x")
    queues = {n: sqs.create_queue(QueueName=n)["QueueUrl"]
              for n in ("v-tasks", "v-results", "v-dlq", "v-full-dlq")}  # fmt: skip
    sqs.send_message(QueueUrl=queues["v-tasks"], MessageBody="{}")
    sqs.send_message(QueueUrl=queues["v-full-dlq"], MessageBody="{}")
    ecs.create_cluster(clusterName="v-cluster")
    family = ecs.register_task_definition(
        family="v-task", containerDefinitions=[{"name": "c", "image": "x", "memory": 512}]
    )["taskDefinition"]["taskDefinitionArn"]
    # moto reports MOTO_ECS_SERVICE_RUNNING tasks running for a service created while it is
    # set (0 otherwise) and the rollout COMPLETED only when that reaches the desired count.
    for name, desired, running in (("v-steady", 1, "1"), ("v-zero", 0, "0"),
                                   ("v-short", 2, "1"), ("v-starting", 1, "0"),
                                   ("v-starting-2", 1, "0")):  # fmt: skip
        with pytest.MonkeyPatch.context() as env:
            env.setenv("MOTO_ECS_SERVICE_RUNNING", running)
            ecs.create_service(cluster="v-cluster", serviceName=name, taskDefinition=family,
                               desiredCount=desired)  # fmt: skip
    for name in ("v-db", "v-stopped-db"):
        rds.create_db_instance(DBInstanceIdentifier=name, DBInstanceClass="db.t4g.micro",
                               Engine="postgres", MasterUsername="u",
                               MasterUserPassword="password-1234", AllocatedStorage=20)  # fmt: skip
    # Scaled up after a deployment that never completed: the counts match, the rollout not.
    ecs.update_service(cluster="v-cluster", service="v-starting-2", desiredCount=1)
    rds.stop_db_instance(DBInstanceIdentifier="v-stopped-db")
    for name in ("v-aurora", "v-empty-aurora"):
        rds.create_db_cluster(DBClusterIdentifier=name, Engine="aurora-postgresql",
                              MasterUsername="u", MasterUserPassword="password-1234")  # fmt: skip
    rds.create_db_instance(DBInstanceIdentifier="v-aurora-0", DBClusterIdentifier="v-aurora",
                           DBInstanceClass="db.serverless", Engine="aurora-postgresql")  # fmt: skip
    secret = client("secretsmanager", moto_url).create_secret(
        Name="v/agent-world/api-key", SecretString=API_KEY
    )["ARN"]
    return {"queues": queues, "secret": secret}


@pytest.fixture(scope="module")
def http(moto_url) -> Iterator[dict[str, str]]:
    """The endpoints: real services under uvicorn, the stand-in, and a port nobody serves."""
    inference = Uvicorn(
        inference_app(InferenceSettings(api_key="inference-key-0123456789"), store=ModelStore())
    )
    world_resource = boto3.resource("dynamodb", region_name=REGION, endpoint_url=moto_url,
                                    aws_access_key_id="t", aws_secret_access_key="t")  # fmt: skip
    world = Uvicorn(agent_world_app(
        AgentWorldSettings(role="all", tables={t.env: f"v-{t.logical}" for t in schema.TABLES},
                           snapshot_bucket="v-snapshots", region=REGION,
                           base_paths=("/v1/api/world",)),
        dynamodb=world_resource, s3=client("s3", moto_url),
    ))  # fmt: skip
    standin = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    threading.Thread(target=standin.serve_forever, daemon=True).start()
    yield {
        "inference": inference.url,
        "world": world.url,
        "standin": f"http://127.0.0.1:{standin.server_address[1]}",
        "stopped": f"http://127.0.0.1:{free_port()}",
    }
    standin.shutdown()
    inference.stop()
    world.stop()


@pytest.fixture
def healthy(aws, http) -> dict[str, Any]:
    """The outputs of a healthy stack (every check has something to check)."""
    q = aws["queues"]
    return {
        "aws_region": REGION,
        "ecs_services": [
            {"cluster": "v-cluster", "service": "v-steady"},
            {"cluster": "v-cluster", "service": "v-zero"},
        ],
        "db_instance_identifier": "v-db",
        "s3_bucket_name": "v-training",
        "mlflow_artifacts_bucket": "v-artifacts",
        "agent_world_bucket_names": {"snapshots": "v-snapshots"},
        "sqs_task_queue_url": q["v-tasks"],
        "sqs_result_queue_url": q["v-results"],
        "sqs_dlq_url": q["v-dlq"],
        "dead_letter_queue_urls": [q["v-dlq"]],
        "health_check_url": f"{http['inference']}/health",
        "mlflow_endpoint": f"{http['standin']}/mlflow/",
        "api_endpoint": f"{http['standin']}/api",
        "agent_world_rest_url": f"{http['world']}/v1",
        "agent_world_api_key_secret_arn": aws["secret"],
        "coordinator_secret_access_key": COORDINATOR_SECRET,
    }


def validate(tmp_path: Path, capsys, outputs: Any, *, stack: str = "prod") -> tuple[int, str, str]:
    path = tmp_path / "outputs.json"
    path.write_text(outputs if isinstance(outputs, str) else json.dumps(outputs))
    code = main([stack, "--outputs", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def lines(out: str) -> dict[str, tuple[str, str]]:
    """``check: (state, detail)`` of each check line."""
    found = {}
    for line in out.splitlines()[:-1]:
        state, rest = line.split(" ", 1)
        check, detail = rest.strip().split(": ", 1)
        found[check] = (state, detail)
    return found


# --- a healthy stack ---------------------------------------------------------------------


def test_a_healthy_stack_passes_every_check_one_line_each(tmp_path, capsys, healthy):
    code, out, err = validate(tmp_path, capsys, healthy)
    found = lines(out)
    assert (code, err) == (0, ""), out
    assert {c: s for c, (s, _) in found.items()} == {
        "ecs v-cluster/v-steady": "ok",
        "ecs v-cluster/v-zero": "ok",
        "database instance v-db": "ok",
        "s3 v-training": "ok",
        "s3 v-artifacts": "ok",
        "s3 v-snapshots": "ok",
        "sqs v-tasks": "ok",
        "sqs v-results": "ok",
        "dlq v-dlq": "ok",
        "http inference": "ok",
        "http mlflow": "ok",
        "http mlflow ui": "ok",
        "http hokusai api": "ok",
        "http agent world rest": "ok",
    }
    assert found["ecs v-cluster/v-steady"][1] == (
        "running 1 of desired 1, 0 pending; deployment COMPLETED"
    )
    assert found["sqs v-tasks"][1] == "reachable, 1 waiting, 0 in flight"
    assert found["database instance v-db"][1] == "available (postgres)"
    assert found["http mlflow ui"][1].endswith("asks for credentials (401 Basic)")
    assert out.splitlines()[-1] == "validate prod: passed: 14 ok, 0 failed, 0 skipped"


def test_an_aurora_cluster_passes_when_available(tmp_path, capsys, aws):
    code, out, _ = validate(tmp_path, capsys, {"aws_region": REGION,
                                               "db_cluster_identifier": "v-aurora"})  # fmt: skip
    found = lines(out)
    assert found["database cluster v-aurora"] == (
        "ok",
        "available (aurora-postgresql, 1 instance(s))",
    )
    assert found["database instance v-aurora-0"] == ("ok", "available (aurora-postgresql)")
    assert code == 0


@pytest.mark.parametrize(
    ("path", "detail"),
    [("/open/mlflow/", "served the UI (200)"),
     ("/sso/mlflow/", "redirects to sign-in at https://auth.example.test/oauth2/authorize (302)")],
)  # fmt: skip
def test_the_mlflow_ui_passes_served_or_asking_to_sign_in(tmp_path, capsys, http, path, detail):
    outputs = {"aws_region": REGION, "mlflow_endpoint": f"{http['standin']}{path}"}
    _, out, _ = validate(tmp_path, capsys, outputs)
    state, found = lines(out)["http mlflow ui"]
    assert state == "ok" and found.endswith(detail)


def test_a_stack_with_nothing_enabled_skips_every_check_saying_why(tmp_path, capsys):
    code, out, _ = validate(tmp_path, capsys, {"aws_region": REGION})
    found = lines(out)
    assert code == 0
    assert {s for s, _ in found.values()} == {"skip"}
    assert found["sqs"] == ("skip", "no queue in the outputs (training stack off)")
    assert len(found) == 8


def test_an_endpoint_of_a_service_scaled_to_zero_is_skipped(tmp_path, capsys, aws, http):
    zero = [{"cluster": "v-cluster", "service": "v-zero"}]
    outputs = {"aws_region": REGION, "ecs_services": zero,
               "health_check_url": f"{http['stopped']}/health",
               "health_check_service_name": "v-zero"}  # fmt: skip
    code, out, _ = validate(tmp_path, capsys, outputs)
    state, detail = lines(out)["http inference"]
    assert (code, state) == (0, "skip") and "scaled to zero (desired 0)" in detail


# --- every check fails on its own breakage -----------------------------------------------

FAILURES = [
    ("ecs-short", lambda a, h: {"ecs_services": [{"cluster": "v-cluster", "service": "v-short"}]},
     "ecs v-cluster/v-short", "running 1 of desired 2, 1 pending"),
    ("ecs-rolling", lambda a, h: {"ecs_cluster_name": "v-cluster",
                                  "ecs_service_name": "v-starting"},
     "ecs v-cluster/v-starting", "running 0 of desired 1, 1 pending"),
    ("ecs-rollout", lambda a, h: {"ecs_services": [{"cluster": "v-cluster",
                                                    "service": "v-starting-2"}]},
     "ecs v-cluster/v-starting-2", "deployment IN_PROGRESS"),
    ("ecs-missing", lambda a, h: {"inference_cluster_name": "v-cluster",
                                  "inference_service_names": {"gone": "v-gone"}},
     "ecs v-cluster/v-gone", "not found in the cluster"),
    ("ecs-no-cluster", lambda a, h: {"ecs_services": [{"cluster": "v-none", "service": "v-x"}]},
     "ecs v-none/v-x", "ClusterNotFoundException"),
    ("db-stopped", lambda a, h: {"db_instance_identifier": "v-stopped-db"},
     "database instance v-stopped-db", "stopped (postgres)"),
    ("db-missing", lambda a, h: {"db_cluster_identifier": "v-no-aurora"},
     "database cluster v-no-aurora", "DBClusterNotFoundFault"),
    ("db-no-instance", lambda a, h: {"db_cluster_identifier": "v-empty-aurora"},
     "database cluster v-empty-aurora", "available (aurora-postgresql, 0 instance(s))"),
    ("s3-missing", lambda a, h: {"pipeline_data_bucket": "v-no-such-bucket"},
     "s3 v-no-such-bucket", "404"),
    ("sqs-missing", lambda a, h: {"sqs_task_queue_url": a["queues"]["v-tasks"] + "-gone"},
     "sqs v-tasks-gone", "NonExistentQueue"),
    ("dlq-depth", lambda a, h: {"dead_letter_queue_urls": [a["queues"]["v-full-dlq"]]},
     "dlq v-full-dlq", "1 dead-lettered message(s)"),
    ("http-stopped", lambda a, h: {"health_check_url": f"{h['stopped']}/health"},
     "http inference", "Connection refused"),
    ("http-503", lambda a, h: {"mlflow_endpoint": f"{h['standin']}/broken/mlflow/"},
     "http mlflow", "answered 503"),
    ("ui-500", lambda a, h: {"mlflow_endpoint": f"{h['standin']}/broken/mlflow/"},
     "http mlflow ui", "answered 500"),
    ("ui-404", lambda a, h: {"mlflow_endpoint": f"{h['standin']}/elsewhere/"},
     "http mlflow ui", "answered 404"),
    ("api-503", lambda a, h: {"api_endpoint": f"{h['standin']}/down/api"},
     "http hokusai api", "answered 503"),
    ("world-stopped", lambda a, h: {"agent_world_rest_url": f"{h['stopped']}/v1",
                                    "agent_world_api_key_secret_arn": a["secret"]},
     "http agent world rest", "Connection refused"),
    ("world-no-secret", lambda a, h: {"agent_world_rest_url": f"{h['world']}/v1",
                                      "agent_world_api_key_secret_arn": a["secret"] + "x"},
     "http agent world rest", "cannot read the API key: ResourceNotFoundException"),
    ("world-no-secret-output", lambda a, h: {"agent_world_rest_url": f"{h['world']}/v1"},
     "http agent world rest", "no agent_world_api_key_secret_arn output"),
]  # fmt: skip


@pytest.mark.parametrize(("outputs", "check", "reason"), [f[1:] for f in FAILURES],
                         ids=[f[0] for f in FAILURES])  # fmt: skip
def test_each_check_fails_with_its_reason(tmp_path, capsys, aws, http, outputs, check, reason):
    code, out, err = validate(tmp_path, capsys, {"aws_region": REGION, **outputs(aws, http)})
    state, detail = lines(out)[check]
    assert (code, state, err) == (1, "FAIL", ""), out
    assert reason in detail
    assert "validate prod: FAILED:" in out.splitlines()[-1]


def test_the_api_key_is_sent_and_a_wrong_one_fails(tmp_path, capsys, aws, http, moto_url):
    # The stand-in answers /keyed/... as API Gateway does: 200 with the stack's key, else 403.
    outputs = {"aws_region": REGION, "agent_world_rest_url": f"{http['standin']}/keyed",
               "agent_world_api_key_secret_arn": aws["secret"]}  # fmt: skip
    code, out, _ = validate(tmp_path, capsys, outputs)
    assert (code, lines(out)["http agent world rest"][0]) == (0, "ok")
    other = client("secretsmanager", moto_url).create_secret(
        Name="v/other-key", SecretString="not-the-key"
    )["ARN"]
    code, out, _ = validate(tmp_path, capsys, {**outputs, "agent_world_api_key_secret_arn": other})
    assert (code, lines(out)["http agent world rest"][0]) == (1, "FAIL")
    assert "answered 403" in out and "not-the-key" not in out


def test_secret_outputs_and_the_api_key_are_never_printed(tmp_path, capsys, healthy, http):
    broken = {**healthy, "agent_world_rest_url": f"{http['standin']}/keyed-but-wrong"}
    for outputs in (healthy, broken):
        _, out, err = validate(tmp_path, capsys, outputs)
        assert COORDINATOR_SECRET not in out + err
        assert API_KEY not in out + err


def steady(**changes: Any) -> dict[str, Any]:
    """A ``describe_services`` entry of a steady service (the shape AWS documents)."""
    deployment = {"status": "PRIMARY", "rolloutState": "COMPLETED", "runningCount": 2}
    return {"status": "ACTIVE", "desiredCount": 2, "runningCount": 2, "pendingCount": 0,
            "deployments": [deployment], **changes}  # fmt: skip


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        (steady(), ("ok", "running 2 of desired 2, 0 pending; deployment COMPLETED")),
        (steady(status="DRAINING"), ("FAIL", "status DRAINING")),
        (steady(runningCount=3), ("FAIL", "running 3 of desired 2, 0 pending")),
        (steady(deployments=[{"status": "PRIMARY", "rolloutState": "IN_PROGRESS"},
                             {"status": "ACTIVE", "rolloutState": "COMPLETED"}]),
         ("FAIL", "running 2 of desired 2, 0 pending; 2 deployments (one still rolling out)")),
        (steady(deployments=[{"status": "PRIMARY", "rolloutState": "FAILED",
                              "rolloutStateReason": "circuit breaker"}]),
         ("FAIL", "running 2 of desired 2, 0 pending; deployment FAILED (circuit breaker)")),
    ],
)  # fmt: skip
def test_a_service_is_steady_only_at_its_count_with_one_completed_deployment(service, expected):
    assert checks.service_state(service) == expected


# --- HTTP only where it is safe ----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "allow_http", "credential", "refused"),
    [
        ("https://alb.example.com/health", False, True, None),
        ("http://127.0.0.1:8000/health", False, True, None),
        ("http://[::1]:8000/health", False, True, None),
        ("http://alb.example.com/health", True, False, None),
        ("http://alb.example.com/health", False, False, "does not set ingress.allow_http"),
        ("http://alb.example.com/health", True, True, "refusing to send a credential"),
        ("ftp://alb.example.com/", True, False, "not an http(s) URL"),
        ("https:///health", True, False, "not an http(s) URL"),
    ],
)
def test_plain_http_only_to_loopback_or_where_the_stack_serves_it(url, allow_http, credential,
                                                                  refused):  # fmt: skip
    found = probe.refusal(url, allow_http=allow_http, credential=credential)
    assert found == refused or (refused and refused in found)


def test_prod_refuses_plain_http_to_a_public_host_without_sending(tmp_path, capsys):
    outputs = {"aws_region": REGION, "health_check_url": "http://alb.invalid/health"}
    code, out, _ = validate(tmp_path, capsys, outputs, stack="prod")
    assert code == 1
    assert lines(out)["http inference"] == (
        "FAIL",
        "plain HTTP to alb.invalid, and the stack does not set ingress.allow_http",
    )


def test_https_is_verified(tmp_path, capsys, http):
    # A TLS handshake with a server that speaks plain HTTP fails: nothing is accepted unverified.
    port = http["inference"].rsplit(":", 1)[1]
    answer = probe.get(f"https://127.0.0.1:{port}/health", timeout=5)
    assert answer.status is None and "SSL" in answer.error


# --- bad usage: exit 2, one line, no traceback -------------------------------------------

USAGE = [
    (["nostack", "--outputs", "{file}"], "{}", "unknown stack 'nostack'"),
    (["prod", "--outputs", "{file}"], "not json", "is not JSON"),
    (["prod", "--outputs", "{file}"], "[1, 2]", "is not a JSON object of outputs"),
    (["prod", "--outputs", "{dir}/missing.json"], None, "cannot read outputs file"),
    (["prod", "--outputs"], None, "expected one argument"),
    (["prod", "--outptus", "x"], None, "unrecognized arguments"),
    ([], None, "required: stack"),
    (["prod", "--outputs", "{file}"], '{"ecs_services": "v-cluster"}', "ecs_services is not"),
    (["prod", "--outputs", "{file}"], '{"aws_region": "eu-west-1", "health_check_url": 3}',
     "health_check_url is not a non-empty string"),
    (["prod", "--outputs", "{file}"], '{"aws_region": "eu-west-1", "alb_log_buckets": [1]}',
     "alb_log_buckets is not a list or map of strings"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "content", "message"), USAGE,
                         ids=[u[2].split(":")[0] for u in USAGE])  # fmt: skip
def test_bad_usage_exits_2_with_one_line(tmp_path, capsys, argv, content, message):
    file = tmp_path / "outputs.json"
    if content is not None:
        file.write_text(content)
    code = main([a.format(file=file, dir=tmp_path) for a in argv])
    out, err = capsys.readouterr()
    assert code == 2
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err
    assert out == ""


def test_every_output_a_check_reads_has_its_shape_checked_first():
    source = "".join(p.read_text() for p in Path(checks.__file__).parent.glob("*.py"))
    read = set(re.findall(r"\b(text|strings)\((?:ctx\.)?(?:outputs|o|found), \"(\w+)\"\)", source))
    by_name = {k for f, k in read if f == "text"}
    assert by_name | {*checks.BUCKET_OUTPUTS, *checks.QUEUE_OUTPUTS} == set(checks.TEXT_OUTPUTS)
    assert {k for f, k in read if f == "strings"} == set(checks.LIST_OUTPUTS)


def test_a_profile_that_does_not_exist_is_bad_usage(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    code, _, err = validate(tmp_path, capsys, {"aws_region": REGION})
    assert (
        code == 2 and err.startswith("validate: AWS configuration: ") and len(err.splitlines()) == 1
    )


def test_a_check_that_breaks_fails_and_the_others_still_run(tmp_path, capsys, monkeypatch, aws):
    def check_broken(ctx):
        yield from ()
        raise KeyError("deployments")

    monkeypatch.setattr(cli, "CHECKS", (check_broken, checks.check_database))
    code, out, _ = validate(tmp_path, capsys, {"aws_region": REGION,
                                               "db_instance_identifier": "v-db"})  # fmt: skip
    assert code == 1
    assert lines(out) == {"broken": ("FAIL", "unexpected KeyError: 'deployments'"),
                          "database instance v-db": ("ok", "available (postgres)")}  # fmt: skip


def test_no_region_anywhere_is_bad_usage(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("AWS_REGION")
    code, _, err = validate(tmp_path, capsys, {})
    assert code == 2 and err == "validate: no aws_region output and AWS_REGION is not set\n"


# --- outputs from the Pulumi CLI ---------------------------------------------------------


def fake_pulumi(tmp_path: Path, body: str) -> Path:
    """A ``pulumi`` on PATH that records its arguments (there is no Pulumi CLI here)."""
    script = tmp_path / "bin" / "pulumi"
    script.parent.mkdir()
    script.write_text(f"#!{sys.executable}\nimport sys\n"
                      f"open({str(tmp_path / 'args')!r}, 'w').write(' '.join(sys.argv[1:]))\n"
                      f"{body}\n")  # fmt: skip
    script.chmod(0o755)
    return script


def test_outputs_come_from_pulumi_stack_output_without_secrets(tmp_path, capsys, monkeypatch):
    outputs = json.dumps({"aws_region": REGION, "coordinator_secret_access_key": "[secret]"})
    script = fake_pulumi(tmp_path, f"print({outputs!r})")
    monkeypatch.setenv("PATH", f"{script.parent}:/usr/bin:/bin")
    code = main(["dev"])
    out, _ = capsys.readouterr()
    assert (tmp_path / "args").read_text() == "stack output --json --stack dev"
    assert code == 0 and out.splitlines()[-1] == "validate dev: passed: 0 ok, 0 failed, 8 skipped"


def test_a_stack_pulumi_does_not_know_is_bad_usage(tmp_path, capsys, monkeypatch):
    body = "sys.stderr.write(\"error: no stack named 'dev' found\\n\"); sys.exit(255)"
    monkeypatch.setenv("PATH", f"{fake_pulumi(tmp_path, body).parent}:/usr/bin:/bin")
    assert main(["dev"]) == 2
    assert capsys.readouterr().err == (
        "validate: pulumi stack output -s dev failed: error: no stack named 'dev' found\n"
    )


def test_without_the_pulumi_cli_the_outputs_file_is_required(capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert main(["dev"]) == 2
    assert "pass --outputs FILE" in capsys.readouterr().err


# --- the API key is never sent on to where a redirect points ------------------------------


class _Recorder(BaseHTTPRequestHandler):
    """Redirects every GET to ``server.location`` when set, else answers 200; records the
    headers of each request it gets in ``server.seen``."""

    def do_GET(self) -> None:
        seen = {k.lower(): v for k, v in self.headers.items()}
        self.server.seen.append(seen)  # type: ignore[attr-defined]
        location = self.server.location  # type: ignore[attr-defined]
        self.send_response(302 if location else 200)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def redirecting() -> Iterator[tuple[ThreadingHTTPServer, ThreadingHTTPServer]]:
    """(a server that redirects, the server it redirects to), both on 127.0.0.1."""
    servers = []
    for _ in range(2):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
        server.seen, server.location = [], ""  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    redirector, target = servers
    redirector.location = f"http://localhost:{target.server_address[1]}/elsewhere"  # type: ignore[attr-defined]
    yield redirector, target
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_request_with_the_api_key_does_not_follow_a_redirect(redirecting):
    redirector, target = redirecting
    url = f"http://127.0.0.1:{redirector.server_address[1]}/health"

    answer = probe.get(url, headers={"x-api-key": API_KEY})

    assert answer.status == 302
    assert answer.headers["Location"] == redirector.location  # type: ignore[attr-defined]
    assert target.seen == []  # type: ignore[attr-defined]
    assert redirector.seen[0]["x-api-key"] == API_KEY  # type: ignore[attr-defined]


def test_a_request_without_a_credential_still_follows_a_redirect(redirecting):
    redirector, target = redirecting

    answer = probe.get(f"http://127.0.0.1:{redirector.server_address[1]}/health")

    assert answer.status == 200
    assert len(target.seen) == 1  # type: ignore[attr-defined]


def test_a_keyed_check_that_is_redirected_fails_naming_the_location(
    tmp_path, capsys, aws, redirecting
):
    redirector, target = redirecting
    outputs = {"aws_region": REGION,
               "agent_world_rest_url": f"http://127.0.0.1:{redirector.server_address[1]}/keyed",
               "agent_world_api_key_secret_arn": aws["secret"]}  # fmt: skip

    code, out, _ = validate(tmp_path, capsys, outputs)

    state, detail = lines(out)["http agent world rest"]
    assert (code, state) == (1, "FAIL")
    assert f"redirected (302) to {redirector.location}" in detail  # type: ignore[attr-defined]
    assert "not followed with the API key" in detail
    assert target.seen == []  # type: ignore[attr-defined]
