"""Condition keys an AWS service sends when it acts as a service principal.

A statement for a service principal may guard against the confused deputy with
``aws:SourceAccount`` / ``aws:SourceArn`` only where that service is documented to set
them for that use: IAM evaluates a condition on a key the request does not carry as false,
so a role whose trust policy requires a key its service never sends can never be assumed,
and a key policy statement the service never meets leaves it unable to use the key.

Each entry is (principal, use) -> the global keys documented, with the page that says so.
``use`` is ``assume`` (a role's trust policy), ``kms`` (a key policy) or ``resource`` (a
bucket, topic or queue policy). A pair not listed is refused when it carries such a key:
add it here, with its source, once the documentation is found.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from preflight.documents import Document, as_list
from preflight.model import ERROR, Finding

SOURCE_KEYS = ("aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths")
BOTH = frozenset({"aws:sourceaccount", "aws:sourcearn"})
NONE: frozenset[str] = frozenset()

DOCUMENTED: dict[tuple[str, str], tuple[frozenset[str], str]] = {
    ("ecs-tasks.amazonaws.com", "assume"): (
        BOTH,
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html",
    ),
    ("vpc-flow-logs.amazonaws.com", "assume"): (
        BOTH,
        "https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html",
    ),
    ("monitoring.rds.amazonaws.com", "assume"): (
        BOTH,
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Monitoring.OS.Enabling.html"
        "#USER_Monitoring.OS.confused-deputy",
    ),
    # The instance-profile trust policy EC2 documents carries no condition; EC2 sets no
    # source keys when it assumes the role for an instance.
    ("ec2.amazonaws.com", "assume"): (
        NONE,
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html",
    ),
    # The CloudWatch role of API Gateway's account settings: the documented trust policy
    # carries no condition.
    ("apigateway.amazonaws.com", "assume"): (
        NONE,
        "https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html",
    ),
    # CloudWatch Logs restricts its use of a key by encryption context, not source keys.
    ("logs.amazonaws.com", "kms"): (
        NONE,
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html",
    ),
    # An alarm publishing to an encrypted topic: the documented key policy statement for
    # cloudwatch.amazonaws.com carries no condition.
    ("cloudwatch.amazonaws.com", "kms"): (
        NONE,
        "https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns",
    ),
    # AWS Budgets publishing to a topic, and using the key of an encrypted one: the Budgets
    # guide's topic policy statement guards with both (aws:SourceArn:
    # arn:aws:budgets::<account>:*), as does its key policy statement for encrypted topics.
    ("budgets.amazonaws.com", "resource"): (
        BOTH,
        "https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html",
    ),
    ("budgets.amazonaws.com", "kms"): (
        BOTH,
        "https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html",
    ),
    # Cost Anomaly Detection publishing to a topic: its guide's statement "only on behalf of
    # a certain account" guards with aws:SourceAccount; nothing on record for its use of a
    # key, so its key policy statement carries no source key.
    ("costalerts.amazonaws.com", "resource"): (
        frozenset({"aws:sourceaccount"}),
        "https://docs.aws.amazon.com/cost-management/latest/userguide/ad-SNS.html",
    ),
    ("cloudwatch.amazonaws.com", "resource"): (
        BOTH,
        "https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html",
    ),
    # S3 server access log delivery into a bucket with ACLs off: the documented bucket
    # policy guards with both (aws:SourceArn: the source buckets).
    ("logging.s3.amazonaws.com", "resource"): (
        BOTH,
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html"
        "#grant-log-delivery-permissions-general",
    ),
    # Vended log delivery (WAF's logs among them) to a log group: the documented log group
    # resource policy guards with both keys.
    ("delivery.logs.amazonaws.com", "resource"): (
        BOTH,
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/AWS-logs-infrastructure-CWL.html"
        " (WAF: https://docs.aws.amazon.com/waf/latest/developerguide/logging-cw-logs.html)",
    ),
    # Lambda pulling a function's container image: the repository policy AWS documents
    # for it guards with aws:SourceArn (StringLike on the functions' ARNs); nothing on
    # record for aws:SourceAccount.
    ("lambda.amazonaws.com", "resource"): (
        frozenset({"aws:sourcearn"}),
        "https://docs.aws.amazon.com/lambda/latest/dg/images-create.html (Amazon ECR "
        "permissions; https://repost.aws/knowledge-center/lambda-ecr-image)",
    ),
    ("cloudfront.amazonaws.com", "resource"): (
        BOTH,
        "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/"
        "private-content-restricting-access-to-s3.html",
    ),
}

USE = {"trust": "assume", "key": "kms", "resource": "resource"}


def documented_source_keys(service: str, use: str) -> frozenset[str]:
    """The source keys (lower case) ``service`` is documented to send for ``use``; none
    when nothing is on record."""
    documented, _ = DOCUMENTED.get((normalize(service), use), (NONE, ""))
    return documented


def normalize(principal: str) -> str:
    """``logs.us-east-1.amazonaws.com`` -> ``logs.amazonaws.com``."""
    return re.sub(r"^([a-z0-9-]+)\.[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d\.", r"\1.", principal)


def check_document(doc: Document) -> Iterator[Finding]:
    use = USE.get(doc.kind)
    if use is None:
        return
    r = doc.resource
    for n, statement in enumerate(doc.statements()):
        principal = statement.get("Principal")
        if not isinstance(principal, dict) or set(principal) != {"Service"}:
            continue  # only a statement for service principals alone
        keys = {
            key.lower()
            for entries in (statement.get("Condition") or {}).values()
            for key in entries
            if key.lower() in SOURCE_KEYS
        }
        if not keys:
            continue
        for service in as_list(principal["Service"]):
            documented, source = DOCUMENTED.get((normalize(service), use), (None, ""))
            where = f"{doc.path} Statement[{n}]"
            if documented is None:
                yield Finding(
                    "principals/undocumented",
                    ERROR,
                    r.name,
                    r.type,
                    where,
                    sorted(keys),
                    f"no documentation on record says {service} sends these keys "
                    f"({use}); find it and add it to preflight/principals.py, or drop them",
                    "preflight/principals.py",
                )
            elif extra := keys - documented:
                yield Finding(
                    "principals/source-key",
                    ERROR,
                    r.name,
                    r.type,
                    where,
                    sorted(extra),
                    f"{service} does not send {', '.join(sorted(extra))} ({use}): IAM "
                    "evaluates the condition as false, so the service is always refused",
                    source,
                )
