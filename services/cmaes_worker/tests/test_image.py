"""The worker image: non-root, the documented entry point and pins."""

from __future__ import annotations

import re
from pathlib import Path

from cmaes_support import SERVICE

ROOT = SERVICE.parent.parent
DOCKERFILE = SERVICE / "Dockerfile"


def test_the_image_runs_the_worker_module_as_uid_10001_from_a_pinned_base():
    text = DOCKERFILE.read_text()
    base = re.search(r"^FROM (\S+)$", text, re.MULTILINE)
    assert base and re.fullmatch(r"python:3\.12\.\d+-slim(-\w+)?", base.group(1))
    assert "--uid 10001" in text
    assert re.findall(r"^USER (\S+)$", text, re.MULTILINE)[-1] == "10001:10001"
    assert 'ENTRYPOINT ["python", "-m", "cmaes_training.worker"]' in text
    assert "pip install --no-cache-dir -r requirements.txt" in text


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-r"):
            name, _, version = line.partition("==")
            found[re.sub(r"\[.*\]", "", name).lower()] = version
    return found


def test_the_service_pins_every_package_and_shares_boto3_with_the_project():
    service = pins(SERVICE / "requirements.txt")
    assert set(service) == {"boto3", "cma", "numpy"}
    assert all(service.values())
    assert service["boto3"] == pins(ROOT / "requirements-dev.txt")["boto3"]
    assert (
        "-r services/cmaes_worker/requirements.txt" in (ROOT / "requirements-dev.txt").read_text()
    )
