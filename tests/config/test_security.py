"""The ``security`` section (components/config/security.py): the WAF switch, count mode per
rule and the rate limits, each bad value refused naming its key."""

from __future__ import annotations

import pytest

from components.config.security import COUNTABLE_RULES

BAD_CONFIGS = [
    # (overrides on dev, the key the message must name, a phrase of the accepted form)
    ({"security.waf": "yes"}, "mlplatform:security.waf", "boolean"),
    ({"security.waf_rate_limit": 9}, "mlplatform:security.waf_rate_limit",
     "an integer from 10 to 2000000000"),
    ({"security.waf_rate_limit": 2_000_000_001}, "mlplatform:security.waf_rate_limit",
     "an integer from 10 to 2000000000"),
    ({"security.waf_login_rate_limit": 0}, "mlplatform:security.waf_login_rate_limit",
     "an integer from 10 to 2000000000"),
    ({"security.waf_login_rate_limit": 2000}, "mlplatform:security.waf_login_rate_limit",
     "fewer requests than waf_rate_limit (2000)"),
    ({"security.waf_count_rule_groups": ["AWSManagedRulesBotControlRuleSet"]},
     "mlplatform:security.waf_count_rule_groups", "each one of AWSManagedRulesCommonRuleSet"),
    ({"security.waf_count_rule_groups": ["RateLimitPerIp", "RateLimitPerIp"]},
     "mlplatform:security.waf_count_rule_groups", "without duplicates"),
    ({"security.waf_count_rule_groups": "RateLimitPerIp"},
     "mlplatform:security.waf_count_rule_groups", "a list of strings"),
    ({"security.firewall": True}, "mlplatform:security.firewall", "unknown key"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "key", "accepted"),
    BAD_CONFIGS,
    ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD_CONFIGS)],
)
def test_bad_config_is_refused_naming_the_key_and_accepted_form(refused, overrides, key, accepted):
    refused(overrides, key, accepted)


def test_every_bad_key_is_named_in_one_message(problems_for):
    problems = problems_for(
        "dev", security__waf_rate_limit=1, security__waf_count_rule_groups=["nope"],
    )  # fmt: skip
    keys = sorted(p.split(":", 2)[1] for p in problems)
    assert keys == ["security.waf_count_rule_groups", "security.waf_rate_limit"]


def test_waf_is_off_in_dev_and_on_in_prod_with_the_defaults(parses):
    dev, prod = parses("dev").security, parses("prod").security
    assert (dev.waf, prod.waf) == (False, True)
    assert (prod.waf_rate_limit, prod.waf_login_rate_limit) == (2000, 300)
    assert prod.waf_count_rule_groups == ()


def test_every_rule_may_count(parses):
    settings = parses("prod", security__waf_count_rule_groups=list(COUNTABLE_RULES))
    assert settings.security.waf_count_rule_groups == COUNTABLE_RULES
