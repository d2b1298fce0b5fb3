"""Fixtures: apps built from ``Settings`` (no environment needed), models in temp directories.

Nothing here reads the developer's environment: the variables the service reads are
removed for every test, so a test that wants one sets it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

# The service's package and service_common import from any directory, as in its image.
SERVICE = Path(__file__).resolve().parent.parent
for path in (SERVICE, SERVICE.parent / "common"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from ai_inference.app import create_app  # noqa: E402
from ai_inference.model_store import ModelStore  # noqa: E402
from ai_inference.settings import Settings  # noqa: E402

API_KEY = "ai-test-key-7c2d9e4f1a0b"
ENV_VARS = ("API_KEY", "MODEL_DIR", "ENABLE_DOCS", "MAX_BODY_BYTES", "LOG_LEVEL", "PORT")


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
    """``make_client(store=..., **settings)``: a client of a fresh app; no models unless
    ``store`` or ``model_dir`` says otherwise."""

    def make(store: ModelStore | None = None, **settings: Any) -> TestClient:
        if store is None and "model_dir" not in settings:
            store = ModelStore()
        return TestClient(create_app(Settings(api_key=API_KEY, **settings), store=store))

    return make


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


@pytest.fixture
def model_dir(tmp_path) -> Callable[[dict[str, Any]], Path]:
    """``model_dir({"file name": content, ...})``: a directory holding those files; a dict
    or list content is written as JSON, bytes and text as they are."""

    def make(files: dict[str, Any]) -> Path:
        directory = tmp_path / "models"
        directory.mkdir(exist_ok=True)
        for name, content in files.items():
            if isinstance(content, bytes):
                (directory / name).write_bytes(content)
            elif isinstance(content, str):
                (directory / name).write_text(content)
            else:
                (directory / name).write_text(json.dumps(content))
        return directory

    return make


@pytest.fixture
def body() -> dict[str, Any]:
    """A /move request: the seed's fields, with the legal moves this service needs."""
    return {
        "game_state": {
            "board_type": "square8",
            "num_players": 2,
            "current_player": 1,
            "move_number": 12,
            "legal_moves": [
                {"type": "place_ring", "to": {"x": 3, "y": 4}},
                {"type": "place_ring", "to": {"x": 4, "y": 4}},
                {"type": "move_stack", "from": {"x": 1, "y": 1}, "to": {"x": 1, "y": 3}},
            ],
        },
        "player_number": 1,
        "difficulty": 3,
    }
