"""The server image: non-root, port 5000, the entrypoint module, and pins that
agree with the rest of the project and with what these tests ran against."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from mlflow_support import SERVICE

ROOT = SERVICE.parent.parent
DOCKERFILE = SERVICE / "Dockerfile"


def test_the_image_runs_the_entrypoint_as_uid_10001_on_port_5000_from_a_pinned_base():
    text = DOCKERFILE.read_text()
    base = re.search(r"^FROM (\S+)$", text, re.MULTILINE)
    assert base and re.fullmatch(r"python:3\.12\.\d+-slim(-\w+)?", base.group(1))
    assert "--uid 10001" in text
    assert re.findall(r"^USER (\S+)$", text, re.MULTILINE)[-1] == "10001:10001"
    assert re.search(r"^EXPOSE 5000$", text, re.MULTILINE)
    assert 'ENTRYPOINT ["python", "-m", "mlflow_entrypoint"]' in text


def test_bytecode_is_compiled_at_build_for_the_read_only_root():
    text = DOCKERFILE.read_text()
    assert "pip install --no-cache-dir --compile -r requirements.txt" in text
    assert "python -m compileall -q mlflow_entrypoint" in text
    assert "PYTHONDONTWRITEBYTECODE=1" in text


def test_the_entrypoint_package_is_not_named_mlflow():
    # A service-local `mlflow` package would shadow the real one it starts.
    assert (SERVICE / "mlflow_entrypoint" / "__main__.py").is_file()
    assert not (SERVICE / "mlflow").exists()


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-r"):
            name, _, version = line.partition("==")
            found[re.sub(r"\[.*\]", "", name).lower()] = version
    return found


def test_every_package_is_pinned_and_agrees_with_the_project():
    service = pins(SERVICE / "requirements.txt")
    assert {"mlflow", "flask-wtf", "psycopg2-binary", "boto3"} <= set(service)
    assert all(re.fullmatch(r"\d+(\.\d+)+", version) for version in service.values())
    assert service["mlflow"].startswith("3.")
    assert service["mlflow-skinny"] == service["mlflow-tracing"] == service["mlflow"]
    assert service["boto3"] == pins(ROOT / "requirements-dev.txt")["boto3"]
    # The web stack both images pin (installed together by requirements-dev.txt) agrees; the
    # validator's provider SDKs are its own.
    web = pins(ROOT / "services" / "vision_validator" / "requirements.txt")
    shared = {"fastapi", "starlette", "pydantic", "uvicorn", "boto3"}
    assert {name: service[name] for name in shared} == {name: web[name] for name in shared}
    assert {name: service[name] for name in web if name in service} == {
        name: web[name] for name in web if name in service
    }
    assert "-r services/mlflow/requirements.txt" in (ROOT / "requirements-dev.txt").read_text()


def test_the_tests_ran_against_the_pinned_versions():
    installed = {name: metadata.version(name) for name in pins(SERVICE / "requirements.txt")}

    assert installed == pins(SERVICE / "requirements.txt")
