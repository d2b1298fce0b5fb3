"""WebAcl: an AWS WAF (v2) web ACL of AWS managed rule groups and per-IP rate limits,
logging to CloudWatch Logs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from components.config.data_platform import MLFLOW_ARTIFACT_PATHS, MLFLOW_LOGIN_PATHS
from components.config.security import (
    LOGIN_RATE_LIMIT_RULE,
    MANAGED_RULE_GROUPS,
    RATE_LIMIT_RULE,
)
from components.lib import names
from components.lib.policies import Condition, Principal, Statement, account_administers_key

if TYPE_CHECKING:
    from components.config.settings import Settings

LOG_GROUP_PREFIX = names.WAF_LOGS_PREFIX
"""WAF delivers to a log group only under this prefix:
https://docs.aws.amazon.com/waf/latest/developerguide/logging-cw-logs.html"""
RATE_WINDOW_SECONDS = 300
"""The rate-based rules count each client IP's requests over 5 minutes (WAF's default
window; it accepts 60, 120, 300 and 600)."""
SQLI_RULE_GROUP = "AWSManagedRulesSQLiRuleSet"
ANONYMOUS_IP_RULE_GROUP = "AWSManagedRulesAnonymousIpList"
BODY_RULE_GROUPS = ("AWSManagedRulesCommonRuleSet", SQLI_RULE_GROUP)
"""The groups whose rules match a request body's content (cross-site scripting, file
inclusion, SQL injection), which a file upload sets off."""
HOSTING_PROVIDER_RULE = "HostingProviderIPList"
"""The anonymous IP list's rule for cloud hosting providers' addresses (the AWS WAF
developer guide, "IP reputation rule groups", the anonymous IP list: AnonymousIPList and
HostingProviderIPList), which only counts here."""
BODY_SIZE_RULE = "SizeRestrictions_BODY"
"""The common rule set's rule that blocks a request body over 8 KB."""


@dataclass(frozen=True)
class WebAclArgs:
    """Inputs of :class:`WebAcl`."""

    name: str
    """Name of the web ACL (letters, digits, '-' and '_'), also the prefix of its metric
    names and of its log group ``aws-waf-logs-<name>``. Required."""
    scope: str
    """``REGIONAL`` (load balancers, API Gateway stages) or ``CLOUDFRONT`` (created through
    a us-east-1 provider). Required."""
    rate_limit: int
    """Requests per client IP in 5 minutes before WAF blocks the IP. Required."""
    login_rate_limit: int = 0
    """A tighter limit on ``login_paths``. Default 0: no such rule."""
    login_paths: Sequence[str] = ()
    """URI path prefixes the login limit counts. Default none."""
    file_upload_paths: Sequence[str] = ()
    """URI prefixes whose bodies are files of any content (MLflow's artifact uploads): the
    body-inspecting common and SQL injection rule groups skip them. Default none."""
    sql_database: bool = False
    """A SQL database is behind the endpoint: add the SQL injection rule set. Default false."""
    large_bodies: bool = False
    """The endpoints take bodies over 8 KB (MLflow's artifact uploads, the agent world's
    documents up to 64 KB, images for ``/validate``) and limit them themselves
    (``MAX_BODY_BYTES``): the common rule set's ``SizeRestrictions_BODY`` only counts.
    Default false."""
    uncounted_cidrs: Sequence[str] = ()
    """Source ranges the rate limits do not count: the VPC, when the agent world's VPC link
    brings every REST API client to the shared load balancer from a few of its addresses
    (the REST stage's own association limits those clients). Default none."""
    count_rules: Sequence[str] = ()
    """Rules (the names in ``components/config/security.py``) that count instead of
    blocking, for a first rollout. Default none."""
    region: str = ""
    """Region of the provider the ACL is created in (its log group's ARN). Required."""
    provider: pulumi.ProviderResource | None = None
    """Provider of every child (us-east-1 for ``CLOUDFRONT``). Default the stack's."""
    log_retention_days: int = 365
    """Retention of the log group. Default 365."""
    log_key_arn: pulumi.Input[str] | None = None
    """KMS key of the log group (of ``region``). Default none (CloudWatch Logs' own)."""
    own_log_key: bool = False
    """Create a KMS key in ``region`` for the log group instead (a stack elsewhere, whose
    logs key cannot serve us-east-1). Default false."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on the ACL, the log group and the key. Default none."""


def _statement_for(rule: str, args: WebAclArgs, uncounted: pulumi.Input[str] | None) -> dict:
    outside = [{"not_statement": {"statement": {"ip_set_reference_statement": {"arn": uncounted}}}}]
    if rule == RATE_LIMIT_RULE:
        if uncounted is None:
            return {"rate_based_statement": _rate(args.rate_limit)}
        return {"rate_based_statement": {**_rate(args.rate_limit),
                                          "scope_down_statement": outside[0]}}  # fmt: skip
    if rule == LOGIN_RATE_LIMIT_RULE:
        return {"rate_based_statement": {
            **_rate(args.login_rate_limit),
            "scope_down_statement": _login_scope(args, outside if uncounted is not None else []),
        }}  # fmt: skip
    group: dict = {"vendor_name": "AWS", "name": rule}
    if rule == "AWSManagedRulesCommonRuleSet" and args.large_bodies:
        group["rule_action_overrides"] = [{"name": BODY_SIZE_RULE, "action_to_use": {"count": {}}}]
    if rule in BODY_RULE_GROUPS and args.file_upload_paths:
        group["scope_down_statement"] = {
            "not_statement": {"statement": _any_of(args.file_upload_paths)}
        }
    if rule == ANONYMOUS_IP_RULE_GROUP:
        # Tor exits and anonymizers are blocked; cloud hosting addresses only count: CI
        # runners and training fleets calling MLflow or the APIs run there.
        group["rule_action_overrides"] = [
            {"name": HOSTING_PROVIDER_RULE, "action_to_use": {"count": {}}}
        ]
    return {"managed_rule_group_statement": group}


def _rate(limit: int) -> dict:
    return {
        "limit": limit,
        "aggregate_key_type": "IP",
        "evaluation_window_sec": RATE_WINDOW_SECONDS,
    }


def _starts_with(prefix: str) -> dict:
    return {
        "byte_match_statement": {
            "search_string": prefix,
            "positional_constraint": "STARTS_WITH",
            "field_to_match": {"uri_path": {}},
            "text_transformations": [{"priority": 0, "type": "NONE"}],
        }
    }


def _any_of(prefixes: Sequence[str]) -> dict:
    matches = [_starts_with(p) for p in prefixes]
    return matches[0] if len(matches) == 1 else {"or_statement": {"statements": matches}}


def _login_scope(args: WebAclArgs, also: list[dict]) -> dict:
    """Requests under ``login_paths`` (and ``also``)."""
    statements = [_any_of(args.login_paths), *also]
    return statements[0] if len(statements) == 1 else {"and_statement": {"statements": statements}}


def rule_names(args: WebAclArgs) -> list[str]:
    """The ACL's rules in priority order (each name is also its metric's suffix)."""
    groups = [g for g in MANAGED_RULE_GROUPS if g != SQLI_RULE_GROUP or args.sql_database]
    login = [LOGIN_RATE_LIMIT_RULE] if args.login_rate_limit and args.login_paths else []
    # Rate limits first: a flood is blocked before the rule groups inspect it.
    return [RATE_LIMIT_RULE, *login, *groups]


def rules(args: WebAclArgs, uncounted: pulumi.Input[str] | None = None) -> list[dict]:
    """The ``rules`` input: managed groups with ``override_action`` (none, or count), rate
    rules with ``action`` (block, or count; not counting the IP set ``uncounted``), every
    one with its metric."""
    out = []
    for priority, rule in enumerate(rule_names(args)):
        counted = rule in args.count_rules
        entry = {
            "name": rule,
            "priority": priority,
            "statement": _statement_for(rule, args, uncounted),
            "visibility_config": _visibility(f"{args.name}-{rule}"),
        }
        if rule in MANAGED_RULE_GROUPS:
            entry["override_action"] = {"count": {}} if counted else {"none": {}}
        else:
            entry["action"] = {"count": {}} if counted else {"block": {}}
        out.append(entry)
    return out


def _visibility(metric: str) -> dict:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric,
            "sampled_requests_enabled": True}  # fmt: skip


class WebAcl(pulumi.ComponentResource):
    """A web ACL that allows by default and blocks what its rules match.

    Creates the ACL (rate limits per client IP, not counting ``uncounted_cidrs`` when
    given, an IP set of its own; then the AWS managed rule groups: common,
    known bad inputs, IP reputation, SQL injection where a SQL database is behind; each
    rule with CloudWatch metrics and sampled requests; any of them in count mode); its log
    group ``aws-waf-logs-<name>`` (retention, KMS key) with the resource policy that lets
    WAF's log delivery (``delivery.logs.amazonaws.com``) of this account write it; the
    logging configuration; optionally a KMS key of its own for the log group. Attach it
    with ``aws.wafv2.WebAclAssociation`` (regional) or a distribution's ``web_acl_id``.
    """

    TYPE = "mlplatform:security:WebAcl"

    acl: aws.wafv2.WebAcl
    """The web ACL."""
    arn: pulumi.Output[str]
    """Its ARN (a CloudFront distribution's ``web_acl_id``)."""
    log_group: aws.cloudwatch.LogGroup
    """The log group WAF writes to."""

    def __init__(self, name: str, args: WebAclArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(self.TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        tags = dict(args.tags)
        uncounted = None
        if args.uncounted_cidrs:
            uncounted = aws.wafv2.IpSet(
                f"{name}-uncounted",
                name=f"{args.name}-uncounted",
                description=f"{args.name}: sources the rate limits do not count",
                scope=args.scope,
                ip_address_version="IPV4",
                addresses=list(args.uncounted_cidrs),
                tags=tags,
                opts=child,
            ).arn
        self.acl = aws.wafv2.WebAcl(
            f"{name}-acl",
            name=args.name,
            description=f"{args.name}: managed rule groups and rate limits per client IP",
            scope=args.scope,
            default_action={"allow": {}},
            rules=rules(args, uncounted),
            visibility_config=_visibility(args.name),
            tags=tags,
            opts=child,
        )
        self.arn = self.acl.arn
        key_arn = self._own_key(name, args, tags, child) if args.own_log_key else args.log_key_arn
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"{LOG_GROUP_PREFIX}{args.name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=key_arn,
            tags=tags,
            opts=child,
        )
        policy = self._delivery_policy(name, args, child)
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-logging",
            resource_arn=self.acl.arn,
            log_destination_configs=[self.log_group.arn],
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[policy]),
        )
        self.register_outputs({"arn": self.arn})

    def _delivery_policy(self, name, args: WebAclArgs, child) -> aws.cloudwatch.LogResourcePolicy:
        """WAF's log delivery may create streams and put events in this log group only, on
        behalf of this account (the WAF developer guide's policy, which WAF would otherwise
        add to the account's ten per region itself)."""
        arn = self.log_group.arn
        account = arn.apply(lambda a: a.split(":")[4])
        logs_of_account = arn.apply(lambda a: a.split(":log-group:")[0] + ":*")
        document = aws.iam.get_policy_document_output(
            statements=[
                Statement(
                    sid="WafLogDelivery",
                    principals=[
                        Principal(type="Service", identifiers=["delivery.logs.amazonaws.com"])
                    ],
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[arn.apply(lambda a: f"{a}:log-stream:*")],
                    conditions=[
                        Condition(test="StringEquals", variable="aws:SourceAccount",
                                  values=[account]),
                        Condition(test="ArnLike", variable="aws:SourceArn",
                                  values=[logs_of_account]),
                    ],
                )
            ],
            opts=pulumi.InvokeOptions(provider=args.provider) if args.provider else None,
        )  # fmt: skip
        return aws.cloudwatch.LogResourcePolicy(
            f"{name}-log-delivery",
            policy_name=f"{LOG_GROUP_PREFIX}{args.name}",
            policy_document=document.json,
            opts=child,
        )

    def _own_key(self, name, args: WebAclArgs, tags, child) -> pulumi.Output[str]:
        """A rotated key in ``region`` that CloudWatch Logs there may use for this account's
        log groups, administered by the account's IAM."""
        identity = aws.get_caller_identity_output(
            opts=pulumi.InvokeOptions(provider=args.provider) if args.provider else None
        )
        account = identity.account_id
        partition = "aws-us-gov" if args.region.startswith("us-gov-") else "aws"
        logs_service = f"logs.{args.region}.amazonaws.com"
        key = aws.kms.Key(
            f"{name}-log-key",
            description=f"{args.name}: WAF logs in {args.region}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=aws.iam.get_policy_document_output(
                statements=[
                    account_administers_key(partition, account),
                    Statement(
                        sid="CloudWatchLogsOfThisAccount",
                        principals=[Principal(type="Service", identifiers=[logs_service])],
                        actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*",
                                 "kms:GenerateDataKey*", "kms:Describe*"],
                        resources=["*"],
                        conditions=[
                            Condition(
                                test="ArnLike",
                                variable="kms:EncryptionContext:aws:logs:arn",
                                values=[pulumi.Output.concat(
                                    f"arn:{partition}:logs:{args.region}:", account, ":*"
                                )],
                            )
                        ],
                    ),
                ],
                opts=pulumi.InvokeOptions(provider=args.provider) if args.provider else None,
            ).json,
            tags=tags,
            opts=child,
        )  # fmt: skip
        return key.arn


def regional_args(
    settings: Settings, data_platform_behind: bool, log_key_arn: pulumi.Input[str] | None = None
) -> WebAclArgs:
    """The regional web ACL of the stack's load balancers and REST stage: with the data
    platform, MLflow is behind one of them (a SQL database, artifact uploads over 8 KB that
    the body rules skip, its sign-in and account paths under the tighter login limit)."""
    w = settings.security
    # Dev's REST API reaches the shared inference ALB through the VPC link's addresses.
    shared = settings.stacks.agent_world and settings.agent_world.share_load_balancer
    return WebAclArgs(
        name=names.web_acl(settings.prefix(), "regional"),
        scope="REGIONAL",
        rate_limit=w.waf_rate_limit,
        login_rate_limit=w.waf_login_rate_limit if data_platform_behind else 0,
        login_paths=MLFLOW_LOGIN_PATHS if data_platform_behind else (),
        file_upload_paths=MLFLOW_ARTIFACT_PATHS if data_platform_behind else (),
        sql_database=data_platform_behind,
        large_bodies=True,  # every service behind it takes larger bodies and limits them
        uncounted_cidrs=(settings.network.cidr,) if shared else (),
        count_rules=w.waf_count_rule_groups,
        region=settings.region,
        log_retention_days=settings.log_retention_days,
        log_key_arn=log_key_arn,
        tags=settings.base_tags("waf"),
    )
