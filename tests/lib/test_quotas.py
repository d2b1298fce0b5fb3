"""The vCPU quotas the stacks draw on at their maximum, the plan's table and quotas.request.

The arithmetic is tested on typed settings alone (no mocks); the requests on the program
under the mock engine, dev and prod, with the switch on and off.
"""

from __future__ import annotations

import dataclasses
import re

import botocore.loaders
import pytest

from components.blocks.quotas_requests import QuotaRequests
from components.config import settings
from components.lib import quotas
from components.lib.quotas import (
    FARGATE_ON_DEMAND,
    G_VT_ON_DEMAND,
    G_VT_SPOT,
    ON_DEMAND,
    P2_P4_SPOT,
    P5_SPOT,
    P_ON_DEMAND,
    SPOT,
)
from offline.__main__ import main
from offline.mocks import PlatformMocks
from offline.runner import run_program, stack_config

SERVICE_QUOTA = "aws:servicequotas/serviceQuota:ServiceQuota"


def stack_settings(stack: str, **sections) -> settings.Settings:
    """The settings of ``Pulumi.<stack>.yaml``, with sections replaced by keyword."""
    config, secret_keys = stack_config(stack)
    parsed = settings.parse(config, stack, secret_keys=frozenset(secret_keys))
    return dataclasses.replace(parsed, **sections)


def only(s: settings.Settings, *names: str) -> settings.Settings:
    """``s`` with only the stacks ``names`` (and the network) enabled."""
    switches = {f.name: f.name in names for f in dataclasses.fields(settings.StackSwitches)}
    return dataclasses.replace(s, stacks=settings.StackSwitches(**{**switches, "network": True}))


def by_code(values: dict) -> dict[str, float]:
    return {q.code: v for q, v in values.items()}


# --- the quotas ---------------------------------------------------------------------


def test_quota_codes_and_service_codes_match_the_service_quotas_api_model():
    shapes = botocore.loaders.Loader().load_service_model("service-quotas", "service-2")["shapes"]
    for quota in quotas.QUOTAS:
        for shape, value in (("QuotaCode", quota.code), ("ServiceCode", quota.service_code)):
            model = shapes[shape]
            assert re.fullmatch(model["pattern"], value), (shape, value)
            assert model["min"] <= len(value) <= model["max"], (shape, value)


def test_g_and_vt_families_draw_on_the_g_and_vt_quotas():
    for instance_type in ("g4dn.xlarge", "g5.12xlarge", "g6.xlarge", "g6e.48xlarge"):
        assert quotas.instance_quotas(instance_type) == {ON_DEMAND: G_VT_ON_DEMAND, SPOT: G_VT_SPOT}


def test_p_families_draw_on_the_p_quotas_with_p5_spot_apart():
    p4 = {ON_DEMAND: P_ON_DEMAND, SPOT: P2_P4_SPOT}
    assert quotas.instance_quotas("p3.2xlarge") == p4
    assert quotas.instance_quotas("p4d.24xlarge") == p4
    assert quotas.instance_quotas("p5.48xlarge") == {ON_DEMAND: P_ON_DEMAND, SPOT: P5_SPOT}


def test_every_supported_gpu_type_has_its_quotas_and_vcpus():
    from components.lib import instance_types

    for instance_type in instance_types.GPU_COUNTS:
        assert set(quotas.instance_quotas(instance_type)) == {ON_DEMAND, SPOT}
        assert quotas.instance_vcpus(instance_type) >= 4


def test_a_family_without_a_known_quota_is_refused():
    with pytest.raises(ValueError, match=r"m5\.large"):
        quotas.instance_quotas("m5.large")


# --- splitting by purchase option ---------------------------------------------------------


def test_instances_split_by_the_spot_percentage_above_the_on_demand_base():
    assert quotas.instance_split(4, 0) == {ON_DEMAND: 4, SPOT: 0}
    assert quotas.instance_split(4, 100) == {ON_DEMAND: 0, SPOT: 4}
    assert quotas.instance_split(4, 25) == {ON_DEMAND: 3, SPOT: 1}
    assert quotas.instance_split(4, 50, on_demand_base=2) == {ON_DEMAND: 3, SPOT: 1}


def test_an_uneven_instance_split_bounds_each_option_by_rounding_up():
    assert quotas.instance_split(3, 50) == {ON_DEMAND: 2, SPOT: 2}


def test_tasks_split_as_the_capacity_strategy_weights_them():
    # 80 % Spot is FARGATE 1 : FARGATE_SPOT 4 in queue_scaling.capacity_strategy.
    assert quotas.task_split(20, 80) == {ON_DEMAND: 4, SPOT: 16}
    assert quotas.task_split(6, 0) == {ON_DEMAND: 6, SPOT: 0}
    assert quotas.task_split(2, 100) == {ON_DEMAND: 0, SPOT: 2}
    assert quotas.task_split(3, 80) == {ON_DEMAND: 1, SPOT: 3}  # each share rounded up


def test_the_gpu_split_is_the_one_the_auto_scaling_groups_register(each_stack):
    s = stack_settings(each_stack.stack)
    group = each_stack.one("aws:autoscaling/group:Group")
    distribution = group.get("mixedInstancesPolicy.instancesDistribution")
    if group.inputs.get("warmPool"):
        # A warm pool's group is on-demand only, without a mixed policy (PutWarmPool).
        assert distribution is None and s.inference.spot_percentage == 0
        return
    assert distribution["onDemandBaseCapacity"] == quotas.GPU_ON_DEMAND_BASE
    assert distribution["onDemandPercentageAboveBaseCapacity"] == 100 - s.inference.spot_percentage


# --- what each stack can ask for --------------------------------------------------------------


def test_dev_at_its_maximum():
    s = stack_settings("dev")
    assert by_code(quotas.totals(s)) == {
        "L-DB2E81BA": 0.0,  # On-Demand G and VT: dev's GPU instance is Spot
        "L-3819A6DF": 4.0,  # one g4dn.xlarge
        "L-3032A538": 0.0,
        # 4 workers x 1 + MLflow 0.5 (the Hokusai API runs in its task) + world 2 x 0.25
        # (ai-inference is a Lambda function: no Fargate vCPUs)
        "L-36FBB829": 5.5,
    }
    assert by_code(quotas.requested(s)) == {"L-3819A6DF": 4, "L-36FBB829": 6}


def test_prod_at_its_maximum():
    s = stack_settings("prod")
    assert by_code(quotas.totals(s)) == {
        "L-DB2E81BA": 16.0,  # 4 x g4dn.xlarge On-Demand
        "L-3819A6DF": 0.0,
        # workers 4 x 2 + ai-inference 6 x 0.5 + MLflow 2 x 1 + Hokusai API 0.5 + 3 x 8 x 0.5
        "L-3032A538": 25.5,
        "L-36FBB829": 32.0,  # workers 16 x 2
    }
    assert by_code(quotas.requested(s)) == {"L-DB2E81BA": 16, "L-3032A538": 26, "L-36FBB829": 32}


def test_the_hokusai_api_counts_its_own_vcpus_only_in_its_own_service():
    def api_vcpus(placement: str) -> float:
        s = stack_settings("dev")
        d = dataclasses.replace(s.data_platform, api_placement=placement)
        s = dataclasses.replace(s, data_platform=d)
        return sum(x.vcpus for x in quotas.demands(s) if x.workload == "hokusai-api")

    assert api_vcpus("with_mlflow") == 0  # dev: a container of MLflow's 0.5 vCPU task
    assert api_vcpus("own_service") == 0.5


def test_training_workers_count_at_max_workers_with_their_spot_share():
    s = only(stack_settings("prod"), "training")
    s = dataclasses.replace(
        s,
        training=dataclasses.replace(
            s.training, max_workers=10, worker_cpu=4096, spot_percentage=50
        ),
    )
    assert by_code(quotas.totals(s)) == {"L-3032A538": 20.0, "L-36FBB829": 20.0}


def test_gpu_services_draw_on_ec2_and_the_others_on_fargate():
    s = only(stack_settings("prod"), "inference")
    demands = {(d.workload, d.quota.code): d.vcpus for d in quotas.demands(s)}
    assert demands == {
        ("g4dn.xlarge instances", "L-DB2E81BA"): 16,
        ("ai-inference", "L-3032A538"): 3,
    }


def test_inference_without_a_gpu_service_needs_no_gpu_quota():
    s = only(stack_settings("prod"), "inference")
    cpu_only = tuple(svc for svc in s.inference.services if not svc.gpu)
    s = dataclasses.replace(s, inference=dataclasses.replace(s.inference, services=cpu_only))
    assert by_code(quotas.totals(s)) == {"L-3032A538": 3.0, "L-36FBB829": 0.0}


def test_a_larger_gpu_type_counts_its_own_vcpus_on_its_own_family():
    s = only(stack_settings("prod"), "inference")
    s = dataclasses.replace(
        s,
        inference=dataclasses.replace(s.inference, instance_type="p3.8xlarge", spot_percentage=50),
    )
    totals = by_code(quotas.totals(s))
    assert totals["L-417A185B"] == 64.0 and totals["L-7212CCBC"] == 64.0  # 2 x 32 each way
    assert "L-DB2E81BA" not in totals


def test_the_agent_world_counts_max_tasks_per_deployed_service():
    s = only(stack_settings("prod"), "agent_world")
    three = by_code(quotas.totals(s))["L-3032A538"]
    one = dataclasses.replace(
        s, agent_world=dataclasses.replace(s.agent_world, single_service=True)
    )
    assert three == 3 * 8 * 0.5
    assert by_code(quotas.totals(one))["L-3032A538"] == 8 * 0.5


def test_the_hokusai_api_adds_its_task_to_the_data_platform():
    s = only(stack_settings("prod"), "data_platform")
    without_api = dataclasses.replace(
        s, data_platform=dataclasses.replace(s.data_platform, api=False)
    )
    assert s.data_platform.api  # prod runs it
    assert (
        by_code(quotas.totals(s))["L-3032A538"]
        == by_code(quotas.totals(without_api))["L-3032A538"] + 0.5
    )


def test_disabled_stacks_ask_for_nothing():
    s = only(stack_settings("prod"))
    assert quotas.demands(s) == []
    assert quotas.requested(s) == {}


def test_a_quota_at_zero_is_shown_but_not_requested():
    s = stack_settings("dev")
    assert quotas.totals(s)[G_VT_ON_DEMAND] == 0
    assert G_VT_ON_DEMAND not in quotas.requested(s)


def test_fractional_vcpus_are_requested_in_whole_vcpus():
    s = stack_settings("prod")
    assert quotas.totals(s)[FARGATE_ON_DEMAND] == 25.5
    assert quotas.requested(s)[FARGATE_ON_DEMAND] == 26


@pytest.mark.parametrize(
    ("current", "needed", "value"), [(0.0, 16, 16.0), (6.0, 6, 6.0), (4000.0, 25, 4000.0)]
)
def test_the_requested_value_never_falls_below_the_accounts(current, needed, value):
    assert quotas.desired_value(current, needed) == value


# --- the plan -------------------------------------------------------------------------------


def test_the_table_lists_each_stack_and_the_total_per_quota():
    lines = quotas.render(stack_settings("prod"))
    assert lines[0] == (
        "vCPU quotas at maximum (Service Quotas, per account and region; quotas.request off):"
    )
    table = "\n".join(lines)
    training = r"^  training\s+L-36FBB829\s+fargate\s+Spot\s+Fargate Spot vCPU resource count\s+32$"
    gpu = (
        r"^  inference\s+L-DB2E81BA\s+ec2\s+On-Demand\s+Running On-Demand G and VT instances\s+16$"
    )
    assert re.search(training, table, re.M)
    assert re.search(gpu, table, re.M)
    assert re.search(r"^  all stacks\s+L-3032A538\s+fargate\s+On-Demand\s+.*\s25\.5$", table, re.M)
    assert re.search(r"^  all stacks\s+L-3819A6DF\s+ec2\s+Spot\s+.*\s0$", table, re.M)
    assert "start at 0 in many new" in table
    assert (
        "aws service-quotas get-service-quota --service-code ec2 --quota-code L-DB2E81BA" in table
    )


def test_the_table_says_when_nothing_draws_on_a_quota():
    lines = quotas.render(only(stack_settings("dev")))
    assert lines[1] == "  none: no enabled stack runs instances or Fargate tasks"


def test_plan_prints_the_quota_table_after_the_costs(capsys, tmp_path):
    assert main(["dev", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.index("Largest idle charges") < out.index("vCPU quotas at maximum")
    assert re.search(r"^  all stacks\s+L-36FBB829\s+fargate\s+Spot\s+.*\s5\.5$", out, re.M)


# --- quotas.request ---------------------------------------------------------------------------


def test_no_quota_is_requested_by_default(each_stack):
    assert each_stack.of_type(SERVICE_QUOTA) == []
    assert each_stack.of_type(QuotaRequests.TYPE) == []


@pytest.fixture(scope="module", params=["dev", "prod"])
def requesting(request):
    """The stack with ``quotas.request`` on."""
    return run_program(request.param, {"quotas.request": True})


def test_the_switch_requests_each_needed_quota_under_one_component(requesting):
    component = requesting.one(QuotaRequests.TYPE)
    registered = requesting.of_type(SERVICE_QUOTA)
    needed = quotas.requested(stack_settings(requesting.stack))
    assert {r.inputs["quotaCode"]: r.inputs["serviceCode"] for r in registered} == {
        q.code: q.service_code for q in needed
    }
    assert {r.parent for r in registered} == {component.urn}
    assert {r.name for r in registered} == {f"quotas-{q.code.lower()}" for q in needed}


def test_each_request_asks_for_the_need_or_the_accounts_value_if_higher(requesting):
    # The mocks answer as a new account: G and VT at 0 vCPUs, Fargate at 6.
    needed = by_code(quotas.requested(stack_settings(requesting.stack)))
    for r in requesting.of_type(SERVICE_QUOTA):
        code = r.inputs["quotaCode"]
        current = PlatformMocks.QUOTA_DEFAULTS[r.inputs["serviceCode"]]
        assert r.inputs["value"] == max(current, needed[code]), code
        assert r.outputs["requestStatus"] == ("PENDING" if needed[code] > current else "")


REQUESTED = {
    # dev: one Spot g4dn.xlarge; its 5.5 Fargate Spot vCPUs fit a new account's 6.
    "dev": {"L-3819A6DF": 4.0, "L-36FBB829": 6.0},
    "prod": {"L-DB2E81BA": 16.0, "L-3032A538": 26.0, "L-36FBB829": 32.0},
}


def test_the_values_registered_in_dev_and_prod(requesting):
    values = {r.inputs["quotaCode"]: r.inputs["value"] for r in requesting.of_type(SERVICE_QUOTA)}
    assert values == REQUESTED[requesting.stack]
