"""ServiceImage: an ECR repository and the container image of ``services/<name>``.

Every image is built from the context ``services/`` with its own Dockerfile, so it can copy
the shared package in ``services/common``; ``services/<name>/Dockerfile.dockerignore`` keeps
the other services out of the build and out of the tag (``components.lib.build_context``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

from components.config.settings import SERVICES_DIR
from components.lib.build_context import context_digest

PROJECT_DIR = SERVICES_DIR.parent.resolve()
"""The Pulumi project's directory, where the engine starts the docker provider."""

PLATFORM = "linux/amd64"


@dataclass(frozen=True)
class ServiceImageArgs:
    """Inputs of :class:`ServiceImage`."""

    service: str
    """Service name: the directory under ``services/`` holding its Dockerfile. Required."""
    repository_name: str
    """ECR repository name, e.g. ``mlplatform-dev/cmaes_worker``. Required."""
    context: Path | None = None
    """Build context. Default ``services/`` (every service's, so each can copy ``common``)."""
    dockerfile: Path | None = None
    """The Dockerfile. Default ``<context>/<service>/Dockerfile``."""
    prebuilt_uri: str | None = None
    """Use this image instead of building one (no Docker needed). Default: build."""
    keep_images: int = 20
    """Tagged images the lifecycle policy keeps. Default 20."""
    force_delete: bool = False
    """Let ``pulumi destroy`` delete a repository that still holds images. Default false."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on the repository. Default none."""
    lambda_function_arn: pulumi.Input[str] | None = None
    """A Lambda function (same account) that runs this image: the repository's policy lets
    the Lambda service pull it for that function only. Default none: no repository policy
    (ECS pulls with its execution role's own permissions)."""


def project_relative(path: Path) -> str:
    """``path`` relative to the project directory when it lies inside it. The build args
    are inputs the provider compares on every update: an absolute path would differ
    between two checkouts (a laptop, CI) and rebuild an unchanged image. Pulumi runs the
    docker provider in the project directory, where the relative path resolves."""
    try:
        return Path(path).resolve().relative_to(PROJECT_DIR).as_posix()
    except ValueError:
        return str(path)


def lifecycle_policy(keep_images: int) -> str:
    """ECR lifecycle rules: drop untagged layers after a day, keep the newest tagged images."""
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": "Expire untagged images after 1 day",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": 1,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": f"Keep the last {keep_images} images",
                    "selection": {
                        "tagStatus": "any",
                        "countType": "imageCountMoreThan",
                        "countNumber": keep_images,
                    },
                    "action": {"type": "expire"},
                },
            ]
        }
    )


def lambda_pull_policy(function_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """The repository policy of an image a Lambda function runs: the Lambda service may get
    the image's manifest and layers (``ecr:BatchGetImage``, ``ecr:GetDownloadUrlForLayer``,
    the two actions AWS names for a same-account function, "Amazon ECR permissions" in
    the Lambda developer guide's "Create a Lambda function using a container image"), only
    for that function (``aws:SourceArn``, the key that guide's policies guard with, bare or
    with a version or alias qualifier; the ARN names the account too)."""
    function_arn = pulumi.Output.from_input(function_arn)
    return aws.iam.get_policy_document_output(
        statements=[
            {
                "sid": "LambdaECRImageRetrievalPolicy",
                "principals": [{"type": "Service", "identifiers": ["lambda.amazonaws.com"]}],
                "actions": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "conditions": [
                    {
                        "test": "StringLike",
                        "variable": "aws:SourceArn",
                        "values": [function_arn, function_arn.apply(lambda a: f"{a}:*")],
                    }
                ],
            }
        ]
    ).json


class ServiceImage(pulumi.ComponentResource):
    """A service's container image and the ECR repository that holds it.

    Creates an ECR repository (scan on push, IMMUTABLE tags, KMS encryption, lifecycle
    policy; with ``lambda_function_arn``, a repository policy letting Lambda pull for that
    function) and, unless a prebuilt URI is given, a ``docker.Image`` built from ``services/``
    with the service's Dockerfile for ``linux/amd64`` and pushed with a short-lived ECR token.
    The tag is the content hash of what that build reads (the Dockerfile, its ignore file and
    the files it lets in: the service's own and ``services/common``'s), so an immutable tag is
    never pushed twice with different content, and a service whose files and shared code are
    unchanged is not rebuilt. Task definitions use :attr:`repo_digest`, which pins the exact
    image.
    """

    TYPE = "mlplatform:images:ServiceImage"

    repository: aws.ecr.Repository
    """The ECR repository (created in both modes, so images can also be pushed by hand)."""
    repository_policy: aws.ecr.RepositoryPolicy | None
    """Lambda's pull permission (``lambda_function_arn``); None without one."""
    image: docker.Image | None
    """The built image; None with a prebuilt URI."""
    tag: str | None
    """Content-hash tag of the built image; None with a prebuilt URI."""
    repo_digest: pulumi.Output[str]
    """``<repository>@sha256:<digest>`` of the built image, or the prebuilt URI."""

    def __init__(
        self, name: str, args: ServiceImageArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__(self.TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.repository = aws.ecr.Repository(
            f"{name}-repo",
            name=args.repository_name,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                scan_on_push=True
            ),
            encryption_configurations=[
                aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS")
            ],
            force_delete=args.force_delete,
            tags=dict(args.tags),
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=self.repository.name,
            policy=lifecycle_policy(args.keep_images),
            opts=child,
        )

        self.repository_policy = None
        if args.lambda_function_arn is not None:
            self.repository_policy = aws.ecr.RepositoryPolicy(
                f"{name}-policy",
                repository=self.repository.name,
                policy=lambda_pull_policy(args.lambda_function_arn),
                opts=child,
            )

        if args.prebuilt_uri:
            self.image = None
            self.tag = None
            self.repo_digest = pulumi.Output.from_input(args.prebuilt_uri)
        else:
            context = args.context or SERVICES_DIR
            dockerfile = args.dockerfile or context / args.service / "Dockerfile"
            self.tag = context_digest(context, dockerfile)
            token = aws.ecr.get_authorization_token_output(registry_id=self.repository.registry_id)
            self.image = docker.Image(
                f"{name}-image",
                image_name=self.repository.repository_url.apply(lambda url: f"{url}:{self.tag}"),
                build=docker.DockerBuildArgs(
                    context=project_relative(context),
                    dockerfile=project_relative(dockerfile),
                    platform=PLATFORM,
                ),
                registry=docker.RegistryArgs(
                    server=self.repository.repository_url,
                    username=token.user_name,
                    password=pulumi.Output.secret(token.password),
                ),
                opts=child,
            )
            self.repo_digest = self.image.repo_digest

        self.register_outputs(
            {"repository_url": self.repository.repository_url, "repo_digest": self.repo_digest}
        )
