"""How CI starts each service image as its task definition runs it, derived from the
program's registered task definitions (dev's, and prod's for an image dev runs as a Lambda
function rather than a task: ``runtime: lambda``; under the mocks), so the pull-request
workflow's image job never keeps a second copy of the user, read-only root, volumes and
port: ``python -m offline.container_runs`` prints the job's matrix as JSON.

Each entry: ``service`` (the folder under services/), ``dockerfile``, ``port`` (the
container port, or 0 for a service without one), ``health`` (the path that answers when
it is up: /health unless image-smoke.yaml says otherwise), ``postgres`` (needs the job's
PostgreSQL), and ``run_args``: the arguments of
``docker run`` before the image. A mounted path becomes an anonymous Docker volume at the
image's VOLUME path, which like Fargate's bind mount starts as the image's directory; the
environment is offline/image-smoke.yaml's stand-ins for what AWS supplies.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

from offline.runner import ProgramRun, run_program

PROJECT_DIR = Path(__file__).resolve().parent.parent
SMOKE_FILE = Path(__file__).with_name("image-smoke.yaml")
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
DOCKER_IMAGE = "docker:index/image:Image"


def service_containers(*runs: ProgramRun) -> dict[str, dict[str, Any]]:
    """Service folder -> the first registered container definition running its image, in
    the first of ``runs`` that runs it as a task."""
    found: dict[str, dict[str, Any]] = {}
    for run in runs:
        for service, container in _containers(run).items():
            found.setdefault(service, container)
    return found


def _containers(run: ProgramRun) -> dict[str, dict[str, Any]]:
    dockerfiles = {
        image.inputs["imageName"].rsplit(":", 1)[0]: image.inputs["build"]["dockerfile"]
        for image in run.of_type(DOCKER_IMAGE)
    }
    found: dict[str, dict[str, Any]] = {}
    for task in run.of_type(TASK_DEFINITION):
        for container in json.loads(task.inputs["containerDefinitions"]):
            dockerfile = dockerfiles.get(container["image"].split("@", 1)[0])
            if dockerfile is not None:
                found.setdefault(Path(dockerfile).parent.name, container)
    return found


def run_args(container: dict[str, Any], env: dict[str, str]) -> list[str]:
    """``docker run`` arguments for ``container`` as ECS would start it."""
    args = ["--user", container["user"]]
    if container.get("readonlyRootFilesystem"):
        args.append("--read-only")
    for point in container.get("mountPoints", []):
        args += ["--mount", f"type=volume,target={point['containerPath']}"]
    for name, value in sorted(env.items()):
        args += ["--env", f"{name}={value}"]
    return args


def matrix(run: ProgramRun, smoke: dict[str, Any], *more: ProgramRun) -> list[dict[str, Any]]:
    """One matrix entry per service image the program builds, in name order: as ``run``
    starts it, else as the first of ``more`` that runs it as a task."""
    entries = []
    for service, container in sorted(service_containers(run, *more).items()):
        extra = smoke.get(service, {})
        ports = [p["containerPort"] for p in container.get("portMappings", [])]
        env = {str(k): str(v) for k, v in extra.get("env", {}).items()}
        if ports:
            env.setdefault("PORT", str(ports[0]))
        entries.append({
            "service": service,
            "dockerfile": f"services/{service}/Dockerfile",
            "port": ports[0] if ports else 0,
            "health": extra.get("health", "/health"),
            "postgres": bool(extra.get("postgres", False)),
            "run_args": run_args(container, env),
        })  # fmt: skip
    return entries


def main() -> int:
    smoke = yaml.safe_load(SMOKE_FILE.read_text()) or {}
    # Dev runs ai_inference on Lambda; prod's task definition says how ECS starts it.
    entries = matrix(run_program("dev"), smoke, run_program("prod"))
    unknown = sorted(set(smoke) - {entry["service"] for entry in entries})
    if unknown:
        print(
            f"error: {SMOKE_FILE.name} names no built service: {', '.join(unknown)}",
            file=sys.stderr,
        )
        return 2
    print(json.dumps({"include": entries}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
