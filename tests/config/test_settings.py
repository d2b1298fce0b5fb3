"""Settings (components/config/settings.py): the sections composed, the top-level keys,
and the checks that span stacks: production, tags, prebuilt images, the paths stacks
share on one load balancer and the physical names the configuration derives."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from components.config import (
    agent_world,
    data_platform,
    fields,
    inference,
    ingress,
    network,
    quotas,
    training,
)
from components.config import settings as s
from offline.runner import ProgramError

ROOT = Path(__file__).resolve().parents[2]
CERT = "arn:aws:acm:{}:123456789012:certificate/11111111-2222-3333-4444-555555555555"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_real_stack_files_are_valid(config_for, stack):
    settings = s.parse(config_for(stack), stack)
    assert settings.environment == stack
    assert settings.region == "us-east-1"


def test_dev_and_prod_differ_where_cost_and_safety_do(config_for):
    dev = s.parse(config_for("dev"), "dev")
    prod = s.parse(config_for("prod"), "prod")
    assert (dev.network.nat_strategy, prod.network.nat_strategy) == ("none", "one_per_az")
    assert (dev.network.interface_endpoints, prod.network.interface_endpoints) == (False, True)
    assert (dev.network.az_count, prod.network.az_count) == (2, 3)
    assert (dev.deletion_protection, prod.deletion_protection) == (False, True)
    assert not dev.ingress.allow_http and not prod.ingress.allow_http
    assert (dev.ingress.front_door, prod.ingress.front_door) == ("http_api", "load_balancer")
    assert not dev.ingress.certificate_arn and not dev.dns.zone_id
    assert prod.dns.zone_id and prod.dns.inference_host and prod.dns.mlflow_host
    assert (dev.security.waf, prod.security.waf) == (False, True)
    assert dev.training.spot_percentage == 100 and dev.training.min_workers == 0
    assert dev.inference.min_instances == 0
    assert not dev.data_platform.multi_az and prod.data_platform.multi_az
    assert not dev.agent_world.redis_multi_az and prod.agent_world.redis_multi_az


def test_dev_and_prod_run_the_same_cpu_architecture_arm64(config_for):
    # A dev on one architecture and a prod on another would find architecture bugs in prod.
    dev = s.parse(config_for("dev"), "dev")
    prod = s.parse(config_for("prod"), "prod")
    assert dev.cpu_architecture == prod.cpu_architecture == "arm64"


def test_the_cpu_architecture_defaults_to_x86_64(config_for):
    config = config_for("dev")
    del config["mlplatform:cpu_architecture"]
    assert s.parse(config, "dev").cpu_architecture == "x86_64"


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


BAD_CONFIGS = [
    # (overrides on dev, the key the message must name, a phrase of the accepted form)
    ({"mlplatform:vpc_cidr": "10.0.0.0/16"}, "mlplatform:vpc_cidr", "unknown key"),
    ({"mlplatform:deletion_protection": "maybe"}, "mlplatform:deletion_protection", "boolean"),
    ({"mlplatform:log_retention_days": "31"}, "mlplatform:log_retention_days", "one of 1, 3"),
    ({"mlplatform:environment": "Dev_1"}, "mlplatform:environment", "lowercase"),
    ({"mlplatform:environment": None}, "mlplatform:environment", "required"),
    ({"aws:region": None}, "aws:region", "us-east-1"),
    ({"aws:region": "moon-base-1x"}, "aws:region", "us-east-1"),
    ({"stacks.network": False}, "mlplatform:stacks.training", "needs stacks.network"),
    ({"stacks.network": "yes"}, "mlplatform:stacks.network", "boolean"),
    ({"mlplatform:alarm_email": "ops at example"}, "mlplatform:alarm_email", "e-mail"),
    ({"mlplatform:inference_api_key": "short"}, "mlplatform:inference_api_key",
     "at least 16 characters"),
    ({"mlplatform:inference_api_key": "a-plain-text-key-of-some-length"},
     "mlplatform:inference_api_key", "pulumi config set --secret"),
    ({"mlplatform:openai_api_key": "sk with spaces in it"}, "mlplatform:openai_api_key",
     "8-512 visible ASCII characters"),
    ({"mlplatform:openai_api_key": "sk-plain-text-key-0123456789"}, "mlplatform:openai_api_key",
     "pulumi config set --secret"),
    ({"mlplatform:gemini_api_key": "short"}, "mlplatform:gemini_api_key",
     "8-512 visible ASCII characters"),
    ({"mlplatform:backend_url": "http://backend.example.com"}, "mlplatform:backend_url",
     "an https URL"),
    ({"mlplatform:backend_url": "https://backend.example.com/?token=x"}, "mlplatform:backend_url",
     "without credentials, query or fragment"),
    ({"images.nope": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"}, "mlplatform:images.nope",
     "unknown service"),
    ({"images.cmaes_worker": "not a uri"}, "mlplatform:images.cmaes_worker", "image URI"),
    ({"images": {"cmaes_worker": 3}}, "mlplatform:images", "string values"),
    ({"tags.aws:owner": "me"}, "mlplatform:tags.aws:owner", "not starting with 'aws:'"),
    ({"mlplatform:cpu_architecture": "aarch64"}, "mlplatform:cpu_architecture",
     "one of x86_64, arm64"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "key", "accepted"), BAD_CONFIGS, ids=[b[1] for b in BAD_CONFIGS]
)
def test_bad_config_is_refused_naming_the_key_and_accepted_form(refused, overrides, key, accepted):
    refused(overrides, key, accepted)


def test_prod_refuses_to_drop_deletion_protection(problems_for):
    problems = problems_for("prod", **{"mlplatform:deletion_protection": False})
    assert any(p.startswith("mlplatform:deletion_protection:") and "prod" in p for p in problems)


def test_prebuilt_image_uris_are_accepted_for_known_services(parses):
    uri = (
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlplatform-dev/cmaes_worker@sha256:"
        + "a" * 64
    )
    settings = parses("dev", **{"images.cmaes_worker": uri})
    assert settings.images["cmaes_worker"] == uri


def test_a_secret_api_key_is_accepted_and_kept_out_of_the_repr(config_for):
    config = config_for("dev", **{"mlplatform:inference_api_key": "k" * 40})
    settings = s.parse(
        config, "dev", known_services=frozenset({"cmaes_worker", "vision_validator",
                                                 "ai_inference"}),
        secret_keys=frozenset({"mlplatform:inference_api_key"}),
    )  # fmt: skip
    assert settings.inference_api_key == "k" * 40
    assert "k" * 40 not in repr(settings)


def test_secret_provider_keys_and_a_backend_url_are_accepted_and_the_keys_hidden(config_for):
    overrides = {
        "mlplatform:openai_api_key": "sk-" + "o" * 40,
        "mlplatform:gemini_api_key": "AIza" + "g" * 35,
        "mlplatform:backend_url": "https://backend.example.com/api",
    }
    config = config_for("dev", **overrides)
    settings = s.parse(
        config, "dev", known_services=frozenset({"cmaes_worker", "vision_validator",
                                                 "ai_inference"}),
        secret_keys=frozenset({"mlplatform:openai_api_key", "mlplatform:gemini_api_key"}),
    )  # fmt: skip
    assert (settings.openai_api_key, settings.backend_url) == (
        "sk-" + "o" * 40, "https://backend.example.com/api")  # fmt: skip
    assert "o" * 40 not in repr(settings) and "g" * 35 not in repr(settings)


def test_base_tags_name_project_stack_environment_and_component(parses):
    tags = parses("dev", **{"tags.cost-center": "ml"}).base_tags("network")
    assert tags == {
        "cost-center": "ml",
        "project": "mlplatform",
        "stack": "dev",
        "environment": "dev",
        "component": "network",
        "managed-by": "pulumi",
    }


def test_user_tags_cannot_override_the_base_tags(parses):
    assert parses("dev", **{"tags.environment": "prod"}).base_tags("network")["environment"] == (
        "dev"
    )


def test_a_region_of_the_right_shape_that_botocore_does_not_know_is_refused(
    problems_for, parses, only
):
    # given a region name that a pattern would accept but no partition has
    problems = problems_for("dev", **{"aws:region": "us-east-9"})
    # then the message names aws:region and the accepted form
    assert "botocore's endpoint data" in only(problems, "aws:region")
    # and the regions of other partitions are accepted
    assert parses("dev", **{"aws:region": "us-gov-west-1"}).region == "us-gov-west-1"
    assert {"eu-south-2", "cn-north-1", "us-east-1"} <= s.aws_regions()


def test_an_environment_name_ending_in_a_hyphen_is_refused(problems_for, only):
    problems = problems_for("dev", **{"mlplatform:environment": "qa-"})
    assert "not ending in '-'" in only(problems, "mlplatform:environment")


def test_an_environment_too_long_for_a_derived_name_is_refused_with_the_name_and_limit(
    problems_for, only
):
    # given dev (the data platform's buckets are named <prefix>-mlflow-artifacts-<26>)
    # when the environment has 11 characters
    problems = problems_for("dev", **{"mlplatform:environment": "integration"})
    # then one problem names the environment, the longest name and S3's 37-character prefix
    message = only(problems, "mlplatform:environment")
    assert "'mlplatform-integration-mlflow-artifacts-'" in message
    assert "a prefix of at most 37 characters (got 40)" in message
    assert "at most 8 characters here" in message
    assert "bucketnamingrules" in message


def test_the_environment_limit_comes_from_the_names_not_a_fixed_length(problems_for, parses):
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


def test_an_environment_whose_derived_rds_identifier_has_two_hyphens_in_a_row_is_refused(
    problems_for, only
):
    problems = problems_for("dev", **{"mlplatform:environment": "q--a"})
    message = only(problems, "mlplatform:environment")
    assert "single hyphens" in message and "mlplatform-q--a-mlflow" in message


def _service(name: str, source: str = "ai_inference", **keys) -> dict:
    return {"name": name, "source": source, "path_patterns": [f"/{name}"], **keys}


def test_two_services_whose_target_group_names_truncate_to_one_are_refused(problems_for, only):
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


def test_a_service_whose_truncated_target_group_ends_in_a_hyphen_is_refused(problems_for, only):
    problems = problems_for("dev", inference__services=[_service("ai-inference-blu-01")])
    message = only(problems, "mlplatform:inference.services[0].name")
    assert "'mlplatform-dev-ai-inference-blu-'" in message and "not starting or ending" in message


def test_two_services_built_from_one_source_are_refused_for_sharing_an_ecr_repository(
    problems_for, only
):
    services = [_service("alpha"), _service("beta")]
    problems = problems_for("dev", inference__services=services)
    message = only(problems, "mlplatform:inference.services[1].source")
    assert "ECR repository 'mlplatform-dev/ai_inference'" in message


def test_a_service_built_from_another_stacks_source_is_refused_for_its_repository(
    problems_for, only
):
    problems = problems_for("dev", inference__services=[_service("alpha", "cmaes_worker")])
    message = only(problems, "mlplatform:inference.services[0].source")
    assert "'mlplatform-dev/cmaes_worker'" in message


def test_production_is_a_setting_and_refuses_http_short_logs_and_no_deletion_protection(
    problems_for, parses, only
):
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
    # and so is dev's HTTP API front door in place of the certified load balancer
    problems = problems_for("prod", ingress__front_door="http_api")
    for key in ("ingress.front_door",):
        assert "production is true" in only(problems, f"mlplatform:{key}")


def test_a_stack_named_prod_is_not_production_unless_it_says_so(parses):
    settings = parses(
        "prod",
        **{"mlplatform:production": False, "mlplatform:deletion_protection": False,
           "mlplatform:log_retention_days": 30},
    )  # fmt: skip
    assert settings.environment == "prod" and not settings.production


def test_a_stack_of_another_name_is_held_to_production_when_it_says_so(problems_for, only):
    problems = problems_for("dev", **{"mlplatform:production": True})
    for key in ("ingress.front_door", "log_retention_days", "deletion_protection"):
        assert only(problems, f"mlplatform:{key}")


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [("/*", "/mlflow", True), ("/mlflow/*", "/mlflow", False), ("/ml?low", "/mlflow", True),
     ("/mlflow*", "/mlflow/*", True), ("/validate", "/mlflow/*", False),
     ("/api*", "/api/*", True), ("/apis", "/api/*", False)],
)  # fmt: skip
def test_path_patterns_overlap_when_one_path_matches_both(a, b, overlap):
    assert s.patterns_overlap(a, b) is overlap
    assert s.patterns_overlap(b, a) is overlap


def test_a_service_path_that_takes_mlflows_on_the_shared_load_balancer_is_refused(
    problems_for, only
):
    # given dev, where the data platform shares the inference load balancer
    services = [_service("catch-all", path_patterns=["/*"])]
    # when a service routes every path (the Hokusai API off: its /api would be named too)
    problems = problems_for("dev", inference__services=services, data_platform__api=False)
    # then it is refused, naming the other stack's path and the setting that shares
    message = only(problems, "mlplatform:inference.services[0].path_patterns")
    assert "'/mlflow'" in message and "data_platform.share_load_balancer" in message


def test_a_service_path_under_the_hokusai_api_on_the_shared_load_balancer_is_refused(
    problems_for, only
):
    problems = problems_for(
        "dev",
        inference__services=[_service("alpha", path_patterns=["/api/v1/*"])],
        data_platform__api=True,
        data_platform__api_image="123456789012.dkr.ecr.us-east-1.amazonaws.com/hokusai:1",
    )
    assert "data_platform.api" in only(problems, "mlplatform:inference.services[0].path_patterns")


def test_a_path_of_mlflow_is_free_when_the_data_platform_has_its_own_load_balancer(parses):
    settings = parses("prod", inference__services=[_service("alpha", path_patterns=["/mlflow"])])
    assert settings.inference.services[0].path_patterns == ("/mlflow",)


@pytest.mark.parametrize(
    ("key", "value"), [("team", "ml,platform"), ("a&b", "x"), ("k", "v" * 257), ("k" * 129, "v")]
)
def test_tags_of_characters_or_lengths_some_service_refuses_are_refused(
    problems_for, only, key, value
):
    problems = problems_for("dev", **{"mlplatform:tags": {key: value}})
    message = only(problems, f"mlplatform:tags.{key}")
    assert "_.:/=+-@" in message and "botocore efs" in message


def test_tags_of_unicode_letters_spaces_and_the_common_punctuation_are_accepted(parses):
    tags = {"Owner Name": "Zoë Ødegaard", "cost:center": "ml/platform_1=a+b-c@d.e"}
    assert dict(parses("dev", **{"mlplatform:tags": tags}).tags) == tags


def test_more_tags_than_a_resource_holds_are_refused(problems_for, parses, only):
    assert parses("dev", **{"mlplatform:tags": {f"t{n}": "x" for n in range(44)}})
    tags = {f"t{n}": "x" for n in range(45)}
    assert "at most 44 tags" in only(problems_for("dev", **{"mlplatform:tags": tags}),
                                     "mlplatform:tags")  # fmt: skip


def test_a_bad_gpu_min_count_does_not_hide_a_name_too_long(config_for, problems_for, only):
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


# --- the modules: importable before any resource, and one import for a reader ----------


def test_the_config_is_read_and_checked_without_pulumi_or_pulumi_aws(config_for):
    # given prod's config map, every stack on, handed to a fresh interpreter
    config = json.dumps(config_for("prod"))
    script = textwrap.dedent("""
        import json, sys
        from components.config import settings
        settings.parse(json.loads(sys.stdin.read()), "prod")
        print(sorted(m for m in ("pulumi", "pulumi_aws", "pulumi_awsx") if m in sys.modules))
    """)
    # when it parses and checks the config
    done = subprocess.run(
        [sys.executable, "-c", script], input=config, capture_output=True, text=True,
        check=True, cwd=ROOT,
    )  # fmt: skip
    # then neither the Pulumi SDK nor the AWS provider has been imported
    assert done.stdout.strip() == "[]", done.stderr


@pytest.mark.parametrize(
    ("name", "module"),
    [("NetworkSettings", network), ("IngressSettings", ingress),
     ("TrainingSettings", training), ("InferenceSettings", inference),
     ("InferenceServiceSettings", inference), ("DataPlatformSettings", data_platform),
     ("MLFLOW_PATH", data_platform), ("HOKUSAI_API_PATH", data_platform),
     ("AgentWorldSettings", agent_world), ("QuotaSettings", quotas),
     ("ConfigError", fields), ("PRICES_FILE", fields), ("config_fields", fields)],
)  # fmt: skip
def test_settings_re_exports_each_name_from_the_module_that_defines_it(name, module):
    assert getattr(s, name) is getattr(module, name)
    assert name in s.__all__


def test_each_section_of_settings_is_its_modules_dataclass():
    sections = {f.name: type(f.default_factory() if f.default is s.dataclasses.MISSING
                             else f.default) for f in s.config_fields(s.Settings)}  # fmt: skip
    assert sections["network"] is network.NetworkSettings
    assert sections["ingress"] is ingress.IngressSettings
    assert sections["training"] is training.TrainingSettings
    assert sections["inference"] is inference.InferenceSettings
    assert sections["data_platform"] is data_platform.DataPlatformSettings
    assert sections["agent_world"] is agent_world.AgentWorldSettings
    assert sections["quotas"] is quotas.QuotaSettings
