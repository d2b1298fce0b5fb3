"""State pools from S3: a missing pool, the scratch cache by ETag, a changed pool."""

from __future__ import annotations

import boto3
import pytest
from cmaes_training.state_pools import StatePools

BUCKET = "pools"
PREFIX = "state-pools/"


@pytest.fixture
def s3(aws):
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def test_a_missing_pool_reads_as_none(s3, tmp_path):
    pools = StatePools(s3, BUCKET, PREFIX, tmp_path)
    assert pools.get("square8_2p.json") is None
    assert (pools.hits, pools.downloads) == (0, 0)


def test_the_second_read_is_served_from_the_scratch_cache(s3, tmp_path):
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}square8_2p.json", Body=b'{"states": [1, 2]}')
    pools = StatePools(s3, BUCKET, PREFIX, tmp_path)

    first = pools.get("square8_2p.json")
    second = pools.get("square8_2p.json")

    assert first == second == b'{"states": [1, 2]}'
    assert (pools.downloads, pools.hits) == (1, 1)
    cached = list((tmp_path / "state-pools").glob("square8_2p.json@*"))
    assert len(cached) == 1


def test_a_restarted_worker_reuses_the_scratch_cache(s3, tmp_path):
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}square8_2p.json", Body=b"pool")
    StatePools(s3, BUCKET, PREFIX, tmp_path).get("square8_2p.json")

    again = StatePools(s3, BUCKET, PREFIX, tmp_path)

    assert again.get("square8_2p.json") == b"pool"
    assert (again.downloads, again.hits) == (0, 1)


def test_a_changed_pool_is_downloaded_again_and_the_old_copy_dropped(s3, tmp_path):
    key = f"{PREFIX}square8_2p.json"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"version 1")
    pools = StatePools(s3, BUCKET, PREFIX, tmp_path)
    pools.get("square8_2p.json")

    s3.put_object(Bucket=BUCKET, Key=key, Body=b"version 2")

    assert pools.get("square8_2p.json") == b"version 2"
    assert pools.downloads == 2
    assert len(list((tmp_path / "state-pools").glob("square8_2p.json@*"))) == 1


def test_pools_are_read_only_under_the_prefix(s3, tmp_path):
    s3.put_object(Bucket=BUCKET, Key="square8_2p.json", Body=b"outside the prefix")
    assert StatePools(s3, BUCKET, PREFIX, tmp_path).get("square8_2p.json") is None


def count_get_object(s3) -> list[str]:
    calls: list[str] = []
    s3.meta.events.register("before-call.s3.GetObject", lambda **kw: calls.append("get"))
    return calls


def test_a_missing_pool_is_asked_for_once_until_the_miss_expires(s3, tmp_path):
    now = [1000.0]
    pools = StatePools(s3, BUCKET, PREFIX, tmp_path, missing_ttl=60, clock=lambda: now[0])
    calls = count_get_object(s3)

    assert [pools.get("square8_2p.json") for _ in range(5)] == [None] * 5
    assert len(calls) == 1
    assert pools.misses == 5

    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}square8_2p.json", Body=b"pool")
    now[0] += 59
    assert pools.get("square8_2p.json") is None  # still within the miss's TTL
    now[0] += 2
    assert pools.get("square8_2p.json") == b"pool"
    assert len(calls) == 2


def test_a_miss_is_cached_per_pool(s3, tmp_path):
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}present.json", Body=b"here")
    pools = StatePools(s3, BUCKET, PREFIX, tmp_path)
    calls = count_get_object(s3)

    assert pools.get("absent.json") is None
    assert pools.get("present.json") == b"here"
    assert pools.get("absent.json") is None
    assert len(calls) == 2
