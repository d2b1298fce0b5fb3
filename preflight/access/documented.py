"""What AWS documents and no registered resource holds: AWS managed policies and keys, and the
KMS actions a caller needs on a resource encrypted with a key."""

from __future__ import annotations

from typing import Any

from preflight.model import Context
from preflight.simulate import Policy

# --- AWS-managed documents --------------------------------------------------------------------

AWS_MANAGED_POLICIES: dict[str, tuple[dict[str, Any], str]] = {
    # The policy API Gateway documents for its account-level CloudWatch role.
    "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs": (
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "logs:CreateLogGroup",
                        "logs:CreateLogStream",
                        "logs:DescribeLogGroups",
                        "logs:DescribeLogStreams",
                        "logs:PutLogEvents",
                        "logs:GetLogEvents",
                        "logs:FilterLogEvents",
                    ],
                    "Resource": "*",
                }
            ],
        },
        "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/"
        "AmazonAPIGatewayPushToCloudWatchLogs.html",
    ),
    # RDS enhanced monitoring's role policy: log groups and streams named RDS*.
    "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole": (
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "EnableCreationAndManagementOfRDSCloudwatchLogGroups",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogGroup", "logs:PutRetentionPolicy"],
                    "Resource": ["arn:aws:logs:*:*:log-group:RDS*"],
                },
                {
                    "Sid": "EnableCreationAndManagementOfRDSCloudwatchLogStreams",
                    "Effect": "Allow",
                    "Action": [
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:DescribeLogStreams",
                        "logs:GetLogEvents",
                    ],
                    "Resource": ["arn:aws:logs:*:*:log-group:RDS*:log-stream:*"],
                },
            ],
        },
        "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/"
        "AmazonRDSEnhancedMonitoringRole.html",
    ),
}
"""AWS managed policies the program attaches, with their documented content and source. An
attachment of any other AWS managed policy is reported, not assumed to allow."""

AWS_MANAGED_KEY_SOURCE = (
    "the key policy of an AWS managed key (aws/<service>): every principal of the account, "
    "through that service only - e.g. 'Key policy for an AWS managed key', "
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html"
)


def aws_managed_key_policy(service: str, context: Context) -> Policy:
    """The documented policy of ``aws/<service>``: use through ``service`` by any principal
    of the account (``kms:CallerAccount`` + ``kms:ViaService``), metadata to the account."""
    return Policy.of(
        f"aws/{service} key policy (AWS managed)",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": f"Allow access through {service} for all principals in the account",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:CreateGrant",
                        "kms:DescribeKey",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "kms:CallerAccount": context.account,
                            "kms:ViaService": f"{service}.{context.region}.amazonaws.com",
                        }
                    },
                },
                {
                    "Sid": "Allow direct access to key metadata to the account",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{context.partition}:iam::{context.account}:root"},
                    "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
                    "Resource": "*",
                },
            ],
        },
    )


# --- what a KMS-encrypted resource asks of its caller ------------------------------------------

KMS_NEEDS: dict[str, dict[str, tuple[tuple[str, ...], str]]] = {
    # DynamoDB decrypts the table key with the caller's identity on first access, reads and
    # writes alike ("Monitoring DynamoDB interaction with AWS KMS", Decrypt: "The user is the
    # principal in your AWS account who is accessing the table").
    "dynamodb": {
        "*": (
            ("kms:Decrypt",),
            "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
            "encryption.usagenotes.html#dynamodb-kms-authz",
        )
    },
    # SSE-KMS: an upload needs GenerateDataKey (and Decrypt when multipart), a download Decrypt
    # ("Permissions", https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html).
    "s3": {
        "s3:PutObject": (
            ("kms:GenerateDataKey",),
            "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html",
        ),
        "s3:GetObject": (
            ("kms:Decrypt",),
            "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html",
        ),
    },
    # SSE with a KMS key: producers need GenerateDataKey and Decrypt, consumers Decrypt
    # ("Key management", SQS developer guide).
    "sqs": {
        "sqs:SendMessage": (
            ("kms:GenerateDataKey", "kms:Decrypt"),
            "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/"
            "sqs-key-management.html",
        ),
        "sqs:ReceiveMessage": (
            ("kms:Decrypt",),
            "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/"
            "sqs-key-management.html",
        ),
    },
    # Reading a secret decrypts it with the caller's kms:Decrypt through Secrets Manager
    # ("Secret encryption and decryption in AWS Secrets Manager").
    "secretsmanager": {
        "secretsmanager:GetSecretValue": (
            ("kms:Decrypt",),
            "https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html",
        )
    },
}
"""Per service, per action (``*``: every item action): the KMS actions the caller needs
when the resource is encrypted with a KMS key, and the page that says so."""


GRANTEE_SERVICES = {
    # "When you create a repository with KMS encryption enabled, ... Amazon ECR adds an AWS KMS
    # grant to the KMS key with the Amazon ECR repository as the grantee principal", and uses
    # it to encrypt and decrypt the layers: a pull asks nothing of the caller's KMS rights.
    "ecr": "https://docs.aws.amazon.com/AmazonECR/latest/userguide/encryption-at-rest.html",
}
"""Services that use a resource's key through a grant of their own, not as the caller."""
