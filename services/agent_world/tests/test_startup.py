"""Settings from the environment, per role; the entry point refusing a bad one and serving."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from agent_world.settings import ConfigError, Settings
from service_testing.ports import free_port


def test_settings_read_every_variable(table_names):
    env = {
        "SERVICE_ROLE": "world-management",
        **table_names,
        "SNAPSHOT_BUCKET": "b",
        "SNAPSHOT_KMS_KEY_ID": "alias/k",
        "AWS_REGION": "eu-west-1",
        "LLM_PROVIDER": "x:y",
        "BEDROCK_MODEL_IDS": " a.b , c.d ,",
        "ENABLE_DOCS": "true",
        "MAX_BODY_BYTES": "2048",
        "LOG_LEVEL": "debug",
        "PORT": "9000",
        "API_BASE_PATHS": " /v1/api/world , /v1/api/runtime,",
    }

    assert Settings.from_env(env) == Settings(
        role="world-management",
        tables=table_names,
        snapshot_bucket="b",
        snapshot_kms_key_id="alias/k",
        region="eu-west-1",
        llm_provider="x:y",
        model_ids=("a.b", "c.d"),
        enable_docs=True,
        max_body_bytes=2048,
        log_level="DEBUG",
        port=9000,
        base_paths=("/v1/api/world", "/v1/api/runtime"),
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "SERVICE_ROLE: expected one of"),
        ({"SERVICE_ROLE": "agent-runtime"}, "MEMORY_TABLE: required by the agent-runtime role"),
        ({"SERVICE_ROLE": "world-management"}, "SNAPSHOT_BUCKET: required"),
        ({"SERVICE_ROLE": "llm-integration", "PORT": "http"}, "PORT: expected an integer"),
        ({"SERVICE_ROLE": "llm-integration", "LLM_PROVIDER": "nocolon"}, "LLM_PROVIDER"),
    ],
)
def test_an_unusable_environment_names_the_variable(env, expected):
    with pytest.raises(ConfigError, match=expected):
        Settings.from_env(env)


def test_the_llm_role_needs_no_tables():
    assert Settings.from_env({"SERVICE_ROLE": "llm-integration"}).tables == {}


def run_service(env: dict[str, str], service_dir) -> subprocess.Popen:
    clean = {k: v for k, v in os.environ.items() if k not in ("SERVICE_ROLE", "PORT")}
    return subprocess.Popen(
        [sys.executable, "-m", "agent_world"],
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


def test_the_entry_point_exits_2_with_a_reason(service_dir):
    process = run_service({"SERVICE_ROLE": "agent-runtime"}, service_dir)
    _, err = process.communicate(timeout=30)

    assert process.returncode == 2
    assert "agent world: bad environment: WORLDS_TABLE: required" in err
    assert "Traceback" not in err


def test_the_entry_point_serves_its_role_on_port_with_json_logs(service_dir):
    port = free_port()
    process = run_service({"SERVICE_ROLE": "llm-integration", "PORT": str(port)}, service_dir)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    assert b"llm-integration" in r.read()
                    break
            except (OSError, ConnectionError):
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.05)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/completions",
            data=b'{"model_id": "m", "prompt": "hello world"}',
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=20)

    assert process.returncode in (0, -signal.SIGTERM)
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines and all(line.startswith("{") and line.endswith("}") for line in lines)
    assert '"message": "completion"' in out
