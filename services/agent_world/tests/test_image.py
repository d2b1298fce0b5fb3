"""The agent world image: slim Python, non-root, port 8000, pins."""

from __future__ import annotations

import re
from pathlib import Path

SERVICE = Path(__file__).resolve().parent.parent
ROOT = SERVICE.parent.parent
DOCKERFILE = SERVICE / "Dockerfile"


def test_the_base_is_the_projects_pinned_slim_python():
    text = DOCKERFILE.read_text()
    bases = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert bases == ["python:3.12.12-slim-bookworm"]
    assert "pip install --no-cache-dir -r requirements.txt" in text


def test_the_image_runs_the_service_as_uid_10001_on_port_8000_with_bytecode_compiled():
    text = DOCKERFILE.read_text()
    assert "--uid 10001" in text
    assert re.findall(r"^USER (\S+)$", text, re.MULTILINE)[-1] == "10001:10001"
    assert 'ENTRYPOINT ["python", "-m", "agent_world"]' in text
    assert re.search(r"^EXPOSE 8000$", text, re.MULTILINE)
    assert "PYTHONDONTWRITEBYTECODE=1" in text
    assert "python -m compileall -q agent_world" in text


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
    others = pins(ROOT / "services" / "ai_inference" / "requirements.txt") | pins(
        ROOT / "requirements-dev.txt"
    )
    assert set(service) == {"fastapi", "starlette", "pydantic", "uvicorn", "boto3", "redis"}
    assert all(service.values())
    # redis (issue 15) is this service's own; every shared pin agrees with the project's.
    shared = {name: version for name, version in service.items() if name != "redis"}
    assert {name: others[name] for name in shared} == shared
    assert service["redis"] == "8.1.0"
    assert "-r services/agent_world/requirements.txt" in (ROOT / "requirements-dev.txt").read_text()
