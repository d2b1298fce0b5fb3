"""The ``redis-auth`` kind: Secrets Manager on moto, ElastiCache faked here.

moto's ElastiCache accepts ``ModifyReplicationGroup`` but ignores ``AuthToken`` and
``AuthTokenUpdateStrategy`` (moto 5.2: ``modify_replication_group`` takes neither), so
:class:`FakeElastiCache` models what the ElastiCache guide ("Modifying the AUTH token on an
existing cluster") documents: ROTATE adds a token, the server then accepting both; SET,
allowed only after a ROTATE, leaves the given token alone; a modification keeps the group
``modifying`` for a while, and ``AuthTokenLastModifiedDate`` says when the token changed.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from rotation_support import stage_values
from secret_rotation import steps

REAL_SLEEP = time.sleep
GROUP = "mlplatform-prod-world"
OLD = "initial-redis-token-0123456789abcdefghijklmnopq"


class FakeElastiCache:
    class exceptions:  # noqa: N801 (boto3's attribute name)
        class InvalidParameterValueException(Exception):  # noqa: N818 (ElastiCache's names)
            pass

        class InvalidReplicationGroupStateFault(Exception):  # noqa: N818
            pass

    def __init__(self, token: str, busy_describes: int = 2):
        self.tokens = [token]
        self.rotated = False
        self.busy_describes = busy_describes
        self.busy = 0
        self.changed = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        self.modifications: list[tuple[str, str]] = []

    def describe_replication_groups(self, **kw):
        assert kw == {"ReplicationGroupId": GROUP}
        status = "modifying" if self.busy > 0 else "available"
        self.busy = max(0, self.busy - 1)
        return {"ReplicationGroups": [{
            "ReplicationGroupId": GROUP, "Status": status, "AuthTokenEnabled": True,
            "AuthTokenLastModifiedDate": self.changed,
        }]}  # fmt: skip

    def modify_replication_group(self, **kw):
        token, strategy = kw["AuthToken"], kw["AuthTokenUpdateStrategy"]
        assert kw["ReplicationGroupId"] == GROUP and kw["ApplyImmediately"] is True
        if self.busy:
            raise self.exceptions.InvalidReplicationGroupStateFault("modifying")
        if strategy == "ROTATE":
            self.tokens = [*self.tokens[-1:], token]
            self.rotated = True
        elif strategy == "SET":
            if not self.rotated:
                raise self.exceptions.InvalidParameterValueException("SET only after ROTATE")
            self.tokens = [token]
            self.rotated = False
        self.modifications.append((strategy, token))
        self.changed = dt.datetime.now(dt.UTC)
        self.busy = self.busy_describes


class RecordingEcs:
    def __init__(self):
        self.calls = []

    def update_service(self, **kw):
        self.calls.append(kw)


SERVICE_ARN = "arn:aws:ecs:us-east-1:123456789012:service/mlplatform-prod-agent-world/world"


@pytest.fixture
def redis(rotator, sm):
    secret = sm.create_secret(Name="mlplatform-prod/agent-world/redis-auth-token",
                              SecretString=OLD)["ARN"]  # fmt: skip
    fake, ecs = FakeElastiCache(OLD), RecordingEcs()
    rotator.clients.update({"elasticache": fake, "ecs": ecs})
    rotator.env.update({"ROTATION_KIND": "redis-auth", "REPLICATION_GROUP_ID": GROUP,
                        "RESTART_SERVICES": SERVICE_ARN})  # fmt: skip
    return secret, fake, ecs


def no_wait(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)


def test_a_rotation_adds_the_new_token_beside_the_old_and_restarts_the_clients(
    rotator, sm, redis, monkeypatch
):
    no_wait(monkeypatch)
    secret, fake, ecs = redis
    rotator.rotate(secret)
    values = stage_values(sm, secret)
    # both tokens work: the tasks still holding the old one keep their connections
    assert fake.tokens == [OLD, values["AWSCURRENT"]]
    # setSecret ran twice: the second run, not knowing whether the first stopped between
    # a SET and its ROTATE, does both again, and the group holds the same two tokens
    new = values["AWSCURRENT"]
    assert fake.modifications == [("ROTATE", new), ("SET", OLD), ("ROTATE", new)]
    # the consumers get a new deployment (finishSecret ran twice: twice)
    assert ecs.calls == [{"cluster": "mlplatform-prod-agent-world", "service": "world",
                          "forceNewDeployment": True}] * 2  # fmt: skip


def test_the_next_rotation_first_drops_the_token_before_the_current(
    rotator, sm, redis, monkeypatch
):
    no_wait(monkeypatch)
    secret, fake, _ = redis
    rotator.rotate(secret)
    first = stage_values(sm, secret)["AWSCURRENT"]
    # moto dates a version to the second; real rotations are 30 days apart
    REAL_SLEEP(1.1)
    rotator.rotate(secret)
    second = stage_values(sm, secret)["AWSCURRENT"]
    assert fake.tokens == [first, second]
    # each setSecret runs twice (the harness re-runs every step): SET, then ROTATE, each time
    assert [m[0] for m in fake.modifications[3:]] == ["SET", "ROTATE"] * 2
    assert OLD not in fake.tokens


def test_a_set_secret_that_died_between_set_and_rotate_is_finished_by_its_retry(redis):
    from secret_rotation.kinds import RedisAuthToken

    _, fake, _ = redis
    kind = RedisAuthToken(fake, GROUP, sleep=lambda s: None)
    fake.busy_describes = 0
    # given the last rotation left two tokens, and this one's pending version
    fake.modify_replication_group(
        ReplicationGroupId=GROUP,
        AuthToken="current-" + "c" * 40,
        AuthTokenUpdateStrategy="ROTATE",
        ApplyImmediately=True,
    )
    current, pending = "current-" + "c" * 40, "pending-" + "p" * 40
    created = dt.datetime.now(dt.UTC)
    # when setSecret dies right after its SET (a timeout), before the ROTATE
    real_modify = fake.modify_replication_group

    def dies_at_rotate(**kw):
        if kw["AuthTokenUpdateStrategy"] == "ROTATE":
            raise TimeoutError("the function ran out of time")
        return real_modify(**kw)

    fake.modify_replication_group = dies_at_rotate
    with pytest.raises(TimeoutError):
        kind.set(current, pending, OLD, created)
    assert fake.tokens == [current]  # the SET went through: only the current token works
    # and Secrets Manager retries the step (same pending version)
    fake.modify_replication_group = real_modify
    kind.set(current, pending, OLD, created)
    # then the pending token is in the group before finishSecret makes it current
    assert fake.tokens == [current, pending]
    # and a further retry leaves the same two tokens
    kind.set(current, pending, OLD, created)
    assert fake.tokens == [current, pending]


def test_a_group_that_stays_busy_fails_set_and_leaves_awscurrent(rotator, sm, redis, monkeypatch):
    # given a group in the middle of another change that outlasts the function's wait
    no_wait(monkeypatch)
    secret, fake, ecs = redis
    fake.busy = 10**6
    with pytest.raises(steps.RotationError, match="not available"):
        rotator.rotate(secret)
    assert stage_values(sm, secret)["AWSCURRENT"] == OLD
    assert fake.tokens == [OLD] and fake.modifications == [] and ecs.calls == []


def test_test_secret_waits_for_the_modification_to_finish(redis, monkeypatch):
    from secret_rotation.kinds import RedisAuthToken

    naps = []
    monkeypatch.setattr("time.sleep", naps.append)
    _, fake, _ = redis
    kind = RedisAuthToken(fake, GROUP, sleep=naps.append)
    fake.busy = 3
    kind.test("x" * 48)
    assert naps == [15.0] * 3
