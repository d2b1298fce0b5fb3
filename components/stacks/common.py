"""StackCommon: the inputs every stack shares, under one set of names.

Each stack's Args holds one ``common: StackCommon`` field beside its own inputs, so the
name prefix, region, environment, tag map, log retention, deletion protection and
prebuilt images are declared (and defaulted) here once instead of in every Args under
drifting names (``retain_data`` / ``deletion_protection``, ``prebuilt_image`` /
``prebuilt_images``). Composition rather than inheritance: the stack's own Args list only
what is its own, and the shared part is one frozen value read from the settings once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from components.blocks.audit_logs import AuditLogs
from components.blocks.images import ServiceImageArgs
from components.config.settings import Settings
from components.lib import fargate, names

SECRET_RECOVERY_DAYS = 7
"""Days a deleted secret stays recoverable when deletion protection is on (else 0)."""


@dataclass(frozen=True)
class StackCommon:
    """The inputs every stack shares; build with :meth:`from_settings`."""

    name_prefix: str
    """Prefix of physical names, e.g. ``mlplatform-dev``. Required."""
    environment: str
    """Environment name; log groups are ``/ecs/<environment>/<service>``. Required."""
    region: str
    """AWS region, e.g. in endpoint service names and awslogs options. Required."""
    deletion_protection: bool = True
    """Protect stateful resources (databases, buckets, load balancers, secrets' recovery
    window) and keep images on destroy (prod). Default true."""
    log_retention_days: int = 365
    """Retention of every log group and of load balancer access logs. Default 365."""
    prebuilt_images: Mapping[str, str] = field(default_factory=dict)
    """Prebuilt image URI per service directory (the ``images`` config); a listed service
    is not built. Default none."""
    cpu_architecture: str = fargate.DEFAULT_ARCHITECTURE
    """Architecture of the stack's CPU-only Fargate tasks and their images (the
    ``cpu_architecture`` config, a key of ``fargate.CPU_ARCHITECTURES``). Default x86_64."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on every taggable child (the base tag map of the component). Default none."""
    log_key_arn: pulumi.Input[str] | None = None
    """ARN of the customer-managed KMS key every log group of the stack is encrypted
    with (``kms_key_id``). Default none: CloudWatch Logs' own encryption."""
    access_log_bucket: pulumi.Input[str] | None = None
    """Name of the bucket every data bucket of the stack sends its S3 server access logs
    to (``SecureBucketArgs.access_log_bucket``). Default none: no access logs."""

    @classmethod
    def from_settings(
        cls, settings: Settings, component: str, audit: AuditLogs | None = None
    ) -> StackCommon:
        """The shared inputs of ``component`` (its tag map names it) from the settings, with
        the logs key and access-log bucket of ``audit`` (the platform's :class:`AuditLogs`)."""
        return cls(
            name_prefix=settings.prefix(),
            environment=settings.environment,
            region=settings.region,
            deletion_protection=settings.deletion_protection,
            log_retention_days=settings.log_retention_days,
            prebuilt_images=settings.images,
            cpu_architecture=settings.cpu_architecture,
            tags=settings.base_tags(component),
            log_key_arn=audit.key_arn if audit is not None else None,
            access_log_bucket=audit.access_log_bucket if audit is not None else None,
        )

    @property
    def secret_recovery_days(self) -> int:
        """Recovery window of the stack's secrets: 7 days when protected, else 0 (dev)."""
        return SECRET_RECOVERY_DAYS if self.deletion_protection else 0

    def prebuilt_image(self, service: str) -> str | None:
        """The configured prebuilt image URI of ``services/<service>``, if any."""
        return self.prebuilt_images.get(service)

    def image_args(
        self,
        service: str,
        prebuilt_uri: str | None = None,
        architecture: str = fargate.DEFAULT_ARCHITECTURE,
    ) -> ServiceImageArgs:
        """The image of ``services/<service>``: this stack's repository and tags, built
        for the ``architecture`` of the task that runs it (x86_64 unless the stack passes
        :attr:`cpu_architecture`) unless ``prebuilt_uri`` or the ``images`` config names
        one, force-deleted on destroy only without deletion protection."""
        return ServiceImageArgs(
            service=service,
            platform=fargate.image_platform(architecture),
            repository_name=names.repository(self.name_prefix, service),
            prebuilt_uri=prebuilt_uri or self.prebuilt_image(service),
            force_delete=not self.deletion_protection,
            tags=dict(self.tags),
        )
