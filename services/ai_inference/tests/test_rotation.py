"""The service through a rotation of its API key (moto's Secrets Manager): clients holding
the old key and clients holding the new one are both served, before, during and after the
rotation; a wrong key still gets 401."""

from __future__ import annotations

import pytest
from ai_inference.app import create_app
from ai_inference.model_store import ModelStore
from ai_inference.settings import Settings
from fastapi.testclient import TestClient
from service_common.secret_keys import ring_for
from service_testing.secrets import Clock, secrets_manager

OLD = "old-api-key-0123456789abcdef"
NEW = "new-api-key-0123456789abcdef"
SECRET = "mlplatform-test/inference/api-key"
TOKEN = "7d1e3a2b-0c4f-4e6a-8b9d-1f2e3d4c5b6a"


@pytest.fixture
def sm(monkeypatch):
    with secrets_manager(monkeypatch, {SECRET: OLD}) as client:
        yield client


def test_settings_read_the_secret_id_and_the_app_then_reads_the_secret(sm, body):
    # given the environment ECS gives the task: the key, and the secret it came from
    settings = Settings.from_env({"API_KEY": OLD, "API_KEY_SECRET_ID": SECRET})
    assert settings.api_key_secret_id == SECRET
    # when the secret already holds a new pending value (a rotation under way)
    sm.put_secret_value(SecretId=SECRET, ClientRequestToken=TOKEN, SecretString=NEW,
                        VersionStages=["AWSPENDING"])  # fmt: skip
    client = TestClient(create_app(settings, store=ModelStore()))
    # then a client with the new key is served, though the task started with the old one
    assert client.post("/move", json=body, headers={"X-API-Key": NEW}).status_code != 401
    assert client.post("/move", json=body, headers={"X-API-Key": OLD}).status_code != 401


def test_a_rotation_mid_traffic_fails_no_request(sm, body):
    clock = Clock()
    ring = ring_for(SECRET, OLD, clock=clock)
    client = TestClient(create_app(Settings(api_key=OLD), store=ModelStore(), key_ring=ring))

    def code(key: str) -> int:
        return client.post(
            "/move", json=body, headers={"Authorization": f"Bearer {key}"}
        ).status_code

    assert code(OLD) == 200
    # createSecret: the new value pending; a client picks it up at once
    sm.put_secret_value(SecretId=SECRET, ClientRequestToken=TOKEN, SecretString=NEW,
                        VersionStages=["AWSPENDING"])  # fmt: skip
    clock.now += 10
    assert (code(NEW), code(OLD)) == (200, 200)
    # finishSecret: new current, old previous
    stages = sm.describe_secret(SecretId=SECRET)["VersionIdsToStages"]
    current = next(v for v, s in stages.items() if "AWSCURRENT" in s)
    sm.update_secret_version_stage(SecretId=SECRET, VersionStage="AWSCURRENT",
                                   MoveToVersionId=TOKEN, RemoveFromVersionId=current)  # fmt: skip
    clock.now += 300
    assert (code(NEW), code(OLD)) == (200, 200)
    assert code("not-the-key-0123456789abc") == 401
