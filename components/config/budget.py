"""The ``budget`` section: the live cost guardrails of the environment, an AWS Budgets
monthly cost budget and a Cost Anomaly Detection monitor, both notifying the alarm topic.

Read by ``components/blocks/cost_guardrails.py``; the checks are per key (a positive
amount, thresholds from 1 to 1000 percent without repeats), so no checks between keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.config.fields import setting

MAX_THRESHOLDS = 5
"""Each threshold makes two notifications (actual, forecast), and a budget can have up to
ten notifications (botocore's budgets model, the ``Notification`` shape's documentation)."""


def _positive_usd(value: int) -> str | None:
    return None if 1 <= value <= 1_000_000 else "a whole number of USD from 1 to 1000000"


def _thresholds(value: tuple[int, ...]) -> str | None:
    ok = 1 <= len(value) <= MAX_THRESHOLDS and len(set(value)) == len(value)
    if ok and all(1 <= v <= 1000 for v in value):
        return None
    return (
        f"a list of 1 to {MAX_THRESHOLDS} distinct integers from 1 to 1000 "
        "(percent of monthly_usd), e.g. [80, 100]"
    )


@dataclass(frozen=True)
class BudgetSettings:
    """AWS Budgets and Cost Anomaly Detection for the environment."""

    monthly_usd: int = setting(
        50,
        "Monthly cost budget (USD) of the resources tagged environment=<environment>; "
        "AWS Budgets notifies the alarm topic when actual or forecast cost crosses each of "
        "thresholds_percent.",
        _positive_usd,
    )
    thresholds_percent: tuple[int, ...] = setting(
        (80, 100),
        "Percentages of monthly_usd at which the budget notifies, each for actual and for "
        "forecast cost.",
        _thresholds,
    )
    anomaly_monitor: bool = setting(
        True,
        "A Cost Anomaly Detection monitor of AWS services (DIMENSIONAL, SERVICE) with an "
        "immediate subscription to the alarm topic. An account holds one such monitor: set it "
        "false in every other stack of the same account.",
    )
    anomaly_threshold_usd: int = setting(
        10,
        "Total impact (USD) from which an anomaly is sent to the alarm topic.",
        _positive_usd,
    )
