"""Evaluators: the objective a worker computes for one candidate.

An evaluator is any callable ``evaluate(params: list[float], task: Task, state_pool: bytes |
None) -> float`` returning the candidate's fitness, higher is better. ``state_pool`` is the
raw content of the task's state pool object (``None`` when the task names none or it does
not exist). It must be deterministic for a task key: seed any randomness from ``task.seed``,
``task.generation`` and ``task.candidate``, so a re-delivered task gives the same result.
The worker loads one by import path, ``EVALUATOR=module:attr``; an exception it raises is
logged and the task is released for another try.

The worker runs evaluations in threads (``WORKER_CONCURRENCY``), so an evaluator that
computes in pure Python should do its heavy lifting where the GIL is released (numpy, a C
extension, a subprocess) or run with a concurrency of 1.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import time
from collections.abc import Callable

import numpy as np

from cmaes_training.protocol import Task

Evaluator = Callable[[list[float], Task, bytes | None], float]

DEFAULT = "cmaes_training.evaluators:benchmark"
TARGET = 0.5
"""The benchmark's optimum is the vector of 0.5s unless the state pool moves it."""
NOISE = 0.1
"""Standard deviation of the benchmark's per-game noise."""


def benchmark(params: list[float], task: Task, state_pool: bytes | None) -> float:
    """A noisy sphere: mean over ``task.games`` of ``-||x - target||² + noise``.

    A state pool that is a JSON object with ``"target"`` (one number per parameter) sets
    the target; any other pool content shifts every coordinate of the default target by a
    fixed amount derived from its SHA-256, so a different pool is a different objective.
    """
    x = np.asarray(params, dtype=float)
    target = _target(len(params), state_pool)
    rng = np.random.default_rng([task.seed, task.generation, task.candidate])
    distance = float(np.sum((x - target) ** 2))
    return float(np.mean(-distance + NOISE * rng.standard_normal(task.games)))


def sleep(params: list[float], task: Task, state_pool: bytes | None) -> float:
    """The benchmark after sleeping ``EVAL_SLEEP_SECONDS`` (default 1.0): a stand-in for
    a slow evaluation, used by the throughput bench."""
    time.sleep(float(os.environ.get("EVAL_SLEEP_SECONDS", "1.0")))
    return benchmark(params, task, state_pool)


def sphere(params: list[float], task: Task, state_pool: bytes | None) -> float:
    """``-||x - 0.5||²`` without noise: a smooth objective on which CMA-ES converges and
    pycma's stop criteria (``tolfun``, ``tolx``...) end the run."""
    x = np.asarray(params, dtype=float) - TARGET
    return -float(np.sum(x**2))


def rastrigin(params: list[float], task: Task, state_pool: bytes | None) -> float:
    """Minus the Rastrigin function centred on 0.5: many local optima, no noise."""
    x = np.asarray(params, dtype=float) - TARGET
    return -float(10 * len(x) + np.sum(x**2 - 10 * np.cos(2 * np.pi * x)))


def load(spec: str) -> Evaluator:
    """The callable that ``module:attr`` names; ``ValueError`` says why it cannot be had."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"expected module:attr, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"cannot import {module_name!r} ({error})") from None
    evaluator = getattr(module, attr, None)
    if not callable(evaluator):
        raise ValueError(f"{module_name} has no callable {attr!r}")
    return evaluator


def _target(dimension: int, state_pool: bytes | None) -> np.ndarray:
    target = np.full(dimension, TARGET)
    if state_pool is None:
        return target
    try:
        data = json.loads(state_pool)
    except ValueError:
        data = None
    given = data.get("target") if isinstance(data, dict) else None
    if isinstance(given, list) and len(given) == dimension:
        return np.asarray(given, dtype=float)
    shift = (hashlib.sha256(state_pool).digest()[0] / 255.0 - 0.5) * 0.5
    return target + shift
