"""Fixtures of the rotation tests: moto for every AWS call, the function driven by moto's
``rotate_secret`` (see rotation_support.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

# The package, service_common and rotation_support import from any directory.
HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parent, HERE.parent.parent / "common"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from rotation_support import REGION, Rotator  # noqa: E402


@pytest.fixture
def aws(monkeypatch):
    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


@pytest.fixture
def rotator(aws, monkeypatch) -> Rotator:
    return Rotator(monkeypatch)


@pytest.fixture
def sm(aws):
    return boto3.client("secretsmanager", region_name=REGION)
