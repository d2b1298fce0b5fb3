"""KMS key policies: nobody is locked out, and every AWS service that must use a key may.

Which services must use a key follows from what the program encrypts with it: a log group
(``kmsKeyId``) needs CloudWatch Logs' regional principal; a topic that alarms notify needs
``cloudwatch.amazonaws.com``; tables, secrets, databases, caches, queues and repositories
use the key on their caller's behalf, so the key policy must delegate to IAM (the account
principal), and then the caller's own policy decides (the access proof checks those).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from preflight import simulate
from preflight.documents import Document, as_list, documents
from preflight.model import ERROR, WARNING, Context, Finding, Resource, region_of

KMS_GUIDE = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html"
LOGS_GUIDE = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html"
ALARMS_GUIDE = "https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns"
BUDGETS_GUIDE = (
    "https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html"
)
ANOMALY_GUIDE = "https://docs.aws.amazon.com/cost-management/latest/userguide/ad-SNS.html"
# What each publishing service is documented to send when it uses a topic's key, and the
# page that says so (preflight/principals.py): Budgets sends its budget as aws:SourceArn.
PUBLISHER_GUIDES = {
    "budgets.amazonaws.com": BUDGETS_GUIDE,
    "costalerts.amazonaws.com": ANOMALY_GUIDE,
}

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
    ("aws:ec2/launchTemplate:LaunchTemplate", "blockDeviceMappings.0.ebs.kmsKeyId"): "autoscaling",
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
# Auto Scaling launching instances with encrypted volumes ("Required AWS KMS key policy for
# use with encrypted volumes", Amazon EC2 Auto Scaling User Guide).
AUTOSCALING_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:GenerateDataKey",
                       "kms:DescribeKey", "kms:CreateGrant")  # fmt: skip
AUTOSCALING_GUIDE = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/key-policy-requirements-EBS-encryption.html"


def allows(doc: Document, principal: str, action: str, context: dict[str, str],
           resource: str = "*", direct: bool = False) -> bool:  # fmt: skip
    """Whether the key policy itself lets ``principal`` call ``action`` on the key (an
    explicit Deny wins; ``NotPrincipal``, ``NotAction`` and every condition operator as
    :mod:`preflight.simulate` evaluates them). Naming the account counts (that is the
    delegation to IAM this module checks for) unless ``direct``: for a principal whose own
    policy grants no KMS, only a statement naming it allows it."""
    policy = simulate.Policy(doc.resource.name, doc.body)
    request = simulate.Request(principal, action, resource, context)
    allowed = False
    for statement in policy.statements():
        applies, via_account = simulate.statement_applies(statement, request, True)
        if applies and statement.get("Effect") == "Deny":
            return False
        allowed = allowed or (applies and not (direct and via_account))
    return allowed


def _keys(resources: list[Resource]) -> dict[str, Resource]:
    """Every reference to a key the program may use: its ARN, key ID and ID, and the name
    and ARN of each alias that targets it."""
    keys: dict[str, Resource] = {}
    for r in resources:
        if r.type == "aws:kms/key:Key":
            for ref in (r.outputs.get("arn"), r.outputs.get("keyId"), r.outputs.get("id")):
                if ref:
                    keys[ref] = r
    for r in resources:
        if r.type == "aws:kms/alias:Alias" and (key := keys.get(r.props.get("targetKeyId"))):
            for ref in (r.props.get("name"), r.outputs.get("arn")):
                if ref:
                    keys[ref] = key
    return keys


def _key_for(reference: Any, keys: dict[str, Resource]) -> Resource | None:
    if not isinstance(reference, str):
        return None
    return keys.get(reference) or keys.get(reference.rsplit("/", 1)[-1])


def _publishers(resources: list[Resource]) -> dict[str, set[str]]:
    """Topic ARN -> the service principals that publish to it: alarms that notify it, and
    the services its topic policy lets publish."""
    found: dict[str, set[str]] = {}
    for r in resources:
        if r.type == "aws:cloudwatch/metricAlarm:MetricAlarm":
            for key in ("alarmActions", "okActions", "insufficientDataActions"):
                for arn in r.props.get(key) or []:
                    found.setdefault(arn, set()).add("cloudwatch.amazonaws.com")
        if r.type == "aws:budgets/budget:Budget":
            for notification in r.props.get("notifications") or []:
                for arn in notification.get("subscriberSnsTopicArns") or []:
                    found.setdefault(arn, set()).add("budgets.amazonaws.com")
        if r.type == "aws:costexplorer/anomalySubscription:AnomalySubscription":
            for subscriber in r.props.get("subscribers") or []:
                if subscriber.get("type") == "SNS":
                    found.setdefault(subscriber.get("address"), set()).add(
                        "costalerts.amazonaws.com"
                    )
    for doc in documents(resources):
        if doc.resource.type not in ("aws:sns/topicPolicy:TopicPolicy", "aws:sns/topic:Topic"):
            continue
        arn = doc.resource.props.get("arn") or doc.resource.outputs.get("arn")
        for statement in doc.statements():
            principal = statement.get("Principal")
            if statement.get("Effect") != "Allow" or not isinstance(principal, dict):
                continue
            if not any(
                str(a).lower() in ("sns:publish", "sns:*") for a in as_list(statement.get("Action"))
            ):
                continue
            for service in as_list(principal.get("Service")):
                found.setdefault(arn, set()).add(service)
    return found


def check(resources: list[Resource], context: Context) -> Iterator[Finding]:
    policies = {d.resource.urn: d for d in documents(resources) if d.kind == "key"}
    keys = _keys(resources)
    root = f"arn:{context.partition}:iam::{context.account}:root"
    as_root = {"aws:PrincipalArn": root, "aws:PrincipalAccount": context.account,
               "kms:CallerAccount": context.account}  # fmt: skip

    def use(doc: Document, principal: str, actions: tuple[str, ...], ctx: dict,
            direct: bool = False) -> list[str]:  # fmt: skip
        key_arn = doc.resource.outputs.get("arn") or "*"
        return [a for a in actions if not allows(doc, principal, a, ctx, key_arn, direct)]

    for r in resources:
        if r.type != "aws:kms/key:Key" or (doc := policies.get(r.urn)) is None:
            continue  # no policy given: AWS applies its default, which delegates to IAM
        try:
            missing = use(doc, root, ADMIN_ACTIONS, as_root)
        except simulate.UnsupportedPolicyError as error:
            yield Finding(
                "kms/unsupported", WARNING, r.name, r.type, "policy", str(error),
                "the key policy could not be judged", "preflight/simulate.py",
            )  # fmt: skip
            continue
        if missing:
            yield Finding(
                "kms/lockout", ERROR, r.name, r.type, "policy", missing,
                "the account cannot manage the key through IAM: KMS refuses a policy "
                "that locks out its caller, and nobody could change or delete the key",
                KMS_GUIDE,
            )  # fmt: skip

    publishers = _publishers(resources)
    for r in resources:
        for (type_, path), user in KEY_USERS.items():
            if r.type != type_ or (key := _key_for(r.get(path), keys)) is None:
                continue
            if (doc := policies.get(key.urn)) is None:
                continue
            try:
                yield from _service_use(r, user, key, doc, use, root, as_root, publishers,
                                        context)  # fmt: skip
            except simulate.UnsupportedPolicyError:
                continue  # reported once for the key above


def _service_use(r, user, key, doc, use, root, as_root, publishers, context):
    if user == "logs":
        name = r.outputs.get("name") or r.props.get("name")
        if not name:
            return  # a name_prefix completed at deploy: the ARN is not known yet
        # A log group and its key are of one region, not always the stack's.
        region = region_of(r.outputs.get("arn"), key.outputs.get("arn"), default=context.region)
        principal = f"logs.{region}.amazonaws.com"
        arn = f"arn:{context.partition}:logs:{region}:{context.account}:log-group:{name}"
        need = use(doc, principal, LOGS_ACTIONS, {"kms:EncryptionContext:aws:logs:arn": arn})
        checks = [(principal, need, LOGS_GUIDE)]
    elif user == "topic":
        services = sorted(publishers.get(r.outputs.get("arn"), ()))
        checks = [
            (
                f"{s} (it publishes to this topic)",
                use(doc, s, ALARM_ACTIONS, _publisher_context(s, context)),
                PUBLISHER_GUIDES.get(s, ALARMS_GUIDE),
            )
            for s in services
        ]
    elif user == "autoscaling":
        role = (f"arn:{context.partition}:iam::{context.account}:role/aws-service-role/"
                "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling")  # fmt: skip
        # The service-linked role's own policy grants no KMS: the key policy must name it.
        need = use(doc, role, AUTOSCALING_ACTIONS, {}, direct=True)
        checks = [("Auto Scaling's service-linked role", need, AUTOSCALING_GUIDE)]
    else:
        need = use(doc, root, DELEGATED_ACTIONS, as_root)
        checks = [(f"the account's IAM principals ({r.type.split('/')[0]})", need, KMS_GUIDE)]
    for who, need, source in checks:
        if need:
            yield Finding(
                "kms/service-use", ERROR, key.name, key.type, "policy", need,
                f"{r.name} is encrypted with this key, and its policy does not let {who} use it",
                source,
            )  # fmt: skip


def _publisher_context(service: str, context: Context) -> dict[str, str]:
    """The request context ``service`` brings when it uses a topic's key: AWS Budgets
    publishes for a budget of the account (its guide's aws:SourceAccount, aws:SourceArn);
    the others bring no source keys on record."""
    if service == "budgets.amazonaws.com":
        return {
            "aws:SourceAccount": context.account,
            "aws:SourceArn": f"arn:{context.partition}:budgets::{context.account}:budget/any",
        }
    return {}
