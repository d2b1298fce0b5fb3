"""The validator image: CUDA runtime base, no apt, non-root, port 8000, pins."""

from __future__ import annotations

import re
from pathlib import Path

SERVICE = Path(__file__).resolve().parent.parent
ROOT = SERVICE.parent.parent
DOCKERFILE = SERVICE / "Dockerfile"


def test_both_stages_use_one_pinned_cuda_runtime_and_python_comes_from_a_pinned_uv():
    text = DOCKERFILE.read_text()
    bases = re.findall(r"^FROM (\S+)(?: AS \w+)?$", text, re.MULTILINE)
    assert len(bases) == 2 and len(set(bases)) == 1
    assert re.fullmatch(r"nvidia/cuda:12\.\d+\.\d+-runtime-ubuntu2[24]\.04", bases[0])
    assert re.search(r"^COPY --from=ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+ /uv ", text, re.MULTILINE)
    assert re.search(r"uv python install 3\.12\.\d+ ", text)
    assert "uv pip install --python /opt/venv/bin/python -r /tmp/requirements.txt" in text
    assert "apt-get" not in text


def test_uv_stays_in_the_build_stage():
    runtime = DOCKERFILE.read_text().rsplit("\nFROM ", 1)[1]
    assert not re.search(r"\buv\b", runtime)
    assert "COPY --from=build /opt/python /opt/python" in runtime
    assert "COPY --from=build /opt/venv /opt/venv" in runtime


def test_the_image_runs_the_service_as_uid_10001_on_port_8000_with_the_gpu_visible():
    text = DOCKERFILE.read_text()
    assert "--uid 10001" in text
    assert re.findall(r"^USER (\S+)$", text, re.MULTILINE)[-1] == "10001:10001"
    assert 'ENTRYPOINT ["python", "-m", "vision_validator"]' in text
    assert re.search(r"^EXPOSE 8000$", text, re.MULTILINE)
    for setting in (
        "PYTHONDONTWRITEBYTECODE=1",
        "NVIDIA_VISIBLE_DEVICES=all",
        "NVIDIA_DRIVER_CAPABILITIES=compute,utility",
    ):
        assert setting in text


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
    other = pins(ROOT / "services" / "ai_inference" / "requirements.txt")
    assert set(service) == {
        "fastapi",
        "starlette",
        "pydantic",
        "uvicorn",
        "boto3",
        "openai",
        "google-genai",
        "httpx2",
        "pillow",
    }
    assert all(service.values())
    assert {name: other[name] for name in service if name in other} == {
        name: service[name] for name in service if name in other
    }
    dev = pins(ROOT / "requirements-dev.txt")
    assert {name: dev[name] for name in service if name in dev} == {
        name: service[name] for name in service if name in dev
    }
    assert (
        "-r services/vision_validator/requirements.txt"
        in (ROOT / "requirements-dev.txt").read_text()
    )
