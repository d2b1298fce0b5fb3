"""The key ring and ApiKeyAuth through a rotation, on moto's Secrets Manager: the stages a
rotation moves, requests before, during and after it."""

from __future__ import annotations

import pytest
from service_common.middleware import ApiKeyAuth
from service_common.secret_keys import KeyRing, ring_for, secret_stages
from service_testing.secrets import Clock, secrets_manager
from starlette.applications import Starlette
from starlette.datastructures import Secret
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

OLD = "old-key-0123456789abcdef"
NEW = "new-key-0123456789abcdef"
WRONG = "wrong-key-0123456789abcd"
TOKEN = "0b2c1f64-6d2e-4e5b-9f0e-4a1d2c3b4a59"


@pytest.fixture
def sm(monkeypatch):
    with secrets_manager(monkeypatch, {"svc/api-key": OLD}) as client:
        yield client


def start_rotation(sm) -> None:
    """createSecret's effect: the new value as AWSPENDING."""
    sm.put_secret_value(
        SecretId="svc/api-key", ClientRequestToken=TOKEN, SecretString=NEW,
        VersionStages=["AWSPENDING"],
    )  # fmt: skip


def finish_rotation(sm) -> None:
    """finishSecret's effect: AWSCURRENT to the new version (the old becomes AWSPREVIOUS)."""
    stages = sm.describe_secret(SecretId="svc/api-key")["VersionIdsToStages"]
    current = next(v for v, s in stages.items() if "AWSCURRENT" in s)
    sm.update_secret_version_stage(
        SecretId="svc/api-key", VersionStage="AWSCURRENT", MoveToVersionId=TOKEN,
        RemoveFromVersionId=current,
    )  # fmt: skip
    sm.update_secret_version_stage(
        SecretId="svc/api-key", VersionStage="AWSPENDING", RemoveFromVersionId=TOKEN
    )


def app_with(ring: KeyRing) -> TestClient:
    async def ok(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/x", ok)])
    app.add_middleware(ApiKeyAuth, api_key=Secret(OLD), key_ring=ring)
    return TestClient(app)


def status(client: TestClient, key: str) -> int:
    return client.get("/x", headers={"X-API-Key": key}).status_code


def test_a_rotation_mid_traffic_refuses_no_client_and_still_refuses_a_wrong_key(sm):
    # given a service whose ring reads the secret, serving the old key
    clock = Clock(now=1000.0)
    ring = KeyRing(secret_stages("svc/api-key", sm), clock=clock)
    client = app_with(ring)
    assert status(client, OLD) == 200
    # when a rotation starts (the new value pending) and a client already has the new key
    start_rotation(sm)
    clock.now += 11  # past the refresh limit
    # then both keys are accepted, and a wrong one is refused with 401
    assert status(client, NEW) == 200
    assert status(client, OLD) == 200
    assert status(client, WRONG) == 401
    # when the rotation finishes (new current, old previous)
    finish_rotation(sm)
    clock.now += 301  # the cached read expires
    # then both are still accepted: clients holding the old key keep working
    assert (status(client, OLD), status(client, NEW), status(client, WRONG)) == (200, 200, 401)


def test_a_key_two_rotations_old_is_no_longer_accepted(sm):
    ring = KeyRing(secret_stages("svc/api-key", sm), clock=Clock(now=1000.0))
    start_rotation(sm)
    finish_rotation(sm)
    # a second rotation: NEW becomes previous, a third value current; OLD has no stage
    sm.put_secret_value(
        SecretId="svc/api-key", ClientRequestToken="t2" * 16,
        SecretString="third-key-0123456789abc", VersionStages=["AWSPENDING"],
    )  # fmt: skip
    stages = sm.describe_secret(SecretId="svc/api-key")["VersionIdsToStages"]
    sm.update_secret_version_stage(
        SecretId="svc/api-key", VersionStage="AWSCURRENT", MoveToVersionId="t2" * 16,
        RemoveFromVersionId=next(v for v, s in stages.items() if "AWSCURRENT" in s),
    )  # fmt: skip
    assert not ring.matches([OLD.encode()])
    assert ring.matches([NEW.encode()])
    assert ring.matches([b"third-key-0123456789abc"])


def test_unknown_keys_read_the_secret_at_most_once_per_interval(sm):
    clock = Clock(now=1000.0)
    ring = KeyRing(secret_stages("svc/api-key", sm), clock=clock, min_refresh_seconds=10)
    assert ring.matches([OLD.encode()]) and ring.reads == 1
    # a burst of wrong keys within the interval: no further read
    for _ in range(20):
        assert not ring.matches([WRONG.encode()])
    assert ring.reads == 1
    clock.now += 10
    assert not ring.matches([WRONG.encode()])
    assert ring.reads == 2


def test_a_new_key_is_accepted_after_the_interval_without_waiting_for_the_ttl(sm):
    clock = Clock(now=1000.0)
    ring = KeyRing(secret_stages("svc/api-key", sm), clock=clock)
    assert ring.matches([OLD.encode()])
    start_rotation(sm)
    assert not ring.matches([NEW.encode()])  # just read: rate-limited
    clock.now += 10
    assert ring.matches([NEW.encode()])


def test_secrets_manager_unreachable_the_fallback_key_still_works_and_others_do_not(sm):
    def broken():
        raise ConnectionError("no route to Secrets Manager")

    ring = KeyRing(broken, fallback=[OLD], clock=Clock(now=1000.0))
    assert ring.matches([OLD.encode()])
    assert not ring.matches([NEW.encode()])


def test_an_outage_after_a_read_keeps_the_values_read(sm):
    clock = Clock(now=1000.0)
    calls = {"n": 0}
    source = secret_stages("svc/api-key", sm)

    def flaky():
        calls["n"] += 1
        if calls["n"] > 1:
            raise TimeoutError
        return source()

    ring = KeyRing(flaky, fallback=["fallback-key-0123456789"], clock=clock)
    assert ring.matches([OLD.encode()])
    clock.now += 400
    assert ring.matches([OLD.encode()])  # the read failed: the held values stay
    assert not ring.matches([b"fallback-key-0123456789"])  # replaced by the first read


def test_without_a_secret_id_there_is_no_ring():
    assert ring_for(None, OLD) is None
    assert ring_for("", OLD) is None


def test_a_secret_id_without_boto3_fails_at_start_not_after_the_first_rotation(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "boto3", None)  # as in an image without it
    with pytest.raises(ImportError):
        ring_for("mlplatform-test/svc/api-key", OLD)


def test_every_image_that_reads_a_key_ring_installs_boto3():
    from pathlib import Path

    services = Path(__file__).resolve().parents[2]
    for package in services.glob("*/*/"):
        # Images only: the Lambda functions' runtime brings boto3 with it.
        if package.name == "tests" or not (package.parent / "Dockerfile").exists():
            continue
        uses = any("secret_keys" in f.read_text() for f in package.glob("*.py"))
        if uses:
            wants = (package.parent / "requirements.txt").read_text()
            assert "\nboto3==" in wants, package.parent.name
