"""Fail closed: no app, and no server, without a usable API_KEY; settings from the environment."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from ai_inference.settings import ConfigError, Settings
from fastapi import FastAPI
from service_testing.ports import free_port


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "API_KEY: required"),
        ({"API_KEY": ""}, "API_KEY: required"),
        ({"API_KEY": "fifteen-chars-x"}, "API_KEY: shorter than 16 characters"),
        ({"API_KEY": "sixteen chars ok"}, "API_KEY: only visible ASCII"),
        ({"API_KEY": " padded-key-0123456789 "}, "API_KEY: only visible ASCII"),
    ],
    ids=["unset", "empty", "short", "space", "padded"],
)
def test_settings_refuse_a_missing_or_unusable_key(env, expected):
    with pytest.raises(ConfigError, match=expected):
        Settings.from_env(env)


def test_settings_cannot_be_made_with_a_short_key_even_directly():
    with pytest.raises(ConfigError, match="API_KEY: shorter than 16 characters"):
        Settings(api_key="short")


def test_the_key_is_not_part_of_the_settings_repr(api_key):
    assert api_key not in repr(Settings(api_key=api_key))


def test_settings_read_every_variable(api_key, tmp_path):
    settings = Settings.from_env(
        {
            "API_KEY": api_key,
            "MODEL_DIR": str(tmp_path),
            "ENABLE_DOCS": "true",
            "MAX_BODY_BYTES": "2048",
            "LOG_LEVEL": "debug",
            "PORT": "9000",
        }
    )

    assert settings == Settings(
        api_key=api_key,
        model_dir=tmp_path,
        enable_docs=True,
        max_body_bytes=2048,
        log_level="DEBUG",
        port=9000,
    )


def test_settings_default_to_production(api_key):
    settings = Settings.from_env({"API_KEY": api_key})

    assert settings.enable_docs is False
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.port == 8000
    assert settings.model_dir is None  # the models/ directory beside the package


def test_every_bad_variable_is_named_at_once(tmp_path):
    env = {
        "MODEL_DIR": str(tmp_path / "not-there"),
        "ENABLE_DOCS": "maybe",
        "MAX_BODY_BYTES": "-1",
        "LOG_LEVEL": "loud",
        "PORT": "http",
    }

    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env)

    for name in ("API_KEY", "MODEL_DIR", "ENABLE_DOCS", "MAX_BODY_BYTES", "LOG_LEVEL", "PORT"):
        assert f"{name}:" in str(raised.value)


def test_the_module_imports_without_a_key_but_its_app_refuses_to_exist():
    module = importlib.import_module("ai_inference.app")

    with pytest.raises(ConfigError, match="API_KEY: required"):
        module.app  # noqa: B018 - the attribute access is what builds the app


def test_the_module_app_is_built_from_the_environment_once(monkeypatch, api_key):
    module = importlib.import_module("ai_inference.app")
    monkeypatch.setenv("API_KEY", api_key)
    try:
        first = module.app
        assert isinstance(first, FastAPI)
        assert module.app is first
    finally:
        vars(module).pop("app", None)


def run_service(env: dict[str, str], service_dir) -> subprocess.Popen:
    clean = {k: v for k, v in os.environ.items() if k not in ("API_KEY", "PORT", "MODEL_DIR")}
    return subprocess.Popen(
        [sys.executable, "-m", "ai_inference"],
        cwd=service_dir,
        # service_common, which the image copies beside the package in /app.
        env={
            **clean,
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": str(service_dir.parent / "common"),
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_entry_point_exits_2_with_a_reason_without_a_key(service_dir):
    process = run_service({"API_KEY": "short"}, service_dir)
    _, err = process.communicate(timeout=30)

    assert process.returncode == 2
    assert "ai inference: bad environment: API_KEY: shorter than 16 characters" in err
    assert "Traceback" not in err


def test_the_entry_point_serves_health_on_port_with_json_logs(service_dir, api_key, tmp_path):
    (tmp_path / "square8_2p.json").write_text(
        json.dumps({"board": "square8", "num_players": 2, "weights": [1.0]})
    )
    port = free_port()
    env = {"API_KEY": api_key, "PORT": str(port), "MODEL_DIR": str(tmp_path)}
    process = run_service(env, service_dir)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    assert r.status == 200
                    assert json.load(r)["models"] == ["square8_2p"]
                    break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.05)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/move", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=2)
        assert refused.value.code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)

    # uvicorn shuts down cleanly, then re-raises the signal so the exit status reports it.
    assert process.returncode in (0, -signal.SIGTERM)
    assert "Finished server process" in out
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines and all(line.startswith("{") and line.endswith("}") for line in lines)
    assert '"status": 401' in out
    assert api_key not in out + err
