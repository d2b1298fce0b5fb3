"""The field machinery (components/config/fields.py): the engine's string forms, one error
for every problem, the forms several sections share, and the Fargate size check."""

from __future__ import annotations

import json

import pytest

from components.config import fields
from components.config import settings as s
from components.lib import fargate


def test_engine_string_forms_are_read_as_their_types(parses):
    settings = parses(
        "dev", **{"mlplatform:deletion_protection": "false", "mlplatform:log_retention_days": "90"}
    )
    assert settings.deletion_protection is False
    assert settings.log_retention_days == 90


def test_every_problem_is_reported_at_once(config_for, problems_of):
    config = config_for(
        "dev",
        **{
            "network.cidr": "nonsense",
            "network.az_count": 7,
            "training.spot_percentage": 120,
            "inference.instance_type": "t3.micro",
            "mlplatform:bogus": "1",
        },
    )
    problems = problems_of(config)
    assert len(problems) == 5
    message = str(s.ConfigError(problems))
    assert message.startswith("Invalid stack configuration (5 problems):")
    for key in ("network.cidr", "network.az_count", "training.spot_percentage",
                "inference.instance_type", "mlplatform:bogus"):  # fmt: skip
        assert key in message


def test_settings_are_frozen(parses):
    settings = parses("dev")
    with pytest.raises(AttributeError):
        settings.environment = "prod"  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.tags["x"] = "y"  # type: ignore[index]


def test_a_mutable_default_is_refused_when_the_field_is_declared():
    with pytest.raises(TypeError, match="tuples and MappingProxyType"):
        fields.setting([], "a list")


@pytest.mark.parametrize("section", ["agent_world", "training"])
def test_a_cache_node_type_the_price_file_does_not_list_is_refused(problems_for, only, section):
    problems = problems_for("dev", **{f"{section}__redis_node_type": "cache.t4g.mega"})
    message = only(problems, f"mlplatform:{section}.redis_node_type")
    assert "cache.t4g.micro, cache.t4g.medium" not in message  # sorted, as listed
    assert "cache.t4g.medium, cache.t4g.micro, cache.t4g.small" in message


def test_the_accepted_sizes_are_the_price_files():
    prices = json.loads(s.PRICES_FILE.read_text())["hourly"]
    assert s.priced("rds") == tuple(sorted(prices["rds"]))
    assert s.priced("elasticache") == tuple(sorted(prices["elasticache"]))


# --- the Fargate size check, once for the sections with a Fargate task size -------------

KEY = "mlplatform:x."


def test_a_pair_fargate_accepts_passes():
    problems: list[str] = []
    fields.check_fargate_size(problems, f"{KEY}cpu", f"{KEY}memory", 256, 512)
    assert problems == []


def test_a_pair_fargate_refuses_names_the_memory_key_and_the_sizes_of_that_cpu():
    problems: list[str] = []
    fields.check_fargate_size(problems, f"{KEY}cpu", f"{KEY}memory", 1024, 1024)
    assert problems == [f"{KEY}memory: expected {fargate.describe(1024)}"]


def test_a_cpu_already_refused_is_not_blamed_again_through_its_memory():
    problems = [f"{KEY}cpu: expected one of 256, 512"]
    fields.check_fargate_size(problems, f"{KEY}cpu", f"{KEY}memory", 3000, 1)
    assert problems == [f"{KEY}cpu: expected one of 256, 512"]


@pytest.mark.parametrize(
    ("section", "cpu", "memory"),
    [("training", "worker_cpu", "worker_memory"),
     ("data_platform", "mlflow_cpu", "mlflow_memory"),
     ("agent_world", "task_cpu", "task_memory")],
)  # fmt: skip
def test_each_fargate_section_refuses_a_memory_its_cpu_does_not_take(
    problems_for, only, section, cpu, memory
):
    problems = problems_for("dev", **{f"{section}__{cpu}": 512, f"{section}__{memory}": 512})
    assert only(problems, f"mlplatform:{section}.{memory}") == (
        f"mlplatform:{section}.{memory}: expected memory 1024-4096 in steps of 1024 with cpu 512"
    )
