"""The monthly cost of a stack's plan against the target branch's, as Markdown for a pull
request's job summary: ``python -m offline.cost_diff STACK BASE_PLAN HEAD_PLAN``.

Both files are the text ``./tasks plan STACK`` printed; their cost tables ("Monthly cost
estimate ...") are compared per component. A plan without that table (the base branch
failed to plan, or predates the table) shows its figures as "-" rather than failing the job.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HEADING = "Monthly cost estimate"


def cost_table(text: str) -> dict[str, tuple[float, float]]:
    """Component -> (idle, with usage) from one plan's output ({} without a cost table)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(HEADING)), None)
    if start is None:
        return {}
    table = {}
    for line in lines[start + 2 :]:  # past the heading and the column names
        parts = line.split()
        if len(parts) != 3:
            break
        try:
            table[parts[0]] = (float(parts[1]), float(parts[2]))
        except ValueError:
            break
    return table


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _delta(base: float | None, head: float | None) -> str:
    if base is None or head is None:
        return "-"
    return f"{head - base:+.2f}"


def render(stack: str, base: dict, head: dict) -> str:
    """A Markdown table of both plans' costs, the total last."""
    names = [*sorted((set(base) | set(head)) - {"total"}), "total"]
    rows = [
        f"### Monthly cost, {stack} (USD, offline plan)",
        "",
        "| component | idle (base) | idle (PR) | idle Δ "
        "| with usage (base) | with usage (PR) | with usage Δ |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in names:
        b_idle, b_use = base.get(name, (None, None))
        h_idle, h_use = head.get(name, (None, None))
        label = f"**{name}**" if name == "total" else name
        rows.append(
            f"| {label} | {_money(b_idle)} | {_money(h_idle)} | {_delta(b_idle, h_idle)} "
            f"| {_money(b_use)} | {_money(h_use)} | {_delta(b_use, h_use)} |"
        )
    if not base:
        rows += ["", "The target branch's plan printed no cost table (see the job log)."]
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.cost_diff", description=__doc__)
    parser.add_argument("stack")
    parser.add_argument("base", type=Path, help="the target branch's plan output")
    parser.add_argument("head", type=Path, help="this branch's plan output")
    args = parser.parse_args(argv)
    base = cost_table(args.base.read_text()) if args.base.exists() else {}
    head = cost_table(args.head.read_text())
    if not head:
        print(f"error: {args.head} has no cost table", file=sys.stderr)
        return 2
    sys.stdout.write(render(args.stack, base, head))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
