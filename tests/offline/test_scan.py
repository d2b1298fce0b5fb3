"""The scan's reason table and its verdict (Checkov itself stays out of the test suite)."""

from __future__ import annotations

import pytest

from offline import fsbp, scan

TABLE = f"""intro
{scan.TABLE_START}
| Check | Stacks | Resource | Status | Reason |
| --- | --- | --- | --- | --- |
| CKV_AWS_1 | dev, prod | * | accepted | a reason |
| S3.9 | prod | bucket | issue 14 | to fix |
| EC2.10 | dev | vpc | accepted | gone since |
{scan.TABLE_END}
"""


def failure(check, stack="prod", resource="bucket"):
    return scan.Failure(check, stack, resource, "detail")


def test_the_table_parses_into_rows():
    rows = scan.parse_reasons(TABLE)
    assert [(r.check, sorted(r.stacks), r.resource, r.status) for r in rows] == [
        ("CKV_AWS_1", ["dev", "prod"], "*", "accepted"),
        ("S3.9", ["prod"], "bucket", "issue 14"),
        ("EC2.10", ["dev"], "vpc", "accepted"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "no table at all",
        TABLE.replace("| a reason |", "|  |"),
        TABLE.replace("| accepted | a reason", "| maybe | a reason"),
        TABLE.replace("| S3.9 | prod | bucket |", "| S3.9 | prod |"),
    ],
)
def test_a_malformed_table_is_refused(text):
    with pytest.raises(scan.ReasonTableError):
        scan.parse_reasons(text)


def test_a_failure_without_a_reason_fails_the_scan():
    verdict = scan.judge([failure("CKV_AWS_999")], scan.parse_reasons(TABLE), {"prod"})
    assert [f.check for f in verdict.unexplained] == ["CKV_AWS_999"]
    assert not verdict.ok


def test_an_accepted_reason_explains_its_failures_on_its_stacks_only():
    rows = scan.parse_reasons(TABLE)
    verdict = scan.judge([failure("CKV_AWS_1"), failure("CKV_AWS_1", "dev", "other")], rows,
                         {"dev", "prod"})  # fmt: skip
    assert len(verdict.explained) == 2 and verdict.unexplained == []
    elsewhere = scan.judge([failure("CKV_AWS_1", "staging")], rows, {"staging"})
    assert len(elsewhere.unexplained) == 1


def test_a_row_to_fix_by_issue_14_is_no_reason():
    verdict = scan.judge([failure("S3.9")], scan.parse_reasons(TABLE), {"prod"})
    assert len(verdict.pending) == 1 and not verdict.ok
    other = scan.judge([failure("S3.9", resource="another")], scan.parse_reasons(TABLE), {"prod"})
    assert len(other.unexplained) == 1


def test_a_row_for_a_check_that_passes_is_stale():
    verdict = scan.judge([failure("CKV_AWS_1")], scan.parse_reasons(TABLE), {"dev", "prod"})
    assert [r.check for r in verdict.stale] == ["S3.9", "EC2.10"]
    assert verdict.ok  # stale is a warning, not a failure
    lines = scan.render_verdict(verdict)
    assert any("stale reason" in line and "EC2.10" in line for line in lines)
    assert any("drop the issue 14 row" in line and "S3.9" in line for line in lines)
    only_dev = scan.judge([failure("CKV_AWS_1", "dev")], scan.parse_reasons(TABLE), {"dev"})
    assert [r.check for r in only_dev.stale] == ["EC2.10"]  # prod was not scanned


def test_checkov_reports_become_failures_named_by_the_pulumi_name():
    failed = {"check_id": "CKV_AWS_18", "check_name": "logs",
              "resource": "aws_s3_bucket.data-bucket"}  # fmt: skip
    report = {"results": {"passed_checks": [{}, {}], "failed_checks": [failed]}}
    passed, failures = scan.checkov_failures(report, "dev")
    assert passed == 2
    assert failures == [scan.Failure("CKV_AWS_18", "dev", "data-bucket", "logs")]


def test_security_md_parses_and_gives_every_fsbp_failure_a_row(dev, prod):
    rows = scan.parse_reasons(scan.SECURITY_MD.read_text())
    assert rows
    failures = [scan.Failure(o.control.id, run.stack, name, detail)
                for run in (dev, prod) for o in fsbp.check(run.resources)
                for name, detail in o.failures]  # fmt: skip
    verdict = scan.judge(failures, rows, {"dev", "prod"})
    assert verdict.unexplained == []
    assert verdict.pending == []  # issue 14 is merged: no FSBP failure is left to fix
