"""The ``budget`` section (components/config/budget.py): limit, thresholds, anomaly switch."""

from __future__ import annotations

import dataclasses

import pytest

from components.config.budget import BudgetSettings


def test_defaults_are_a_50_dollar_budget_notified_at_80_and_100_percent():
    b = BudgetSettings()
    assert (b.monthly_usd, b.thresholds_percent) == (50, (80, 100))
    assert (b.anomaly_monitor, b.anomaly_threshold_usd) == (True, 10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.monthly_usd = 1  # type: ignore[misc]


def test_the_stack_files_values_are_read(parses):
    assert parses("dev").budget.monthly_usd == 50
    assert parses("prod").budget.monthly_usd == 1500
    got = parses(
        "dev", budget__thresholds_percent=[50, 90, 100, 120, 150], budget__anomaly_monitor=False
    )
    assert got.budget.thresholds_percent == (50, 90, 100, 120, 150)
    assert got.budget.anomaly_monitor is False


@pytest.mark.parametrize("value", [0, -5, 1_000_001])
def test_the_limit_must_be_a_positive_whole_number_of_usd(value, refused):
    refused({"budget__monthly_usd": value}, "mlplatform:budget.monthly_usd", "from 1 to 1000000")


def test_a_fractional_limit_is_refused_as_not_an_integer(problems_for, only):
    problem = only(problems_for("dev", budget__monthly_usd=12.5), "mlplatform:budget.monthly_usd")
    assert "expected an integer" in problem


@pytest.mark.parametrize(
    "value", [[], [80, 80], [0, 100], [80, 1001], [10, 20, 30, 40, 50, 60], ["80"], [True]]
)
def test_thresholds_are_one_to_five_distinct_percentages(value, problems_for, only):
    problem = only(
        problems_for("dev", budget__thresholds_percent=value),
        "mlplatform:budget.thresholds_percent",
    )
    assert "integers" in problem


def test_every_bad_key_is_named_at_once(problems_for):
    problems = problems_for(
        "dev",
        budget__monthly_usd=0,
        budget__anomaly_threshold_usd=0,
        budget__anomaly_monitor="yes",
    )
    named = {p.split(":")[1] for p in problems if p.startswith("mlplatform:budget.")}
    assert named == {
        "budget.monthly_usd",
        "budget.anomaly_threshold_usd",
        "budget.anomaly_monitor",
    }
