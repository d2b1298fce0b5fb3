"""Numbers that tie the task queue to the workers that drain it.

Pure arithmetic, shared by the settings checks and the training stack, and tested
without any Pulumi runtime.
"""

from __future__ import annotations

import math

# SQS refuses a visibility timeout over 12 hours.
MAX_VISIBILITY_SECONDS = 43_200
# Head-room between the longest evaluation and the visibility timeout: the worker sends
# its result and deletes the task after the evaluation ends.
VISIBILITY_MARGIN_SECONDS = 60
MAX_EVAL_SECONDS = MAX_VISIBILITY_SECONDS - VISIBILITY_MARGIN_SECONDS
# Long polling: the most SQS allows, so idle workers make few (billed) empty receives.
RECEIVE_WAIT_SECONDS = 20


def visibility_timeout(max_eval_seconds: int) -> int:
    """The task queue's visibility timeout for evaluations of at most ``max_eval_seconds``.

    The worker extends a held task's visibility while it evaluates, so this bounds only
    how long a task stays hidden after its worker died: it is retried after this long.
    """
    if not 0 < max_eval_seconds <= MAX_EVAL_SECONDS:
        raise ValueError(f"max_eval_seconds must be 1-{MAX_EVAL_SECONDS}")
    return max_eval_seconds + VISIBILITY_MARGIN_SECONDS


def worker_concurrency(cpu_units: int) -> int:
    """Evaluations a worker runs at once: one per whole vCPU, at least one."""
    return max(1, cpu_units // 1024)


def backlog_target(acceptable_latency_seconds: int, eval_seconds: int, concurrency: int) -> float:
    """Visible tasks per running worker that the target-tracking policy holds.

    AWS's recipe for scaling on an SQS backlog: a worker clears ``concurrency`` tasks per
    ``eval_seconds``, so a backlog of latency / eval_seconds * concurrency tasks per
    worker waits at most the acceptable latency.
    """
    if eval_seconds <= 0 or concurrency <= 0:
        raise ValueError("eval_seconds and concurrency must be positive")
    return max(1.0, acceptable_latency_seconds / eval_seconds * concurrency)


def capacity_weights(spot_percentage: int) -> dict[str, int]:
    """Capacity-provider weights that put ``spot_percentage`` % of tasks on FARGATE_SPOT.

    Weights are reduced by their greatest common divisor (80 % gives FARGATE 1 :
    FARGATE_SPOT 4); a provider with no share is left out, since ECS refuses a strategy
    whose weights are all zero and a zero weight only adds noise.
    """
    if not 0 <= spot_percentage <= 100:
        raise ValueError("spot_percentage must be 0-100")
    shares = {"FARGATE": 100 - spot_percentage, "FARGATE_SPOT": spot_percentage}
    divisor = math.gcd(*shares.values())
    return {name: share // divisor for name, share in shares.items() if share}


def capacity_strategy(spot_percentage: int) -> list[dict[str, object]]:
    """An ECS capacity provider strategy putting ``spot_percentage`` % of tasks on Spot."""
    return [
        {"capacity_provider": provider, "weight": weight}
        for provider, weight in capacity_weights(spot_percentage).items()
    ]
