"""The ``security`` section: AWS WAF in front of every internet-facing endpoint, and its checks.

Read by ``__main__.py`` (the regional web ACL), the load balancers' stacks and the agent
world (the REST stage's association, the CloudFront web ACL). The rule names a rollout may
set to count mode are defined here once, for the check and for ``components/blocks/waf.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from components.config.fields import PROJECT, int_range, setting

if TYPE_CHECKING:
    from components.config.settings import Settings

MANAGED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesAnonymousIpList",
    "AWSManagedRulesSQLiRuleSet",
)
"""The AWS managed rule groups a web ACL may hold, in priority order; each is also the
name of its rule. The SQL injection set only where a SQL database is behind the endpoint."""
RATE_LIMIT_RULE = "RateLimitPerIp"
LOGIN_RATE_LIMIT_RULE = "LoginRateLimitPerIp"
COUNTABLE_RULES = (*MANAGED_RULE_GROUPS, RATE_LIMIT_RULE, LOGIN_RATE_LIMIT_RULE)
"""The rules ``waf_count_rule_groups`` may name."""
RATE_LIMIT_RANGE = (10, 2_000_000_000)
"""Requests per evaluation window a rate-based rule accepts (botocore wafv2 ``RateLimit``)."""


def rule_names(value: tuple[str, ...]) -> str | None:
    unknown = [v for v in value if v not in COUNTABLE_RULES]
    if unknown or len(set(value)) != len(value):
        return "rule names without duplicates, each one of " + ", ".join(COUNTABLE_RULES)
    return None


@dataclass(frozen=True)
class SecuritySettings:
    """AWS WAF in front of every internet-facing endpoint."""

    waf: bool = setting(
        False,
        "AWS WAF web ACLs: a regional one on every internet-facing load balancer and the agent "
        "world REST stage, a CLOUDFRONT one (us-east-1) on the distribution; $5/month per ACL, "
        "$1 per rule, $0.60 per million requests.",
    )
    waf_count_rule_groups: tuple[str, ...] = setting(
        (),
        "Rules that only count (log and measure) instead of blocking, for a first rollout: "
        "managed rule group names (AWSManagedRulesCommonRuleSet, ...), RateLimitPerIp or "
        "LoginRateLimitPerIp.",
        rule_names,
    )
    waf_rate_limit: int = setting(
        2000,
        "Requests per client IP in any 5 minutes before WAF blocks that IP (every endpoint).",
        int_range(*RATE_LIMIT_RANGE),
    )
    waf_login_rate_limit: int = setting(
        300,
        "Requests per client IP in any 5 minutes to MLflow's browser paths (the login, the UI "
        "and its ajax-api; not the SDK's /mlflow/api/) before WAF blocks that IP; under "
        "waf_rate_limit.",
        int_range(*RATE_LIMIT_RANGE),
    )


def check_security(s: Settings, problems: list[str]) -> None:
    """The login limit is the tighter one."""
    ns = f"{PROJECT}:security."
    w = s.security
    low, high = RATE_LIMIT_RANGE
    in_range = all(low <= v <= high for v in (w.waf_rate_limit, w.waf_login_rate_limit))
    if in_range and w.waf_login_rate_limit >= w.waf_rate_limit:
        problems.append(
            f"{ns}waf_login_rate_limit: expected fewer requests than waf_rate_limit "
            f"({w.waf_rate_limit}), a tighter limit on the MLflow login paths "
            f"(got {w.waf_login_rate_limit})"
        )
