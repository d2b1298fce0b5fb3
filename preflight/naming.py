"""AWS's limits on physical names, per Pulumi resource type, and the names auto-naming makes.

One table, keyed by ``(Pulumi type token, input property)`` in the provider's camelCase
names: the length and characters AWS accepts for that name, and where the rule comes from.
Where botocore's service model carries the limit (a shape's ``min``/``max``/``pattern``),
the rule names the shape and reads it from the installed botocore, so the model is the
one definition; where AWS documents the limit only in prose (the model's shape is a bare
``String``), it is written here once with the page it comes from.

Two readers: the settings check (``components/config/settings.py``), which computes every
physical name a configuration derives before any resource exists, and the preflight's
name rule, which checks what the program registered. Pure: standard library and botocore.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

PULUMI_AUTONAME_SUFFIX = 8
"""A resource given no explicit name is named ``<logical name>-<7 random hex digits>``:
https://www.pulumi.com/docs/iac/concepts/resources/names/#autonaming (the AWS provider's
default auto-naming; pulumi-terraform-bridge ``resource.NewUniqueHex(name + "-", 7)``)."""

PREFIXED_UNIQUE_ID_SUFFIX = 26
"""A ``name_prefix``/``bucket_prefix``/``identifier_prefix`` is completed by the provider
with ``id.PrefixedUniqueId``: the prefix, the UTC time as ``YYYYMMDDHHMMSS`` and four
fractional digits (18) and an 8-hex-digit counter, 26 characters in all
(hashicorp/terraform-plugin-sdk ``helper/id/id.go``, ``UniqueIDSuffixLength = 26``, which
terraform-provider-aws's ``create.Name`` calls). So an S3 ``bucket_prefix`` may be at
most 63 - 26 = 37 characters."""

_PREFIX_COMPLETION = "0" * PREFIXED_UNIQUE_ID_SUFFIX
_AUTONAME_COMPLETION = "-" + "0" * (PULUMI_AUTONAME_SUFFIX - 1)

# Java regex constructs botocore's patterns use, in Python's dialect.
_JAVA_CLASSES = {r"\p{Print}": r"\x20-\x7e", r"\p{Alnum}": "A-Za-z0-9"}


@dataclass(frozen=True)
class NameRule:
    """What AWS accepts for one name property of one resource type."""

    type: str
    """Pulumi type token, e.g. ``aws:lb/targetGroup:TargetGroup``."""
    property: str
    """The input property (camelCase), e.g. ``name``, ``namePrefix``, ``bucketPrefix``."""
    max_length: int = 0
    """Longest accepted name (for a prefix property: of the name the provider completes)."""
    pattern: str = ""
    """Python regex the whole (completed) name must match; empty: any characters."""
    form: str = ""
    """The accepted form in words, for messages."""
    source: str = ""
    """The documentation page, or ``botocore <service> <Shape>`` for a modelled limit."""
    min_length: int = 1
    shape: tuple[str, str] | None = None
    """``(service, shape)`` in botocore whose min/max/pattern this rule takes."""
    prefix: bool = False
    """The property is a prefix the provider completes with 26 characters."""

    def resolved(self) -> NameRule:
        """This rule with the botocore shape's limits filled in (where it names one)."""
        if self.shape is None:
            return self
        meta = _shape_metadata(*self.shape)
        pattern = self.pattern or _python_pattern(meta.get("pattern", ""))
        return NameRule(
            self.type,
            self.property,
            self.max_length or int(meta.get("max", 0)),
            pattern,
            self.form,
            self.source or f"botocore {self.shape[0]} {self.shape[1]}",
            int(meta.get("min", self.min_length)),
            None,
            self.prefix,
        )

    def max_value_length(self) -> int:
        """Longest value the property itself may hold (a prefix leaves room for 26)."""
        return self.max_length - (PREFIXED_UNIQUE_ID_SUFFIX if self.prefix else 0)

    def problem(self, value: str) -> str | None:
        """None when AWS accepts ``value`` for this property; else what it accepts."""
        rule = self.resolved()
        limit = rule.max_value_length()
        full = value + _PREFIX_COMPLETION if rule.prefix else value
        what = "a prefix" if rule.prefix else "a name"
        if rule.max_length and len(value) > limit:
            return f"{what} of at most {limit} characters (got {len(value)})"
        if len(full) < rule.min_length:
            return f"{what} of at least {rule.min_length} characters"
        if rule.pattern and not re.fullmatch(rule.pattern, full, re.ASCII):
            return f"{what} of {rule.form or 'the form ' + rule.pattern}"
        return None


@functools.cache
def _shape_metadata(service: str, shape: str) -> dict:
    import botocore.session

    model = botocore.session.get_session().get_service_model(service)
    return dict(model.shape_for(shape).metadata)


def _python_pattern(java: str) -> str:
    pattern = java.removeprefix("^").removesuffix("$")
    for construct, replacement in _JAVA_CLASSES.items():
        inside = f"[{construct}"
        pattern = pattern.replace(inside, f"[{replacement}")
        pattern = pattern.replace(construct, f"[{replacement}]")
    return pattern


# Names shared by several rules.
_ELB = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?"
_ELB_FORM = "letters, digits and '-', not starting or ending with '-'"
_ECS = r"[A-Za-z0-9_-]+"
_ECS_FORM = "letters, digits, '-' and '_'"
# RDS identifiers: a letter first, then letters, digits or single hyphens, no final hyphen.
_RDS = r"[a-z](?:-?[a-z0-9])*"
_RDS_FORM = (
    "lowercase letters, digits and single hyphens, starting with a letter, not ending in '-'"
)
_DOC = "https://docs.aws.amazon.com"

_RULES = (
    NameRule("aws:lb/targetGroup:TargetGroup", "name", 32, _ELB, _ELB_FORM,
             f"{_DOC}/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html"),
    NameRule("aws:lb/loadBalancer:LoadBalancer", "name", 32, r"(?!internal-)" + _ELB,
             _ELB_FORM + ", not starting with 'internal-'",
             f"{_DOC}/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html"),
    NameRule("aws:iam/role:Role", "name", shape=("iam", "roleNameType"),
             form="letters, digits and +=,.@_-"),
    NameRule("aws:iam/role:Role", "namePrefix", shape=("iam", "roleNameType"), prefix=True,
             form="letters, digits and +=,.@_-"),
    NameRule("aws:iam/instanceProfile:InstanceProfile", "name",
             shape=("iam", "instanceProfileNameType"), form="letters, digits and +=,.@_-"),
    NameRule("aws:iam/policy:Policy", "name", shape=("iam", "policyNameType"),
             form="letters, digits and +=,.@_-"),
    NameRule("aws:iam/user:User", "name", shape=("iam", "userNameType"),
             form="letters, digits and +=,.@_-"),
    NameRule("aws:iam/group:Group", "name", shape=("iam", "groupNameType"),
             form="letters, digits and +=,.@_-"),
    NameRule("aws:ecr/repository:Repository", "name", shape=("ecr", "RepositoryName"),
             form="lowercase letters and digits, separated by single '.', '_', '-' or '/'"),
    NameRule("aws:ecs/cluster:Cluster", "name", 255, _ECS, _ECS_FORM,
             f"{_DOC}/AmazonECS/latest/APIReference/API_CreateCluster.html"),
    NameRule("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders", "clusterName", 255,
             _ECS, _ECS_FORM, f"{_DOC}/AmazonECS/latest/APIReference/API_CreateCluster.html"),
    NameRule("aws:ecs/service:Service", "name", 255, _ECS, _ECS_FORM,
             f"{_DOC}/AmazonECS/latest/APIReference/API_CreateService.html"),
    NameRule("aws:ecs/taskDefinition:TaskDefinition", "family", 255, _ECS, _ECS_FORM,
             f"{_DOC}/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html"),
    NameRule("aws:ecs/capacityProvider:CapacityProvider", "name", 255,
             r"(?!aws|ecs|fargate)" + _ECS, _ECS_FORM + ", not starting with aws, ecs or fargate",
             f"{_DOC}/AmazonECS/latest/APIReference/API_CreateCapacityProvider.html"),
    NameRule("aws:appautoscaling/policy:Policy", "name",
             shape=("application-autoscaling", "PolicyName"), form="printable characters"),
    NameRule("aws:cloudwatch/metricAlarm:MetricAlarm", "name",
             shape=("cloudwatch", "AlarmName"), form="any characters"),
    NameRule("aws:cloudwatch/logGroup:LogGroup", "name", shape=("logs", "LogGroupName"),
             form="letters, digits and ._-/#"),
    NameRule("aws:wafv2/webAcl:WebAcl", "name", shape=("wafv2", "EntityName"),
             form="letters, digits, '-' and '_'"),
    NameRule("aws:wafv2/ipSet:IpSet", "name", shape=("wafv2", "EntityName"),
             form="letters, digits, '-' and '_'"),
    NameRule("aws:cloudwatch/logResourcePolicy:LogResourcePolicy", "policyName", 255,
             source=f"{_DOC}/AmazonCloudWatchLogs/latest/APIReference/API_PutResourcePolicy.html"),
    NameRule("aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy", "name", 128,
             r"[A-Za-z0-9_-]+", "letters, digits, '-' and '_'",
             f"{_DOC}/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html"
             "#limits-response-headers-policies"),
    NameRule("aws:cloudwatch/dashboard:Dashboard", "dashboardName", 255, _ECS, _ECS_FORM,
             f"{_DOC}/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html"),
    NameRule("aws:cloudwatch/logDeliverySource:LogDeliverySource", "name",
             shape=("logs", "DeliverySourceName"), form="letters, digits, '_' and '-'"),
    NameRule("aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination", "name",
             shape=("logs", "DeliveryDestinationName"), form="letters, digits, '_' and '-'"),
    NameRule("aws:dynamodb/table:Table", "name", 255, r"[A-Za-z0-9_.-]{3,}",
             "3 or more letters, digits and _.-",
             f"{_DOC}/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html"),
    NameRule("aws:sqs/queue:Queue", "name", 80, r"[A-Za-z0-9_-]+(\.fifo)?",
             "letters, digits, '-' and '_' (a FIFO queue ends in .fifo)",
             f"{_DOC}/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html"),
    NameRule("aws:sns/topic:Topic", "name", 256, r"[A-Za-z0-9_-]+(\.fifo)?",
             "letters, digits, '-' and '_'",
             f"{_DOC}/sns/latest/api/API_CreateTopic.html"),
    NameRule("aws:kms/alias:Alias", "name", pattern=r"alias/(?!aws/)[A-Za-z0-9/_-]+",
             shape=("kms", "AliasNameType"),
             form="alias/ and letters, digits, '/', '_' and '-', not alias/aws/"),
    NameRule("aws:secretsmanager/secret:Secret", "name", pattern=r"[A-Za-z0-9/_+=.@-]+",
             shape=("secretsmanager", "NameType"), form="letters, digits and /_+=.@-",
             source=f"{_DOC}/secretsmanager/latest/apireference/API_CreateSecret.html"),
    NameRule("aws:elasticache/replicationGroup:ReplicationGroup", "replicationGroupId", 40,
             r"[a-z](?:-?[a-z0-9])*", _RDS_FORM,
             f"{_DOC}/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html"),
    NameRule("aws:elasticache/subnetGroup:SubnetGroup", "name", 255, r"[a-z0-9-]+",
             "lowercase letters, digits and '-'",
             f"{_DOC}/AmazonElastiCache/latest/APIReference/API_CreateCacheSubnetGroup.html"),
    NameRule("aws:rds/instance:Instance", "identifier", 63, _RDS, _RDS_FORM,
             f"{_DOC}/AmazonRDS/latest/APIReference/API_CreateDBInstance.html"),
    NameRule("aws:rds/cluster:Cluster", "clusterIdentifier", 63, _RDS, _RDS_FORM,
             f"{_DOC}/AmazonRDS/latest/APIReference/API_CreateDBCluster.html"),
    NameRule("aws:rds/clusterInstance:ClusterInstance", "identifier", 63, _RDS, _RDS_FORM,
             f"{_DOC}/AmazonRDS/latest/APIReference/API_CreateDBInstance.html"),
    NameRule("aws:rds/parameterGroup:ParameterGroup", "name", 255, _RDS, _RDS_FORM,
             f"{_DOC}/AmazonRDS/latest/APIReference/API_CreateDBParameterGroup.html"),
    NameRule("aws:rds/clusterParameterGroup:ClusterParameterGroup", "name", 255, _RDS,
             _RDS_FORM,
             f"{_DOC}/AmazonRDS/latest/APIReference/API_CreateDBClusterParameterGroup.html"),
    NameRule("aws:rds/subnetGroup:SubnetGroup", "name", 255, r"[a-z0-9 ._-]+",
             "lowercase letters, digits, spaces and ._-",
             f"{_DOC}/AmazonRDS/latest/APIReference/API_CreateDBSubnetGroup.html"),
    NameRule("aws:ec2/launchTemplate:LaunchTemplate", "namePrefix", 128,
             r"[A-Za-z0-9().\-/_]{3,}", "letters, digits and ().-/_",
             f"{_DOC}/AWSEC2/latest/APIReference/API_CreateLaunchTemplate.html", prefix=True),
    NameRule("aws:autoscaling/group:Group", "namePrefix", 255, r"[!-9;-~]+",
             "ASCII characters 33-126 other than ':'",
             f"{_DOC}/autoscaling/ec2/APIReference/API_CreateAutoScalingGroup.html", prefix=True),
    NameRule("aws:s3/bucket:Bucket", "bucketPrefix", 63,
             r"[a-z0-9](?:[a-z0-9-]|\.(?!\.))*[a-z0-9]",
             "lowercase letters, digits, '-' and single '.', starting with a letter or digit",
             f"{_DOC}/AmazonS3/latest/userguide/bucketnamingrules.html", prefix=True),
    NameRule("aws:s3/bucket:Bucket", "bucket", 63,
             r"[a-z0-9](?:[a-z0-9-]|\.(?!\.))*[a-z0-9]",
             "lowercase letters, digits, '-' and single '.', starting and ending with a letter or "
             "digit", f"{_DOC}/AmazonS3/latest/userguide/bucketnamingrules.html", min_length=3),
    NameRule("aws:apigatewayv2/api:Api", "name", 128, "", "",
             f"{_DOC}/apigatewayv2/latest/api-reference/apis.html"),
    NameRule("aws:apigatewayv2/vpcLink:VpcLink", "name", 128, "", "",
             f"{_DOC}/apigatewayv2/latest/api-reference/vpclinks.html"),
    NameRule("aws:apigatewayv2/authorizer:Authorizer", "name", 128, "", "",
             f"{_DOC}/apigatewayv2/latest/api-reference/apis-apiid-authorizers.html"),
    NameRule("aws:lambda/function:Function", "name", 64, r"[A-Za-z0-9_-]+",
             "letters, digits, '-' and '_'",
             f"{_DOC}/lambda/latest/api/API_CreateFunction.html"),
    NameRule("aws:cloudfront/originAccessControl:OriginAccessControl", "name", 64, "", "",
             f"{_DOC}/cloudfront/latest/APIReference/API_OriginAccessControlConfig.html"),
)  # fmt: skip

NAME_RULES: dict[tuple[str, str], NameRule] = {(r.type, r.property): r for r in _RULES}
"""Every name rule by ``(type token, property)``."""


def rule_for(type_token: str, prop: str) -> NameRule | None:
    return NAME_RULES.get((type_token, prop))


def problem(type_token: str, prop: str, value: str) -> str | None:
    """None when AWS accepts ``value`` as ``prop`` of a ``type_token``, else what it accepts.

    A type or property without a rule here is accepted.
    """
    rule = rule_for(type_token, prop)
    return rule.problem(value) if rule else None


def autoname(logical_name: str) -> str:
    """A stand-in for the physical name Pulumi gives a resource with no explicit name."""
    return logical_name + _AUTONAME_COMPLETION


# --- tags ---------------------------------------------------------------------------
# The characters every service accepts in tags: the AWS tagging best-practices guide
# (https://docs.aws.amazon.com/whitepapers/latest/tagging-best-practices/
# tagging-best-practices.html, "Tag naming limits and requirements") and the services that
# model them, e.g. botocore efs TagKey ^(?![aA]{1}[wW]{1}[sS]{1}:)([\p{L}\p{Z}\p{N}_.:/=+\-@]+)$
# and TagValue ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$, min/max read from those shapes.
TAG_SOURCE = "botocore efs TagKey/TagValue; AWS tagging best practices"
_TAG_PUNCTUATION = frozenset("_.:/=+-@")


def _tag_characters_ok(text: str) -> bool:
    import unicodedata

    return all(c in _TAG_PUNCTUATION or unicodedata.category(c)[0] in "LZN" for c in text)


def tag_key_problem(key: str) -> str | None:
    """None for a tag key every service accepts, else the accepted form."""
    meta = _shape_metadata("efs", "TagKey")
    low, high = int(meta.get("min", 1)), int(meta["max"])
    if not low <= len(key) <= high or key.lower().startswith("aws:") or not _tag_characters_ok(key):
        return (
            f"a key of {low}-{high} letters, digits, spaces and _.:/=+-@, not starting with 'aws:'"
        )
    return None


def tag_value_problem(value: str) -> str | None:
    """None for a tag value every service accepts, else the accepted form."""
    high = int(_shape_metadata("efs", "TagValue")["max"])
    if len(value) > high or not _tag_characters_ok(value):
        return f"a value of at most {high} letters, digits, spaces and _.:/=+-@"
    return None
