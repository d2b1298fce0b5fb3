"""The benchmark and sleep evaluators, and loading an evaluator by import path."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest
from cmaes_training import evaluators
from cmaes_training.protocol import Task

TASK = Task(
    run_id="r1",
    generation=0,
    candidate=0,
    params=(0.0,) * 4,
    games=10,
    board="square8",
    num_players=2,
    seed=1,
    pool=None,
)


def test_the_benchmark_is_deterministic_per_task_key():
    params = [0.1, 0.2, 0.3, 0.4]
    first = evaluators.benchmark(params, TASK, None)
    assert evaluators.benchmark(params, TASK, None) == first
    assert evaluators.benchmark(params, replace(TASK, candidate=1), None) != first


def test_the_benchmark_scores_the_target_higher_than_elsewhere():
    at_target = evaluators.benchmark([evaluators.TARGET] * 4, TASK, None)
    away = evaluators.benchmark([evaluators.TARGET + 1.0] * 4, TASK, None)
    assert at_target > away
    assert at_target == pytest.approx(0.0, abs=5 * evaluators.NOISE)


def test_a_state_pool_with_a_target_moves_the_optimum():
    pool = json.dumps({"target": [1.0, 1.0, 1.0, 1.0]}).encode()
    at_pool_target = evaluators.benchmark([1.0] * 4, TASK, pool)
    at_default = evaluators.benchmark([evaluators.TARGET] * 4, TASK, pool)
    assert at_pool_target > at_default


def test_any_other_state_pool_shifts_the_objective():
    params = [evaluators.TARGET] * 4
    assert evaluators.benchmark(params, TASK, b"states") != evaluators.benchmark(params, TASK, None)


def test_the_sleep_evaluator_sleeps_then_returns_the_benchmark(monkeypatch):
    monkeypatch.setenv("EVAL_SLEEP_SECONDS", "0.2")
    started = time.monotonic()
    fitness = evaluators.sleep([0.0] * 4, TASK, None)
    assert time.monotonic() - started >= 0.2
    assert fitness == evaluators.benchmark([0.0] * 4, TASK, None)


def test_the_default_evaluator_is_the_benchmark():
    assert evaluators.load(evaluators.DEFAULT) is evaluators.benchmark


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("cmaes_training.evaluators", "expected module:attr"),
        ("no_such_module_here:f", "cannot import"),
        ("cmaes_training.evaluators:missing", "no callable 'missing'"),
        ("cmaes_training.evaluators:TARGET", "no callable 'TARGET'"),
    ],
)
def test_an_evaluator_that_cannot_be_loaded_is_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        evaluators.load(spec)
