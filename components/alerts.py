"""AlarmTopic: the one SNS topic every stack's CloudWatch alarms notify."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class AlarmTopicArgs:
    """Inputs of :class:`AlarmTopic`."""

    name_prefix: str
    """Prefix of physical names, e.g. ``mlplatform-dev``. Required."""
    email: str = ""
    """Address subscribed to the topic (AWS mails a confirmation link). Default none."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on the key and the topic. Default none."""


class AlarmTopic(pulumi.ComponentResource):
    """An encrypted SNS topic for alarms, with an optional e-mail subscription.

    Creates a customer-managed KMS key with rotation (CloudWatch cannot publish to a topic
    encrypted with the AWS-managed ``aws/sns`` key, so the key policy grants CloudWatch
    alarms of this account the two actions publishing needs), the topic encrypted with
    it, a topic policy that admits only CloudWatch alarms of this account and TLS, and the
    e-mail subscription when an address is configured.
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
        partition = aws.get_partition_output()
        account = identity.account_id
        alarms_of_this_account = aws.iam.GetPolicyDocumentStatementConditionArgs(
            test="StringEquals", variable="aws:SourceAccount", values=[account]
        )
        key_policy = aws.iam.get_policy_document_output(
            statements=[
                aws.iam.GetPolicyDocumentStatementArgs(
                    sid="AccountAdministersTheKeyThroughIam",
                    principals=[
                        aws.iam.GetPolicyDocumentStatementPrincipalArgs(
                            type="AWS",
                            identifiers=[
                                pulumi.Output.concat(
                                    "arn:", partition.partition, ":iam::", account, ":root"
                                )
                            ],
                        )
                    ],
                    actions=["kms:*"],
                    resources=["*"],
                ),
                aws.iam.GetPolicyDocumentStatementArgs(
                    sid="CloudWatchAlarmsPublish",
                    principals=[
                        aws.iam.GetPolicyDocumentStatementPrincipalArgs(
                            type="Service", identifiers=["cloudwatch.amazonaws.com"]
                        )
                    ],
                    actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                    resources=["*"],
                    conditions=[alarms_of_this_account],
                ),
            ]
        )
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"{args.name_prefix} alarm notifications",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=key_policy.json,
            tags=tags,
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=f"alias/{args.name_prefix}-alarms",
            target_key_id=self.key.key_id,
            opts=child,
        )
        self.topic = aws.sns.Topic(
            f"{name}-topic",
            name=f"{args.name_prefix}-alarms",
            kms_master_key_id=self.key.arn,
            tags=tags,
            opts=child,
        )
        self.arn = self.topic.arn
        topic_policy = aws.iam.get_policy_document_output(
            statements=[
                aws.iam.GetPolicyDocumentStatementArgs(
                    sid="CloudWatchAlarmsOfThisAccount",
                    principals=[
                        aws.iam.GetPolicyDocumentStatementPrincipalArgs(
                            type="Service", identifiers=["cloudwatch.amazonaws.com"]
                        )
                    ],
                    actions=["sns:Publish"],
                    resources=[self.topic.arn],
                    conditions=[alarms_of_this_account],
                ),
                aws.iam.GetPolicyDocumentStatementArgs(
                    sid="DenyInsecureTransport",
                    effect="Deny",
                    principals=[
                        aws.iam.GetPolicyDocumentStatementPrincipalArgs(type="*", identifiers=["*"])
                    ],
                    actions=["sns:Publish", "sns:Subscribe"],
                    resources=[self.topic.arn],
                    conditions=[
                        aws.iam.GetPolicyDocumentStatementConditionArgs(
                            test="Bool", variable="aws:SecureTransport", values=["false"]
                        )
                    ],
                ),
            ]
        )
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
