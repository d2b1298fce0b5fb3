"""Fixtures: apps built from ``Settings`` (no environment needed) with the GPU probe stubbed.

Nothing here reads the developer's environment: the variables the service reads are
removed for every test, so a test that wants one sets it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

# The service's package and service_common import from any directory, as in its image.
SERVICE = Path(__file__).resolve().parent.parent
for path in (SERVICE, SERVICE.parent / "common", SERVICE / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from vision_validator.app import create_app  # noqa: E402
from vision_validator.gpu import GpuDevice, GpuStatus  # noqa: E402
from vision_validator.settings import Settings  # noqa: E402
from vv_support import FixedAnalyzer  # noqa: E402

API_KEY = "vv-test-key-4f1c9a0b7d2e"
ENV_VARS = (
    "API_KEY",
    "ENABLE_DOCS",
    "MAX_BODY_BYTES",
    "ANALYZER",
    "LOG_LEVEL",
    "PORT",
    "OPENAI_API_KEY",
    "GEMINI_API_KEY",
    "VISION_PROVIDER",
    "BACKEND_URL",
)
NO_GPU = GpuStatus(available=False)
ONE_GPU = GpuStatus(
    available=True, devices=(GpuDevice(id="0000:00:1e.0", name="Tesla T4"),), source="proc"
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def service_dir() -> Path:
    return SERVICE


@pytest.fixture
def api_key() -> str:
    return API_KEY


@pytest.fixture
def auth() -> dict[str, str]:
    """Headers that authenticate a request."""
    return {"X-API-Key": API_KEY}


@pytest.fixture
def make_client() -> Callable[..., TestClient]:
    """``make_client(gpu=..., probe=..., analyzer=..., **settings)``: a client of a fresh
    app whose GPU probe answers ``gpu`` (or is ``probe``) and whose analyzer is ``analyzer``
    (default a :class:`FixedAnalyzer`: these tests are about the HTTP layer)."""

    def make(
        gpu: GpuStatus = NO_GPU,
        probe: Callable[[], GpuStatus] | None = None,
        analyzer: Any = None,
        **settings: Any,
    ) -> TestClient:
        app = create_app(
            Settings(api_key=API_KEY, **settings),
            gpu_probe=probe or (lambda: gpu),
            analyzer=analyzer or FixedAnalyzer(),
        )
        return TestClient(app)

    return make


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


@pytest.fixture
def body() -> dict[str, Any]:
    """The seed README's example request."""
    return {
        "context": {
            "sessionId": "test-123",
            "artifactsUrl": "https://artifacts.example.com/sessions/test-123/step-1/",
            "step": 1,
        },
        "args": {"part": "base", "partDescription": "A cylindrical base"},
    }


@pytest.fixture
def gpu_states() -> dict[str, GpuStatus]:
    return {"none": NO_GPU, "one": ONE_GPU}
