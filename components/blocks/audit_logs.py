"""AuditLogs: the key every log group is encrypted with, and the bucket of S3 access logs.

Created once, before the stacks, and handed to each of them through ``StackCommon``
(``log_key_arn``, ``access_log_bucket``), so every log group of the platform is encrypted
with one customer-managed key whose policy admits CloudWatch Logs of this account and
region only, and every data bucket's server access logs land in one locked-down bucket.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.blocks.alerts import cost_alert_key_users
from components.blocks.bucket import SecureBucket, SecureBucketArgs
from components.config.settings import Settings
from components.lib.policies import (
    Condition,
    Principal,
    Statement,
    account_administers_key,
    from_this_account,
)

# The actions the CloudWatch Logs guide ("Encrypt log data in CloudWatch Logs using AWS
# KMS", step 2) grants its regional principal on a key that encrypts log groups.
LOGS_KEY_ACTIONS = ("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                    "kms:Describe*")  # fmt: skip
ALARM_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")


@dataclass(frozen=True)
class AuditLogsArgs:
    """Inputs of :class:`AuditLogs`; plain values."""

    name_prefix: str
    """Prefix of physical names, e.g. ``mlplatform-dev``; the access-log bucket admits the
    logs of this account's buckets whose names start with it. Required."""
    log_retention_days: int = 365
    """Days access logs are kept before they expire (as every log group). Default 365."""
    retain: bool = True
    """Protect the access-log bucket (``protect``, ``retain_on_delete``). Default true."""
    access_logs: bool = True
    """Create the access-log bucket (only stacks with data buckets need one). Default
    true."""
    alarm_notifications: bool = False
    """The alarm topic is encrypted with the key too, so its policy also lets CloudWatch
    alarms publish (one key for the platform's logs and alarm notifications instead of
    two: a customer-managed key bills $1 a month). Default false."""
    cost_alerts: bool = False
    """With ``alarm_notifications``: AWS Budgets and Cost Anomaly Detection publish to the
    alarm topic too, so the key admits them (``alerts.cost_alert_key_users``). Default
    false."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on the key and the bucket. Default none."""

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        access_logs: bool,
        alarm_notifications: bool,
        cost_alerts: bool = False,
    ) -> AuditLogsArgs:
        return cls(
            name_prefix=settings.prefix(),
            log_retention_days=settings.log_retention_days,
            retain=settings.deletion_protection,
            access_logs=access_logs,
            alarm_notifications=alarm_notifications,
            cost_alerts=cost_alerts,
            tags=settings.base_tags("audit"),
        )


class AuditLogs(pulumi.ComponentResource):
    """The platform's logs key and S3 server access-log bucket.

    Creates a customer-managed KMS key with rotation whose policy delegates administration
    to the account's IAM, admits CloudWatch Logs' regional principal only for log groups of
    this account and region (the ``kms:EncryptionContext:aws:logs:arn`` condition of the
    CloudWatch Logs guide) and, with ``alarm_notifications``, CloudWatch alarms publishing
    to the alarm topic; and, with ``access_logs``, a :class:`SecureBucket` for S3 server
    access logs: SSE-S3 (server access logging does not deliver to a bucket whose default
    encryption is SSE-KMS), ACLs off, every public-access block, TLS only, a policy that
    lets the S3 logging service write only for this account's buckets of this platform,
    logs expired after ``log_retention_days``, versioning, protected in prod.
    """

    TYPE = "mlplatform:audit:AuditLogs"

    key: aws.kms.Key
    """The logs key."""
    key_arn: pulumi.Output[str]
    """ARN of the logs key (``StackCommon.log_key_arn``)."""
    bucket: SecureBucket | None
    """The access-log bucket; None without ``access_logs``."""
    access_log_bucket: pulumi.Output[str] | None
    """Name of the access-log bucket, known only once its policy exists, so a bucket
    logging into it (``StackCommon.access_log_bucket``) is configured after S3 may write;
    None without ``access_logs``."""

    def __init__(self, name: str, args: AuditLogsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(self.TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        identity = aws.get_caller_identity_output()
        partition = aws.get_partition_output().partition
        region = aws.get_region_output().region
        account = identity.account_id
        self.key = self._key(name, args, partition, region, account, child)
        self.key_arn = self.key.arn
        self.bucket = self.access_log_bucket = None
        if args.access_logs:
            self._access_log_bucket(name, args, partition, account, child)

        outputs = {"key_arn": self.key_arn, "access_log_bucket": self.access_log_bucket}
        self.register_outputs({k: v for k, v in outputs.items() if v is not None})

    def _access_log_bucket(self, name, args: AuditLogsArgs, partition, account, child) -> None:
        """The SSE-S3 bucket S3 delivers server access logs to, kept log_retention_days."""
        self.bucket = SecureBucket(
            f"{name}-access-logs",
            SecureBucketArgs(
                bucket_prefix=f"{args.name_prefix}-access-logs-",
                retain=args.retain,
                sse_algorithm="AES256",
                lifecycle_rules=[
                    aws.s3.BucketLifecycleConfigurationRuleArgs(
                        id="expire-access-logs",
                        status="Enabled",
                        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(),
                        expiration={"days": args.log_retention_days},
                    )
                ],
                policy_statements=lambda arn: [
                    _server_access_log_delivery(arn, args.name_prefix, partition, account)
                ],
                tags=dict(args.tags),
            ),
            opts=child,
        )
        self.access_log_bucket = pulumi.Output.all(
            self.bucket.bucket_name, self.bucket.policy.id
        ).apply(lambda values: values[0])

    @staticmethod
    def _key(name, args: AuditLogsArgs, partition, region, account, child) -> aws.kms.Key:
        """The rotated key; CloudWatch Logs of this account and region may use it."""
        logs_service = pulumi.Output.concat("logs.", region, ".amazonaws.com")
        statements = [
            account_administers_key(partition, account),
            Statement(
                sid="CloudWatchLogsOfThisAccountAndRegion",
                principals=[Principal(type="Service", identifiers=[logs_service])],
                actions=list(LOGS_KEY_ACTIONS),
                resources=["*"],
                conditions=[
                    Condition(
                        test="ArnLike",
                        variable="kms:EncryptionContext:aws:logs:arn",
                        values=[
                            pulumi.Output.concat(
                                "arn:", partition, ":logs:", region, ":", account, ":*"
                            )
                        ],
                    )
                ],
            ),
        ]
        if args.alarm_notifications:
            # No source condition: CloudWatch sends none when it uses the key
            # (preflight/principals.py); the topic policy admits only this account's alarms.
            statements.append(
                Statement(
                    sid="CloudWatchAlarmsPublish",
                    principals=[
                        Principal(type="Service", identifiers=["cloudwatch.amazonaws.com"])
                    ],
                    actions=list(ALARM_KEY_ACTIONS),
                    resources=["*"],
                )
            )
            if args.cost_alerts:
                statements += cost_alert_key_users(partition, account)
        key = aws.kms.Key(
            f"{name}-key",
            description=f"{args.name_prefix} log groups"
            + (" and alarm notifications" if args.alarm_notifications else ""),
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=aws.iam.get_policy_document_output(statements=statements).json,
            tags=dict(args.tags),
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=f"alias/{args.name_prefix}-logs",
            target_key_id=key.key_id,
            opts=child,
        )
        return key


def _server_access_log_delivery(
    bucket_arn: pulumi.Output[str], name_prefix: str, partition, account
) -> Statement:
    """S3's logging service may put log objects, for this account's buckets of this
    platform only (``aws:SourceAccount``, ``aws:SourceArn``: the S3 guide's confused-deputy
    guards). Every data bucket's name starts with the prefix (``bucket_prefix``), so a new
    one logs without a change here."""
    return Statement(
        sid="S3ServerAccessLogDelivery",
        principals=[Principal(type="Service", identifiers=["logging.s3.amazonaws.com"])],
        actions=["s3:PutObject"],
        resources=[bucket_arn.apply(lambda arn: f"{arn}/*")],
        conditions=[
            from_this_account(account),
            Condition(
                test="ArnLike",
                variable="aws:SourceArn",
                values=[pulumi.Output.concat("arn:", partition, ":s3:::", name_prefix, "-*")],
            ),
        ],
    )
