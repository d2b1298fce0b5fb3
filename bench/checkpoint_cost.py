"""CMA-ES checkpoint cost per generation, early in a run and late in it.

Runs the coordinator's own ``run()`` in this process with the local backend and the
deterministic ``sphere`` evaluator (dimension 8, population 20, as the defaults), every
generation (``early_stop=False``), checkpointing to a local directory, and times each
``checkpoints.save`` call. Reports the median of the saves around generation 10 and around
generation 1,000 (``--window`` saves each) and the checkpoint's total size at the end
(header, summary and history): O(1) checkpoints cost the same at both.

Usage: venv/bin/python bench/checkpoint_cost.py [--generations 1000] [--window 9]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICE = ROOT / "services" / "cmaes_worker"
COMMON = ROOT / "services" / "common"
sys.path[:0] = [str(SERVICE), str(COMMON)]

from cmaes_training import checkpoints, coordinator, evaluators  # noqa: E402


def measure(generations: int) -> tuple[list[float], int]:
    """Seconds of every save, in order, and the bytes stored at the end."""
    seconds: list[float] = []
    original = checkpoints.save

    def timed(store, checkpoint, summary):
        started = time.perf_counter()
        original(store, checkpoint, summary)
        seconds.append(time.perf_counter() - started)

    config = coordinator.RunConfig(
        run_id="bench", dimension=8, population_size=20, sigma0=0.5, seed=1,
        games_per_eval=1, board="square8", num_players=2, x0=(0.0,) * 8,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as directory:
        store = checkpoints.LocalStore(directory)
        checkpoints.save, saved = timed, checkpoints.save
        try:
            coordinator.run(
                config,
                generations,
                coordinator.LocalBackend(evaluators.sphere),
                store,
                early_stop=False,
            )
        finally:
            checkpoints.save = saved
        size = sum(p.stat().st_size for p in Path(directory).rglob("*") if p.is_file())
    return seconds, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=1000)
    parser.add_argument("--window", type=int, default=9)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    seconds, size = measure(args.generations)
    half = args.window // 2
    early = seconds[max(0, 9 - half) : 9 + half + 1]
    late = seconds[-args.window :]
    print(
        f"checkpoint cost per generation (median of {args.window} saves): "
        f"generation 10: {statistics.median(early) * 1000:.2f} ms, "
        f"generation {args.generations}: {statistics.median(late) * 1000:.2f} ms; "
        f"checkpoint (all objects) after {args.generations} generations: {size / 1e6:.2f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
