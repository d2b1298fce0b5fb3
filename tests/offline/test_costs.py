"""The offline cost estimate: price arithmetic on fixed resources, and the real stacks."""

from __future__ import annotations

import json

import pytest

from offline import costs
from offline.mocks import RecordedResource
from offline.runner import ProgramRun

PRICES = costs.load_prices()
HOURS = 730


def resource(type_, name, inputs, outputs=None, parent="root", custom=True, id_=""):
    return RecordedResource(type_, name, f"urn:{name}", id_ or name, inputs, frozenset(),
                            outputs or {}, parent, custom, False, {})  # fmt: skip


def run_of(*resources) -> ProgramRun:
    component = resource("mlplatform:test:Stack", "stack", {}, custom=False, parent="")
    kids = [r for r in resources]
    for r in kids:
        r.parent = r.parent if r.parent != "root" else component.urn
    return ProgramRun("test", [component, *kids], {}, frozenset())


def test_prices_name_their_source_and_date():
    assert "aws.amazon.com/pricing" in PRICES["source"]
    assert PRICES["date"] == "2026-11-23"


def test_an_internet_facing_alb_bills_its_hours_and_one_ipv4_per_subnet():
    alb = resource("aws:lb/loadBalancer:LoadBalancer", "alb",
                   {"loadBalancerType": "application", "internal": False,
                    "subnets": ["a", "b"]})  # fmt: skip
    estimate = costs.estimate(run_of(alb), PRICES)
    assert estimate.idle["stack"] == pytest.approx((0.0225 + 2 * 0.005) * HOURS)


def test_nat_gateways_follow_the_strategy():
    vpc = resource("awsx:ec2:Vpc", "vpc", {"numberOfAvailabilityZones": 3,
                                           "natGateways": {"strategy": "OnePerAz"}})  # fmt: skip
    assert costs.estimate(run_of(vpc), PRICES).total_idle() == pytest.approx(3 * 0.05 * HOURS)
    vpc.inputs["natGateways"] = {"strategy": "None"}
    assert costs.estimate(run_of(vpc), PRICES).total_idle() == 0


def test_fargate_tasks_bill_at_the_minimum_count_with_the_spot_discount():
    task = resource("aws:ecs/taskDefinition:TaskDefinition", "task",
                    {"cpu": "1024", "memory": "2048", "requiresCompatibilities": ["FARGATE"]},
                    {"arn": "arn:td"})  # fmt: skip
    service = resource("aws:ecs/service:Service", "svc",
                       {"name": "svc", "cluster": "arn:aws:ecs:r:1:cluster/c",
                        "taskDefinition": "arn:td", "desiredCount": 5,
                        "capacityProviderStrategies": [
                            {"capacityProvider": "FARGATE", "weight": 1},
                            {"capacityProvider": "FARGATE_SPOT", "weight": 1}]})  # fmt: skip
    target = resource("aws:appautoscaling/target:Target", "target",
                      {"resourceId": "service/c/svc", "minCapacity": 2})  # fmt: skip
    per_task = (0.04048 + 2 * 0.004445) * (1 - 0.5 * 0.7)
    estimate = costs.estimate(run_of(task, service, target), PRICES)
    assert estimate.total_idle() == pytest.approx(2 * per_task * HOURS)


def test_multi_az_rds_doubles_instance_and_storage_and_adds_its_secret():
    db = resource("aws:rds/instance:Instance", "db",
                  {"instanceClass": "db.t4g.medium", "multiAz": True, "allocatedStorage": 20,
                   "manageMasterUserPassword": True})  # fmt: skip
    expected = 2 * 0.065 * HOURS + 2 * 20 * 0.115 + 0.4
    assert costs.estimate(run_of(db), PRICES).total_idle() == pytest.approx(expected)


def test_aurora_serverless_bills_its_minimum_acus_per_instance_and_nothing_when_it_pauses():
    cluster = resource("aws:rds/cluster:Cluster", "cluster",
                       {"serverlessv2ScalingConfiguration": {"minCapacity": 0.5,
                                                             "maxCapacity": 4},
                        "manageMasterUserPassword": True}, id_="c-1")  # fmt: skip
    instances = [
        resource("aws:rds/clusterInstance:ClusterInstance", f"i{n}",
                 {"clusterIdentifier": "c-1", "instanceClass": "db.serverless"})
        for n in range(2)
    ]  # fmt: skip
    run = run_of(cluster, *instances)
    assert costs.estimate(run, PRICES).total_idle() == pytest.approx(2 * 0.5 * 0.12 * HOURS + 0.4)
    cluster.inputs["serverlessv2ScalingConfiguration"]["minCapacity"] = 0
    estimate = costs.estimate(run, PRICES, {"db_acu_hours": 60, "db_gb": 2})
    assert estimate.total_idle() == pytest.approx(0.4)  # the managed secret only
    assert estimate.usage["stack"] == pytest.approx(2 * 60 * 0.12 + 2 * 0.1)


def test_gpu_instances_bill_at_the_asg_minimum_with_their_spot_share_and_root_volume():
    template = resource("aws:ec2/launchTemplate:LaunchTemplate", "lt",
                        {"instanceType": "g4dn.xlarge",
                         "blockDeviceMappings": [{"ebs": {"volumeSize": 60}}]},
                        id_="lt-1")  # fmt: skip
    group = resource("aws:autoscaling/group:Group", "asg",
                     {"minSize": 1, "mixedInstancesPolicy": {
                         "instancesDistribution": {"onDemandPercentageAboveBaseCapacity": 100},
                         "launchTemplate": {"launchTemplateSpecification": {
                             "launchTemplateId": "lt-1"}}}})  # fmt: skip
    expected = 0.526 * HOURS + 60 * 0.08
    assert costs.estimate(run_of(template, group), PRICES).total_idle() == pytest.approx(expected)
    group.inputs["minSize"] = 0
    assert costs.estimate(run_of(template, group), PRICES).total_idle() == 0


def test_a_warm_pool_bills_the_root_volumes_of_its_stopped_instances_only():
    template = resource("aws:ec2/launchTemplate:LaunchTemplate", "lt",
                        {"instanceType": "g4dn.xlarge",
                         "blockDeviceMappings": [{"ebs": {"volumeSize": 60}}]},
                        id_="lt-1")  # fmt: skip
    # A group with a warm pool names its template directly (PutWarmPool refuses a mixed policy).
    group = resource("aws:autoscaling/group:Group", "asg",
                     {"minSize": 0, "warmPool": {"poolState": "Stopped", "minSize": 2},
                      "launchTemplate": {"id": "lt-1", "version": "$Latest"}})  # fmt: skip
    estimate = costs.estimate(run_of(template, group), PRICES)
    assert estimate.total_idle() == pytest.approx(2 * 60 * PRICES["monthly"]["ebs_gp3_gb"])
    del group.inputs["warmPool"]
    assert costs.estimate(run_of(template, group), PRICES).total_idle() == 0


def test_monthly_items_keys_secrets_dashboards_and_alarm_metrics():
    items = [
        resource("aws:kms/key:Key", "k", {}),
        resource("aws:secretsmanager/secret:Secret", "s", {}),
        resource("aws:cloudwatch/dashboard:Dashboard", "d", {}),
        resource("aws:cloudwatch/metricAlarm:MetricAlarm", "a1", {"metricName": "x"}),
        resource("aws:cloudwatch/metricAlarm:MetricAlarm", "a2",
                 {"metricQueries": [{"id": "a", "metric": {"metricName": "a"}},
                                   {"id": "b", "metric": {"metricName": "b"}},
                                   {"id": "e", "expression": "a+b"}]}),
    ]  # fmt: skip
    assert costs.estimate(run_of(*items), PRICES).total_idle() == pytest.approx(
        1 + 0.4 + 3 + 0.1 + 0.2
    )


def test_an_internal_alb_bills_its_hours_and_no_public_address():
    alb = resource("aws:lb/loadBalancer:LoadBalancer", "alb",
                   {"loadBalancerType": "application", "internal": True,
                    "subnets": ["a", "b"]})  # fmt: skip
    estimate = costs.estimate(run_of(alb), PRICES)
    assert estimate.idle["stack"] == pytest.approx(0.0225 * HOURS)
    assert [what for _, what, _ in estimate.items] == ["ALB alb"]


def test_an_http_api_costs_nothing_idle_and_a_dollar_per_million_requests():
    http = resource("aws:apigatewayv2/api:Api", "door", {"protocolType": "HTTP"})
    ws = resource("aws:apigatewayv2/api:Api", "ws", {"protocolType": "WEBSOCKET"})
    estimate = costs.estimate(run_of(http, ws), PRICES, {"front_door_million_requests": 3})
    assert estimate.total_idle() == 0
    assert estimate.usage["stack"] == pytest.approx(3 * 1.0)
    assert PRICES["sources"]["http_api"]["url"] == "https://aws.amazon.com/api-gateway/pricing/"


def test_the_usage_profile_adds_gpu_and_worker_hours_requests_and_storage(dev_program):
    usage = costs.load_usage()
    estimate = costs.estimate(dev_program, PRICES, usage)
    assert estimate.usage["agent-world"] == pytest.approx(usage["api_million_requests"] * 3.5)
    # S3, and dev's Aurora database while awake, with its storage
    assert estimate.usage["data-platform"] == pytest.approx(
        usage["gb_stored"] * 0.023 + usage["db_acu_hours"] * 0.12 + usage["db_gb"] * 0.1
    )
    assert estimate.usage["inference"] > 0 and estimate.usage["training"] > 0
    assert estimate.total_with_usage() > estimate.total_idle()


def test_prod_idle_is_dominated_by_the_gpu_instance_and_nat(prod_program):
    estimate = costs.estimate(prod_program, PRICES)
    assert estimate.idle["network"] == pytest.approx(219.0, abs=0.01)
    assert estimate.idle["inference"] > 400
    lines = costs.render(estimate, "none")
    assert lines[-1].split()[0] == "total"


def test_the_readme_cost_table_is_what_the_plan_computes(dev_program, prod_program):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    row = re.search(r"^\| \*\*total \(USD/month\)\*\* \|(.+)\|$", readme, re.M)
    assert row, "README has no cost total row"
    shown = [float(v.strip().strip("*")) for v in row.group(1).split("|")]
    usage = costs.load_usage()
    dev = costs.estimate(dev_program, PRICES, usage)
    prod = costs.estimate(prod_program, PRICES, usage)
    computed = [dev.total_idle(), dev.total_with_usage(), prod.total_idle(),
                prod.total_with_usage()]  # fmt: skip
    assert shown == pytest.approx(computed, abs=0.01)


def test_the_largest_idle_charges_come_first_with_their_share():
    items = [
        resource("aws:kms/key:Key", "k", {}),
        resource("aws:cloudwatch/dashboard:Dashboard", "d", {}),
    ]
    lines = costs.render_largest(costs.estimate(run_of(*items), PRICES), count=1)
    assert lines[1].split() == ["3.00", "75%", "stack:", "dashboard", "d"]
    assert len(lines) == 2


# --- the budget: dev with all five stacks on, idle, every HTTP API answering -------------

DEV_IDLE_BUDGET = 50.0


def test_dev_with_all_five_stacks_idles_within_the_budget(dev_program):
    switched = json.loads(dev_program.config["mlplatform:stacks"])
    assert sorted(k for k, on in switched.items() if on) == [
        "agent_world", "data_platform", "inference", "network", "training"
    ]  # fmt: skip
    estimate = costs.estimate(dev_program, PRICES)
    assert set(estimate.idle) >= {"network", "training", "inference", "data-platform",
                                  "agent-world"}  # fmt: skip
    assert estimate.total_idle() <= DEV_IDLE_BUDGET


def test_every_dev_http_service_without_a_gpu_keeps_a_task_running(dev_program):
    """Idle dev still answers every HTTP API: a service behind a load balancer that needs no
    GPU never scales to zero (GPU services may: they start on the first request)."""
    tasks = {
        t.outputs["arn"]: t for t in dev_program.of_type("aws:ecs/taskDefinition:TaskDefinition")
    }
    minimums = {t.inputs["resourceId"]: t.inputs["minCapacity"]
                for t in dev_program.of_type("aws:appautoscaling/target:Target")}  # fmt: skip
    served = []
    for service in dev_program.of_type("aws:ecs/service:Service"):
        if not service.inputs.get("loadBalancers"):
            continue  # the training workers: a queue, not an HTTP API
        task = tasks[service.inputs["taskDefinition"]]
        gpu = "GPU" in task.inputs["containerDefinitions"]
        cluster = service.inputs["cluster"].rsplit("/", 1)[-1]
        minimum = minimums.get(f"service/{cluster}/{service.inputs['name']}",
                               service.inputs.get("desiredCount", 0))  # fmt: skip
        served.append(service.name)
        assert gpu or minimum >= 1, service.name
    assert {"data-platform-mlflow-service", "inference-ai-inference-service",
            "agent-world-all-service",
            "inference-vision-validator-service"} <= set(served)  # fmt: skip


def test_a_web_acl_bills_5_a_month_and_1_per_rule_and_certificates_nothing():
    acl = resource(
        "aws:wafv2/webAcl:WebAcl",
        "acl",
        {"name": "x", "scope": "REGIONAL", "rules": [{"name": "a"}, {"name": "b"}]},
    )
    cert = resource("aws:acm/certificate:Certificate", "cert", {"domainName": "a.example.org"})
    estimate = costs.estimate(run_of(acl, cert), PRICES, {"waf_million_requests": 10})
    assert estimate.idle["stack"] == pytest.approx(5.0 + 2 * 1.0)
    assert estimate.usage["stack"] == pytest.approx(10 * 0.60)
    assert [(what, monthly) for _, what, monthly in estimate.edge] == [
        ("WAF web ACL x (REGIONAL, 2 rules)", 7.0),
        ("ACM certificate a.example.org (public)", 0.0),
    ]
    assert costs.render_edge(estimate)[0].endswith(": 7.00")


def test_waf_prices_name_their_source_and_date():
    waf = PRICES["sources"]["waf"]
    assert waf["url"] == "https://aws.amazon.com/waf/pricing/" and waf["date"]
    assert (PRICES["monthly"]["waf_web_acl"], PRICES["monthly"]["waf_rule"]) == (5.0, 1.0)
    assert PRICES["per_unit"]["waf_million_requests"] == 0.6


def test_prod_pays_for_its_two_web_acls_and_dev_for_none(dev_program, prod_program):
    dev = costs.estimate(dev_program, PRICES)
    prod = costs.estimate(prod_program, PRICES)
    assert not [w for _, w, _ in dev.edge]
    acls = {what: monthly for _, what, monthly in prod.edge if what.startswith("WAF")}
    assert acls == {
        "WAF web ACL mlplatform-prod-regional (REGIONAL, 7 rules)": 12.0,
        "WAF web ACL mlplatform-prod-cdn (CLOUDFRONT, 5 rules)": 10.0,
    }
    assert prod.idle["waf"] == 12.0
