"""ServiceImage: the ECR repository and the linux/amd64 image built from services/ with the
service's own Dockerfile."""

from __future__ import annotations

import json

import pulumi
import pytest

from components.blocks.images import ServiceImage, ServiceImageArgs
from components.lib.build_context import context_digest
from offline.mocks import ACCOUNT_ID

REPO = "aws:ecr/repository:Repository"
IMAGE = "docker:index/image:Image"
URI = f"{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/team/worker@sha256:" + "b" * 64


@pytest.fixture
def services(tmp_path):
    """A services/ tree: the worker, another service and the shared package, the worker's
    ignore file letting in only its own app and common."""
    root = tmp_path / "services"
    files = {
        "worker/Dockerfile": "FROM python:3.12-slim\nCOPY common/lib/ worker/app.py /app/\n",
        "worker/Dockerfile.dockerignore": "*\n!common/lib/\n!worker/app.py\n",
        "worker/app.py": "print('work')\n",
        "worker/tests/test_app.py": "def test(): pass\n",
        "common/lib/shared.py": "SHARED = 1\n",
        "other/Dockerfile": "FROM python:3.12-slim\nCOPY common/lib/ other/app.py /app/\n",
        "other/app.py": "print('other')\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def build(run_inline, service="worker", **kwargs):
    captured = {}

    def program():
        args = ServiceImageArgs(service=service, repository_name="mlplatform-test/worker",
                                tags={"project": "mlplatform"}, **kwargs)  # fmt: skip
        image = ServiceImage("worker", args)
        captured["image"] = image
        pulumi.export("repo_digest", image.repo_digest)

    run = run_inline(program)
    return run, captured["image"]


def test_repository_scans_on_push_with_immutable_encrypted_tags(run_inline, services):
    run, _ = build(run_inline, context=services)
    repo = run.one(REPO)
    assert repo.inputs["name"] == "mlplatform-test/worker"
    assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS"}]
    assert repo.inputs["forceDelete"] is False
    assert repo.inputs["tags"] == {"project": "mlplatform"}


def test_lifecycle_policy_keeps_the_last_n_images(run_inline, services):
    run, _ = build(run_inline, context=services, keep_images=7)
    policy = json.loads(run.one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs["policy"])
    rules = {r["selection"]["tagStatus"]: r for r in policy["rules"]}
    assert rules["any"]["selection"] == {
        "tagStatus": "any",
        "countType": "imageCountMoreThan",
        "countNumber": 7,
    }
    assert rules["untagged"]["selection"]["countNumber"] == 1
    assert all(r["action"] == {"type": "expire"} for r in policy["rules"])


def test_image_is_built_for_linux_amd64_from_services_with_its_own_dockerfile(run_inline, services):
    run, _ = build(run_inline, context=services)
    image = run.one(IMAGE)
    assert image.inputs["build"]["platform"] == "linux/amd64"
    assert image.inputs["build"]["context"] == str(services)
    assert image.inputs["build"]["dockerfile"] == str(services / "worker" / "Dockerfile")


def test_by_default_the_context_is_the_projects_services_directory(run_inline):
    from components.config.settings import SERVICES_DIR

    run, component = build(run_inline, service="cmaes_worker")
    dockerfile = SERVICES_DIR / "cmaes_worker" / "Dockerfile"
    build_args = run.one(IMAGE).inputs["build"]
    # Relative to the project: the same input in every checkout (a laptop, CI).
    assert build_args["context"] == "services"
    assert build_args["dockerfile"] == "services/cmaes_worker/Dockerfile"
    assert component.tag == context_digest(SERVICES_DIR, dockerfile)


def test_image_is_pushed_with_ecr_credentials_kept_secret(run_inline, services):
    run, _ = build(run_inline, context=services)
    image, repo = run.one(IMAGE), run.one(REPO)
    registry = image.inputs["registry"]
    assert registry["server"] == repo.outputs["repositoryUrl"]
    assert registry["username"] == "AWS"
    assert registry["password"]
    # The engine marks the smallest enclosing value secret: the password or its registry.
    assert image.secret_paths & {"registry", "registry.password"}
    assert image.inputs.get("skipPush") in (None, False)


def test_image_tag_is_the_content_hash_of_what_the_build_reads(run_inline, services):
    run, component = build(run_inline, context=services)
    tag = context_digest(services, services / "worker" / "Dockerfile")
    assert component.tag == tag
    repo = run.one(REPO)
    assert run.one(IMAGE).inputs["imageName"] == f"{repo.outputs['repositoryUrl']}:{tag}"
    (services / "worker" / "app.py").write_text("print('changed')\n")
    rerun, _ = build(run_inline, context=services)
    assert rerun.one(IMAGE).inputs["imageName"] != run.one(IMAGE).inputs["imageName"]


def test_the_tag_changes_with_the_shared_package(run_inline, services):
    _, before = build(run_inline, context=services)
    (services / "common" / "lib" / "shared.py").write_text("SHARED = 2\n")
    _, after = build(run_inline, context=services)
    assert after.tag != before.tag


def test_the_tag_ignores_other_services_and_the_services_tests(run_inline, services):
    _, before = build(run_inline, context=services)
    (services / "other" / "app.py").write_text("print('other, changed')\n")
    (services / "other" / "new.py").write_text("NEW = 1\n")
    (services / "worker" / "tests" / "test_app.py").write_text("def test(): assert 1\n")
    _, after = build(run_inline, context=services)
    assert after.tag == before.tag


def test_repo_digest_pins_the_pushed_image(run_inline, services):
    run, _ = build(run_inline, context=services)
    digest = run.outputs["repo_digest"]
    repo_url = run.one(REPO).outputs["repositoryUrl"]
    assert digest.startswith(f"{repo_url}@sha256:") and len(digest.split("@sha256:")[1]) == 64


def test_image_is_a_child_of_the_component(run_inline, services):
    run, _ = build(run_inline, context=services)
    component = run.one("mlplatform:images:ServiceImage")
    assert {r.name for r in run.children_of(component)} == {
        "worker-repo", "worker-lifecycle", "worker-image"
    }  # fmt: skip


def test_a_prebuilt_uri_registers_no_docker_image(run_inline, tmp_path):
    run, component = build(run_inline, context=tmp_path / "absent", prebuilt_uri=URI)
    assert run.of_type(IMAGE) == []
    assert component.image is None
    assert run.outputs["repo_digest"] == URI
    # The repository stays, so images can still be pushed to it by hand.
    assert len(run.of_type(REPO)) == 1


def test_args_from_settings_follow_deletion_protection_and_images(run_stack):
    # A stack's image args come from its shared fields (StackCommon.image_args).
    from components.config import settings as s
    from components.stacks.common import StackCommon
    from offline.runner import apply_override, stack_config

    def image_args(settings, service, component):
        return StackCommon.from_settings(settings, component).image_args(service)

    config, _ = stack_config("dev")
    apply_override(config, "images.worker", URI)
    known = frozenset({"worker", "vision_validator", "ai_inference"})
    settings = s.parse(config, "dev", known_services=known)
    args = image_args(settings, "worker", component="training")
    assert args.repository_name == "mlplatform-dev/worker"
    assert args.prebuilt_uri == URI
    assert args.force_delete is True  # dev: no deletion protection, so destroy may empty it
    assert args.tags["component"] == "training"
    prod = s.parse(stack_config("prod")[0], "prod", known_services=known)
    prod_args = image_args(prod, "worker", component="training")
    assert prod_args.force_delete is False and prod_args.prebuilt_uri is None
