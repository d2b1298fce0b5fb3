"""The inference image: slim Python, non-root, port 8000, its models, pins."""

from __future__ import annotations

import re
from pathlib import Path

SERVICE = Path(__file__).resolve().parent.parent
ROOT = SERVICE.parent.parent
DOCKERFILE = SERVICE / "Dockerfile"


def test_the_base_is_the_projects_pinned_slim_python():
    text = DOCKERFILE.read_text()
    base = re.search(r"^FROM (\S+)$", text, re.MULTILINE)
    assert base and re.fullmatch(r"python:3\.12\.\d+-slim(-\w+)?", base.group(1))
    assert "pip install --no-cache-dir -r requirements.txt" in text


def test_the_image_runs_the_service_as_uid_10001_on_port_8000_with_its_models():
    text = DOCKERFILE.read_text()
    assert "--uid 10001" in text
    assert re.findall(r"^USER (\S+)$", text, re.MULTILINE)[-1] == "10001:10001"
    assert 'ENTRYPOINT ["python", "-m", "ai_inference"]' in text
    assert re.search(r"^EXPOSE 8000$", text, re.MULTILINE)
    assert "PYTHONDONTWRITEBYTECODE=1" in text
    assert re.search(r"^COPY ai_inference/models/ models/$", text, re.MULTILINE)
    assert (SERVICE / "models").is_dir()


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-r"):
            name, _, version = line.partition("==")
            found[re.sub(r"\[.*\]", "", name).lower()] = version
    return found


def test_every_package_is_pinned_and_agrees_with_the_other_http_service():
    service = pins(SERVICE / "requirements.txt")
    other = pins(ROOT / "services" / "vision_validator" / "requirements.txt")
    assert set(service) == {
        "fastapi", "starlette", "pydantic", "uvicorn", "boto3", "mangum", "awslambdaric",
    }  # fmt: skip
    assert all(service.values())
    # The HTTP stack both images share is pinned alike; the Lambda adapters are this one's.
    shared = {"fastapi", "starlette", "pydantic", "uvicorn", "boto3"}
    assert {name: other[name] for name in shared} == {name: service[name] for name in shared}
    assert not {"mangum", "awslambdaric"} & set(other)
    assert (
        "-r services/ai_inference/requirements.txt" in (ROOT / "requirements-dev.txt").read_text()
    )


def test_the_image_can_run_as_a_lambda_function_of_the_handler_module():
    """runtime lambda: the function runs ``python -m awslambdaric
    ai_inference.lambda_handler.handler`` in /app (its image config, set by
    components/blocks/function.py), so the image installs the runtime interface client and
    Mangum, works in /app and copies the package with the handler module."""
    service = pins(SERVICE / "requirements.txt")
    assert service["awslambdaric"] and service["mangum"]
    text = DOCKERFILE.read_text()
    assert re.search(r"^WORKDIR /app$", text, re.MULTILINE)
    assert re.search(r"^COPY ai_inference/ai_inference/ ai_inference/$", text, re.MULTILINE)
    assert (SERVICE / "ai_inference" / "lambda_handler.py").is_file()
