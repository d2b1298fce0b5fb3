"""KMS key policies: nobody is locked out, and every AWS service that must use a key may.

Which services must use a key follows from what the program encrypts with it: a log group
(``kmsKeyId``) needs CloudWatch Logs' regional principal; a topic that alarms notify needs
``cloudwatch.amazonaws.com``; tables, secrets, databases, caches, queues and repositories
use the key on their caller's behalf, so the key policy must delegate to IAM (the account
principal), and then the caller's own policy decides (the access proof checks those).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from preflight.documents import Document, as_list, documents
from preflight.model import ERROR, Context, Finding, Resource

KMS_GUIDE = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html"
LOGS_GUIDE = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html"
ALARMS_GUIDE = "https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns"

# What uses a key: (type, property holding the key's ARN or ID) -> who must be allowed.
# "iam": the key policy must delegate to the account's IAM (the service acts for its caller).
KEY_USERS: dict[tuple[str, str], str] = {
    ("aws:cloudwatch/logGroup:LogGroup", "kmsKeyId"): "logs",
    ("aws:sns/topic:Topic", "kmsMasterKeyId"): "topic",
    ("aws:dynamodb/table:Table", "serverSideEncryption.kmsKeyArn"): "iam",
    ("aws:secretsmanager/secret:Secret", "kmsKeyId"): "iam",
    ("aws:rds/instance:Instance", "kmsKeyId"): "iam",
    ("aws:rds/instance:Instance", "performanceInsightsKmsKeyId"): "iam",
    ("aws:rds/cluster:Cluster", "kmsKeyId"): "iam",
    ("aws:rds/clusterInstance:ClusterInstance", "performanceInsightsKmsKeyId"): "iam",
    ("aws:elasticache/replicationGroup:ReplicationGroup", "kmsKeyId"): "iam",
    ("aws:sqs/queue:Queue", "kmsMasterKeyId"): "iam",
    ("aws:ecr/repository:Repository", "encryptionConfigurations.0.kmsKey"): "iam",
    (
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "rules.0.applyServerSideEncryptionByDefault.kmsMasterKeyId",
    ): "iam",
}
# The actions CloudWatch Logs documents for a key that encrypts log groups.
LOGS_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:GenerateDataKey",
                "kms:DescribeKey")  # fmt: skip
ALARM_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
DELEGATED_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt", "kms:DescribeKey",
                     "kms:CreateGrant")  # fmt: skip
ADMIN_ACTIONS = ("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DescribeKey")


@dataclass(frozen=True)
class Request:
    principal_type: str
    principal: str
    action: str
    context: dict[str, str]


def _condition_holds(conditions: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, entries in conditions.items():
        for key, values in entries.items():
            actual = next((v for k, v in context.items() if k.lower() == key.lower()), None)
            if actual is None:
                return operator.endswith("IfExists") or operator == "Null"
            patterns = as_list(values)
            if operator in ("ArnLike", "StringLike"):
                ok = any(fnmatch.fnmatchcase(actual, p) for p in patterns)
            elif operator in ("ArnEquals", "StringEquals"):
                ok = actual in patterns
            else:
                ok = True  # an operator this check does not evaluate: not held against it
            if not ok:
                return False
    return True


def allows(doc: Document, request: Request) -> bool:
    """Whether the key policy allows the request (an explicit Deny wins)."""
    allowed = False
    for s in doc.statements():
        principal = s.get("Principal")
        if principal == "*":
            named = True
        elif isinstance(principal, dict):
            named = request.principal in as_list(principal.get(request.principal_type))
        else:
            named = False
        actions = as_list(s.get("Action"))
        if not named or not any(
            fnmatch.fnmatch(request.action.lower(), a.lower()) for a in actions
        ):
            continue
        if not _condition_holds(s.get("Condition") or {}, request.context):
            continue
        if s.get("Effect") == "Deny":
            return False
        allowed = True
    return allowed


def _key_for(reference: Any, keys: dict[str, Resource]) -> Resource | None:
    if not isinstance(reference, str):
        return None
    return keys.get(reference) or keys.get(reference.rsplit("/", 1)[-1])


def check(resources: list[Resource], context: Context) -> Iterator[Finding]:
    policies = {d.resource.urn: d for d in documents(resources) if d.kind == "key"}
    keys: dict[str, Resource] = {}
    for r in resources:
        if r.type == "aws:kms/key:Key":
            for ref in (r.outputs.get("arn"), r.outputs.get("keyId"), r.outputs.get("id")):
                if ref:
                    keys[ref] = r
    root = f"arn:{context.partition}:iam::{context.account}:root"

    for r in resources:
        if r.type != "aws:kms/key:Key":
            continue
        doc = policies.get(r.urn)
        if doc is None:
            continue  # no policy given: AWS applies its default, which delegates to IAM
        missing = [a for a in ADMIN_ACTIONS if not allows(doc, Request("AWS", root, a, {}))]
        if missing:
            yield Finding(
                "kms/lockout", ERROR, r.name, r.type, "policy", missing,
                "the account cannot manage the key through IAM: KMS refuses a policy "
                "that locks out its caller, and nobody could change or delete the key",
                KMS_GUIDE,
            )  # fmt: skip

    alarm_topics = {
        action
        for r in resources
        if r.type == "aws:cloudwatch/metricAlarm:MetricAlarm"
        for key in ("alarmActions", "okActions", "insufficientDataActions")
        for action in r.props.get(key) or []
    }
    for r in resources:
        for (type_, path), user in KEY_USERS.items():
            if r.type != type_ or (key := _key_for(r.get(path), keys)) is None:
                continue
            doc = policies.get(key.urn)
            if doc is None:
                continue
            if user == "logs":
                principal = f"logs.{context.region}.amazonaws.com"
                name = r.outputs.get("name") or r.props.get("name") or r.name
                arn = ":".join(
                    ("arn", context.partition, "logs", context.region, context.account,
                     "log-group", name)
                )  # fmt: skip
                need = [
                    a
                    for a in LOGS_ACTIONS
                    if not allows(
                        doc,
                        Request(
                            "Service", principal, a, {"kms:EncryptionContext:aws:logs:arn": arn}
                        ),
                    )
                ]
                who, source = principal, LOGS_GUIDE
            elif user == "topic":
                arn = r.outputs.get("arn")
                if arn not in alarm_topics:
                    continue
                principal = "cloudwatch.amazonaws.com"
                need = [
                    a
                    for a in ALARM_ACTIONS
                    if not allows(doc, Request("Service", principal, a, {}))
                ]
                who, source = f"{principal} (alarms notify this topic)", ALARMS_GUIDE
            else:
                need = [
                    a for a in DELEGATED_ACTIONS if not allows(doc, Request("AWS", root, a, {}))
                ]
                who, source = f"the account's IAM principals ({r.type.split('/')[0]})", KMS_GUIDE
            if need:
                yield Finding(
                    "kms/service-use", ERROR, key.name, key.type, "policy", need,
                    f"{r.name} is encrypted with this key, and its policy does not let {who} "
                    f"use it",
                    source,
                )  # fmt: skip
