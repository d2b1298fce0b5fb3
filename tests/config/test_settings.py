"""Settings: parsing and validation of stack config, without any Pulumi runtime."""

from __future__ import annotations

import json

import pytest

from components.config import settings as s
from offline.runner import ProgramError, apply_override, stack_config

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


# --- item 5: the checks AWS would otherwise make at deploy time --------------------------

CERT = "arn:aws:acm:{}:123456789012:certificate/11111111-2222-3333-4444-555555555555"


def problems_for(stack: str, **overrides) -> list[str]:
    config = config_for(stack)
    for path, value in overrides.items():
        apply_override(config, path.replace("__", "."), value)
    with pytest.raises(s.ConfigError) as caught:
        s.parse(config, stack, known_services=KNOWN)
    return caught.value.problems


def parses(stack: str, **overrides) -> s.Settings:
    config = config_for(stack)
    for path, value in overrides.items():
        apply_override(config, path.replace("__", "."), value)
    return s.parse(config, stack, known_services=KNOWN)


def only(problems: list[str], key: str) -> str:
    matching = [p for p in problems if p.startswith(f"{key}:")]
    assert len(matching) == 1, problems
    return matching[0]


def test_a_region_of_the_right_shape_that_botocore_does_not_know_is_refused():
    # given a region name that a pattern would accept but no partition has
    problems = problems_for("dev", **{"aws:region": "us-east-9"})
    # then the message names aws:region and the accepted form
    assert "botocore's endpoint data" in only(problems, "aws:region")
    # and the regions of other partitions are accepted
    assert parses("dev", **{"aws:region": "us-gov-west-1"}).region == "us-gov-west-1"
    assert {"eu-south-2", "cn-north-1", "us-east-1"} <= s.aws_regions()


def test_an_rds_instance_class_the_price_file_does_not_list_is_refused():
    problems = problems_for("dev", data_platform__db_instance_class="db.t4g.huge")
    message = only(problems, "mlplatform:data_platform.db_instance_class")
    assert "prices-us-east-1.json" in message and "db.t4g.medium" in message
    assert parses("dev", data_platform__db_instance_class="db.r7g.large")


@pytest.mark.parametrize("section", ["agent_world", "training"])
def test_a_cache_node_type_the_price_file_does_not_list_is_refused(section):
    problems = problems_for("dev", **{f"{section}__redis_node_type": "cache.t4g.mega"})
    message = only(problems, f"mlplatform:{section}.redis_node_type")
    assert "cache.t4g.micro, cache.t4g.medium" not in message  # sorted, as listed
    assert "cache.t4g.medium, cache.t4g.micro, cache.t4g.small" in message


def test_the_accepted_sizes_are_the_price_files():
    prices = json.loads(s.PRICES_FILE.read_text())["hourly"]
    assert s.priced("rds") == tuple(sorted(prices["rds"]))
    assert s.priced("elasticache") == tuple(sorted(prices["elasticache"]))


def test_an_environment_name_ending_in_a_hyphen_is_refused():
    problems = problems_for("dev", **{"mlplatform:environment": "qa-"})
    assert "not ending in '-'" in only(problems, "mlplatform:environment")


def test_an_environment_too_long_for_a_derived_name_is_refused_with_the_name_and_limit():
    # given dev (the data platform's buckets are named <prefix>-mlflow-artifacts-<26>)
    # when the environment has 11 characters
    problems = problems_for("dev", **{"mlplatform:environment": "integration"})
    # then one problem names the environment, the longest name and S3's 37-character prefix
    message = only(problems, "mlplatform:environment")
    assert "'mlplatform-integration-mlflow-artifacts-'" in message
    assert "a prefix of at most 37 characters (got 40)" in message
    assert "at most 8 characters here" in message
    assert "bucketnamingrules" in message


def test_the_environment_limit_comes_from_the_names_not_a_fixed_length():
    # given only the network stack, whose longest name is a 512-character log group
    network_only = {"network": True, "training": False, "inference": False,
                    "data_platform": False, "agent_world": False}  # fmt: skip
    # when the environment is longer than any fixed limit would allow
    long_name = "a-long-environment-name-for-a-network"
    settings = parses("dev", **{"mlplatform:environment": long_name, "stacks": network_only})
    # then it is accepted, and with every stack on it is not
    assert settings.environment == long_name
    problems = problems_for("dev", **{"mlplatform:environment": long_name})
    assert {p.split(":")[1] for p in problems} == {"environment"}, problems
    assert any("leaves no room for the service names" in p for p in problems)
    assert any("at most 8 characters here: 'mlplatform-a-long-environment-name-for-a-network-"
               "mlflow-artifacts-'" in p for p in problems)  # fmt: skip


def test_an_environment_whose_derived_rds_identifier_has_two_hyphens_in_a_row_is_refused():
    problems = problems_for("dev", **{"mlplatform:environment": "q--a"})
    message = only(problems, "mlplatform:environment")
    assert "single hyphens" in message and "mlplatform-q--a-mlflow" in message


def _service(name: str, source: str = "ai_inference", **fields) -> dict:
    return {"name": name, "source": source, "path_patterns": [f"/{name}"], **fields}


def test_two_services_whose_target_group_names_truncate_to_one_are_refused():
    # given two names that differ only after ELB's 32 characters
    services = [
        _service("ai-inference-blue-01"),
        _service("ai-inference-blue-02", "vision_validator"),
    ]
    # when both are configured
    problems = problems_for("dev", inference__services=services)
    # then the second is refused, naming the shared target group
    message = only(problems, "mlplatform:inference.services[1].name")
    assert "target group 'mlplatform-dev-ai-inference-blue'" in message
    assert "inference.services[0].name" in message


def test_a_service_whose_truncated_target_group_ends_in_a_hyphen_is_refused():
    problems = problems_for("dev", inference__services=[_service("ai-inference-blu-01")])
    message = only(problems, "mlplatform:inference.services[0].name")
    assert "'mlplatform-dev-ai-inference-blu-'" in message and "not starting or ending" in message


def test_two_services_built_from_one_source_are_refused_for_sharing_an_ecr_repository():
    services = [_service("alpha"), _service("beta")]
    problems = problems_for("dev", inference__services=services)
    message = only(problems, "mlplatform:inference.services[1].source")
    assert "ECR repository 'mlplatform-dev/ai_inference'" in message


def test_a_service_built_from_another_stacks_source_is_refused_for_its_repository():
    problems = problems_for("dev", inference__services=[_service("alpha", "cmaes_worker")])
    message = only(problems, "mlplatform:inference.services[0].source")
    assert "'mlplatform-dev/cmaes_worker'" in message


def test_production_is_a_setting_and_refuses_http_short_logs_and_no_deletion_protection():
    # given the prod stack file, which sets production: true
    assert parses("prod").production and not parses("dev").production
    # when it allows HTTP, keeps logs 30 days, drops deletion protection and backups
    problems = problems_for(
        "prod",
        ingress__allow_http=True,
        **{"mlplatform:log_retention_days": 30, "mlplatform:deletion_protection": False},
        data_platform__backup_retention_days=7,
    )
    # then each key is refused, naming production
    for key in ("ingress.allow_http", "log_retention_days", "deletion_protection",
                "data_platform.backup_retention_days"):  # fmt: skip
        assert "production is true" in only(problems, f"mlplatform:{key}")


def test_a_stack_named_prod_is_not_production_unless_it_says_so():
    settings = parses(
        "prod",
        **{"mlplatform:production": False, "mlplatform:deletion_protection": False,
           "mlplatform:log_retention_days": 30},
    )  # fmt: skip
    assert settings.environment == "prod" and not settings.production


def test_a_stack_of_another_name_is_held_to_production_when_it_says_so():
    problems = problems_for("dev", **{"mlplatform:production": True})
    for key in ("ingress.allow_http", "log_retention_days", "deletion_protection"):
        assert only(problems, f"mlplatform:{key}")


@pytest.mark.parametrize(
    ("blocks", "phrase"),
    [(["10.0.0.1"], "with its prefix length, such as 10.0.0.1/32"),
     (["10.0.0.0/8", "10.0.0.0/8"], "without duplicates")],
)  # fmt: skip
def test_allowed_cidr_blocks_need_a_prefix_and_no_duplicates(blocks, phrase):
    problems = problems_for("dev", ingress__allowed_cidr_blocks=blocks)
    assert phrase in only(problems, "mlplatform:ingress.allowed_cidr_blocks")


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [("/*", "/mlflow", True), ("/mlflow/*", "/mlflow", False), ("/ml?low", "/mlflow", True),
     ("/mlflow*", "/mlflow/*", True), ("/validate", "/mlflow/*", False),
     ("/api*", "/api/*", True), ("/apis", "/api/*", False)],
)  # fmt: skip
def test_path_patterns_overlap_when_one_path_matches_both(a, b, overlap):
    assert s.patterns_overlap(a, b) is overlap
    assert s.patterns_overlap(b, a) is overlap


def test_a_service_path_that_takes_mlflows_on_the_shared_load_balancer_is_refused():
    # given dev, where the data platform shares the inference load balancer
    services = [_service("catch-all", path_patterns=["/*"])]
    # when a service routes every path
    problems = problems_for("dev", inference__services=services)
    # then it is refused, naming the other stack's path and the setting that shares
    message = only(problems, "mlplatform:inference.services[0].path_patterns")
    assert "'/mlflow'" in message and "data_platform.share_load_balancer" in message


def test_a_service_path_under_the_hokusai_api_on_the_shared_load_balancer_is_refused():
    problems = problems_for(
        "dev",
        inference__services=[_service("alpha", path_patterns=["/api/v1/*"])],
        data_platform__api=True,
        data_platform__api_image="123456789012.dkr.ecr.us-east-1.amazonaws.com/hokusai:1",
    )
    assert "data_platform.api" in only(problems, "mlplatform:inference.services[0].path_patterns")


def test_a_path_of_mlflow_is_free_when_the_data_platform_has_its_own_load_balancer():
    settings = parses("prod", inference__services=[_service("alpha", path_patterns=["/mlflow"])])
    assert settings.inference.services[0].path_patterns == ("/mlflow",)


def test_a_certificate_of_another_region_than_the_load_balancers_is_refused():
    problems = problems_for("prod", ingress__certificate_arn=CERT.format("eu-west-1"))
    message = only(problems, "mlplatform:ingress.certificate_arn")
    assert "us-east-1" in message and "eu-west-1" in message


def test_cloudfront_aliases_are_dns_names_not_urls():
    cdn = CERT.format("us-east-1")
    problems = problems_for(
        "prod", agent_world__domain_names=["https://app.example.com/"],
        agent_world__cdn_certificate_arn=cdn,
    )  # fmt: skip
    assert "not a URL" in only(problems, "mlplatform:agent_world.domain_names")
    settings = parses(
        "prod", agent_world__domain_names=["app.example.com", "*.example.org"],
        agent_world__cdn_certificate_arn=cdn,
    )  # fmt: skip
    assert settings.agent_world.domain_names == ("app.example.com", "*.example.org")


@pytest.mark.parametrize(
    ("key", "value"), [("team", "ml,platform"), ("a&b", "x"), ("k", "v" * 257), ("k" * 129, "v")]
)
def test_tags_of_characters_or_lengths_some_service_refuses_are_refused(key, value):
    problems = problems_for("dev", **{"mlplatform:tags": {key: value}})
    message = only(problems, f"mlplatform:tags.{key}")
    assert "_.:/=+-@" in message and "botocore efs" in message


def test_tags_of_unicode_letters_spaces_and_the_common_punctuation_are_accepted():
    tags = {"Owner Name": "Zoë Ødegaard", "cost:center": "ml/platform_1=a+b-c@d.e"}
    assert dict(parses("dev", **{"mlplatform:tags": tags}).tags) == tags


def test_more_tags_than_a_resource_holds_are_refused():
    assert parses("dev", **{"mlplatform:tags": {f"t{n}": "x" for n in range(44)}})
    tags = {f"t{n}": "x" for n in range(45)}
    assert "at most 44 tags" in only(problems_for("dev", **{"mlplatform:tags": tags}),
                                     "mlplatform:tags")  # fmt: skip


def test_gpu_tasks_at_min_count_must_fit_on_max_instances():
    # given dev: at most one g4dn.xlarge, one GPU
    services = json.loads(config_for("dev")["mlplatform:inference"])["services"]
    services[0].update(min_count=2, desired_count=2, max_count=2)
    # when the GPU service must keep two tasks
    problems = problems_for("dev", inference__services=services)
    # then its min_count is refused with the capacity it would need
    message = only(problems, "mlplatform:inference.services[0].min_count")
    assert "max_instances (1) g4dn.xlarge with 1 GPU(s) each: 1 GPUs, these need 2" in message
    # and with room for both it is accepted
    assert parses("dev", inference__services=services, inference__max_instances=2)


def test_a_bad_gpu_min_count_does_not_hide_a_name_too_long():
    services = json.loads(config_for("dev")["mlplatform:inference"])["services"]
    services[0].update(min_count=2, desired_count=2, max_count=2)
    problems = problems_for(
        "dev", inference__services=services, **{"mlplatform:environment": "integration"}
    )
    assert only(problems, "mlplatform:inference.services[0].min_count")
    assert only(problems, "mlplatform:environment")


def test_more_inference_services_than_fit_below_mlflow_on_the_shared_listener_are_refused(
    run_stack,
):
    # Given dev, where MLflow shares the inference load balancer
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/service:1"
    services = [
        {"name": f"svc-{i}", "image": image, "path_patterns": [f"/s{i}"], "cpu": 256,
         "memory": 512, "desired_count": 1, "min_count": 1, "max_count": 1}
        for i in range(10)
    ]  # fmt: skip
    # When ten services would take priorities 10 ... 100
    with pytest.raises(ProgramError) as failure:
        run_stack("dev", {"inference.services": services})
    # Then the config check refuses it, naming the key, before any resource exists
    assert "mlplatform:inference.services: expected at most 9 services" in str(failure.value)
    assert failure.value.resources == []
