"""The ``data_platform`` section (components/config/data_platform.py): MLflow's database,
tasks and hosts, and the Hokusai API."""

from __future__ import annotations

import pytest

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/hokusai:1"

BAD_CONFIGS = [
    # (overrides on dev, the key the message must name, a phrase of the accepted form)
    ({"data_platform.backup_retention_days": 3}, "mlplatform:data_platform.backup_retention_days",
     "from 7 to 35"),
    ({"data_platform.db_instance_class": "t4g.micro"}, "mlplatform:data_platform.db_instance_class",
     "db.<family>"),
    ({"data_platform.mlflow_memory": 512}, "mlplatform:data_platform.mlflow_memory",
     "1024-4096 in steps of 1024 with cpu 512"),
    ({"data_platform.db_storage_gib": 200}, "mlplatform:data_platform.db_max_storage_gib",
     "at least db_storage_gib (200)"),
    ({"data_platform.api": True}, "mlplatform:data_platform.api_image", "an image URI when"),
    ({"data_platform.api_image": "not a uri"}, "mlplatform:data_platform.api_image",
     "an image URI or empty"),
    ({"data_platform.allowed_hosts": ["https://mlflow.example.com"]},
     "mlplatform:data_platform.allowed_hosts", "DNS names"),
    ({"data_platform.db_engine": "aurora-postgresql", "data_platform.postgres_version": "15"},
     "mlplatform:data_platform.postgres_version", "16 or 17 with db_engine aurora-postgresql"),
    ({"data_platform.db_engine": "aurora-postgresql", "data_platform.db_min_acu": 8,
      "data_platform.db_max_acu": 4},
     "mlplatform:data_platform.db_max_acu", "at least db_min_acu (8)"),
    ({"stacks.inference": False, "agent_world.share_load_balancer": False},
     "mlplatform:data_platform.share_load_balancer", "unless stacks.inference is true"),
    ({"data_platform.db_log_min_duration_ms": -2},
     "mlplatform:data_platform.db_log_min_duration_ms", "from -1 to 3600000"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "key", "accepted"), BAD_CONFIGS, ids=[b[1] for b in BAD_CONFIGS]
)
def test_bad_config_is_refused_naming_the_key_and_accepted_form(refused, overrides, key, accepted):
    refused(overrides, key, accepted)


def test_a_bad_mlflow_cpu_does_not_also_blame_the_memory(problems_for):
    problems = problems_for("dev", data_platform__mlflow_cpu=3000)
    assert [p.split(":")[1] for p in problems] == ["data_platform.mlflow_cpu"]


def test_an_rds_instance_class_the_price_file_does_not_list_is_refused(problems_for, only, parses):
    problems = problems_for("dev", data_platform__db_instance_class="db.t4g.huge")
    message = only(problems, "mlplatform:data_platform.db_instance_class")
    assert "prices-us-east-1.json" in message and "db.t4g.medium" in message
    assert parses("dev", data_platform__db_instance_class="db.r7g.large")


def test_the_hokusai_api_with_an_image_is_accepted(parses):
    settings = parses("dev", data_platform__api=True, data_platform__api_image=IMAGE)
    assert settings.data_platform.api and settings.data_platform.api_image == IMAGE
