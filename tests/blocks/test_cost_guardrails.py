"""CostGuardrails: the environment's monthly budget and the service anomaly monitor, both
notifying the alarm topic, whose policy and key admit the two publishers."""

from __future__ import annotations

import json

import pytest

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def dev(dev):
    return dev.subtree("cost-guardrails")


@pytest.fixture(scope="module")
def prod(prod):
    return prod.subtree("cost-guardrails")


@pytest.fixture(params=["dev", "prod"])
def guardrails(request, dev, prod):
    return {"dev": dev, "prod": prod}[request.param]


@pytest.fixture(params=["dev", "prod"])
def program(request, dev_program, prod_program):
    """The whole program of each stack (the topic and the key are outside the component)."""
    return {"dev": dev_program, "prod": prod_program}[request.param]


def _topic_arn(program):
    return program.named("alerts-topic").outputs["arn"]


def _statements(resource):
    return {s.get("Sid"): s for s in json.loads(resource.inputs["policy"])["Statement"]}


def test_a_monthly_cost_budget_of_the_configured_limit(guardrails):
    budget = guardrails.one("aws:budgets/budget:Budget")
    stack = guardrails.stack
    assert budget.inputs["name"] == f"mlplatform-{stack}-monthly"
    assert (budget.inputs["budgetType"], budget.inputs["timeUnit"]) == ("COST", "MONTHLY")
    # The stack files' limits: dev at the $50 the issue budgets, prod at its own.
    assert budget.inputs["limitAmount"] == {"dev": "50", "prod": "1500"}[stack]
    assert budget.inputs["limitUnit"] == "USD"


def test_the_budget_counts_the_environments_cost_allocation_tag(guardrails):
    budget = guardrails.one("aws:budgets/budget:Budget")
    stack = guardrails.stack
    # TagKeyValue "user:<key>$<value>": a user-defined cost allocation tag.
    assert budget.inputs["costFilters"] == [
        {"name": "TagKeyValue", "values": [f"user:environment${stack}"]}
    ]
    assert budget.inputs["tags"]["environment"] == stack  # its own tag is the one counted


def test_actual_and_forecast_notifications_at_each_threshold_to_the_alarm_topic(
    guardrails, dev_program, prod_program
):
    program = {"dev": dev_program, "prod": prod_program}[guardrails.stack]
    notifications = guardrails.one("aws:budgets/budget:Budget").inputs["notifications"]
    seen = {(n["notificationType"], n["threshold"]) for n in notifications}
    assert seen == {(kind, float(t)) for kind in ("ACTUAL", "FORECASTED") for t in (80, 100)}
    assert len(notifications) == 4
    for n in notifications:
        assert (n["comparisonOperator"], n["thresholdType"]) == ("GREATER_THAN", "PERCENTAGE")
        assert n["subscriberSnsTopicArns"] == [_topic_arn(program)]
        assert not n.get("subscriberEmailAddresses")


def test_a_service_anomaly_monitor_with_an_immediate_subscription_to_the_topic(
    guardrails, dev_program, prod_program
):
    program = {"dev": dev_program, "prod": prod_program}[guardrails.stack]
    monitor = guardrails.one("aws:costexplorer/anomalyMonitor:AnomalyMonitor")
    assert (monitor.inputs["monitorType"], monitor.inputs["monitorDimension"]) == (
        "DIMENSIONAL",
        "SERVICE",
    )
    sub = guardrails.one("aws:costexplorer/anomalySubscription:AnomalySubscription")
    # SNS subscribers take IMMEDIATE only (daily and weekly summaries go to e-mail).
    assert sub.inputs["frequency"] == "IMMEDIATE"
    assert sub.inputs["monitorArnLists"] == [monitor.outputs["arn"]]
    assert sub.inputs["subscribers"] == [{"type": "SNS", "address": _topic_arn(program)}]
    assert sub.inputs["thresholdExpression"] == {
        "dimension": {
            "key": "ANOMALY_TOTAL_IMPACT_ABSOLUTE",
            "matchOptions": ["GREATER_THAN_OR_EQUAL"],
            "values": ["10"],
        }
    }


def test_the_topic_policy_admits_this_accounts_budgets_and_anomaly_subscriptions(program):
    topic = _topic_arn(program)
    policy = _statements(program.named("alerts-topic-policy"))
    budgets = policy["BudgetsOfThisAccount"]
    assert budgets["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert (budgets["Action"], budgets["Resource"]) == ("sns:Publish", topic)
    assert budgets["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:budgets::{ACCOUNT}:*"},
    }
    anomalies = policy["CostAnomalyDetectionOfThisAccount"]
    assert anomalies["Principal"] == {"Service": "costalerts.amazonaws.com"}
    assert (anomalies["Action"], anomalies["Resource"]) == ("sns:Publish", topic)
    assert anomalies["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_the_logs_key_lets_both_publish_to_the_topic_it_encrypts(program):
    key = _statements(program.named("audit-key"))
    budgets = key["BudgetsPublish"]
    assert budgets["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert budgets["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert budgets["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:budgets::{ACCOUNT}:*"},
    }
    anomalies = key["CostAnomalyDetectionPublish"]
    assert anomalies["Principal"] == {"Service": "costalerts.amazonaws.com"}
    assert anomalies["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert "Condition" not in anomalies  # no source keys on record (preflight/principals.py)


def test_the_anomaly_monitor_is_switched_off_for_a_second_stack_of_the_account(run_inline):
    from components.blocks.cost_guardrails import CostGuardrails, CostGuardrailsArgs

    args = CostGuardrailsArgs(
        name_prefix="mlplatform-t",
        environment="t",
        topic_arn="arn:aws:sns:us-east-1:123456789012:t",
        monthly_usd=7,
        thresholds_percent=(90,),
        anomaly_monitor=False,
    )
    run = run_inline(lambda: CostGuardrails("g", args))
    assert not run.of_type("aws:costexplorer/anomalyMonitor:AnomalyMonitor")
    assert not run.of_type("aws:costexplorer/anomalySubscription:AnomalySubscription")
    budget = run.one("aws:budgets/budget:Budget")
    assert budget.inputs["limitAmount"] == "7"
    assert [(n["notificationType"], n["threshold"]) for n in budget.inputs["notifications"]] == [
        ("ACTUAL", 90.0),
        ("FORECASTED", 90.0),
    ]


def test_the_budget_and_monitor_are_in_the_plan_at_no_charge(dev_program):
    from offline import costs

    estimate = costs.estimate(dev_program, costs.load_prices())
    assert sorted(what for _, what, _ in estimate.guardrails) == [
        "AWS Budgets mlplatform-dev-monthly (one of the free two)",
        "Cost Anomaly Detection monitor mlplatform-dev-services (free)",
    ]
    assert all(monthly == 0 for _, _, monthly in estimate.guardrails)


def test_budgets_past_the_accounts_free_two_bill_two_cents_a_day(run_inline):
    from components.blocks.cost_guardrails import CostGuardrails, CostGuardrailsArgs
    from offline import costs

    def three():
        for n in range(3):
            CostGuardrails(
                f"g{n}",
                CostGuardrailsArgs(
                    name_prefix=f"p{n}", environment="t", topic_arn="arn", anomaly_monitor=False
                ),
            )

    estimate = costs.estimate(run_inline(three), costs.load_prices())
    charges = sorted(monthly for _, _, monthly in estimate.guardrails)
    assert charges == [0.0, 0.0, pytest.approx(0.02 * 365 / 12)]


def _shape(service: str, name: str) -> dict:
    import botocore.loaders

    return botocore.loaders.Loader().load_service_model(service, "service-2")["shapes"][name]


def test_the_values_sent_obey_botocores_budgets_and_cost_explorer_models(guardrails):
    import re

    budget = guardrails.one("aws:budgets/budget:Budget")
    # Java's mid-pattern (?i) flag, as Python's scoped form.
    name_pattern = _shape("budgets", "BudgetName")["pattern"].replace(
        "(?i).*<script>.*</script>.*", "(?i:.*<script>.*</script>.*)"
    )
    assert re.fullmatch(name_pattern, budget.inputs["name"])
    assert re.fullmatch(_shape("budgets", "NumericValue")["pattern"], budget.inputs["limitAmount"])
    for field_, shape in [
        ("budgetType", "BudgetType"),
        ("timeUnit", "TimeUnit"),
    ]:
        assert budget.inputs[field_] in _shape("budgets", shape)["enum"]
    for n in budget.inputs["notifications"]:
        assert n["notificationType"] in _shape("budgets", "NotificationType")["enum"]
        assert n["comparisonOperator"] in _shape("budgets", "ComparisonOperator")["enum"]
        assert n["thresholdType"] in _shape("budgets", "ThresholdType")["enum"]
    sub = guardrails.one("aws:costexplorer/anomalySubscription:AnomalySubscription")
    address = sub.inputs["subscribers"][0]["address"]
    assert re.fullmatch(_shape("ce", "SubscriberAddress")["pattern"], address)
    assert sub.inputs["frequency"] in _shape("ce", "AnomalySubscriptionFrequency")["enum"]
    dimension = sub.inputs["thresholdExpression"]["dimension"]
    assert dimension["key"] in _shape("ce", "Dimension")["enum"]
    assert set(dimension["matchOptions"]) <= set(_shape("ce", "MatchOption")["enum"])
    monitor = guardrails.one("aws:costexplorer/anomalyMonitor:AnomalyMonitor")
    assert monitor.inputs["monitorDimension"] in _shape("ce", "MonitorDimension")["enum"]
    # Cost Explorer's ARNs carry no region (the mocks answer so).
    assert re.fullmatch(r"arn:aws:ce::\d{12}:anomalymonitor/[0-9a-f-]{36}", monitor.outputs["arn"])
