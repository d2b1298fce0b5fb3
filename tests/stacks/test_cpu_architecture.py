"""``cpu_architecture``: the CPU-only Fargate tasks (data platform, agent world, training
workers) and their images follow it; the inference stack's (GPU validator, ``ai-inference``,
which dev runs on x86_64 Lambda from the same image) stay x86_64, in both stacks."""

from __future__ import annotations

import json

import pytest

from components.blocks.images import image_tag
from components.lib import fargate

TASK = "aws:ecs/taskDefinition:TaskDefinition"
IMAGE = "docker:index/image:Image"
FOLLOWING = ("mlflow", "hokusai_api", "agent_world", "cmaes_worker")
"""The services whose images run on the CPU-only Fargate tasks."""
X86_ONLY = ("vision_validator", "ai_inference")


def _images(run) -> dict[str, dict]:
    """Each built image's build args by service (``services/<service>/Dockerfile``)."""
    return {r.inputs["build"]["dockerfile"].split("/")[-2]: r for r in run.of_type(IMAGE)}


def _architectures(run) -> dict[str, dict]:
    return {r.name: r.inputs["runtimePlatform"] for r in run.of_type(TASK)}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_cpu_only_fargate_tasks_run_arm64_and_inference_tasks_x86_64(request, stack):
    run = request.getfixturevalue(stack)
    platforms = _architectures(run)
    arm = {n for n in platforms if not n.startswith("inference-")}
    # The data platform's MLflow task, every agent world task and the training worker.
    assert "data-platform-mlflow-task" in arm and "training-worker-task" in arm
    assert any(n.startswith("agent-world-") for n in arm)
    for name, platform in platforms.items():
        expected = "X86_64" if name.startswith("inference-") else "ARM64"
        assert platform == {"operatingSystemFamily": "LINUX", "cpuArchitecture": expected}, name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_image_is_built_for_the_architecture_of_the_task_that_runs_it(request, stack):
    run = request.getfixturevalue(stack)
    images = _images(run)
    assert set(FOLLOWING) <= set(images), sorted(images)
    for service, image in images.items():
        platform = "linux/arm64" if service in FOLLOWING else "linux/amd64"
        assert image.inputs["build"]["platform"] == platform, service
        tag = image.inputs["imageName"].rpartition(":")[2]
        assert tag.endswith("-arm64") == (service in FOLLOWING), (service, tag)
    assert set(X86_ONLY) & set(images), "no x86-only image was built"


def test_prod_runs_the_hokusai_api_as_its_own_arm64_service(prod):
    api = next(r for r in prod.of_type(TASK) if "hokusai-api" in r.inputs["family"])
    assert api.inputs["runtimePlatform"]["cpuArchitecture"] == "ARM64"
    (container,) = json.loads(api.inputs["containerDefinitions"])
    assert "hokusai_api" in container["image"]


def test_the_default_x86_64_keeps_every_task_and_image_on_amd64(run_stack):
    run = run_stack("dev", {"mlplatform:cpu_architecture": "x86_64"})
    assert {p["cpuArchitecture"] for p in _architectures(run).values()} == {"X86_64"}
    assert {i.inputs["build"]["platform"] for i in _images(run).values()} == {"linux/amd64"}


def test_an_arm64_image_tag_differs_from_the_amd64_tag_of_the_same_files():
    # ECR's tags are immutable: the arm64 build of unchanged files needs a tag of its own.
    assert image_tag("0123abcd", fargate.image_platform("x86_64")) == "0123abcd"
    assert image_tag("0123abcd", fargate.image_platform("arm64")) == "0123abcd-arm64"


def test_the_runtime_platform_values_are_botocores_enums():
    assert {fargate.runtime_platform(a)["cpu_architecture"] for a in fargate.CPU_ARCHITECTURES} == {
        "X86_64",
        "ARM64",
    }
