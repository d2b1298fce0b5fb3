"""AlarmTopic: the one SNS topic every stack's CloudWatch alarms notify."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.lib.policies import (
    BUDGETS_SERVICE,
    COST_ANOMALY_SERVICE,
    Principal,
    Statement,
    account_administers_key,
    deny_insecure_transport,
    from_this_account,
    from_this_accounts_budgets,
)


@dataclass(frozen=True)
class AlarmTopicArgs:
    """Inputs of :class:`AlarmTopic`."""

    name_prefix: str
    """Prefix of physical names, e.g. ``mlplatform-dev``. Required."""
    email: str = ""
    """Address subscribed to the topic (AWS mails a confirmation link). Default none."""
    kms_key_arn: pulumi.Input[str] | None = None
    """A key to encrypt the topic with instead of one of its own (the platform's logs key
    of :class:`~components.blocks.audit_logs.AuditLogs`, whose policy admits CloudWatch
    alarms). Default none: the topic's own key."""
    cost_alerts: bool = False
    """AWS Budgets and Cost Anomaly Detection of this account may publish too (the
    guardrails of :class:`~components.blocks.cost_guardrails.CostGuardrails`); a given
    ``kms_key_arn`` must then admit them as well (``AuditLogsArgs.cost_alerts``). Default
    false."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on the key and the topic. Default none."""


class AlarmTopic(pulumi.ComponentResource):
    """An encrypted SNS topic for alarms, with an optional e-mail subscription.

    Creates, unless ``kms_key_arn`` names one, a customer-managed KMS key with rotation
    (CloudWatch cannot publish to a topic encrypted with the AWS-managed ``aws/sns`` key,
    so the key policy grants CloudWatch alarms of this account the two actions publishing
    needs); the topic encrypted with it; a topic policy that admits only CloudWatch alarms
    of this account and TLS; and the e-mail subscription when an address is configured.
    """

    TYPE = "mlplatform:alerts:AlarmTopic"

    topic: aws.sns.Topic
    """The topic; alarms put its ARN in their ``alarm_actions``."""
    arn: pulumi.Output[str]
    """ARN of the topic."""

    def __init__(self, name: str, args: AlarmTopicArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(self.TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        identity = aws.get_caller_identity_output()
        account = identity.account_id
        cloudwatch = Principal(type="Service", identifiers=["cloudwatch.amazonaws.com"])
        self.key = None
        key_arn = args.kms_key_arn
        if key_arn is None:
            self.key = self._key(name, args, cloudwatch, account, child)
            key_arn = self.key.arn
        self.topic = aws.sns.Topic(
            f"{name}-topic",
            name=f"{args.name_prefix}-alarms",
            kms_master_key_id=key_arn,
            tags=tags,
            opts=child,
        )
        self.arn = self.topic.arn
        statements = [
            Statement(
                sid="CloudWatchAlarmsOfThisAccount",
                principals=[cloudwatch],
                actions=["sns:Publish"],
                resources=[self.topic.arn],
                conditions=[from_this_account(account)],
            )
        ]
        if args.cost_alerts:
            statements += cost_alert_publishers(self.topic.arn, account)
        statements.append(
            deny_insecure_transport(["sns:Publish", "sns:Subscribe"], [self.topic.arn])
        )
        topic_policy = aws.iam.get_policy_document_output(statements=statements)
        aws.sns.TopicPolicy(
            f"{name}-topic-policy", arn=self.topic.arn, policy=topic_policy.json, opts=child
        )
        self.subscription = None
        if args.email:
            self.subscription = aws.sns.TopicSubscription(
                f"{name}-email",
                topic=self.topic.arn,
                protocol="email",
                endpoint=args.email,
                opts=child,
            )

        self.register_outputs({"arn": self.arn})

    @staticmethod
    def _key(name, args: AlarmTopicArgs, cloudwatch, account, child) -> aws.kms.Key:
        """The topic's own key, which CloudWatch alarms may publish with."""
        partition = aws.get_partition_output()
        key_policy = aws.iam.get_policy_document_output(
            statements=[
                account_administers_key(partition.partition, account),
                # No source condition here: CloudWatch sends none when it uses the key
                # (preflight/principals.py); the topic policy admits only this account's
                # alarms, and only this topic names the key.
                Statement(
                    sid="CloudWatchAlarmsPublish",
                    principals=[cloudwatch],
                    actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                    resources=["*"],
                ),
                *(cost_alert_key_users(partition.partition, account) if args.cost_alerts else []),
            ]
        )
        key = aws.kms.Key(
            f"{name}-key",
            description=f"{args.name_prefix} alarm notifications",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=key_policy.json,
            tags=dict(args.tags),
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=f"alias/{args.name_prefix}-alarms",
            target_key_id=key.key_id,
            opts=child,
        )
        return key


def cost_alert_publishers(topic_arn, account) -> list[Statement]:
    """Topic policy statements for AWS Budgets (this account's budgets: ``aws:SourceAccount``
    and ``aws:SourceArn``, as the Budgets guide writes them) and Cost Anomaly Detection
    (``aws:SourceAccount``, the guard its guide documents)."""
    partition = aws.get_partition_output().partition
    return [
        Statement(
            sid="BudgetsOfThisAccount",
            principals=[Principal(type="Service", identifiers=[BUDGETS_SERVICE])],
            actions=["sns:Publish"],
            resources=[topic_arn],
            conditions=from_this_accounts_budgets(partition, account),
        ),
        Statement(
            sid="CostAnomalyDetectionOfThisAccount",
            principals=[Principal(type="Service", identifiers=[COST_ANOMALY_SERVICE])],
            actions=["sns:Publish"],
            resources=[topic_arn],
            conditions=[from_this_account(account)],
        ),
    ]


def cost_alert_key_users(partition, account) -> list[Statement]:
    """Key policy statements letting AWS Budgets and Cost Anomaly Detection publish to a
    topic encrypted with the key (the two actions SNS needs of a publisher). Budgets' carries
    the guards of its guide; Cost Anomaly Detection's carries none: no page on record says it
    sends source keys when it uses a key (preflight/principals.py), and the topic policy
    admits only this account's subscriptions."""
    return [
        Statement(
            sid="BudgetsPublish",
            principals=[Principal(type="Service", identifiers=[BUDGETS_SERVICE])],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
            conditions=from_this_accounts_budgets(partition, account),
        ),
        Statement(
            sid="CostAnomalyDetectionPublish",
            principals=[Principal(type="Service", identifiers=[COST_ANOMALY_SERVICE])],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
        ),
    ]
