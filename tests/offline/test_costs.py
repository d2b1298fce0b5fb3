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


def run_of(*resources, component_name="stack") -> ProgramRun:
    component = resource("mlplatform:test:Stack", component_name, {}, custom=False, parent="")
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


def test_an_arm64_task_bills_fargates_graviton_prices_with_the_same_spot_discount():
    task = resource("aws:ecs/taskDefinition:TaskDefinition", "task",
                    {"cpu": "1024", "memory": "2048", "requiresCompatibilities": ["FARGATE"],
                     "runtimePlatform": {"operatingSystemFamily": "LINUX",
                                         "cpuArchitecture": "ARM64"}},
                    {"arn": "arn:td"})  # fmt: skip
    service = resource("aws:ecs/service:Service", "svc",
                       {"name": "svc", "cluster": "arn:aws:ecs:r:1:cluster/c",
                        "taskDefinition": "arn:td", "desiredCount": 1,
                        "capacityProviderStrategies": [
                            {"capacityProvider": "FARGATE_SPOT", "weight": 1}]})  # fmt: skip
    on_demand = 0.03238 + 2 * 0.00356  # 1 vCPU, 2 GB on Linux/ARM
    spot = costs.estimate(run_of(task, service), PRICES).total_idle()
    assert spot == pytest.approx(on_demand * (1 - 0.7) * HOURS)
    service.inputs["capacityProviderStrategies"] = [{"capacityProvider": "FARGATE", "weight": 1}]
    assert costs.estimate(run_of(task, service), PRICES).total_idle() == pytest.approx(
        on_demand * HOURS
    )
    task.inputs["runtimePlatform"]["cpuArchitecture"] = "X86_64"
    assert costs.estimate(run_of(task, service), PRICES).total_idle() == pytest.approx(
        (0.04048 + 2 * 0.004445) * HOURS
    )


def test_fargate_arm_prices_name_their_source_and_date():
    source = PRICES["sources"]["fargate_arm"]
    assert source["url"] == "https://aws.amazon.com/fargate/pricing/"
    assert source["date"] == "2026-12-02"
    assert "$0.03238" in source["note"] and "$0.00356" in source["note"]
    assert (PRICES["hourly"]["fargate_arm_vcpu"], PRICES["hourly"]["fargate_arm_gb"]) == (
        0.03238,
        0.00356,
    )


IPV4 = 0.005 * HOURS  # one public IPv4 address for a month


def _fargate_service(count, public, cluster="c", name="svc", family="fam"):
    task = resource("aws:ecs/taskDefinition:TaskDefinition", f"{name}-task",
                    {"cpu": "256", "memory": "512", "family": family,
                     "requiresCompatibilities": ["FARGATE"]},
                    {"arn": f"arn:td:{name}"})  # fmt: skip
    service = resource("aws:ecs/service:Service", name,
                       {"name": name, "cluster": f"arn:aws:ecs:r:1:cluster/{cluster}",
                        "taskDefinition": f"arn:td:{name}", "desiredCount": count,
                        "networkConfiguration": {"assignPublicIp": public,
                                                 "subnets": ["a"]}})  # fmt: skip
    return task, service


def test_a_task_with_a_public_ip_pays_for_its_address_at_its_idle_count():
    per_task = (0.25 * 0.04048 + 0.5 * 0.004445) * HOURS
    task, service = _fargate_service(2, True)
    estimate = costs.estimate(run_of(task, service), PRICES)
    assert estimate.total_idle() == pytest.approx(2 * per_task + 2 * IPV4)
    assert ("stack", "2 public IPv4 of svc's tasks", pytest.approx(2 * IPV4)) in estimate.items
    service.inputs["networkConfiguration"]["assignPublicIp"] = False
    assert costs.estimate(run_of(task, service), PRICES).total_idle() == pytest.approx(2 * per_task)


def test_gpu_instances_with_a_public_ip_pay_for_it_while_they_run_not_while_stopped():
    template = resource("aws:ec2/launchTemplate:LaunchTemplate", "lt",
                        {"instanceType": "g4dn.xlarge",
                         "networkInterfaces": [{"associatePublicIpAddress": "true"}]},
                        id_="lt-1")  # fmt: skip
    group = resource("aws:autoscaling/group:Group", "asg",
                     {"minSize": 1, "warmPool": {"poolState": "Stopped", "minSize": 2},
                      "launchTemplate": {"id": "lt-1"}})  # fmt: skip
    estimate = costs.estimate(run_of(template, group), PRICES)
    assert estimate.total_idle() == pytest.approx(0.526 * HOURS + IPV4)  # no address stopped
    run = run_of(template, group, component_name="inference")  # GPU hours bill there
    usage = costs.estimate(run, PRICES, {"gpu_hours": 10}).usage["inference"]
    assert usage == pytest.approx(10 * (0.526 + 0.005))


def test_an_elastic_ip_pays_for_its_address():
    eip = resource("aws:ec2/eip:Eip", "eip", {"domain": "vpc"})
    assert costs.estimate(run_of(eip), PRICES).total_idle() == pytest.approx(IPV4)


def test_container_insights_bill_the_metrics_of_clusters_with_tasks_running_at_idle():
    per_metric = PRICES["monthly"]["cloudwatch_custom_metric"]
    on = resource("aws:ecs/cluster:Cluster", "on",
                  {"name": "c", "settings": [{"name": "containerInsights",
                                              "value": "enabled"}]})  # fmt: skip
    a_task, a = _fargate_service(1, False, name="a", family="fam")
    b_task, b = _fargate_service(1, False, name="b", family="fam")  # the same family: once
    idle, _ = _fargate_service(0, False, name="idle", family="other")  # no task: nothing
    fargate = 2 * (0.25 * 0.04048 + 0.5 * 0.004445) * HOURS
    estimate = costs.estimate(run_of(on, a_task, a, b_task, b, idle), PRICES)
    metrics = 11 + 2 * 13 + 8  # the cluster's set once, each service's, the family's once
    assert estimate.total_idle() == pytest.approx(fargate + metrics * per_metric)
    on.inputs["settings"][0]["value"] = "disabled"
    assert costs.estimate(run_of(on, a_task, a, b_task, b), PRICES).total_idle() == (
        pytest.approx(fargate)
    )


def test_prices_of_addresses_and_custom_metrics_name_their_source():
    assert PRICES["sources"]["public_ipv4"]["url"] == "https://aws.amazon.com/vpc/pricing/"
    assert "Container Insights' metrics" in PRICES["sources"]["cloudwatch"]["note"]
    assert PRICES["hourly"]["public_ipv4"] == 0.005
    assert PRICES["monthly"]["cloudwatch_custom_metric"] == 0.3


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
    assert costs.estimate(run_of(http, ws), PRICES).total_idle() == 0
    usage = {"http_api_million_requests": 3}
    lines = dict(costs.rough_usage(run_of(http), PRICES, usage))
    assert lines["HTTP API requests, 3 M"] == pytest.approx(3 * 1.0)
    assert not [w for w in dict(costs.rough_usage(run_of(ws), PRICES, usage)) if "HTTP API" in w]


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

DEV_IDLE_BUDGET = 40.0
"""Issue 16: dev idle, every public IPv4 address and Container Insights metric counted."""


def test_dev_with_all_five_stacks_idles_within_the_budget(dev_program):
    switched = json.loads(dev_program.config["mlplatform:stacks"])
    assert sorted(k for k, on in switched.items() if on) == [
        "agent_world", "data_platform", "inference", "network", "training"
    ]  # fmt: skip
    estimate = costs.estimate(dev_program, PRICES)
    assert set(estimate.idle) >= {"network", "training", "inference", "data-platform",
                                  "agent-world"}  # fmt: skip
    assert estimate.total_idle() <= DEV_IDLE_BUDGET


def _public_addresses(run: ProgramRun) -> int:
    """Every public IPv4 address the run holds at idle, counted from the resources alone:
    a task's (``assignPublicIp``) at its idle count, an internet-facing load balancer's one
    per subnet, a NAT gateway's, an Elastic IP, a running GPU instance's."""
    minimums = {t.inputs["resourceId"]: int(t.inputs["minCapacity"])
                for t in run.of_type("aws:appautoscaling/target:Target")}  # fmt: skip
    count = 0
    for service in run.of_type("aws:ecs/service:Service"):
        if (service.inputs.get("networkConfiguration") or {}).get("assignPublicIp"):
            cluster = service.inputs["cluster"].rsplit("/", 1)[-1]
            count += minimums.get(f"service/{cluster}/{service.inputs['name']}",
                                  int(service.inputs.get("desiredCount", 0)))  # fmt: skip
    for lb in run.of_type("aws:lb/loadBalancer:LoadBalancer"):
        count += 0 if lb.inputs.get("internal") else len(lb.inputs.get("subnets") or [])
    for vpc in run.of_type("awsx:ec2:Vpc"):
        strategy = (vpc.inputs.get("natGateways") or {}).get("strategy")
        azs = int(vpc.inputs["numberOfAvailabilityZones"])
        count += {"None": 0, "Single": 1}.get(strategy, azs)
    count += len(run.of_type("aws:ec2/eip:Eip"))
    templates = {t.id: t for t in run.of_type("aws:ec2/launchTemplate:LaunchTemplate")}
    for group in run.of_type("aws:autoscaling/group:Group"):
        spec = (group.inputs.get("mixedInstancesPolicy") or {}).get("launchTemplate") or {}
        template_id = (spec.get("launchTemplateSpecification") or {}).get("launchTemplateId") or (
            (group.inputs.get("launchTemplate") or {}).get("id"))  # fmt: skip
        interfaces = templates[template_id].inputs.get("networkInterfaces") or []
        if any(str(i.get("associatePublicIpAddress")).lower() == "true" for i in interfaces):
            count += int(group.inputs.get("minSize", 0))
    return count


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_public_address_is_in_the_idle_figure(stack, dev_program, prod_program):
    """The plan's public IPv4 lines add up to every address the resources hold: a task,
    load balancer, gateway or instance whose address the pricer missed fails here."""
    run = {"dev": dev_program, "prod": prod_program}[stack]
    estimate = costs.estimate(run, PRICES)
    priced = sum(monthly for _, what, monthly in estimate.items if "public IPv4" in what)
    assert priced == pytest.approx(_public_addresses(run) * IPV4)


def test_every_dev_http_service_without_a_gpu_keeps_a_task_running(dev_program):
    """Idle dev still answers every HTTP API: a service behind a load balancer that needs no
    GPU never scales to zero (GPU services may: they start on the first request), or is a
    Lambda function that the load balancer invokes (it answers from zero, idle for free)."""
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
    # A Lambda target: the function registered in a target group of type lambda that a
    # listener rule forwards to, with the load balancer's permission for that group.
    groups = {g.outputs["arn"]: g for g in dev_program.of_type("aws:lb/targetGroup:TargetGroup")}
    rules = dev_program.of_type("aws:lb/listenerRule:ListenerRule")
    forwarded = {a["targetGroupArn"] for r in rules for a in r.inputs["actions"]
                 if a["type"] == "forward"}  # fmt: skip
    invokers = {(p.inputs["function"], p.inputs["sourceArn"])
                for p in dev_program.of_type("aws:lambda/permission:Permission")
                if p.inputs["principal"] == "elasticloadbalancing.amazonaws.com"}  # fmt: skip
    functions = {f.outputs["arn"]: f for f in dev_program.of_type("aws:lambda/function:Function")}
    for attachment in dev_program.of_type("aws:lb/targetGroupAttachment:TargetGroupAttachment"):
        group = attachment.inputs["targetGroupArn"]
        if groups[group].inputs.get("targetType") != "lambda":
            continue
        function = functions[attachment.inputs["targetId"]]
        assert group in forwarded, attachment.name
        assert (function.outputs["name"], group) in invokers, attachment.name
        served.append(function.name)
    assert {"data-platform-mlflow-service", "inference-ai-inference-fn-function",
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


# --- what bills by use: rough lines of the usage profile ---------------------------------


def test_by_use_lines_follow_what_the_run_has():
    alb = resource("aws:lb/loadBalancer:LoadBalancer", "alb",
                   {"loadBalancerType": "application", "internal": True})  # fmt: skip
    usage = {"internet_gb": 150, "log_gb": 4, "lcu": 0.5, "nat_gb": 100}
    lines = dict(costs.rough_usage(run_of(alb), PRICES, usage))
    assert lines["data out to the internet, 150 GB (first 100 GB free)"] == pytest.approx(50 * 0.09)
    assert lines["CloudWatch Logs ingestion, 4 GB"] == pytest.approx(4 * 0.5)
    assert lines["capacity units of 1 load balancer(s), 0.5 each"] == pytest.approx(
        0.5 * 0.008 * HOURS
    )
    assert not any("NAT" in what for what in lines)  # no VPC with NAT gateways: no NAT data
    vpc = resource("awsx:ec2:Vpc", "vpc", {"numberOfAvailabilityZones": 2,
                                           "natGateways": {"strategy": "Single"}})  # fmt: skip
    lines = dict(costs.rough_usage(run_of(alb, vpc), PRICES, usage))
    assert lines["NAT gateway data, 100 GB"] == pytest.approx(100 * 0.045)


def test_lambda_and_cloudfront_bill_past_their_free_tiers():
    function = resource("aws:lambda/function:Function", "fn", {})
    cdn = resource("aws:cloudfront/distribution:Distribution", "cdn", {})
    inside = dict(costs.rough_usage(run_of(function, cdn), PRICES, {
        "lambda_million_requests": 0.5, "lambda_gb_seconds": 1000, "cdn_gb": 10}))  # fmt: skip
    assert sum(inside.values()) == 0
    past = costs.rough_usage(run_of(function, cdn), PRICES, {
        "lambda_million_requests": 3, "lambda_gb_seconds": 500000,
        "cdn_gb": 1100, "cdn_million_requests": 12})  # fmt: skip
    (lam,) = [m for what, m in past if what.startswith("Lambda")]
    (front,) = [m for what, m in past if what.startswith("CloudFront")]
    assert lam == pytest.approx(2 * 0.2 + 100000 * 0.0000166667)
    assert front == pytest.approx(100 * 0.085 + 2 * 100 * 0.01)


def test_the_by_use_row_joins_the_usage_figure_only(dev_program):
    usage = costs.load_usage()
    estimate = costs.estimate(dev_program, PRICES, usage)
    assert estimate.idle[costs.BY_USE] == 0
    assert estimate.usage[costs.BY_USE] == pytest.approx(
        sum(monthly for _, monthly in estimate.by_use)
    )
    assert estimate.usage[costs.BY_USE] > 0
    assert any("WebSocket" in what for what, _ in estimate.by_use)  # dev has the agent world


def test_ecr_storage_is_an_idle_charge_sized_by_the_image_base():
    cuda = resource("aws:ecr/repository:Repository", "gpu", {"name": "p/vision_validator"})
    slim = resource("aws:ecr/repository:Repository", "cpu", {"name": "p/ai_inference"})
    estimate = costs.estimate(run_of(cuda, slim), PRICES)
    assert estimate.total_idle() == pytest.approx((2.0 + 0.25) * 0.1)


AGENT_PARAMETER = "/p/gpu/cloudwatch-agent"
METRIC_MONTH = 0.30
AGENT_REQUESTS_MONTH = 60 * HOURS * 0.01 / 1000  # one PutMetricData a minute


def _gpu_group(min_size: int, public: bool = False):
    """A launch template whose user data loads the agent parameter, the parameter of three
    nvidia_smi measurements, and an on-demand group of g4dn.xlarge (one GPU)."""
    import base64

    from components.lib import gpu_instance

    script = gpu_instance.user_data("c", region="us-east-1", agent_parameter=AGENT_PARAMETER)
    parameter = resource("aws:ssm/parameter:Parameter", "agent",
                         {"name": AGENT_PARAMETER,
                          "value": gpu_instance.agent_config_json("p/GPU")})  # fmt: skip
    template = resource("aws:ec2/launchTemplate:LaunchTemplate", "lt",
                        {"instanceType": "g4dn.xlarge",
                         "blockDeviceMappings": [{"ebs": {"volumeSize": 60}}],
                         "networkInterfaces": [
                             {"associatePublicIpAddress": str(public).lower()}],
                         "userData": base64.b64encode(script.encode()).decode()},
                        id_="lt-1")  # fmt: skip
    group = resource("aws:autoscaling/group:Group", "asg",
                     {"minSize": min_size, "launchTemplate": {"id": "lt-1"}})  # fmt: skip
    return [parameter, template, group]


def test_the_gpu_agent_bills_its_metrics_per_gpu_and_its_requests_per_running_instance():
    estimate = costs.estimate(run_of(*_gpu_group(2)), PRICES)
    (item,) = [i for i in estimate.items if "CloudWatch agent" in i[1]]
    assert item[1] == "CloudWatch agent: 2 × 3 GPU metrics and PutMetricData"
    assert item[2] == pytest.approx(2 * (3 * METRIC_MONTH + AGENT_REQUESTS_MONTH))
    # a group at zero publishes nothing while idle; an hour of use pays its share
    idle = costs.estimate(run_of(*_gpu_group(0)), PRICES)
    assert not [i for i in idle.items if "CloudWatch agent" in i[1]]


def test_prod_prices_one_running_gpu_instances_agent_metrics(prod_program):
    estimate = costs.estimate(prod_program, PRICES)
    (item,) = [i for i in estimate.items if "CloudWatch agent" in i[1]]
    assert item[0] == "inference"
    assert item[2] == pytest.approx(3 * METRIC_MONTH + AGENT_REQUESTS_MONTH)
    # an hour of use pays the instance (on demand in prod) and its agent's share
    used = costs.estimate(prod_program, PRICES, {"gpu_hours": 100})
    per_hour = 0.526 + (3 * METRIC_MONTH + AGENT_REQUESTS_MONTH) / HOURS
    assert used.usage["inference"] == pytest.approx(100 * per_hour)


def _scheduled_service(gpu: int, floor: int, start_min: int, name: str = "v"):
    task = resource("aws:ecs/taskDefinition:TaskDefinition", f"task-{name}",
                    {"requiresCompatibilities": ["EC2"], "containerDefinitions": json.dumps(
                        [{"name": name, "resourceRequirements": [
                            {"type": "GPU", "value": str(gpu)}]}])},
                    {"arn": f"arn:td:{name}"})  # fmt: skip
    service = resource("aws:ecs/service:Service", f"svc-{name}",
                       {"name": name, "cluster": "arn:aws:ecs:r:1:cluster/c",
                        "taskDefinition": f"arn:td:{name}"})  # fmt: skip
    target = resource("aws:appautoscaling/target:Target", f"target-{name}",
                      {"resourceId": f"service/c/{name}", "minCapacity": floor})  # fmt: skip
    actions = [
        resource("aws:appautoscaling/scheduledAction:ScheduledAction", f"sa-{name}-{role}",
                 {"resourceId": f"service/c/{name}",
                  "schedule": f"cron(0 {hour} ? * MON-FRI *)",
                  "scalableTargetAction": {"minCapacity": minimum}})
        for role, hour, minimum in (("start", 8, start_min), ("end", 18, floor))
    ]  # fmt: skip
    return [task, service, target, *actions]


def test_the_group_minimums_spare_gpus_serve_one_schedule_not_each():
    # A minimum of one g4dn.xlarge (1 GPU) with nothing at idle: its GPU serves the first
    # scheduled task; the second needs an instance of its own.
    run = run_of(*_gpu_group(1), *_scheduled_service(gpu=1, floor=0, start_min=1, name="a"),
                 *_scheduled_service(gpu=1, floor=0, start_min=1, name="b"))  # fmt: skip
    items = [i for i in costs.estimate(run, PRICES).items if i[1].startswith("schedule:")]
    assert sorted(what.split(" for ")[0] for _, what, _ in items) == ["schedule: 1 × g4dn.xlarge"]


def test_scheduled_hours_bill_a_gpu_instance_with_its_volume_address_and_metrics():
    run = run_of(*_gpu_group(0, public=True), *_scheduled_service(gpu=1, floor=0, start_min=1))
    estimate = costs.estimate(run, PRICES)
    (item,) = [i for i in estimate.items if i[1].startswith("schedule:")]
    hours = 50 * HOURS / 168  # ten hours on five days a week
    assert item[1] == "schedule: 1 × g4dn.xlarge for 217 h/month"
    hourly = 0.526 + 60 * 0.08 / HOURS + 0.005 + (3 * METRIC_MONTH + AGENT_REQUESTS_MONTH) / HOURS
    assert item[2] == pytest.approx(hours * hourly)


def test_a_schedule_the_group_minimum_already_serves_costs_nothing():
    # one instance always runs and no task holds its GPU: the scheduled task fits on it
    run = run_of(*_gpu_group(1), *_scheduled_service(gpu=1, floor=0, start_min=1))
    estimate = costs.estimate(run, PRICES)
    (item,) = [i for i in estimate.items if i[1].startswith("schedule:")] or [(0, "", 0.0)]
    assert item[2] == 0


def test_dev_bills_one_fargate_task_for_mlflow_and_the_hokusai_api(dev_program):
    """data_platform.api_placement with_mlflow: the API is a container of MLflow's task, so
    the data platform pays one task (and one network interface) where it paid two."""
    estimate = costs.estimate(dev_program, PRICES)
    tasks = [(what, round(usd, 2)) for where, what, usd in estimate.items
             if where == "data-platform" and " × task " in what]  # fmt: skip
    # 0.5 vCPU, 1 GB on Linux/ARM Fargate Spot: (0.5 × 0.03238 + 0.00356) × 0.3 × 730 h.
    assert tasks == [("1 × task data-platform-mlflow-service", 4.33)]
