"""Weekly working hours as Application Auto Scaling schedules (pure, no Pulumi).

One definition for the config check (``components/config/inference.py``), the scheduled
actions (``components/stacks/inference.py``) and the offline plan, which prices the hours
the schedule keeps a GPU instance running. Application Auto Scaling's cron expressions
have six fields, ``cron(minutes hours day-of-month month day-of-week year)``, with ``?``
in the day-of-month when a day-of-week is given (Application Auto Scaling user guide,
"Scheduled scaling", cron expressions).
"""

from __future__ import annotations

import re
import zoneinfo

DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_DAY = "(SUN|MON|TUE|WED|THU|FRI|SAT)"
_DAYS = re.compile(rf"{_DAY}(-{_DAY})?(,{_DAY}(-{_DAY})?)*")
_CRON = re.compile(r"cron\(0 (\d{1,2}) \? \* ([A-Z,-]+) \*\)")
WEEKS_PER_MONTH = 730 / 168
"""The plan's month (730 hours) in weeks."""


def days_error(value: str) -> str | None:
    """None for a day-of-week field of day names (``MON-FRI``, ``MON,WED,FRI``)."""
    if _DAYS.fullmatch(value) and all(
        DAY_NAMES.index(a) <= DAY_NAMES.index(b or a)
        for a, _, b in (part.partition("-") for part in value.split(","))
    ):
        return None
    return "days of the week as MON-FRI or MON,WED,FRI (SUN to SAT, each range in that order)"


def day_count(value: str) -> int:
    """How many days of the week ``value`` (a valid :func:`days_error` field) names."""
    days: set[int] = set()
    for part in value.split(","):
        first, _, last = part.partition("-")
        low, high = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        days.update(range(low, high + 1))
    return len(days)


def timezone_error(value: str) -> str | None:
    """None for an IANA time zone name (Application Auto Scaling takes Joda-Time's, which
    are IANA's), checked against the system's time zone database."""
    known = zoneinfo.available_timezones()
    if value in known or (not known and re.fullmatch(r"[A-Za-z_]+(/[A-Za-z0-9_+-]+)*", value)):
        return None
    return "an IANA time zone name such as UTC, Europe/Berlin or America/New_York"


def cron(hour: int, days: str) -> str:
    """``cron(0 <hour> ? * <days> *)``: on the hour, on those days, every year."""
    return f"cron(0 {hour} ? * {days} *)"


def parse_cron(expression: str) -> tuple[int, str] | None:
    """The hour and days of a :func:`cron` expression; None for any other expression."""
    match = _CRON.fullmatch(expression)
    return (int(match[1]), match[2]) if match else None


def hours_per_month(days: str, start_hour: int, end_hour: int) -> float:
    """The hours a month (730 hours) between ``start_hour`` and ``end_hour`` on ``days``."""
    return day_count(days) * (end_hour - start_hour) * WEEKS_PER_MONTH
