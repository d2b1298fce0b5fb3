"""Volumes as Fargate mounts them: every path a task definition mounts is a VOLUME of the
image its container runs, so the volume starts as the image's directory (owned by the
service user) instead of an empty one owned by root with mode 0755 (AWS's bind-mount
documentation, aws/containers-roadmap#938)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from components.config.settings import SERVICES_DIR

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
DOCKER_IMAGE = "docker:index/image:Image"
PROJECT = SERVICES_DIR.parent


def declared_volumes(dockerfile: Path) -> set[str]:
    text = dockerfile.read_text().split("\nFROM ")[-1]
    return {
        path
        for paths in re.findall(r"^VOLUME (\[.*\])$", text, re.MULTILINE)
        for path in json.loads(paths)
    }


def built_dockerfiles(run) -> dict[str, Path]:
    """Repository (the image reference without tag or digest) -> the Dockerfile built for
    it, as components/blocks/images.py registers each image."""
    found = {}
    for image in run.of_type(DOCKER_IMAGE):
        repository = image.inputs["imageName"].rsplit(":", 1)[0]
        found[repository] = PROJECT / image.inputs["build"]["dockerfile"]
    return found


def mounts(run) -> list[tuple[str, str, str]]:
    """(task definition, image, containerPath) of every mount point."""
    return [
        (task.name, container["image"], point["containerPath"])
        for task in run.of_type(TASK_DEFINITION)
        for container in json.loads(task.inputs["containerDefinitions"])
        for point in container.get("mountPoints", [])
    ]


def test_every_mounted_path_is_a_volume_of_the_image_built_for_it(each_stack):
    dockerfiles = built_dockerfiles(each_stack)
    checked = set()
    for task, image, path in mounts(each_stack):
        repository = image.split("@", 1)[0]
        if repository not in dockerfiles:
            continue  # a prebuilt image (data_platform.api_image): not ours to declare
        dockerfile = dockerfiles[repository]
        assert path in declared_volumes(dockerfile), f"{task}: {path} is no VOLUME of {dockerfile}"
        checked.add(dockerfile.parent.name)
    # Every service image runs in a task that mounts a volume, in dev and prod, but one that
    # only a Lambda function runs (dev's ai-inference): Lambda mounts no volumes (its /tmp).
    functions = {f.inputs["imageUri"].split("@", 1)[0]
                 for f in each_stack.of_type("aws:lambda/function:Function")
                 if f.inputs.get("imageUri")}  # fmt: skip
    on_lambda = {dockerfiles[r].parent.name for r in functions if r in dockerfiles}
    assert on_lambda <= {"ai_inference"}
    assert checked == {p.parent.name for p in SERVICES_DIR.glob("*/Dockerfile")} - on_lambda
