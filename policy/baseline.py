"""The platform's security baseline as Pulumi policies (DEVELOPERS.md, "Secure by default").

Each rule is a plain function over a resource's type and input properties (or over all
resources, for rules that relate several), returning the violations as messages. The
``POLICIES`` list wraps them for ``pulumi preview --policy-pack policy``; the unit tests
call the same functions over every resource the mock engine captures for dev and prod.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import proxy as policy_proxy

# The preflight lives beside the pack (../preflight): one implementation for the plan, the
# tests and `pulumi preview --policy-pack policy`, which runs this file from policy/.
_PROJECT = str(Path(__file__).resolve().parent.parent)
if _PROJECT not in sys.path:
    sys.path.append(_PROJECT)

import preflight  # noqa: E402
from preflight import check as preflight_check  # noqa: E402
from preflight.model import at_path  # noqa: E402

WORLD = ("0.0.0.0/0", "::/0")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL", re.I)


@dataclass
class Resource:
    """What a rule sees of a resource: its type, inputs, URN and what it depends on."""

    type: str
    props: Mapping[str, Any]
    urn: str = ""
    dependencies: tuple[str, ...] = ()
    """URNs of the resources its inputs come from."""
    extra: dict[str, Any] = field(default_factory=dict)


def _get(props: Mapping[str, Any], path: str, default: Any = None) -> Any:
    return at_path(props, path, default)


def _truthy(value: Any) -> bool:
    return value is True or value == "true"


# --- resource rules: (type, props) -> violations -------------------------------------------


def encryption_at_rest(type_: str, props: Mapping[str, Any]) -> list[str]:
    """Stateful resources are encrypted at rest."""
    if type_ in ("aws:rds/instance:Instance", "aws:rds/cluster:Cluster") and not _truthy(
        props.get("storageEncrypted")
    ):
        return ["RDS storage must be encrypted (storageEncrypted)"]
    if type_ == "aws:dynamodb/table:Table" and not _truthy(
        _get(props, "serverSideEncryption.enabled")
    ):
        return ["DynamoDB tables must use SSE with a KMS key (serverSideEncryption)"]
    if type_ == "aws:elasticache/replicationGroup:ReplicationGroup" and not (
        _truthy(props.get("atRestEncryptionEnabled"))
        and _truthy(props.get("transitEncryptionEnabled"))
    ):
        return ["ElastiCache must encrypt at rest and in transit"]
    if type_ == "aws:sns/topic:Topic" and not props.get("kmsMasterKeyId"):
        return ["SNS topics must be encrypted (kmsMasterKeyId)"]
    if type_ == "aws:ec2/launchTemplate:LaunchTemplate":
        for mapping in props.get("blockDeviceMappings") or []:
            if not _truthy(_get(mapping, "ebs.encrypted")):
                return ["launch template volumes must be encrypted"]
    return []


def sqs_encrypted(type_: str, props: Mapping[str, Any]) -> list[str]:
    """Every queue uses server-side encryption."""
    if type_ != "aws:sqs/queue:Queue":
        return []
    if _truthy(props.get("sqsManagedSseEnabled")) or props.get("kmsMasterKeyId"):
        return []
    return ["SQS queues must use SSE (sqsManagedSseEnabled or kmsMasterKeyId)"]


def no_public_databases(type_: str, props: Mapping[str, Any]) -> list[str]:
    """No database is reachable from the internet."""
    instance = type_ in ("aws:rds/instance:Instance", "aws:rds/clusterInstance:ClusterInstance")
    if instance and _truthy(props.get("publiclyAccessible")):
        return ["RDS instances must not be publicly accessible"]
    return []


def imdsv2(type_: str, props: Mapping[str, Any]) -> list[str]:
    """Instances require IMDSv2 tokens."""
    instance = type_ in ("aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/instance:Instance")
    if instance and _get(props, "metadataOptions.httpTokens") != "required":
        return ["instances must require IMDSv2 (metadataOptions.httpTokens: required)"]
    return []


def ecr_scanning_and_immutable_tags(type_: str, props: Mapping[str, Any]) -> list[str]:
    """Images are scanned on push and their tags cannot be overwritten."""
    if type_ != "aws:ecr/repository:Repository":
        return []
    problems = []
    if not _truthy(_get(props, "imageScanningConfiguration.scanOnPush")):
        problems.append("ECR repositories must scan on push")
    if props.get("imageTagMutability") != "IMMUTABLE":
        problems.append("ECR repositories must have IMMUTABLE tags")
    return problems


def log_retention(type_: str, props: Mapping[str, Any]) -> list[str]:
    """Log groups expire their events."""
    if type_ == "aws:cloudwatch/logGroup:LogGroup" and not props.get("retentionInDays"):
        return ["log groups must set retentionInDays"]
    return []


def point_in_time_recovery(type_: str, props: Mapping[str, Any]) -> list[str]:
    """Tables can be restored to any second of the last 35 days."""
    if type_ == "aws:dynamodb/table:Table" and not _truthy(
        _get(props, "pointInTimeRecovery.enabled")
    ):
        return ["DynamoDB tables must enable point-in-time recovery"]
    return []


def kms_rotation(type_: str, props: Mapping[str, Any]) -> list[str]:
    """Customer-managed keys rotate."""
    if type_ == "aws:kms/key:Key" and not _truthy(props.get("enableKeyRotation")):
        return ["KMS keys must enable rotation"]
    return []


def no_secrets_in_plain_environment(type_: str, props: Mapping[str, Any]) -> list[str]:
    """Secrets reach containers as ECS secrets, never as plain environment variables."""
    if type_ != "aws:ecs/taskDefinition:TaskDefinition":
        return []

    definitions = props.get("containerDefinitions")
    if isinstance(definitions, str):
        try:
            definitions = json.loads(definitions)
        except ValueError:
            return []
    problems = []
    for container in definitions or []:
        for variable in container.get("environment") or []:
            name = str(variable.get("name", ""))
            if SECRET_NAME.search(name) and not name.endswith(("_ARN", "_ID")):
                problems.append(
                    f"container {container.get('name')!r} has {name} in its plain environment; "
                    "use the task definition's secrets"
                )
    return problems


RESOURCE_RULES: dict[str, tuple[str, Callable[[str, Mapping[str, Any]], list[str]]]] = {
    "encryption-at-rest": ("Stateful resources are encrypted at rest.", encryption_at_rest),
    "sqs-sse": ("SQS queues use server-side encryption.", sqs_encrypted),
    "no-public-databases": ("No RDS instance is publicly accessible.", no_public_databases),
    "imdsv2": ("EC2 instances require IMDSv2.", imdsv2),
    "ecr-scan-immutable": (
        "ECR repositories scan on push and have immutable tags.",
        ecr_scanning_and_immutable_tags,
    ),
    "log-retention": ("CloudWatch log groups set a retention.", log_retention),
    "dynamodb-pitr": ("DynamoDB tables enable point-in-time recovery.", point_in_time_recovery),
    "kms-rotation": ("KMS keys rotate.", kms_rotation),
    "no-plain-secrets": (
        "No secret-looking variable in a container's plain environment.",
        no_secrets_in_plain_environment,
    ),
}


# --- stack rules: all resources -> violations ---------------------------------------------


def buckets_are_private_and_encrypted(resources: Iterable[Resource]) -> list[str]:
    """Each bucket has every public-access block on and default encryption."""
    resources = list(resources)
    guarded: dict[str, set[str]] = {}
    for r in resources:
        if r.type == "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock" and all(
            _truthy(r.props.get(k))
            for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                      "restrictPublicBuckets")
        ):  # fmt: skip
            for urn in r.dependencies:
                guarded.setdefault(urn, set()).add("public-access-block")
        if r.type.startswith("aws:s3/bucketServerSideEncryptionConfiguration:"):
            for urn in r.dependencies:
                guarded.setdefault(urn, set()).add("encryption")
    problems = []
    for r in resources:
        if r.type in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
            missing = {"public-access-block", "encryption"} - guarded.get(r.urn, set())
            if missing:
                problems.append(f"bucket {r.urn} lacks {', '.join(sorted(missing))}")
    return problems


def world_ingress_only_to_load_balancers(resources: Iterable[Resource]) -> list[str]:
    """Only an application load balancer's group is open to the internet, and only on 80/443."""
    resources = list(resources)
    by_urn = {r.urn: r for r in resources}
    lb_groups = {
        urn
        for r in resources
        if r.type == "aws:lb/loadBalancer:LoadBalancer"
        and r.props.get("loadBalancerType", "application") == "application"
        for urn in r.dependencies
        if by_urn.get(urn) and by_urn[urn].type == "aws:ec2/securityGroup:SecurityGroup"
    }
    problems = []
    for r in resources:
        if r.type == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
            rules = [(r.props, r.dependencies)]
        elif r.type == "aws:ec2/securityGroup:SecurityGroup":
            rules = [(rule, (r.urn,)) for rule in r.props.get("ingress") or []]
        else:
            continue
        for rule, groups in rules:
            cidrs = [rule.get("cidrIpv4"), rule.get("cidrIpv6"), *(rule.get("cidrBlocks") or []),
                     *(rule.get("ipv6CidrBlocks") or [])]  # fmt: skip
            if not any(c in WORLD for c in cidrs):
                continue
            ports = (rule.get("fromPort"), rule.get("toPort"))
            on_lb = any(g in lb_groups for g in groups)
            if not (on_lb and ports in ((80, 80), (443, 443))):
                problems.append(
                    f"{r.urn} opens ports {ports[0]}-{ports[1]} to the internet; only an "
                    "application load balancer may, on 80 and 443"
                )
    return problems


def https_listeners(resources: Iterable[Resource], allow_plain_http: bool) -> list[str]:
    """Public listeners serve HTTPS; plain HTTP only redirects (unless allowed: dev)."""
    if allow_plain_http:
        return []
    problems = []
    for r in resources:
        if r.type != "aws:lb/listener:Listener" or r.props.get("protocol") != "HTTP":
            continue
        actions = r.props.get("defaultActions") or []
        if not actions or any(a.get("type") != "redirect" for a in actions):
            problems.append(f"{r.urn} serves plain HTTP; expected a redirect to HTTPS")
    return problems


STACK_RULES: dict[str, tuple[str, Callable[..., list[str]]]] = {
    "private-encrypted-buckets": (
        "Every bucket blocks public access and has default encryption.",
        buckets_are_private_and_encrypted,
    ),
    "world-ingress-only-alb": (
        "Only load balancers accept traffic from the internet, on 80 and 443.",
        world_ingress_only_to_load_balancers,
    ),
}


# --- the preflight: what AWS would refuse ---------------------------------------------------


def preflight_resources(resources: Iterable[Resource]) -> list[preflight.Resource]:
    """The preflight's view of the pack's resources (the logical name ends the URN)."""
    return [
        preflight.Resource(
            type=r.type,
            name=r.urn.rsplit("::", 1)[-1],
            urn=r.urn,
            props=r.props,
            # A stack policy sees a resource's state (its ARN and IDs once known) in props.
            outputs=r.props,
        )
        for r in resources
    ]


_ACCOUNT = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]*:[a-z0-9-]*:(\d{12}):")


def preflight_context(resources: Iterable[Resource], region: str) -> preflight.Context:
    """The stack's context: ``region`` (the provider's), and the account its ARNs name."""
    for r in resources:
        if found := _ACCOUNT.search(json.dumps(r.props, default=str)):
            return preflight.Context(region=region, account=found.group(1))
    return preflight.Context(region=region)


def preflight_findings(resources: list[Resource], region: str) -> list[preflight.Finding]:
    return preflight_check.run(preflight_resources(resources), preflight_context(resources, region))


def check_all(resources: list[Resource], allow_plain_http: bool = False) -> dict[str, list[str]]:
    """Every rule over ``resources``: rule name -> violations (empty lists left out)."""
    found: dict[str, list[str]] = {}
    for name, (_, rule) in RESOURCE_RULES.items():
        problems = [f"{r.urn}: {p}" for r in resources for p in rule(r.type, r.props)]
        if problems:
            found[name] = problems
    for name, (_, rule) in STACK_RULES.items():
        if problems := rule(resources):
            found[name] = problems
    if problems := https_listeners(resources, allow_plain_http):
        found["https-listeners"] = problems
    region = next((r.props.get("region") for r in resources if r.type == "pulumi:providers:aws"),
                  None) or "us-east-1"  # fmt: skip
    errors = preflight_check.errors(preflight_findings(resources, region))
    if errors:
        found["aws-preflight"] = [f.line() for f in errors]
    return found


# --- the pack's policies ------------------------------------------------------------------


def _resource_policy(name: str, description: str, rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        for problem in rule(args.resource_type, args.props):
            report(problem, None)

    return ResourceValidationPolicy(name=name, description=description, validate=validate)


# The values pulumi_policy puts where a preview does not know a property yet.
_UNKNOWN = frozenset(
    v
    for name, v in vars(policy_proxy).items()
    if name.startswith("UNKNOWN_") and isinstance(v, str)
)


def plain(value: Any) -> Any:
    """``value`` as plain dicts and lists, without the properties a preview does not know.

    pulumi_policy hands a stack policy its props behind proxies (a ``Mapping`` and a
    ``Sequence``, not ``dict`` and ``list``) that raise on an unknown value; the rules
    expect plain JSON values and treat an absent property as unknown.
    """
    if isinstance(value, str):
        return None if value in _UNKNOWN else value
    if isinstance(value, Mapping):
        out = {}
        for key in list(value):
            try:
                item = plain(value[key])
            except policy_proxy.UnknownValueError:
                continue
            if item is not None:
                out[key] = item
        return out
    if isinstance(value, Sequence):
        items = []
        for i in range(len(value)):
            try:
                item = plain(value[i])
            except policy_proxy.UnknownValueError:
                continue
            if item is not None:
                items.append(item)
        return items
    return value


def _stack_resources(args: StackValidationArgs) -> list[Resource]:
    return [
        Resource(r.resource_type, plain(r.props), r.urn, tuple(d.urn for d in r.dependencies))
        for r in args.resources
    ]


def _stack_policy(name: str, description: str, rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        for problem in rule(_stack_resources(args)):
            report(problem, None)

    return StackValidationPolicy(name=name, description=description, validate=validate)


def _https_policy() -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        allow = bool(args.get_config().get("allowPlainHttp", False))
        for problem in https_listeners(_stack_resources(args), allow):
            report(problem, None)

    return StackValidationPolicy(
        name="https-listeners",
        description="Load balancer listeners serve HTTPS; HTTP only redirects (dev may allow it).",
        validate=validate,
        config_schema=PolicyConfigSchema(properties={"allowPlainHttp": {"type": "boolean"}}),
    )


def _region(args: StackValidationArgs) -> str:
    """The region the stack's AWS provider targets (policy config ``region`` overrides)."""
    configured = args.get_config().get("region")
    if configured:
        return str(configured)
    for r in args.resources:
        provider = getattr(r, "provider", None)
        if provider is not None and (region := plain(provider.props or {}).get("region")):
            return str(region)
    return "us-east-1"


def _preflight_policy(severity: str) -> StackValidationPolicy:
    """The preflight's errors (mandatory) or warnings (advisory) as a stack policy."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        resources = _stack_resources(args)
        for finding in preflight_findings(resources, _region(args)):
            if finding.severity == severity:
                report(finding.line(), None)

    errors = severity == preflight.ERROR
    return StackValidationPolicy(
        name="aws-preflight" if errors else "aws-preflight-warnings",
        description=(
            "Values AWS would refuse, from its API models and IAM definitions (preflight/)."
            if errors
            else "Values that need a person's attention before deploying (preflight/)."
        ),
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY if errors else EnforcementLevel.ADVISORY,
        config_schema=PolicyConfigSchema(properties={"region": {"type": "string"}}),
    )


POLICIES = [
    *(_resource_policy(n, d, rule) for n, (d, rule) in RESOURCE_RULES.items()),
    *(_stack_policy(n, d, rule) for n, (d, rule) in STACK_RULES.items()),
    _https_policy(),
    _preflight_policy(preflight.ERROR),
    _preflight_policy(preflight.WARNING),
]
ENFORCEMENT = EnforcementLevel.MANDATORY
