"""Time the preflight over what a stack registers, against the program run it follows.

The plan pays both: the program under mocks, then the preflight over its resources. Two
measurements of the preflight, medians of runs:

- cold: the first check in a fresh interpreter (botocore's models and the IAM definitions
  loaded from disk), as `./tasks plan` pays it;
- warm: repeated checks in one interpreter (models cached), as the test suite pays it.

Usage: ./tasks bench preflight [--stack prod] [--cold N] [--warm N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COLD = """
import sys, time
from offline.runner import run_program
from offline.mocks import ACCOUNT_ID
run = run_program({stack!r})
start = time.perf_counter()
from preflight import Context, check, resources_of
found = check.run(resources_of(run.resources), Context("us-east-1", ACCOUNT_ID, stack={stack!r}))
print(time.perf_counter() - start)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--cold", type=int, default=5, help="fresh-interpreter runs")
    parser.add_argument("--warm", type=int, default=20, help="in-process runs")
    args = parser.parse_args()

    from offline.mocks import ACCOUNT_ID
    from offline.runner import run_program
    from preflight import Context, check, resources_of

    cold = []
    for _ in range(args.cold):
        out = subprocess.run([sys.executable, "-c", COLD.format(stack=args.stack)], cwd=ROOT,
                             check=True, capture_output=True, text=True)  # fmt: skip
        cold.append(float(out.stdout.strip().splitlines()[-1]))

    run = run_program(args.stack)
    start = time.perf_counter()
    run_program(args.stack)
    program = time.perf_counter() - start
    resources = resources_of(run.resources)
    context = Context("us-east-1", ACCOUNT_ID, stack=args.stack)
    check.run(resources, context)
    warm = []
    for _ in range(args.warm):
        start = time.perf_counter()
        found = check.run(resources, context)
        warm.append(time.perf_counter() - start)

    print(f"stack {args.stack}: {len(resources)} resources, {len(found)} findings")
    print(f"preflight cold (first check, models loaded): {statistics.median(cold):.3f}s median")
    print(f"preflight warm (models cached):              {statistics.median(warm):.3f}s median")
    print(f"program run under mocks (warm, one run):     {program:.3f}s")


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)  # the mock runs leave event loops behind; skip their teardown noise
