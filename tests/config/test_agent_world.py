"""The ``agent_world`` section (components/config/agent_world.py): its tasks, the shared
listener, the CloudFront aliases and the Bedrock models."""

from __future__ import annotations

import pytest

CERT = "arn:aws:acm:{}:123456789012:certificate/11111111-2222-3333-4444-555555555555"

BAD_CONFIGS = [
    # (overrides on dev, the key the message must name, a phrase of the accepted form)
    ({"agent_world.task_memory": 4096}, "mlplatform:agent_world.task_memory", "512, 1024 or 2048"),
    ({"agent_world.max_tasks": 0}, "mlplatform:agent_world.max_tasks", "from 1 to 100"),
    ({"agent_world.min_tasks": 0}, "mlplatform:agent_world.min_tasks", "from 1 to 100"),
    ({"agent_world.min_tasks": 3, "agent_world.max_tasks": 2}, "mlplatform:agent_world.max_tasks",
     "at least min_tasks (3)"),
    ({"agent_world.price_class": "PriceClass_9"}, "mlplatform:agent_world.price_class",
     "PriceClass_100"),
    ({"agent_world.bedrock_model_ids": ["not a model"]}, "mlplatform:agent_world.bedrock_model_ids",
     "Bedrock model IDs"),
    ({"stacks.inference": False, "data_platform.share_load_balancer": False},
     "mlplatform:agent_world.share_load_balancer", "unless stacks.inference is true"),
    ({"ingress.certificate_arn":
      "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"},
     "mlplatform:agent_world.share_load_balancer", "when ingress.certificate_arn is set"),
    ({"agent_world.single_service": "one"}, "mlplatform:agent_world.single_service", "boolean"),
    ({"agent_world.domain_names": ["app.example.com"]},
     "mlplatform:agent_world.cdn_certificate_arn", "in us-east-1 when domain_names is set"),
    ({"agent_world.execution_log_level": "DEBUG"}, "mlplatform:agent_world.execution_log_level",
     "one of ERROR, INFO, OFF"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "key", "accepted"), BAD_CONFIGS, ids=[b[1] for b in BAD_CONFIGS]
)
def test_bad_config_is_refused_naming_the_key_and_accepted_form(refused, overrides, key, accepted):
    refused(overrides, key, accepted)


def test_a_bad_task_cpu_does_not_also_blame_the_memory(problems_for):
    problems = problems_for("dev", agent_world__task_cpu=3000)
    assert [p.split(":")[1] for p in problems] == ["agent_world.task_cpu"]


def test_cloudfront_aliases_are_dns_names_not_urls(problems_for, only, parses):
    cdn = CERT.format("us-east-1")
    problems = problems_for(
        "prod", agent_world__domain_names=["https://app.example.com/"],
        agent_world__cdn_certificate_arn=cdn, dns__cdn_host="",
    )  # fmt: skip
    assert "not a URL" in only(problems, "mlplatform:agent_world.domain_names")
    settings = parses(
        "prod", agent_world__domain_names=["app.example.com", "*.example.org"],
        agent_world__cdn_certificate_arn=cdn, dns__cdn_host="",
    )  # fmt: skip
    assert settings.agent_world.domain_names == ("app.example.com", "*.example.org")


def test_a_cloudfront_alias_given_twice_is_refused(problems_for):
    problems = problems_for(
        "prod", agent_world__domain_names=["app.example.com", "app.example.com"],
        agent_world__cdn_certificate_arn=CERT.format("us-east-1"), dns__cdn_host="",
    )  # fmt: skip
    assert "mlplatform:agent_world.domain_names: expected DNS names without duplicates" in problems


def test_production_refuses_execution_logging_off_dev_may(problems_for, parses):
    problems = problems_for("prod", agent_world__execution_log_level="OFF")
    assert (
        "mlplatform:agent_world.execution_log_level: expected ERROR or INFO when production "
        "is true (got OFF)"
    ) in problems
    dev = parses("dev", agent_world__execution_log_level="OFF")
    assert dev.agent_world.execution_log_level == "OFF"
