"""StackCommon: the inputs every stack shares, read from the settings under one set of names."""

from __future__ import annotations

import dataclasses

import pytest

from components.config import settings as s
from components.stacks.common import StackCommon
from components.stacks.data_platform import DataPlatformArgs
from components.stacks.inference import InferenceArgs
from components.stacks.network import NetworkArgs
from components.stacks.training import TrainingArgs
from offline.runner import apply_override, stack_config

URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/prebuilt/worker:1.0"
KNOWN = frozenset({"cmaes_worker", "mlflow", "vision_validator", "ai_inference", "agent_world"})
SHARED = {f.name for f in dataclasses.fields(StackCommon)}


def settings_of(stack: str, **overrides: str) -> s.Settings:
    config, _ = stack_config(stack)
    for key, value in overrides.items():
        apply_override(config, key, value)
    return s.parse(config, stack, known_services=KNOWN)


def test_from_settings_reads_the_shared_keys_once():
    # given the dev settings with a prebuilt worker image
    settings = settings_of("dev", **{"images.cmaes_worker": URI})
    # when the shared inputs of the training stack are read
    common = StackCommon.from_settings(settings, "training")
    # then every field comes from its one config key
    assert common.name_prefix == settings.prefix() == "mlplatform-dev"
    assert common.environment == settings.environment
    assert common.region == settings.region
    assert common.deletion_protection is settings.deletion_protection is False
    assert common.log_retention_days == settings.log_retention_days
    assert common.prebuilt_image("cmaes_worker") == URI
    assert common.prebuilt_image("mlflow") is None
    assert common.tags == settings.base_tags("training")
    assert common.tags["component"] == "training"


def test_from_settings_takes_the_logs_key_and_access_log_bucket_of_the_audit_block():
    settings = settings_of("dev")
    audit = dataclasses.make_dataclass("Audit", ["key_arn", "access_log_bucket"])(
        "arn:aws:kms:us-east-1:123456789012:key/logs", "mlplatform-dev-access-logs-x"
    )
    common = StackCommon.from_settings(settings, "network", audit)
    assert common.log_key_arn == audit.key_arn
    assert common.access_log_bucket == audit.access_log_bucket
    # Without one: CloudWatch Logs' own encryption, no access logs.
    bare = StackCommon.from_settings(settings, "network")
    assert (bare.log_key_arn, bare.access_log_bucket) == (None, None)


def test_common_is_frozen():
    common = StackCommon(name_prefix="p", environment="e", region="us-east-1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        common.name_prefix = "other"  # type: ignore[misc]


def test_defaults_are_the_secure_ones():
    common = StackCommon(name_prefix="p", environment="e", region="us-east-1")
    assert common.deletion_protection is True
    assert common.log_retention_days == 365
    assert common.secret_recovery_days == 7
    assert dict(common.prebuilt_images) == {} and dict(common.tags) == {}


def test_secret_recovery_window_follows_deletion_protection():
    assert StackCommon.from_settings(settings_of("prod"), "x").secret_recovery_days == 7
    assert StackCommon.from_settings(settings_of("dev"), "x").secret_recovery_days == 0


def test_image_args_use_the_stack_repository_and_the_images_config():
    common = StackCommon.from_settings(settings_of("dev", **{"images.cmaes_worker": URI}), "t")
    args = common.image_args("cmaes_worker")
    assert args.repository_name == "mlplatform-dev/cmaes_worker"
    assert args.prebuilt_uri == URI
    assert args.force_delete is True  # dev: destroy may empty the repository
    assert args.tags == common.tags
    # an explicit URI (an inference service's own ``image``) wins over the images config
    assert common.image_args("cmaes_worker", "other:1").prebuilt_uri == "other:1"
    prod = StackCommon.from_settings(settings_of("prod"), "t").image_args("mlflow")
    assert prod.force_delete is False and prod.prebuilt_uri is None


@pytest.mark.parametrize("args_class", [NetworkArgs, TrainingArgs, InferenceArgs, DataPlatformArgs])
def test_each_stack_args_take_the_shared_fields_from_common_only(args_class):
    fields = {f.name: f for f in dataclasses.fields(args_class)}
    assert fields["common"].type in ("StackCommon", StackCommon)
    # no stack re-declares a shared field, nor one of its old drifting names
    assert not (SHARED | {"retain_data", "prebuilt_image", "image"}) & set(fields)
    assert args_class.__dataclass_params__.frozen
