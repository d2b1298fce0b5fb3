"""SecureBucket: an S3 bucket with every protection the platform's data buckets share."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.lib.policies import deny_insecure_transport


@dataclass(frozen=True)
class SecureBucketArgs:
    """Inputs of :class:`SecureBucket`; plain values."""

    bucket_prefix: str
    """Prefix of the bucket's physical name (AWS adds a unique suffix). Required."""
    retain: bool = True
    """Protect the bucket: ``protect`` and ``retain_on_delete``, and no ``force_destroy``, so
    neither ``pulumi destroy`` nor a replacement deletes data. Default true (prod)."""
    noncurrent_version_days: int = 30
    """Days an overwritten or deleted object's previous version is kept. Default 30."""
    abort_multipart_days: int = 7
    """Days before an unfinished multipart upload's parts are deleted. Default 7."""
    lifecycle_rules: Sequence[aws.s3.BucketLifecycleConfigurationRuleArgs] = ()
    """Further lifecycle rules (transitions, expirations by prefix). Default none."""
    sse_algorithm: str = "aws:kms"
    """Default encryption: ``aws:kms`` (AWS-managed key, Bucket Keys) or ``AES256`` (SSE-S3,
    which load balancer access logs require). Default ``aws:kms``."""
    policy_statements: (
        Callable[[pulumi.Output[str]], Sequence[aws.iam.GetPolicyDocumentStatementArgs]] | None
    ) = None
    """Given the bucket's ARN, statements added to the bucket policy after the TLS-only
    deny (e.g. log delivery). Default none."""
    defer_policy: bool = False
    """Create the bucket policy only when :meth:`SecureBucket.set_policy` is called, for
    statements that name a resource created after the bucket (a CloudFront distribution).
    Default false."""
    access_log_bucket: pulumi.Input[str] | None = None
    """Name of the bucket S3 server access logs of this one go to (the platform's
    access-log bucket, ``StackCommon.access_log_bucket``). Default none: no access logs."""
    access_log_name: str = ""
    """The name its access logs are filed under there, for buckets that share a prefix
    (the load balancers' log buckets). Default: ``bucket_prefix``."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on the bucket. Default none."""

    @property
    def access_log_prefix(self) -> str:
        """Where this bucket's access logs go in the log bucket: ``<access_log_name>/``,
        else ``<bucket_prefix>/`` without its trailing dash, e.g. ``mlplatform-dev-training/``."""
        return f"{(self.access_log_name or self.bucket_prefix).rstrip('-')}/"


class SecureBucket(pulumi.ComponentResource):
    """A private, encrypted, versioned S3 bucket reachable only over TLS.

    Creates the bucket with: object ownership enforced for the bucket owner (ACLs off);
    every public-access block on (AWS FSBP S3.8); default encryption with the AWS-managed
    KMS key and S3 Bucket Keys (or SSE-S3 where a service requires it); versioning (so an
    overwrite or delete can be undone); a bucket policy denying any request not made over
    TLS (S3.5), plus the caller's statements; lifecycle rules that expire old versions
    and abort abandoned multipart uploads, plus the caller's own; and, given an access-log
    bucket, S3 server access logging into it under the bucket's own prefix (S3.9).
    """

    TYPE = "mlplatform:storage:SecureBucket"

    bucket: aws.s3.Bucket
    """The bucket."""
    bucket_name: pulumi.Output[str]
    """Physical name of the bucket."""
    arn: pulumi.Output[str]
    """ARN of the bucket (``arn:aws:s3:::<name>``)."""

    def __init__(
        self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__(self.TYPE, name, None, opts)
        self._name = name
        child = pulumi.ResourceOptions(parent=self)

        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket_prefix=args.bucket_prefix,
            force_destroy=not args.retain,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(
                parent=self, protect=args.retain, retain_on_delete=args.retain
            ),
        )
        self.bucket_name = self.bucket.bucket
        self.arn = self.bucket.arn

        ownership = aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=self.bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default={"sse_algorithm": args.sse_algorithm},
                    bucket_key_enabled=args.sse_algorithm == "aws:kms",
                )
            ],
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=self.bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=child,
        )

        self._public_access, self._ownership = public_access, ownership
        self.policy = None
        if not args.defer_policy:
            extra = args.policy_statements(self.bucket.arn) if args.policy_statements else ()
            self.set_policy(list(extra))

        rules = [
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-noncurrent-versions",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(),
                noncurrent_version_expiration={"noncurrent_days": args.noncurrent_version_days},
            ),
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="abort-incomplete-multipart-uploads",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(),
                abort_incomplete_multipart_upload={
                    "days_after_initiation": args.abort_multipart_days
                },
            ),
            *args.lifecycle_rules,
        ]
        # Lifecycle rules on noncurrent versions need versioning first.
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=self.bucket.id,
            rules=rules,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )

        self.logging = None
        if args.access_log_bucket is not None:
            # Date-partitioned keys (by event time), which Athena can prune.
            self.logging = aws.s3.BucketLogging(
                f"{name}-access-logging",
                bucket=self.bucket.id,
                target_bucket=args.access_log_bucket,
                target_prefix=args.access_log_prefix,
                target_object_key_format={
                    "partitioned_prefix": {"partition_date_source": "EventTime"}
                },
                opts=child,
            )

        self.register_outputs({"bucket_name": self.bucket_name, "arn": self.arn})

    def set_policy(self, statements: list[aws.iam.GetPolicyDocumentStatementArgs]) -> None:
        """The bucket policy: the TLS-only deny, then ``statements``. Called once."""
        if self.policy is not None:
            raise RuntimeError("the bucket policy is already set")
        document = aws.iam.get_policy_document_output(
            statements=[
                deny_insecure_transport(
                    ["s3:*"], [self.bucket.arn, self.bucket.arn.apply(lambda a: f"{a}/*")]
                ),
                *statements,
            ]
        )
        # After the public-access block, so the policy is never evaluated without it.
        self.policy = aws.s3.BucketPolicy(
            f"{self._name}-tls-policy",
            bucket=self.bucket.id,
            policy=document.json,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self._public_access, self._ownership]
            ),
        )
