"""IAM policy statements the components share, built for ``aws.iam.get_policy_document``.

Pure constructors of statement arguments: no resource, no invoke. Each keeps one security
rule in one place (TLS only, confused-deputy guards on service trust).
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from preflight.principals import documented_source_keys

Statement = aws.iam.GetPolicyDocumentStatementArgs
Condition = aws.iam.GetPolicyDocumentStatementConditionArgs
Principal = aws.iam.GetPolicyDocumentStatementPrincipalArgs


def allow(
    actions: Sequence[str],
    resources: Sequence[pulumi.Input[str]],
    sid: str | None = None,
    conditions: Sequence[Condition] | None = None,
) -> Statement:
    """Allow ``actions`` on exactly ``resources``."""
    return Statement(
        sid=sid, actions=list(actions), resources=list(resources), conditions=conditions
    )


def deny_insecure_transport(
    actions: Sequence[str], resources: Sequence[pulumi.Input[str]]
) -> Statement:
    """A resource-policy statement refusing every request not made over TLS."""
    return Statement(
        sid="DenyInsecureTransport",
        effect="Deny",
        principals=[Principal(type="*", identifiers=["*"])],
        actions=list(actions),
        resources=list(resources),
        conditions=[Condition(test="Bool", variable="aws:SecureTransport", values=["false"])],
    )


def from_this_account(account: pulumi.Input[str]) -> Condition:
    """Only requests on behalf of ``account`` (a confused-deputy guard for service principals)."""
    return Condition(test="StringEquals", variable="aws:SourceAccount", values=[account])


BUDGETS_SERVICE = "budgets.amazonaws.com"
"""AWS Budgets' principal: publishes budget notifications to an SNS topic."""
COST_ANOMALY_SERVICE = "costalerts.amazonaws.com"
"""Cost Anomaly Detection's principal: publishes anomalies to an SNS topic."""


def from_this_accounts_budgets(
    partition: pulumi.Input[str], account: pulumi.Input[str]
) -> list[Condition]:
    """Only AWS Budgets acting for a budget of ``account``: the two guards the Budgets guide
    ("Creating an Amazon SNS topic for budget notifications") puts on its topic and key
    policy statements (``aws:SourceArn`` like ``arn:<partition>:budgets::<account>:*``)."""
    return [
        from_this_account(account),
        Condition(
            test="ArnLike",
            variable="aws:SourceArn",
            values=[pulumi.Output.concat("arn:", partition, ":budgets::", account, ":*")],
        ),
    ]


def service_trust(
    service: str,
    account: pulumi.Input[str],
    source_arn_like: pulumi.Input[str] | None = None,
) -> Statement:
    """``sts:AssumeRole`` for an AWS service principal, with the confused-deputy guards
    (``aws:SourceAccount``, and ``aws:SourceArn`` when given) that the service is
    documented to send when it assumes a role. A guard on a key the service does not send
    would make the role impossible to assume, so a service without documented keys gets
    none (the table and its sources: ``preflight/principals.py``)."""
    sends = documented_source_keys(service, "assume")
    conditions = []
    if "aws:sourceaccount" in sends:
        conditions.append(from_this_account(account))
    if source_arn_like is not None and "aws:sourcearn" in sends:
        conditions.append(
            Condition(test="ArnLike", variable="aws:SourceArn", values=[source_arn_like])
        )
    return Statement(
        actions=["sts:AssumeRole"],
        principals=[Principal(type="Service", identifiers=[service])],
        conditions=conditions or None,
    )


def account_root(partition: pulumi.Input[str], account: pulumi.Input[str]) -> pulumi.Output[str]:
    """``arn:<partition>:iam::<account>:root``: the account as a principal, which delegates
    to IAM (any identity of the account whose own policy allows the action)."""
    return pulumi.Output.concat("arn:", partition, ":iam::", account, ":root")


def account_administers_key(partition: pulumi.Input[str], account: pulumi.Input[str]) -> Statement:
    """The key-policy statement that hands a KMS key's administration to the account's IAM
    (AWS's default key policy): without it nobody could manage or delete the key."""
    return Statement(
        sid="AccountAdministersTheKeyThroughIam",
        principals=[Principal(type="AWS", identifiers=[account_root(partition, account)])],
        actions=["kms:*"],
        resources=["*"],
    )


def list_prefix(bucket_arn: pulumi.Input[str], prefix: str, sid: str) -> Statement:
    """``s3:ListBucket`` on ``bucket_arn`` for keys under ``prefix`` only. Without it a
    missing object reads as 403 rather than 404."""
    return allow(
        ["s3:ListBucket"],
        [bucket_arn],
        sid=sid,
        conditions=[Condition(test="StringLike", variable="s3:prefix", values=[f"{prefix}*"])],
    )
