"""Where the program's IAM policy documents live, and what kind each is.

Each entry names the property of a resource type that holds a policy document (JSON
text, as ``aws.iam.get_policy_document`` renders it) and its kind: an identity policy
(attached to a role, user or group), a resource policy (on a bucket, queue, topic, API,
secret or log group), a role's trust policy, or a KMS key policy. The kind decides which
rules apply: a resource policy names principals, a trust policy's conditions must be keys
the service sends when it assumes the role, a key policy must not lock the account out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from preflight.model import Resource

IDENTITY = "identity"
RESOURCE = "resource"
TRUST = "trust"
KEY = "key"

# (type token, property path) -> kind. A path ending in "[].policy" is a list of objects.
DOCUMENTS: dict[tuple[str, str], str] = {
    ("aws:iam/role:Role", "assumeRolePolicy"): TRUST,
    ("aws:iam/role:Role", "inlinePolicies[].policy"): IDENTITY,
    ("aws:iam/rolePolicy:RolePolicy", "policy"): IDENTITY,
    ("aws:iam/policy:Policy", "policy"): IDENTITY,
    ("aws:iam/userPolicy:UserPolicy", "policy"): IDENTITY,
    ("aws:iam/groupPolicy:GroupPolicy", "policy"): IDENTITY,
    ("aws:kms/key:Key", "policy"): KEY,
    ("aws:kms/keyPolicy:KeyPolicy", "policy"): KEY,
    ("aws:s3/bucketPolicy:BucketPolicy", "policy"): RESOURCE,
    ("aws:sqs/queuePolicy:QueuePolicy", "policy"): RESOURCE,
    ("aws:sqs/queue:Queue", "policy"): RESOURCE,
    ("aws:sns/topicPolicy:TopicPolicy", "policy"): RESOURCE,
    ("aws:sns/topic:Topic", "policy"): RESOURCE,
    ("aws:ecr/repositoryPolicy:RepositoryPolicy", "policy"): RESOURCE,
    ("aws:secretsmanager/secretPolicy:SecretPolicy", "policy"): RESOURCE,
    ("aws:apigateway/restApi:RestApi", "policy"): RESOURCE,
    ("aws:apigateway/restApiPolicy:RestApiPolicy", "policy"): RESOURCE,
    ("aws:cloudwatch/logResourcePolicy:LogResourcePolicy", "policyDocument"): RESOURCE,
}


IMPLICIT_RESOURCE = frozenset({"aws:ecr/repositoryPolicy:RepositoryPolicy"})
"""Resource policies that apply to the one resource they are set on and name no
``Resource``: an ECR repository policy ("Private repository policy examples in Amazon ECR",
https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-policy-examples.html: no
example carries the element; the repository is the policy's resource)."""


@dataclass(frozen=True)
class Document:
    """One policy document of a resource."""

    resource: Resource
    path: str
    kind: str
    body: dict[str, Any]

    def statements(self) -> list[dict[str, Any]]:
        statements = self.body.get("Statement", [])
        return [statements] if isinstance(statements, dict) else list(statements)


def as_list(value: Any) -> list[Any]:
    """A policy element that may be one value or a list, as a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _parse(text: Any) -> dict[str, Any] | None:
    if isinstance(text, dict):
        return text
    if not isinstance(text, str) or not text.strip():
        return None  # unknown during a real preview, or not set
    try:
        body = json.loads(text)
    except ValueError:
        return None  # reported by the rule that checks documents are JSON
    return body if isinstance(body, dict) else None


def documents(resources: list[Resource]) -> Iterator[Document]:
    """Every policy document the resources carry."""
    for r in resources:
        for (type_, path), kind in DOCUMENTS.items():
            if r.type != type_:
                continue
            if "[]." in path:
                head, _, leaf = path.partition("[].")
                for i, item in enumerate(r.props.get(head) or []):
                    if isinstance(item, dict) and (body := _parse(item.get(leaf))) is not None:
                        yield Document(r, f"{head}.{i}.{leaf}", kind, body)
            elif (body := _parse(r.get(path))) is not None:
                yield Document(r, path, kind, body)
