"""CostGuardrails: a monthly AWS Budgets cost budget and a Cost Anomaly Detection monitor,
both notifying the alarm topic.

The budget counts the cost of the resources tagged ``environment=<environment>`` (every
taggable resource carries it: ``Settings.base_tags``), through the cost allocation tag
filter ``TagKeyValue`` = ``user:environment$<environment>``. AWS Budgets sees that tag only
once it is activated as a cost allocation tag in the Billing console (an account-wide
switch, so not a resource of one stack: see the README). The anomaly monitor watches the
account's spend per AWS service (``DIMENSIONAL``, ``SERVICE``); an account holds one such
monitor (the Cost Anomaly Detection FAQ: "up to one AWS Service Monitor and 500 custom
monitors"), so ``budget.anomaly_monitor`` switches it off in all stacks of an account but
one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.config.settings import Settings

COST_TAG = "environment"
"""The cost allocation tag the budget filters on (a key of ``Settings.base_tags``)."""
NOTIFICATION_TYPES = ("ACTUAL", "FORECASTED")


@dataclass(frozen=True)
class CostGuardrailsArgs:
    """Inputs of :class:`CostGuardrails`; plain values but the topic ARN."""

    name_prefix: str
    """Prefix of the budget's and the monitor's names, e.g. ``mlplatform-dev``. Required."""
    environment: str
    """Value of the ``environment`` tag the budget counts. Required."""
    topic_arn: pulumi.Input[str]
    """The alarm topic; its policy and key admit Budgets and Cost Anomaly Detection."""
    monthly_usd: int = 50
    """Budget limit in USD a month. Default 50."""
    thresholds_percent: tuple[int, ...] = (80, 100)
    """Percentages of the limit notified, each for actual and forecast cost."""
    anomaly_monitor: bool = True
    """Create the anomaly monitor and its subscription. Default true."""
    anomaly_threshold_usd: int = 10
    """An anomaly of at least this total impact (USD) is sent. Default 10."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on the budget and the monitor. Default none."""

    @classmethod
    def from_settings(cls, settings: Settings, topic_arn: pulumi.Input[str]) -> CostGuardrailsArgs:
        b = settings.budget
        return cls(
            name_prefix=settings.prefix(),
            environment=settings.environment,
            topic_arn=topic_arn,
            monthly_usd=b.monthly_usd,
            thresholds_percent=b.thresholds_percent,
            anomaly_monitor=b.anomaly_monitor,
            anomaly_threshold_usd=b.anomaly_threshold_usd,
            tags=settings.base_tags("cost-guardrails"),
        )


class CostGuardrails(pulumi.ComponentResource):
    """The environment's budget and, optionally, the account's service anomaly monitor.

    Creates a ``COST`` budget with a ``MONTHLY`` time unit and ``monthly_usd`` USD limit,
    filtered to the environment's cost allocation tag, with an ``ACTUAL`` and a
    ``FORECASTED`` notification (``GREATER_THAN``, ``PERCENTAGE``) per threshold to the
    topic; and, with ``anomaly_monitor``, a ``DIMENSIONAL`` ``SERVICE`` anomaly monitor and a
    subscription sending each anomaly of at least ``anomaly_threshold_usd`` total impact to
    the topic (SNS subscribers need the ``IMMEDIATE`` frequency: daily and weekly summaries
    go to e-mail only).
    """

    TYPE = "mlplatform:cost:CostGuardrails"

    budget: aws.budgets.Budget
    monitor: aws.costexplorer.AnomalyMonitor | None
    subscription: aws.costexplorer.AnomalySubscription | None

    def __init__(
        self, name: str, args: CostGuardrailsArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__(self.TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.budget = aws.budgets.Budget(
            f"{name}-budget",
            name=f"{args.name_prefix}-monthly",
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=str(args.monthly_usd),
            limit_unit="USD",
            cost_filters=[
                aws.budgets.BudgetCostFilterArgs(
                    name="TagKeyValue", values=[f"user:{COST_TAG}${args.environment}"]
                )
            ],
            notifications=[
                aws.budgets.BudgetNotificationArgs(
                    notification_type=kind,
                    comparison_operator="GREATER_THAN",
                    threshold=float(percent),
                    threshold_type="PERCENTAGE",
                    subscriber_sns_topic_arns=[args.topic_arn],
                )
                for percent in args.thresholds_percent
                for kind in NOTIFICATION_TYPES
            ],
            tags=dict(args.tags),
            opts=child,
        )
        self.monitor = self.subscription = None
        if args.anomaly_monitor:
            self.monitor = aws.costexplorer.AnomalyMonitor(
                f"{name}-anomaly-monitor",
                name=f"{args.name_prefix}-services",
                monitor_type="DIMENSIONAL",
                monitor_dimension="SERVICE",
                tags=dict(args.tags),
                opts=child,
            )
            self.subscription = aws.costexplorer.AnomalySubscription(
                f"{name}-anomaly-subscription",
                name=f"{args.name_prefix}-anomalies",
                frequency="IMMEDIATE",
                monitor_arn_lists=[self.monitor.arn],
                subscribers=[
                    aws.costexplorer.AnomalySubscriptionSubscriberArgs(
                        type="SNS", address=args.topic_arn
                    )
                ],
                threshold_expression=aws.costexplorer.AnomalySubscriptionThresholdExpressionArgs(
                    dimension=aws.costexplorer.AnomalySubscriptionThresholdExpressionDimensionArgs(
                        key="ANOMALY_TOTAL_IMPACT_ABSOLUTE",
                        match_options=["GREATER_THAN_OR_EQUAL"],
                        values=[str(args.anomaly_threshold_usd)],
                    )
                ),
                tags=dict(args.tags),
                opts=child,
            )
        self.register_outputs({"budget_name": self.budget.name})
