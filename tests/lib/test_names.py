"""Physical names: the list the settings check holds to AWS's limits is what the program sends."""

from __future__ import annotations

import re

import pytest

from components.config import settings as s
from components.lib import names
from offline.runner import run_program
from preflight import naming

# Every optional part that adds a name: Redis (both), the coordinator user, the Hokusai API,
# an own data-platform ALB, an Aurora reader, the agent world's three services, NLB and
# dashboard, and prebuilt images (whose repositories are still created).
EVERYTHING_ON = {
    "training.redis": True,
    "training.coordinator_user": True,
    "data_platform.api": True,
    "data_platform.api_image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/hokusai:1",
    "data_platform.share_load_balancer": False,
    "data_platform.multi_az": True,
    "agent_world.redis": True,
    "agent_world.single_service": False,
    "agent_world.share_load_balancer": False,
    "agent_world.dashboard": True,
    "mlplatform:deletion_protection": True,
    "images.mlflow": "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlflow:1",
    "images.vision_validator": "123456789012.dkr.ecr.us-east-1.amazonaws.com/vv:1",
}


def _registered(run) -> set[tuple[str, str, str]]:
    return {
        (r.type, prop, r.inputs[prop])
        for r in run.resources
        for (type_token, prop) in naming.NAME_RULES
        if r.type == type_token and isinstance(r.inputs.get(prop), str)
    }


def _enumerated(run) -> set[tuple[str, str, str]]:
    settings = s.parse(run.config, run.stack)
    return {(n.type, n.property, n.value) for n in names.physical_names(settings)}


def test_the_names_listed_for_dev_are_the_names_dev_registers(dev):
    # given the dev stack as the program registers it
    # when its settings' physical names are listed
    # then they are exactly the explicit names of every type the naming rules know
    assert _enumerated(dev) == _registered(dev)


def test_the_names_listed_for_prod_are_the_names_prod_registers(prod):
    assert _enumerated(prod) == _registered(prod)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_names_listed_with_every_optional_part_on_are_the_names_registered(stack):
    run = run_program(stack, EVERYTHING_ON)
    assert _enumerated(run) == _registered(run)


def test_every_listed_type_has_a_naming_rule(prod):
    settings = s.parse(prod.config, "prod")
    for name in names.physical_names(settings):
        assert (name.type, name.property) in naming.NAME_RULES, name


def test_every_naming_rule_has_a_limit_a_source_and_a_pattern_python_compiles():
    for rule in naming.NAME_RULES.values():
        resolved = rule.resolved()
        assert resolved.max_length > 0, rule
        assert resolved.source.startswith(("https://", "botocore ")), rule
        re.compile(resolved.pattern)


def test_a_prefix_leaves_room_for_the_providers_26_characters():
    # given S3's 63-character bucket names, completed by PrefixedUniqueId
    rule = naming.rule_for("aws:s3/bucket:Bucket", "bucketPrefix")
    # then a prefix may hold 37 characters and no more
    assert rule.max_value_length() == 37
    assert naming.problem("aws:s3/bucket:Bucket", "bucketPrefix", "a" * 37) is None
    assert "at most 37" in naming.problem("aws:s3/bucket:Bucket", "bucketPrefix", "a" * 38)


def test_botocore_shapes_give_the_modelled_limits():
    role = naming.rule_for("aws:iam/role:Role", "name").resolved()
    assert (role.max_length, role.source) == (64, "botocore iam roleNameType")
    assert naming.problem("aws:iam/role:Role", "name", "r" * 65) is not None
    assert naming.problem("aws:iam/role:Role", "namePrefix", "r" * 38) is None
    assert naming.problem("aws:iam/role:Role", "namePrefix", "r" * 39) is not None


@pytest.mark.parametrize(
    ("type_token", "prop", "value"),
    [("aws:lb/targetGroup:TargetGroup", "name", "ends-in-"),
     ("aws:lb/loadBalancer:LoadBalancer", "name", "internal-lb"),
     ("aws:rds/instance:Instance", "identifier", "two--hyphens"),
     ("aws:kms/alias:Alias", "name", "alias/aws/mine"),
     ("aws:ecr/repository:Repository", "name", "Upper/case")],
)  # fmt: skip
def test_names_aws_refuses_are_refused(type_token, prop, value):
    assert naming.problem(type_token, prop, value) is not None


def test_an_auto_name_is_the_logical_name_and_eight_characters():
    assert len(naming.autoname("inference-alb-sg")) == len("inference-alb-sg") + 8


def test_a_function_target_group_keeps_its_suffix_and_never_ends_in_a_hyphen():
    from components.lib import names

    assert names.function_target_group("mlplatform-dev", "ai-inference") == (
        "mlplatform-dev-ai-inference-fn"
    )
    long = names.function_target_group("mlplatform-staging", "a-very-long-service")
    assert len(long) <= 32 and long.endswith("-fn") and "--" not in long
    assert long != names.target_group("mlplatform-staging", "a-very-long-service")
    # "<28 p>-abc" cut to 29 ends in "-": the hyphen goes before the suffix.
    assert names.function_target_group("p" * 28, "abc") == "p" * 28 + "-fn"
