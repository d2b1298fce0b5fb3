"""AlarmTopic: the encrypted SNS topic the alarms of every stack notify."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def dev(dev):
    return dev.subtree("alerts")


@pytest.fixture(scope="module")
def prod(prod):
    return prod.subtree("alerts")


def test_topic_is_encrypted_with_the_platforms_logs_key_not_one_of_its_own(
    each_stack, dev_program, prod_program
):
    program = {"dev": dev_program, "prod": prod_program}[each_stack.stack]
    # One key for logs and alarm notifications: a second customer-managed key would add
    # $1 a month to every stack for the same audience (CloudWatch of this account).
    assert not each_stack.of_type("aws:kms/key:Key")
    topic = each_stack.one("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] == program.named("audit-key").outputs["arn"]
    assert topic.outputs["arn"] == each_stack.outputs["alarm_topic_arn"]


def test_a_topic_without_a_given_key_gets_its_own_rotated_key_cloudwatch_may_use(run_inline):
    from components.blocks.alerts import AlarmTopic, AlarmTopicArgs

    run = run_inline(lambda: AlarmTopic("alerts", AlarmTopicArgs(name_prefix="mlplatform-t")))
    key = run.one("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    assert run.one("aws:sns/topic:Topic").inputs["kmsMasterKeyId"] == key.outputs["arn"]
    policy = json.loads(key.inputs["policy"])
    (cloudwatch,) = [s for s in policy["Statement"] if s.get("Sid") == "CloudWatchAlarmsPublish"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert cloudwatch["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    # CloudWatch sends no aws:SourceAccount when it uses the key (preflight/principals.py):
    # a condition on it would refuse every alarm notification.
    assert "Condition" not in cloudwatch


def test_topic_policy_admits_only_this_accounts_alarms_over_tls(dev):
    topic = dev.one("aws:sns/topic:Topic").outputs["arn"]
    policy = json.loads(dev.one("aws:sns/topicPolicy:TopicPolicy").inputs["policy"])
    # Budgets and Cost Anomaly Detection: tests/blocks/test_cost_guardrails.py.
    allow, _budgets, _anomalies, deny = policy["Statement"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert (allow["Effect"], allow["Action"], allow["Resource"]) == ("Allow", "sns:Publish", topic)
    assert allow["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_no_subscription_without_an_address(each_stack):
    assert not each_stack.of_type("aws:sns/topicSubscription:TopicSubscription")


def test_an_address_in_config_is_subscribed_by_email(run_stack):
    run = run_stack("dev", {"mlplatform:alarm_email": "ops@example.com"}).subtree("alerts")
    subscription = run.one("aws:sns/topicSubscription:TopicSubscription")
    assert subscription.inputs["protocol"] == "email"
    assert subscription.inputs["endpoint"] == "ops@example.com"
    assert subscription.inputs["topic"] == run.one("aws:sns/topic:Topic").outputs["arn"]


def test_a_topic_with_its_own_key_and_cost_alerts_lets_budgets_and_anomalies_use_it(run_inline):
    from components.blocks.alerts import AlarmTopic, AlarmTopicArgs

    run = run_inline(
        lambda: AlarmTopic("alerts", AlarmTopicArgs(name_prefix="mlplatform-t", cost_alerts=True))
    )
    key = {s.get("Sid"): s for s in json.loads(run.one("aws:kms/key:Key").inputs["policy"])[
        "Statement"]}  # fmt: skip
    assert key["BudgetsPublish"]["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert set(key["BudgetsPublish"]["Condition"]) == {"StringEquals", "ArnLike"}
    assert key["CostAnomalyDetectionPublish"]["Principal"] == {
        "Service": "costalerts.amazonaws.com"
    }
    topic = json.loads(run.one("aws:sns/topicPolicy:TopicPolicy").inputs["policy"])
    assert [s.get("Sid") for s in topic["Statement"]] == [
        "CloudWatchAlarmsOfThisAccount",
        "BudgetsOfThisAccount",
        "CostAnomalyDetectionOfThisAccount",
        "DenyInsecureTransport",
    ]


def test_without_cost_alerts_only_cloudwatch_may_publish(run_inline):
    from components.blocks.alerts import AlarmTopic, AlarmTopicArgs

    run = run_inline(lambda: AlarmTopic("alerts", AlarmTopicArgs(name_prefix="mlplatform-t")))
    topic = json.loads(run.one("aws:sns/topicPolicy:TopicPolicy").inputs["policy"])
    assert [s.get("Sid") for s in topic["Statement"]] == [
        "CloudWatchAlarmsOfThisAccount",
        "DenyInsecureTransport",
    ]
