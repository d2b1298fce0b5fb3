"""The ``inference`` section (components/config/inference.py): the GPU instances and the
services, each of which must fit where it runs and have an image to run."""

from __future__ import annotations

import json

import pytest

BAD_CONFIGS = [
    # (overrides on dev, the key the message must name, a phrase of the accepted form)
    ({"inference.instance_type": "m5.xlarge"}, "mlplatform:inference.instance_type", "GPU"),
    ({"inference.instance_type": "g5g.xlarge"}, "mlplatform:inference.instance_type", "GPU"),
    ({"inference.warm_pool_size": -1}, "mlplatform:inference.warm_pool_size", "0"),
    ({"inference.warm_pool_size": "one"}, "mlplatform:inference.warm_pool_size", "integer"),
    # dev's max_instances is 1
    ({"inference.warm_pool_size": 2, "inference.spot_percentage": 0},
     "mlplatform:inference.warm_pool_size", "at most max_instances (1)"),
    # dev runs its GPU instances on Spot, which PutWarmPool refuses
    ({"inference.warm_pool_size": 1}, "mlplatform:inference.warm_pool_size",
     "expected 0 while inference.spot_percentage"),
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
    ({"inference.spot_percentage": 150}, "mlplatform:inference.spot_percentage", "0 to 100"),
    ({"inference.request_timeout_seconds": 20}, "mlplatform:inference.request_timeout_seconds",
     "30 to 4000"),
    ({"inference.request_timeout_seconds": 4001},
     "mlplatform:inference.request_timeout_seconds", "30 to 4000"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "key", "accepted"), BAD_CONFIGS, ids=[b[1] for b in BAD_CONFIGS]
)
def test_bad_config_is_refused_naming_the_key_and_accepted_form(refused, overrides, key, accepted):
    refused(overrides, key, accepted)


def test_a_fargate_service_of_a_size_fargate_refuses_is_refused_with_the_sizes_it_takes(
    problems_for, only
):
    services = [{"name": "api", "source": "ai_inference", "path_patterns": ["/a"],
                 "cpu": 1024, "memory": 1024}]  # fmt: skip
    problems = problems_for("dev", inference__services=services)
    assert only(problems, "mlplatform:inference.services[0].memory") == (
        "mlplatform:inference.services[0].memory: expected a Fargate size for a service "
        "without GPU: memory 2048-8192 in steps of 1024 with cpu 1024 (got cpu 1024, memory 1024)"
    )


def test_a_service_needing_more_gpus_than_the_instance_has_is_refused_with_the_remedy(
    config_for, problems_of, parses
):
    services = json.loads(config_for("dev")["mlplatform:inference"])["services"]
    services[0]["gpu"] = 4
    (problem,) = problems_of(
        config_for("dev", inference__instance_type="g4dn.2xlarge", inference__services=services)
    )
    assert problem == (
        "mlplatform:inference.services[0].gpu: expected at most 1, the GPUs of one g4dn.2xlarge "
        "(got 4); choose a larger inference.instance_type"
    )
    settings = parses("dev", inference__instance_type="g4dn.12xlarge", inference__services=services)
    assert settings.inference.services[0].gpu == 4


def test_gpu_tasks_at_min_count_must_fit_on_max_instances(config_for, problems_for, only, parses):
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


def test_fewer_max_instances_than_min_instances_are_refused(problems_for, only):
    problems = problems_for("dev", inference__min_instances=3, inference__max_instances=2)
    assert "expected at least min_instances (3)" in only(
        problems, "mlplatform:inference.max_instances"
    )


ON = {"enabled": True}
SCHEDULE_BAD = [
    ({"inference.schedule": {**ON, "timezone": "Mars/Olympus"}},
     "mlplatform:inference.schedule.timezone", "IANA time zone"),
    ({"inference.schedule": {**ON, "days": "MONDAY"}}, "mlplatform:inference.schedule.days",
     "MON-FRI or MON,WED,FRI"),
    ({"inference.schedule": {**ON, "days": "FRI-MON"}}, "mlplatform:inference.schedule.days",
     "each range in that order"),
    ({"inference.schedule": {**ON, "start_hour": 24}}, "mlplatform:inference.schedule.start_hour",
     "0 to 22"),
    ({"inference.schedule": {**ON, "start_hour": 18, "end_hour": 8}},
     "mlplatform:inference.schedule.end_hour", "after start_hour (18)"),
    ({"inference.schedule": {**ON, "hours": "8-18"}}, "mlplatform:inference.schedule.hours",
     "unknown key; accepted keys: days, enabled, end_hour, start_hour, timezone"),
    ({"inference.schedule": "weekdays"}, "mlplatform:inference.schedule", "an object"),
]  # fmt: skip


@pytest.mark.parametrize(("overrides", "key", "accepted"), SCHEDULE_BAD,
                         ids=[b[1] + ":" + b[2] for b in SCHEDULE_BAD])  # fmt: skip
def test_a_bad_schedule_is_refused_naming_the_key(refused, overrides, key, accepted):
    refused(overrides, key, accepted)


def test_a_schedule_without_a_gpu_service_to_keep_warm_is_refused(problems_for, only):
    # prod's vision validator keeps a task (min_count 1): a schedule would change nothing
    problems = problems_for("prod", inference__schedule={"enabled": True})
    assert "expected a GPU service with min_count 0 to keep warm" in only(
        problems, "mlplatform:inference.schedule.enabled"
    )


def test_the_schedule_is_off_by_default_and_in_both_stack_files(parses):
    for stack in ("dev", "prod"):
        assert parses(stack).inference.schedule.enabled is False
    schedule = parses(
        "dev",
        inference__schedule={"enabled": True, "timezone": "Europe/Berlin", "days": "MON,WED-FRI",
                             "start_hour": 7, "end_hour": 19},
    ).inference.schedule  # fmt: skip
    assert (schedule.timezone, schedule.days, schedule.start_hour, schedule.end_hour) == (
        "Europe/Berlin", "MON,WED-FRI", 7, 19,
    )  # fmt: skip
