"""The ``quotas`` section (components/config/quotas.py): whether to ask for quota raises."""

from __future__ import annotations

from components.config.quotas import QuotaSettings


def test_no_quota_increase_is_requested_unless_the_stack_asks():
    assert QuotaSettings().request is False


def test_the_switch_is_read_from_the_stack_file_as_a_boolean(parses, problems_for, only):
    assert parses("dev", quotas__request=True).quotas.request is True
    assert "expected a boolean" in only(
        problems_for("dev", quotas__request="yes"), "mlplatform:quotas.request"
    )
