"""The platform's security baseline as Pulumi policies (DEVELOPERS.md, "Secure by default").

Each rule is a plain function over a resource's type and input properties (or over all
resources, for rules that relate several), returning the violations as messages. The
``POLICIES`` list wraps them for ``pulumi preview --policy-pack policy``; the unit tests
call the same functions over every resource the mock engine captures for dev and prod.
"""

from __future__ import annotations

import functools
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
from components.lib import provider_keys  # noqa: E402
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
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Input name -> URNs that input comes from, where the engine says (a preview does; the
    mocks record only :attr:`dependencies`)."""
    unknown: frozenset[str] = frozenset()
    """Dotted paths of inputs a preview does not know yet; :attr:`props` leaves them out."""


def _get(props: Mapping[str, Any], path: str, default: Any = None) -> Any:
    return at_path(props, path, default)


def _truthy(value: Any) -> bool:
    return value is True or value == "true"


def _unknown(r: Resource, path: str) -> bool:
    """A preview does not know ``path`` of ``r`` (or the object holding it) yet."""
    return any(path == u or path.startswith(f"{u}.") for u in r.unknown)


def _sources(r: Resource, prop: str) -> tuple[str, ...]:
    """URNs ``r``'s input ``prop`` comes from: the engine's property dependencies where it gives
    them (a preview), else every dependency of ``r`` (the mocks record no more)."""
    if r.property_dependencies:
        return tuple(r.property_dependencies.get(prop, ()))
    return r.dependencies


def _links(
    links: Iterable[Resource], prop: str, targets: Iterable[Resource]
) -> tuple[dict[str, list[Resource]], list[Resource]]:
    """Which of ``targets`` each of ``links`` names in its input ``prop`` (an ARN or ID).

    A link names a target when ``prop`` equals the target's known ``arn`` or ``id`` (a
    deployed stack) or comes from the target's outputs (its dependencies: what a preview,
    which knows no new ARN, and the mocks relate). Returns target URN -> its links, and the
    links whose ``prop`` is unknown and comes from no target: those the rule cannot judge.
    """
    targets = list(targets)
    urns = {t.urn for t in targets}
    by_id = {str(t.props[k]): t.urn for t in targets for k in ("arn", "id") if t.props.get(k)}
    named: dict[str, list[Resource]] = {}
    unresolved = []
    for link in links:
        value = _get(link.props, prop)
        found = {u for u in _sources(link, prop) if u in urns}
        if value is not None and str(value) in by_id:
            found.add(by_id[str(value)])
        for urn in found:
            named.setdefault(urn, []).append(link)
        if not found and value is None:  # unknown (or absent): names nothing we can see
            unresolved.append(link)
    return named, unresolved


def _cannot_judge(subject: str, unresolved: list[Resource], prop: str) -> str:
    names = ", ".join(u.urn for u in unresolved)
    return (
        f"{subject}: cannot judge: {names} may cover it, but its {prop} is unknown in this "
        "preview and comes from no resource of the stack (run the policy on `pulumi up`, or "
        "pass the resource's output itself)"
    )


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


def log_groups_encrypted(type_: str, props: Mapping[str, Any]) -> list[str]:
    """Log groups are encrypted with a customer-managed KMS key.

    Checkov CKV_AWS_158 ("Ensure that CloudWatch Log Group is encrypted by KMS"); AWS Config
    ``cloudwatch-log-group-encrypted`` (no FSBP control covers it). In a preview that creates
    the key, ``kmsKeyId`` is unknown: reading it raises pulumi_policy's UnknownValueError,
    which the pack reports as "can't run policy during preview" (never a pass); ``pulumi up``
    judges the real value.
    """
    if type_ == "aws:cloudwatch/logGroup:LogGroup" and not props.get("kmsKeyId"):
        return ["log groups must be encrypted with a KMS key (kmsKeyId)"]
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
    "log-groups-encrypted": (
        "CloudWatch log groups are encrypted with a KMS key.",
        log_groups_encrypted,
    ),
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
    """Public listeners serve HTTPS; plain HTTP only redirects to HTTPS (unless allowed: dev).

    FSBP ELB.1; Checkov CKV2_AWS_20. A redirect without ``protocol`` keeps the request's own
    (``#{protocol}``, HTTP here), so it must name HTTPS.
    """
    if allow_plain_http:
        return []
    problems = []
    for r in resources:
        if r.type != "aws:lb/listener:Listener" or r.props.get("protocol") != "HTTP":
            continue
        actions = r.props.get("defaultActions") or []
        if not actions or any(
            a.get("type") != "redirect" or _get(a, "redirect.protocol") != "HTTPS" for a in actions
        ):
            problems.append(f"{r.urn} serves plain HTTP; expected a redirect to HTTPS")
    return problems


# --- issue 14: WAF, execution logging, edge TLS, rotation -----------------------------------

LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
REST_API = "aws:apigateway/restApi:RestApi"
REST_STAGE = "aws:apigateway/stage:Stage"
METHOD_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
WS_API = "aws:apigatewayv2/api:Api"
WS_STAGE = "aws:apigatewayv2/stage:Stage"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
WEB_ACL_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
EXECUTION_LOG_LEVELS = ("ERROR", "INFO")
MAX_ROTATION_DAYS = 90
"""FSBP SecretsManager.4's default ``maxDaysSinceRotation``; Checkov CKV_AWS_304's bound."""


def _one_of(by_urn: Mapping[str, Resource], urns: Iterable[str], type_: str) -> Resource | None:
    return next((by_urn[u] for u in urns if u in by_urn and by_urn[u].type == type_), None)


def _internet_facing(r: Resource, by_urn: Mapping[str, Resource]) -> str | None:
    """What ``r`` is if it is an internet-facing endpoint a regional web ACL can cover."""
    if r.type == LOAD_BALANCER:
        # Unknown or unset ``internal`` counts as internet-facing: AWS's default.
        internal = _truthy(r.props.get("internal"))
        application = r.props.get("loadBalancerType", "application") == "application"
        return "application load balancer" if application and not internal else None
    if r.type == REST_STAGE:
        # A stage whose API is not found, or whose endpoint types are unknown, is judged as
        # internet-facing: EDGE is the default.
        api = _one_of(by_urn, _sources(r, "restApi"), REST_API)
        types = _get(api.props, "endpointConfiguration.types") if api else None
        types = [types] if isinstance(types, str) else list(types or [])
        return None if "PRIVATE" in types else "REST API stage"
    return None


def waf_on_internet_endpoints(resources: Iterable[Resource], production: bool = True) -> list[str]:
    """In production, a WAF web ACL in front of every internet-facing endpoint.

    Application load balancers that are not internal: FSBP ELB.16, Checkov CKV2_AWS_28. REST
    API stages whose API is not PRIVATE: FSBP APIGateway.4, Checkov CKV2_AWS_29. Each needs
    an ``aws.wafv2.WebAclAssociation`` whose ``resourceArn`` is its ARN: equal to its known
    ARN, or (a preview, the mocks) coming from its outputs. CloudFront distributions need a
    ``webAclId``: FSBP CloudFront.6, Checkov CKV_AWS_68; an unknown one passes only when it
    comes from a web ACL of the stack. What cannot be told is reported as "cannot judge".
    """
    if not production:
        return []
    resources = list(resources)
    by_urn = {r.urn: r for r in resources}
    endpoints = {r.urn: kind for r in resources if (kind := _internet_facing(r, by_urn))}
    associations = [r for r in resources if r.type == WEB_ACL_ASSOCIATION]
    covered, unresolved = _links(associations, "resourceArn", (by_urn[u] for u in endpoints))
    problems = []
    for urn, kind in endpoints.items():
        if urn in covered:
            continue
        if unresolved:
            problems.append(_cannot_judge(urn, unresolved, "resourceArn"))
        else:
            problems.append(
                f"{urn}: internet-facing {kind} without a WAF web ACL (no "
                "aws.wafv2.WebAclAssociation names it)"
            )
    for r in resources:
        if r.type != DISTRIBUTION or r.props.get("webAclId"):
            continue
        if not _unknown(r, "webAclId"):
            problems.append(f"{r.urn}: CloudFront distribution without a WAF web ACL (webAclId)")
        elif not _one_of(by_urn, _sources(r, "webAclId"), WEB_ACL):
            problems.append(
                f"{r.urn}: cannot judge: webAclId is unknown in this preview and comes from no "
                "web ACL of the stack"
            )
    return problems


def _judges_all_methods(settings: Resource) -> list[str]:
    """What one REST ``MethodSettings`` lacks for execution logging of every method."""
    missing = []
    if settings.props.get("methodPath") != "*/*":
        missing.append("methodPath */*")
    level = _get(settings.props, "settings.loggingLevel")
    if level not in EXECUTION_LOG_LEVELS:
        missing.append("settings.loggingLevel ERROR or INFO")
    if not _truthy(_get(settings.props, "settings.metricsEnabled")):
        missing.append("settings.metricsEnabled true")
    return missing


def _rest_stage_logging(stage: Resource, settings: list[Resource], unresolved: list[Resource]):
    if any(not _judges_all_methods(m) for m in settings):
        return None
    if not settings and unresolved:
        return _cannot_judge(stage.urn, unresolved, "stageName")
    paths = ("methodPath", "settings.loggingLevel", "settings.metricsEnabled")
    if any(_unknown(m, path) for m in settings for path in paths):
        return f"{stage.urn}: cannot judge: its method settings are unknown in this preview"
    lacking = "; ".join(f"{m.urn} lacks {', '.join(_judges_all_methods(m))}" for m in settings)
    return (
        f"{stage.urn}: REST stage without execution logging: expected an "
        "aws.apigateway.MethodSettings with methodPath */*, settings.loggingLevel ERROR or "
        f"INFO and settings.metricsEnabled true ({lacking or 'none names it'})"
    )


def _websocket_stage_logging(stage: Resource, by_urn: Mapping[str, Resource]) -> str | None:
    if _get(stage.props, "defaultRouteSettings.loggingLevel") in EXECUTION_LOG_LEVELS:
        return None
    api = _one_of(by_urn, _sources(stage, "apiId"), WS_API)
    if api is None:
        api = next((r for r in by_urn.values() if r.type == WS_API and r.props.get("id")
                    and r.props.get("id") == stage.props.get("apiId")), None)  # fmt: skip
    protocol = api.props.get("protocolType") if api else None
    if protocol == "HTTP":
        return None  # HTTP APIs have access logs only, no execution logging
    if _unknown(stage, "defaultRouteSettings.loggingLevel"):
        return f"{stage.urn}: cannot judge: its loggingLevel is unknown in this preview"
    if protocol != "WEBSOCKET":
        why = "its API's protocolType is unknown" if api else "its API is not in the stack"
        return f"{stage.urn}: cannot judge whether it is a WebSocket stage: {why}"
    return (
        f"{stage.urn}: WebSocket stage without execution logging: expected "
        "defaultRouteSettings.loggingLevel ERROR or INFO"
    )


def execution_logging(resources: Iterable[Resource]) -> list[str]:
    """Every REST and WebSocket API stage writes execution logs.

    FSBP APIGateway.1 (loggingLevel ERROR or INFO on every stage); Checkov CKV2_AWS_4 (a REST
    stage's ``aws_api_gateway_method_settings`` with that level and metrics enabled). A REST
    stage needs an ``aws.apigateway.MethodSettings`` for all its methods (``*/*``) naming it:
    coming from the stage's outputs, or with the stage's ``stageName`` and the same REST API.
    A WebSocket stage needs ``defaultRouteSettings.loggingLevel``.
    """
    resources = list(resources)
    by_urn = {r.urn: r for r in resources}
    all_settings = [r for r in resources if r.type == METHOD_SETTINGS]
    problems = []
    for stage in (r for r in resources if r.type == REST_STAGE):
        apis = {u for u in _sources(stage, "restApi") if u in by_urn}
        mine, unresolved = [], []
        for m in all_settings:
            same_api = (m.props.get("restApi") is not None
                        and m.props.get("restApi") == stage.props.get("restApi")) or bool(
                apis & set(_sources(m, "restApi")))  # fmt: skip
            name = m.props.get("stageName")
            if stage.urn in _sources(m, "stageName") or (
                same_api and name is not None and name == stage.props.get("stageName")
            ):
                mine.append(m)
            elif name is None and (same_api or m.props.get("restApi") is None):
                unresolved.append(m)
        if problem := _rest_stage_logging(stage, mine, unresolved):
            problems.append(problem)
    for stage in (r for r in resources if r.type == WS_STAGE):
        if problem := _websocket_stage_logging(stage, by_urn):
            problems.append(problem)
    return problems


# The ELB security policies that accept TLS 1.2 and/or 1.3 and refuse TLS 1.0 and 1.1, from
# "Security policies for your Application Load Balancer" (Elastic Load Balancing User Guide,
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html,
# and the same page for Network Load Balancers' TLS listeners), read on 2026-12-02. Left out
# on purpose: ELBSecurityPolicy-2016-08 (what the API uses when no policy is given) and -2015-05,
# TLS-1-0-2015-04, TLS-1-1-2017-01, FS-2018-06, FS-1-1-2019-08, TLS13-1-0-*, TLS13-1-1-*, which
# all still accept TLS 1.0 or 1.1. A policy AWS adds later is refused until listed here.
ELB_TLS12_POLICIES = frozenset({
    # TLS 1.2 only
    "ELBSecurityPolicy-TLS-1-2-2017-01", "ELBSecurityPolicy-TLS-1-2-Ext-2018-06",
    "ELBSecurityPolicy-FS-1-2-2019-08", "ELBSecurityPolicy-FS-1-2-Res-2019-08",
    "ELBSecurityPolicy-FS-1-2-Res-2020-10",
    # TLS 1.2 and 1.3
    "ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06", "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04", "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-Ext0-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-Ext1-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-Ext2-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-PQ-2025-09", "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-2-Ext1-PQ-2025-09", "ELBSecurityPolicy-TLS13-1-2-Ext2-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-2-FIPS-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-2-Ext0-FIPS-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-2-Ext1-FIPS-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-2-Ext2-FIPS-PQ-2025-09",
    # TLS 1.3 only
    "ELBSecurityPolicy-TLS13-1-3-2021-06", "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09", "ELBSecurityPolicy-TLS13-1-3-FIPS-PQ-2025-09",
})  # fmt: skip


@functools.cache
def cloudfront_tls12_versions() -> frozenset[str]:
    """CloudFront viewer policies of TLSv1.2_2019 or newer: TLS 1.2+ only, strong ciphers.

    Read from the CloudFront API's own model (botocore's ``MinimumProtocolVersion`` enum), so
    a policy AWS adds (TLSv1.2_2025, TLSv1.3_2025) is known without an edit here.
    """
    import botocore.session

    model = botocore.session.get_session().get_service_model("cloudfront")
    return frozenset(
        v
        for v in model.shape_for("MinimumProtocolVersion").enum
        if (m := re.fullmatch(r"TLSv1\.[23]_(\d{4})", v)) and int(m.group(1)) >= 2019
    )


def _distribution_tls(r: Resource, production: bool) -> str | None:
    if _truthy(_get(r.props, "viewerCertificate.cloudfrontDefaultCertificate")):
        if not production:
            return None  # dev: no domain, so the *.cloudfront.net certificate (documented)
        return (
            f"{r.urn}: uses the default *.cloudfront.net certificate, which accepts TLS 1.0 "
            "whatever minimumProtocolVersion says (FSBP CloudFront.7); expected a custom "
            "certificate with TLSv1.2_2021"
        )
    version = _get(r.props, "viewerCertificate.minimumProtocolVersion")
    if version in cloudfront_tls12_versions():
        return None
    if _unknown(r, "viewerCertificate.minimumProtocolVersion") or (
        production and _unknown(r, "viewerCertificate.cloudfrontDefaultCertificate")
    ):
        return f"{r.urn}: cannot judge: its viewer certificate is unknown in this preview"
    return (
        f"{r.urn}: viewerCertificate.minimumProtocolVersion is {version!r}; expected TLSv1.2_2019"
        " or newer (TLSv1.2_2021 preferred)"
    )


def edge_tls(resources: Iterable[Resource], production: bool = True) -> list[str]:
    """Every edge refuses TLS 1.0 and 1.1.

    CloudFront viewers: ``minimumProtocolVersion`` TLSv1.2_2019 or newer (Checkov
    CKV_AWS_174), and in production never the default certificate, which cannot refuse TLS
    1.0 (FSBP CloudFront.7; CKV_AWS_174 fails it too). HTTPS and TLS listeners: a security
    policy from :data:`ELB_TLS12_POLICIES` (FSBP ELB.17; Checkov CKV_AWS_103). Plain HTTP
    listeners are :func:`https_listeners`' part.
    """
    problems = []
    for r in resources:
        if r.type == DISTRIBUTION and (problem := _distribution_tls(r, production)):
            problems.append(problem)
        if r.type == "aws:lb/listener:Listener" and r.props.get("protocol") in ("HTTPS", "TLS"):
            policy = r.props.get("sslPolicy")
            if policy in ELB_TLS12_POLICIES:
                continue
            if _unknown(r, "sslPolicy"):
                problems.append(f"{r.urn}: cannot judge: sslPolicy is unknown in this preview")
            else:
                problems.append(
                    f"{r.urn}: sslPolicy {policy or 'unset (ELBSecurityPolicy-2016-08)'} accepts"
                    " TLS below 1.2; expected one of ELB_TLS12_POLICIES (policy/baseline.py), "
                    "e.g. ELBSecurityPolicy-TLS13-1-2-2021-06"
                )
    return problems


_RATE = re.compile(r"rate\(\s*(\d+)\s+(day|days|hour|hours)\s*\)")


def _rotation_schedule(rotation: Resource) -> str | None:
    """What is wrong with one SecretRotation's automatic schedule (None: rotates often enough)."""
    days = _get(rotation.props, "rotationRules.automaticallyAfterDays")
    expression = _get(rotation.props, "rotationRules.scheduleExpression")
    if days is not None:
        every = float(days)
    elif isinstance(expression, str) and (m := _RATE.fullmatch(expression.strip())):
        every = int(m.group(1)) / (24 if m.group(2).startswith("hour") else 1)
    elif isinstance(expression, str) and expression.strip().startswith("cron("):
        return None  # AWS allows at most one rotation window per day: often enough
    elif _unknown(rotation, "rotationRules"):
        return "cannot judge: its rotationRules are unknown in this preview"
    else:
        return "no automatic schedule (rotationRules.automaticallyAfterDays or scheduleExpression)"
    if not 0 < every <= MAX_ROTATION_DAYS:
        return f"rotates every {every:g} days; expected 1 to {MAX_ROTATION_DAYS}"
    return None


def _provider_key(secret: Resource) -> bool:
    """An AI provider's API key (rotated at the provider): name and tag both say so."""
    key, value = provider_keys.NOT_ROTATED_TAG
    return provider_keys.is_provider_key_secret(secret.urn.rsplit("::", 1)[-1]) and (
        (_get(secret.props, "tags") or {}).get(key) == value
    )


def secrets_rotate(resources: Iterable[Resource]) -> list[str]:
    """Every secret the stack creates rotates automatically, at least every 90 days.

    FSBP SecretsManager.1 (automatic rotation) and SecretsManager.4 (rotated within 90 days);
    Checkov CKV2_AWS_57 (a secret with an ``aws_secretsmanager_secret_rotation``) and
    CKV_AWS_304 (within 90 days). The rotation names the secret in ``secretId``: equal to its
    known ARN or ID, or coming from its outputs. The RDS-managed master secret is AWS's,
    not a resource of the stack, and rotates on its own. Exempt, and only these: the AI
    providers' API keys of the vision validator (``components/lib/provider_keys.py``, which
    says why they cannot rotate), known by their logical name *and* their tag
    ``Rotation=at-the-provider``.
    """
    resources = list(resources)
    secrets = [r for r in resources if r.type == SECRET and not _provider_key(r)]
    rotations = [r for r in resources if r.type == SECRET_ROTATION]
    named, unresolved = _links(rotations, "secretId", secrets)
    problems = []
    for secret in secrets:
        mine = named.get(secret.urn, [])
        if not mine:
            problems.append(
                _cannot_judge(secret.urn, unresolved, "secretId")
                if unresolved
                else f"{secret.urn}: secret without rotation (no "
                "aws.secretsmanager.SecretRotation names it)"
            )
            continue
        found = [_rotation_schedule(r) for r in mine]
        if all(found):
            lacking = "; ".join(f"{r.urn}: {w}" for r, w in zip(mine, found, strict=True))
            problems.append(f"{secret.urn}: {lacking}")
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
    "execution-logging": (
        "REST and WebSocket API stages write execution logs (ERROR or INFO; REST metrics).",
        execution_logging,
    ),
    "secrets-rotate": (
        "Every secret the stack creates rotates automatically, at least every 90 days.",
        secrets_rotate,
    ),
}

# Rules that ask more of a production stack: rule(resources, production) -> violations. The
# pack's config says which stack is not production (policy/dev-config.json); unset means
# production, so a stack that forgets the config is held to the stricter rules.
PRODUCTION_RULES: dict[str, tuple[str, Callable[..., list[str]]]] = {
    "waf-internet-endpoints": (
        "In production, a WAF web ACL covers every internet-facing ALB, REST stage and "
        "CloudFront distribution.",
        waf_on_internet_endpoints,
    ),
    "edge-tls": (
        "Every edge refuses TLS below 1.2: CloudFront's viewer policy (and, in production, a "
        "custom certificate) and each HTTPS/TLS listener's security policy.",
        edge_tls,
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


def check_all(
    resources: list[Resource], allow_plain_http: bool = False, production: bool = True
) -> dict[str, list[str]]:
    """Every rule over ``resources``: rule name -> violations (empty lists left out).

    ``allow_plain_http`` and ``production`` are the pack config dev sets
    (policy/dev-config.json): plain HTTP listeners, and the production-only rules' parts.
    """
    found: dict[str, list[str]] = {}
    for name, (_, rule) in RESOURCE_RULES.items():
        problems = [f"{r.urn}: {p}" for r in resources for p in rule(r.type, r.props)]
        if problems:
            found[name] = problems
    for name, (_, rule) in STACK_RULES.items():
        if problems := rule(resources):
            found[name] = problems
    for name, (_, rule) in PRODUCTION_RULES.items():
        if problems := rule(resources, production):
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


def unknown_paths(value: Any, path: str = "") -> frozenset[str]:
    """The dotted paths of ``value`` (props behind pulumi_policy's proxies) a preview does not
    know yet: what :func:`plain` leaves out, so that a rule can say "cannot judge"."""
    found: set[str] = set()
    if isinstance(value, str):
        return frozenset({path}) if value in _UNKNOWN else frozenset()
    if isinstance(value, Mapping):
        keys: Iterable[Any] = list(value)
    elif isinstance(value, Sequence):
        keys = range(len(value))
    else:
        return frozenset()
    for key in keys:
        sub = f"{path}.{key}" if path else str(key)
        try:
            item = value[key]
        except policy_proxy.UnknownValueError:
            found.add(sub)
            continue
        found |= unknown_paths(item, sub)
    return frozenset(found)


def _stack_resources(args: StackValidationArgs) -> list[Resource]:
    return [
        Resource(
            r.resource_type,
            plain(r.props),
            r.urn,
            tuple(d.urn for d in r.dependencies),
            property_dependencies={
                k: tuple(d.urn for d in v)
                for k, v in (getattr(r, "property_dependencies", None) or {}).items()
            },
            unknown=unknown_paths(r.props),
        )
        for r in args.resources
    ]


def _stack_policy(name: str, description: str, rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        for problem in rule(_stack_resources(args)):
            report(problem, None)

    return StackValidationPolicy(name=name, description=description, validate=validate)


def _production_policy(name: str, description: str, rule) -> StackValidationPolicy:
    """A production rule; pack config ``production: false`` (dev) relaxes its production part."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        production = args.get_config().get("production", True) is not False
        for problem in rule(_stack_resources(args), production):
            report(problem, None)

    return StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=PolicyConfigSchema(properties={"production": {"type": "boolean"}}),
    )


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
    *(_production_policy(n, d, rule) for n, (d, rule) in PRODUCTION_RULES.items()),
    _https_policy(),
    _preflight_policy(preflight.ERROR),
    _preflight_policy(preflight.WARNING),
]
ENFORCEMENT = EnforcementLevel.MANDATORY
