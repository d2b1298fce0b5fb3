"""Settings: parsing and validation of stack config, without any Pulumi runtime."""

from __future__ import annotations

import json

import pytest

from components import settings as s
from offline.runner import apply_override, stack_config

KNOWN = frozenset({"cmaes_worker", "vision_validator", "ai_inference"})


def config_for(stack: str, **overrides) -> dict[str, str]:
    config, _ = stack_config(stack)
    for key, value in overrides.items():
        apply_override(config, key.replace("__", "."), value)
    return config


def problems_of(config: dict[str, str]) -> list[str]:
    with pytest.raises(s.ConfigError) as caught:
        s.parse(config, "dev", known_services=KNOWN)
    return caught.value.problems


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_real_stack_files_are_valid(stack):
    settings = s.parse(config_for(stack), stack)
    assert settings.environment == stack
    assert settings.region == "us-east-1"


def test_dev_and_prod_differ_where_cost_and_safety_do():
    dev = s.parse(config_for("dev"), "dev")
    prod = s.parse(config_for("prod"), "prod")
    assert (dev.network.nat_strategy, prod.network.nat_strategy) == ("none", "one_per_az")
    assert (dev.network.interface_endpoints, prod.network.interface_endpoints) == (False, True)
    assert (dev.network.az_count, prod.network.az_count) == (2, 3)
    assert (dev.deletion_protection, prod.deletion_protection) == (False, True)
    assert dev.ingress.allow_http and not prod.ingress.allow_http
    assert not dev.ingress.certificate_arn and prod.ingress.certificate_arn
    assert dev.training.spot_percentage == 100 and dev.training.min_workers == 0
    assert dev.inference.min_instances == 0
    assert not dev.data_platform.multi_az and prod.data_platform.multi_az
    assert not dev.agent_world.redis_multi_az and prod.agent_world.redis_multi_az


def test_defaults_are_the_production_safe_choice():
    settings = s.parse(
        {"mlplatform:environment": "qa", "aws:region": "eu-west-1",
         "mlplatform:ingress": json.dumps({"allow_http": True})},
        "qa",
    )  # fmt: skip
    assert settings.deletion_protection is True
    assert settings.network.nat_strategy == "one_per_az"
    assert settings.network.interface_endpoints is True
    assert settings.log_retention_days == 365
    assert settings.data_platform.multi_az is True


def test_engine_string_forms_are_read_as_their_types():
    settings = s.parse(
        config_for("dev", **{"mlplatform:deletion_protection": "false",
                             "mlplatform:log_retention_days": "90"}),
        "dev",
    )  # fmt: skip
    assert settings.deletion_protection is False
    assert settings.log_retention_days == 90


def test_a_partial_section_keeps_the_other_defaults():
    config = config_for("dev")
    config["mlplatform:network"] = json.dumps({"cidr": "10.9.0.0/20"})
    settings = s.parse(config, "dev")
    assert settings.network.cidr == "10.9.0.0/20"
    assert settings.network.az_count == s.NetworkSettings().az_count


BAD_CONFIGS = [
    # (overrides on dev, the key the message must name, a phrase of the accepted form)
    ({"network.cidr": "10.0.0/16"}, "mlplatform:network.cidr", "IPv4 CIDR"),
    ({"network.cidr": "10.0.0.1/16"}, "mlplatform:network.cidr", "IPv4 CIDR"),
    ({"network.cidr": "10.0.0.0/8"}, "mlplatform:network.cidr", "/16 to /24"),
    ({"network.cidr": "10.0.0.0/26"}, "mlplatform:network.cidr", "/16 to /24"),
    ({"network.cidr": "8.8.0.0/16"}, "mlplatform:network.cidr", "private"),
    ({"network.az_count": 1}, "mlplatform:network.az_count", "from 2 to 3"),
    ({"network.az_count": 4}, "mlplatform:network.az_count", "from 2 to 3"),
    ({"network.nat_strategy": "many"}, "mlplatform:network.nat_strategy", "none, single"),
    ({"network.natStrategy": "none"}, "mlplatform:network.natStrategy", "accepted keys"),
    ({"network.az_count": "2"}, "mlplatform:network.az_count", "an integer"),
    ({"network.interface_endpoints": "yes"}, "mlplatform:network.interface_endpoints", "boolean"),
    ({"network": ["10.0.0.0/16"]}, "mlplatform:network", "an object"),
    ({"mlplatform:vpc_cidr": "10.0.0.0/16"}, "mlplatform:vpc_cidr", "unknown key"),
    ({"mlplatform:deletion_protection": "maybe"}, "mlplatform:deletion_protection", "boolean"),
    ({"mlplatform:log_retention_days": "31"}, "mlplatform:log_retention_days", "one of 1, 3"),
    ({"mlplatform:environment": "Dev_1"}, "mlplatform:environment", "lowercase"),
    ({"mlplatform:environment": None}, "mlplatform:environment", "required"),
    ({"aws:region": None}, "aws:region", "us-east-1"),
    ({"aws:region": "moon-base-1x"}, "aws:region", "us-east-1"),
    ({"agent_world.task_memory": 4096}, "mlplatform:agent_world.task_memory", "512, 1024 or 2048"),
    ({"agent_world.max_tasks": 0}, "mlplatform:agent_world.max_tasks", "from 1 to 100"),
    ({"agent_world.min_tasks": 0}, "mlplatform:agent_world.min_tasks", "from 1 to 100"),
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
    ({"stacks.network": False}, "mlplatform:stacks.training", "needs stacks.network"),
    ({"stacks.network": "yes"}, "mlplatform:stacks.network", "boolean"),
    ({"training.worker_cpu": 3000}, "mlplatform:training.worker_cpu", "one of 256, 512"),
    ({"training.worker_memory": 512}, "mlplatform:training.worker_memory", "2048-8192"),
    ({"training.spot_percentage": 101}, "mlplatform:training.spot_percentage", "0 to 100"),
    ({"training.max_workers": 0}, "mlplatform:training.max_workers", "from 1 to 1000"),
    ({"training.min_workers": 9}, "mlplatform:training.max_workers", "at least min_workers"),
    ({"training.max_receive_count": 0}, "mlplatform:training.max_receive_count", "1 to 1000"),
    ({"training.message_retention_days": 15}, "mlplatform:training.message_retention_days",
     "from 1 to 14"),
    ({"training.max_eval_seconds": 50000}, "mlplatform:training.max_eval_seconds", "10 to 43140"),
    ({"training.eval_seconds": 1000}, "mlplatform:training.eval_seconds", "at most max_eval"),
    ({"training.checkpoint_ia_days": 7}, "mlplatform:training.checkpoint_ia_days", "30 to 3650"),
    ({"training.checkpoint_expire_days": 30}, "mlplatform:training.checkpoint_expire_days",
     "31 to 36500"),
    ({"training.checkpoint_ia_days": 90, "training.checkpoint_expire_days": 60},
     "mlplatform:training.checkpoint_expire_days", "more than checkpoint_ia_days"),
    ({"training.scale_in_idle_minutes": 0}, "mlplatform:training.scale_in_idle_minutes",
     "1 to 1440"),
    ({"training.redis_node_type": "t4g.micro"}, "mlplatform:training.redis_node_type",
     "cache.<family>"),
    ({"training.coordinator_user": "yes"}, "mlplatform:training.coordinator_user", "boolean"),
    ({"mlplatform:alarm_email": "ops at example"}, "mlplatform:alarm_email", "e-mail"),
    ({"inference.instance_type": "m5.xlarge"}, "mlplatform:inference.instance_type", "GPU"),
    ({"inference.instance_type": "g5g.xlarge"}, "mlplatform:inference.instance_type", "GPU"),
    ({"inference.services": []}, "mlplatform:inference.services", "at least one service"),
    ({"inference.services": {"name": "x"}}, "mlplatform:inference.services", "a list of objects"),
    ({"inference.services": [{"path_patterns": ["/a"]}]}, "mlplatform:inference.services[0].name",
     "required"),
    ({"inference.services": [{"name": "Bad_Name", "path_patterns": ["/a"]}]},
     "mlplatform:inference.services[0].name", "lowercase"),
    ({"inference.services": [{"name": "api"}]}, "mlplatform:inference.services[0].path_patterns",
     "required"),
    ({"inference.services": [{"name": "api", "source": "ai_inference", "path_patterns": ["a"]}]},
     "mlplatform:inference.services[0].path_patterns", "starting with '/'"),
    ({"inference.services": [{"name": "api", "source": "ai_inference", "path_patterns": ["/a"],
                              "port": 80}]}, "mlplatform:inference.services[0].port",
     "unknown key"),
    ({"inference.services": [{"name": "api", "source": "ai_inference", "path_patterns": ["/a"],
                              "gpu": 2}]}, "mlplatform:inference.services[0].gpu",
     "at most 1, the GPUs of one g4dn.xlarge"),
    ({"inference.services": [{"name": "api", "source": "ai_inference", "path_patterns": ["/a"],
                              "gpu": 1, "memory": 16384}]},
     "mlplatform:inference.services[0].memory", "to fit on one g4dn.xlarge"),
    ({"inference.services": [{"name": "api", "source": "ai_inference", "path_patterns": ["/a"],
                              "cpu": 1024, "memory": 1024}]},
     "mlplatform:inference.services[0].memory", "Fargate size"),
    ({"inference.services": [{"name": "api", "source": "ai_inference", "path_patterns": ["/a"],
                              "min_count": 2, "desired_count": 1}]},
     "mlplatform:inference.services[0].desired_count", "min_count <= desired_count"),
    ({"inference.services": [{"name": "api", "path_patterns": ["/a"]}]},
     "mlplatform:inference.services[0].source", "directory under services/"),
    ({"inference.services": [{"name": "api", "source": "ai_inference", "path_patterns": ["/a"]},
                             {"name": "api", "source": "ai_inference", "path_patterns": ["/a"]}]},
     "mlplatform:inference.services[1].name", "no other service"),
    ({"inference.services": [{"name": "a", "source": "ai_inference", "path_patterns": ["/a"]}]},
     "mlplatform:inference.services[0].name", "2-20 lowercase"),
    ({"inference.root_volume_gib": 8}, "mlplatform:inference.root_volume_gib", "30 to 16384"),
    ({"mlplatform:inference_api_key": "short"}, "mlplatform:inference_api_key",
     "at least 16 characters"),
    ({"mlplatform:inference_api_key": "a-plain-text-key-of-some-length"},
     "mlplatform:inference_api_key", "pulumi config set --secret"),
    ({"inference.spot_percentage": 150}, "mlplatform:inference.spot_percentage", "0 to 100"),
    ({"data_platform.backup_retention_days": 3}, "mlplatform:data_platform.backup_retention_days",
     "from 7 to 35"),
    ({"data_platform.db_instance_class": "t4g.micro"}, "mlplatform:data_platform.db_instance_class",
     "db.<family>"),
    ({"ingress.allow_http": False}, "mlplatform:ingress.certificate_arn", "ACM certificate"),
    ({"ingress.certificate_arn": "arn:aws:acm:us-east-1:1:cert/x"},
     "mlplatform:ingress.certificate_arn", "ACM certificate ARN"),
    ({"ingress.allowed_cidr_blocks": ["0.0.0.0/0", "1.2.3"]},
     "mlplatform:ingress.allowed_cidr_blocks", "IPv4 CIDR"),
    ({"ingress.allowed_cidr_blocks": []}, "mlplatform:ingress.allowed_cidr_blocks", "at least one"),
    ({"images.nope": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"}, "mlplatform:images.nope",
     "unknown service"),
    ({"images.cmaes_worker": "not a uri"}, "mlplatform:images.cmaes_worker", "image URI"),
    ({"images": {"cmaes_worker": 3}}, "mlplatform:images", "string values"),
    ({"tags.aws:owner": "me"}, "mlplatform:tags.aws:owner", "not starting with 'aws:'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "key", "accepted"), BAD_CONFIGS, ids=[b[1] for b in BAD_CONFIGS]
)
def test_bad_config_is_refused_naming_the_key_and_accepted_form(overrides, key, accepted):
    config = config_for("dev")
    for path, value in overrides.items():
        apply_override(config, path, value)
    problems = problems_of(config)
    matching = [p for p in problems if p.startswith(f"{key}:")]
    assert matching, f"no problem names {key}: {problems}"
    assert any(accepted in p for p in matching), matching


def test_prod_refuses_to_drop_deletion_protection():
    config = config_for("prod")
    apply_override(config, "mlplatform:deletion_protection", False)
    problems = problems_of(config)
    assert any(p.startswith("mlplatform:deletion_protection:") and "prod" in p for p in problems)


def test_every_problem_is_reported_at_once():
    config = config_for("dev")
    for path, value in {
        "network.cidr": "nonsense",
        "network.az_count": 7,
        "training.spot_percentage": 120,
        "inference.instance_type": "t3.micro",
        "mlplatform:bogus": "1",
    }.items():
        apply_override(config, path, value)
    problems = problems_of(config)
    assert len(problems) == 5
    message = str(s.ConfigError(problems))
    assert message.startswith("Invalid stack configuration (5 problems):")
    for key in ("network.cidr", "network.az_count", "training.spot_percentage",
                "inference.instance_type", "mlplatform:bogus"):  # fmt: skip
        assert key in message


def test_a_bad_cpu_does_not_also_blame_the_memory():
    config = config_for("dev")
    apply_override(config, "training.worker_cpu", 3000)
    problems = problems_of(config)
    assert [p.split(":")[1] for p in problems] == ["training.worker_cpu"]


def test_prebuilt_image_uris_are_accepted_for_known_services():
    config = config_for("dev")
    uri = (
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlplatform-dev/cmaes_worker@sha256:"
        + "a" * 64
    )
    apply_override(config, "images.cmaes_worker", uri)
    settings = s.parse(config, "dev", known_services=KNOWN)
    assert settings.images["cmaes_worker"] == uri


def test_a_service_needing_more_gpus_than_the_instance_has_is_refused_with_the_remedy():
    config = config_for("dev")
    apply_override(config, "inference.instance_type", "g4dn.2xlarge")
    services = json.loads(config["mlplatform:inference"])["services"]
    services[0]["gpu"] = 4
    apply_override(config, "inference.services", services)
    (problem,) = problems_of(config)
    assert problem == (
        "mlplatform:inference.services[0].gpu: expected at most 1, the GPUs of one g4dn.2xlarge "
        "(got 4); choose a larger inference.instance_type"
    )
    apply_override(config, "inference.instance_type", "g4dn.12xlarge")
    assert s.parse(config, "dev", known_services=KNOWN).inference.services[0].gpu == 4


def test_a_secret_api_key_is_accepted_and_kept_out_of_the_repr():
    config = config_for("dev")
    apply_override(config, "mlplatform:inference_api_key", "k" * 40)
    settings = s.parse(
        config, "dev", known_services=KNOWN, secret_keys=frozenset({"mlplatform:inference_api_key"})
    )
    assert settings.inference_api_key == "k" * 40
    assert "k" * 40 not in repr(settings)


def test_settings_are_frozen():
    settings = s.parse(config_for("dev"), "dev")
    with pytest.raises(AttributeError):
        settings.environment = "prod"  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.tags["x"] = "y"  # type: ignore[index]


def test_base_tags_name_project_stack_environment_and_component():
    config = config_for("dev")
    apply_override(config, "tags.cost-center", "ml")
    tags = s.parse(config, "dev").base_tags("network")
    assert tags == {
        "cost-center": "ml",
        "project": "mlplatform",
        "stack": "dev",
        "environment": "dev",
        "component": "network",
        "managed-by": "pulumi",
    }


def test_user_tags_cannot_override_the_base_tags():
    config = config_for("dev")
    apply_override(config, "tags.environment", "prod")
    assert s.parse(config, "dev").base_tags("network")["environment"] == "dev"
