"""The Hokusai API image: slim Python, non-root, port 8000, pins."""

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
    assert 'ENTRYPOINT ["python", "-m", "hokusai_api"]' in text
    assert re.search(r"^EXPOSE 8000$", text, re.MULTILINE)
    assert "PYTHONDONTWRITEBYTECODE=1" in text
    assert "python -m compileall -q hokusai_api" in text


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
    others = (
        pins(ROOT / "services" / "ai_inference" / "requirements.txt")
        | pins(ROOT / "services" / "mlflow" / "requirements.txt")
        | pins(ROOT / "requirements-dev.txt")
    )
    web = {"fastapi", "starlette", "pydantic", "uvicorn"}
    database = {"sqlalchemy", "alembic", "psycopg2-binary"}
    assert set(service) == web | database | {"httpx2", "eth-account"}
    shared = set(service) - {"eth-account"}  # the one package no other service uses
    assert all(service.values())
    assert {name: others[name] for name in shared} == {n: service[n] for n in shared}
    assert service["eth-account"] == "0.14.0"
    assert "-r services/hokusai_api/requirements.txt" in (ROOT / "requirements-dev.txt").read_text()


def test_the_migrations_ship_in_the_package_the_image_copies():
    assert (SERVICE / "hokusai_api" / "migrations" / "env.py").exists()
    assert list((SERVICE / "hokusai_api" / "migrations" / "versions").glob("0001_*.py"))
    assert "COPY hokusai_api/hokusai_api/ hokusai_api/" in DOCKERFILE.read_text()
