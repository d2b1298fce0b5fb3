"""Working hours as cron expressions, and their hours a month (components/lib/schedules.py)."""

import pytest

from components.lib import schedules


def test_cron_has_application_auto_scalings_six_fields_with_a_day_of_week():
    assert schedules.cron(8, "MON-FRI") == "cron(0 8 ? * MON-FRI *)"
    inner = schedules.cron(8, "MON-FRI")[len("cron(") : -1]
    assert len(inner.split(" ")) == 6
    assert schedules.parse_cron("cron(0 18 ? * MON,WED *)") == (18, "MON,WED")
    assert schedules.parse_cron("rate(5 minutes)") is None


@pytest.mark.parametrize(
    ("days", "count"), [("MON-FRI", 5), ("SUN-SAT", 7), ("MON,WED,FRI", 3), ("MON,TUE-THU", 4)]
)
def test_day_count(days, count):
    assert schedules.days_error(days) is None
    assert schedules.day_count(days) == count


@pytest.mark.parametrize("days", ["", "mon-fri", "MON-", "FRI-MON", "MON;TUE", "MONDAY"])
def test_bad_days_are_refused(days):
    assert schedules.days_error(days)


def test_ten_working_hours_on_weekdays_are_about_217_hours_a_month():
    assert schedules.hours_per_month("MON-FRI", 8, 18) == pytest.approx(50 * 730 / 168)


def test_timezones_are_iana_names():
    assert schedules.timezone_error("Europe/Berlin") is None
    assert schedules.timezone_error("UTC") is None
    assert schedules.timezone_error("Europe/Nowhere")
