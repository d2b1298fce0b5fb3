"""Fixtures: the tables and bucket in moto (in-process ``mock_aws``), made from
``agent_world.schema``, and a TestClient per role. Nothing reaches AWS or the network.

The variables the service reads are removed for every test, and fake credentials set, so
neither the developer's environment nor a real account can leak in.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient
from moto import mock_aws

# The service's package and service_common import from any directory, as in its image.
SERVICE = Path(__file__).resolve().parent.parent
for path in (SERVICE, SERVICE.parent / "common"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from agent_world import schema  # noqa: E402
from agent_world.app import create_app  # noqa: E402
from agent_world.settings import Settings  # noqa: E402

REGION = "eu-west-1"
BUCKET = "aw-test-snapshots"
TABLE_NAMES = {t.env: f"aw-test-{t.logical}" for t in schema.TABLES}
ENV_VARS = (
    "SERVICE_ROLE",
    *TABLE_NAMES,
    "SNAPSHOT_BUCKET",
    "SNAPSHOT_KMS_KEY_ID",
    "LLM_PROVIDER",
    "BEDROCK_MODEL_IDS",
    "ENABLE_DOCS",
    "MAX_BODY_BYTES",
    "LOG_LEVEL",
    "PORT",
    "API_BASE_PATHS",
    "AWS_ENDPOINT_URL",
    "AWS_PROFILE",
    # issue 15: Redis and the WebSocket events
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_TLS",
    "REDIS_AUTH_TOKEN",
    "REDIS_CA_FILE",
    "CACHE_TTL_SECONDS",
    "WEBSOCKET_MANAGEMENT_URL",
    "EVENT_WORKERS",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)


@pytest.fixture
def service_dir() -> Path:
    return SERVICE


@pytest.fixture(scope="session")
def boto_session() -> boto3.Session:
    """One session for every test: it caches the service models, which makes new clients
    cheap (a fresh session per test costs a few hundred milliseconds each)."""
    return boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


@pytest.fixture
def aws(boto_session) -> Iterator[dict[str, Any]]:
    """Moto with every table (per ``agent_world.schema``) and the snapshot bucket."""
    with mock_aws():
        dynamodb = boto_session.client("dynamodb")
        schema.create_tables(dynamodb, TABLE_NAMES)
        s3 = boto_session.client("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield {"dynamodb": dynamodb, "s3": s3, "resource": boto_session.resource("dynamodb")}


def settings_for(role: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "role": role,
        "tables": TABLE_NAMES,
        "snapshot_bucket": BUCKET,
        "region": REGION,
    }
    return Settings(**{**values, **overrides})


@pytest.fixture
def make_client(aws) -> Callable[..., TestClient]:
    """``make_client(role, **settings)``: a client of a fresh app for ``role`` on moto."""

    def make(role: str, **overrides: Any) -> TestClient:
        app = create_app(settings_for(role, **overrides), dynamodb=aws["resource"], s3=aws["s3"])
        return TestClient(app)

    return make


@pytest.fixture
def worlds(make_client) -> TestClient:
    return make_client("world-management")


@pytest.fixture
def runtime(make_client) -> TestClient:
    return make_client("agent-runtime")


@pytest.fixture
def llm_client() -> TestClient:
    return TestClient(create_app(settings_for("llm-integration")))


@pytest.fixture
def world(worlds) -> dict[str, Any]:
    """A world created through the API."""
    answer = worlds.post("/worlds", json={"world_id": "w1", "name": "Smallville"})
    assert answer.status_code == 201, answer.text
    return answer.json()


@pytest.fixture
def agent(runtime, world) -> dict[str, Any]:
    answer = runtime.post("/worlds/w1/agents", json={"agent_id": "a1", "name": "Isabella"})
    assert answer.status_code == 201, answer.text
    return answer.json()


@pytest.fixture
def table_names() -> dict[str, str]:
    return dict(TABLE_NAMES)


@pytest.fixture
def bucket() -> str:
    return BUCKET
