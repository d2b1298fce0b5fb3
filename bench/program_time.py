"""Time the whole program under the mock engine (prod) against a floor program.

The floor imports pulumi and pulumi_aws and registers one resource, so the ratio shows
what the platform's own code adds over the unavoidable SDK cost. Two measurements:

- cold: a fresh interpreter per run (imports included), as `./tasks plan` pays it;
- warm: repeated runs in one interpreter, as the test suite pays it.

Usage: ./tasks bench [--stack prod] [--cold N] [--warm N]
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


def cold(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, *argv], cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def warm(fn, runs: int) -> float:
    fn()  # imports and first-run caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--cold", type=int, default=5, help="fresh-interpreter runs each")
    parser.add_argument("--warm", type=int, default=20, help="in-process runs each")
    args = parser.parse_args()

    # bench/ is on sys.path when this file runs as a script: the floor is the same program
    # in both measurements.
    from floor import program as floor_program

    from offline.runner import run_function, run_program

    program_cmd = ["-c", f"from offline.runner import run_program; run_program({args.stack!r})"]
    cold_program = cold(program_cmd, args.cold)
    cold_floor = cold(["bench/floor.py"], args.cold)

    resources = len(run_program(args.stack).resources)
    warm_program = warm(lambda: run_program(args.stack), args.warm)
    warm_floor = warm(
        lambda: run_function(floor_program, config={"aws:region": "us-east-1"}), args.warm
    )

    print(f"stack {args.stack}: {resources} resources registered; medians of runs")
    print(f"{'':8}{'program':>10}{'floor':>10}{'ratio':>8}")
    print(f"{'cold':8}{cold_program:9.3f}s{cold_floor:9.3f}s{cold_program / cold_floor:7.2f}x")
    print(f"{'warm':8}{warm_program:9.3f}s{warm_floor:9.3f}s{warm_program / warm_floor:7.2f}x")


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    # Dozens of mock runs leave event loops in the SDK's worker threads; closing them at
    # interpreter teardown prints "Invalid file descriptor" noise after the results.
    os._exit(0)
