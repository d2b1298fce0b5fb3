"""Security scan: ``python -m offline.scan [STACK ...] [--checkov PATH]`` (``./tasks scan``).

For each stack (default dev and prod) the program runs under the mock engine; its
resources are exported as a Terraform plan (:mod:`offline.terraform_plan`) that Checkov's
``terraform_plan`` framework checks, and mapped control by control to AWS Foundational
Security Best Practices (:mod:`offline.fsbp`). Every failure must have a written reason in
``SECURITY.md``'s reason table (check id, stack, resource, status, reason): the scan exits
with status 1 while any failure has none, and warns about rows for checks that pass now
(stale). A row whose status is ``issue 14`` is work still to do, not a reason.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from offline import fsbp, terraform_plan
from offline.runner import PROJECT_DIR, run_program

SECURITY_MD = PROJECT_DIR / "SECURITY.md"
BUILD = PROJECT_DIR / "build" / "scan"
TABLE_START, TABLE_END = "<!-- scan-reasons:start -->", "<!-- scan-reasons:end -->"
ACCEPTED = "accepted"


@dataclass(frozen=True)
class Failure:
    """One failing check (a Checkov id or an FSBP control) on one resource of one stack."""

    check: str
    stack: str
    resource: str
    detail: str


@dataclass(frozen=True)
class Reason:
    """A row of SECURITY.md's reason table."""

    check: str
    stacks: frozenset[str]
    resource: str
    """A Pulumi logical name, or ``*`` for every resource the check fails on."""
    status: str
    """``accepted`` (the reason stands) or ``issue 14`` (to be fixed, not a reason)."""
    text: str

    def covers(self, failure: Failure) -> bool:
        return (
            self.check == failure.check
            and failure.stack in self.stacks
            and self.resource in ("*", failure.resource)
        )


class ReasonTableError(ValueError):
    """SECURITY.md's reason table is missing or a row is malformed."""


def parse_reasons(text: str) -> list[Reason]:
    """The rows between the table markers: ``| check | stacks | resource | status | reason |``."""
    if TABLE_START not in text or TABLE_END not in text:
        raise ReasonTableError(f"no reason table ({TABLE_START} ... {TABLE_END})")
    body = text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0]
    rows = [line.strip() for line in body.splitlines() if line.strip().startswith("|")]
    reasons = []
    for number, row in enumerate(rows[2:], start=1):  # after the header and its rule
        cells = [c.strip().strip("`") for c in row.strip("|").split("|")]
        if len(cells) != 5 or not all(cells):
            raise ReasonTableError(f"row {number} needs 5 non-empty cells: {row}")
        check, stacks, resource, status, reason = cells
        status = status.lower()
        if status not in (ACCEPTED, "issue 14"):
            raise ReasonTableError(f"row {number}: status {status!r} (accepted or issue 14)")
        names = frozenset(s.strip() for s in stacks.split(","))
        reasons.append(Reason(check, names, resource, status, reason))
    return reasons


@dataclass
class Verdict:
    """Failures split by what SECURITY.md says of them, and reasons that no longer apply."""

    explained: list[tuple[Failure, Reason]]
    pending: list[tuple[Failure, Reason]]
    unexplained: list[Failure]
    stale: list[Reason]

    @property
    def ok(self) -> bool:
        return not self.unexplained and not self.pending


def judge(failures: list[Failure], reasons: list[Reason], stacks: set[str]) -> Verdict:
    """Match each failure to the first reason that covers it (accepted rows first)."""
    ordered = sorted(reasons, key=lambda r: r.status != ACCEPTED)
    explained, pending, unexplained = [], [], []
    used: set[Reason] = set()
    for failure in failures:
        reason = next((r for r in ordered if r.covers(failure)), None)
        if reason is None:
            unexplained.append(failure)
            continue
        used.add(reason)
        (explained if reason.status == ACCEPTED else pending).append((failure, reason))
    stale = [r for r in reasons if r not in used and r.stacks & stacks]
    return Verdict(explained, pending, unexplained, stale)


def checkov_failures(report: dict | list, stack: str) -> tuple[int, list[Failure]]:
    """(passed count, failures) from Checkov's ``-o json`` report of one plan."""
    reports = report if isinstance(report, list) else [report]
    passed, failures = 0, []
    for one in reports:
        results = one.get("results", {})
        passed += len(results.get("passed_checks", []))
        for f in results.get("failed_checks", []):
            name = str(f.get("resource", "")).split(".", 1)[-1]
            failures.append(Failure(f["check_id"], stack, name, f.get("check_name", "")))
    return passed, sorted(failures, key=lambda f: (f.check, f.resource))


def run_checkov(checkov: str, plan: Path) -> dict | list:
    """Checkov's JSON report of ``plan`` (no network: ``--skip-download``)."""
    command = [checkov, "-f", str(plan), "--framework", "terraform_plan", "-o", "json",
               "--skip-download", "--compact"]  # fmt: skip
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 1) or not done.stdout.strip():
        raise RuntimeError(f"checkov failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def scan_stack(stack: str, checkov: str | None) -> tuple[list[str], list[Failure]]:
    """The report lines and the failures (Checkov's, then FSBP's) of one stack."""
    resources = run_program(stack).resources
    lines = [f"== {stack}"]
    failures: list[Failure] = []
    if checkov:
        plan = terraform_plan.write(resources, BUILD / f"plan-{stack}.json")
        passed, found = checkov_failures(run_checkov(checkov, plan), stack)
        lines.append(f"Checkov (terraform_plan, {plan.relative_to(PROJECT_DIR)}): "
                     f"{passed} passed, {len(found)} failed")  # fmt: skip
        lines += [f"  FAIL {f.check:12s} {f.resource}  ({f.detail})" for f in found]
        failures += found
    outcomes = fsbp.check(resources)
    passing, applicable = fsbp.summary(outcomes)
    lines.append(f"FSBP: {passing} of {applicable} applicable controls pass")
    for o in outcomes:
        if o.applicable and not o.passed:
            lines.append(f"  FAIL {o.control.id}  {o.control.title}")
            for name, detail in o.failures:
                lines.append(f"         {name}: {detail}")
                failures.append(Failure(o.control.id, stack, name, detail))
    return lines, failures


def render_verdict(verdict: Verdict) -> list[str]:
    """What SECURITY.md's table says of the failures."""
    lines = ["", f"SECURITY.md: {len(verdict.explained)} failures with a reason, "
             f"{len(verdict.pending)} to be fixed by issue 14, "
             f"{len(verdict.unexplained)} without a reason"]  # fmt: skip
    for f, _ in verdict.pending:
        lines.append(f"  TO FIX (issue 14) {f.stack:4s} {f.check:14s} {f.resource}")
    for f in verdict.unexplained:
        lines.append(f"  NO REASON {f.stack:4s} {f.check:14s} {f.resource}  ({f.detail})")
    for r in verdict.stale:
        where = ",".join(sorted(r.stacks))
        what = "stale reason" if r.status == ACCEPTED else "fixed, drop the issue 14 row"
        lines.append(f"  warning: {what} (passes now): {r.check} {where} {r.resource}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.scan", description=__doc__)
    parser.add_argument("stacks", nargs="*", default=["dev", "prod"])
    parser.add_argument("--checkov", help="the checkov executable (none: FSBP only)")
    args = parser.parse_args(argv)
    failures: list[Failure] = []
    for stack in args.stacks:
        lines, found = scan_stack(stack, args.checkov)
        print("\n".join(lines))
        failures += found
    try:
        reasons = parse_reasons(SECURITY_MD.read_text())
    except (OSError, ReasonTableError) as error:
        print(f"SECURITY.md: {error}", file=sys.stderr)
        return 1
    verdict = judge(failures, reasons, set(args.stacks))
    print("\n".join(render_verdict(verdict)))
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
