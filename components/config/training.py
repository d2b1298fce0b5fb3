"""The ``training`` section: distributed CMA-ES (task and result queues, Fargate Spot
workers, the state bucket, an optional Redis) and the checks between its keys.

Read by ``components/stacks/training.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from components.config.fields import (
    CACHE_NODE_TYPE,
    PROJECT,
    check_fargate_size,
    int_range,
    one_of,
    setting,
)
from components.lib import fargate, queue_scaling

if TYPE_CHECKING:
    from components.config.settings import Settings


@dataclass(frozen=True)
class TrainingSettings:
    """Distributed CMA-ES: task and result queues, Fargate Spot workers, state bucket."""

    worker_cpu: int = setting(
        2048, "CPU units per worker task (1024 = 1 vCPU).", one_of(*fargate.cpu_choices())
    )
    worker_memory: int = setting(
        4096, "Memory per worker task in MiB; must pair with worker_cpu as Fargate accepts."
    )
    min_workers: int = setting(
        0, "Fewest worker tasks; 0 lets the workers scale to zero.", int_range(0, 1000)
    )
    max_workers: int = setting(10, "Most worker tasks.", int_range(1, 1000))
    spot_percentage: int = setting(
        80, "Share of workers on Fargate Spot, 0-100.", int_range(0, 100)
    )
    eval_seconds: int = setting(
        60,
        "Typical time to evaluate one candidate; sizes the backlog the workers scale on.",
        int_range(1, queue_scaling.MAX_EVAL_SECONDS),
    )
    max_eval_seconds: int = setting(
        900,
        "Longest one evaluation may take; the task queue's visibility timeout is this plus "
        "a margin, so a dead worker's task is retried after it.",
        int_range(10, queue_scaling.MAX_EVAL_SECONDS),
    )
    acceptable_latency_seconds: int = setting(
        300,
        "How long a task may wait for a worker; the backlog target per worker is this "
        "divided by eval_seconds.",
        int_range(10, 86400),
    )
    scale_in_idle_minutes: int = setting(
        15,
        "Minutes the task queue must be empty with nothing in flight before the workers "
        "scale in to min_workers.",
        int_range(1, 1440),
    )
    max_receive_count: int = setting(
        5, "Deliveries of a task before it moves to the dead-letter queue.", int_range(1, 1000)
    )
    message_retention_days: int = setting(
        14, "Days the queues keep unconsumed messages (SQS allows 1-14).", int_range(1, 14)
    )
    oldest_task_alarm_minutes: int = setting(
        60, "Alarm when the oldest waiting task is older than this.", int_range(1, 20160)
    )
    checkpoint_ia_days: int = setting(
        30,
        "Days before checkpoints move to S3 Standard-IA (S3 requires at least 30).",
        int_range(30, 3650),
    )
    checkpoint_expire_days: int = setting(
        365,
        "Days before checkpoints are deleted; more than checkpoint_ia_days.",
        int_range(31, 36500),
    )
    noncurrent_version_days: int = setting(
        30, "Days an overwritten or deleted object's old version is kept.", int_range(1, 3650)
    )
    coordinator_user: bool = setting(
        False,
        "Also create an IAM user for the coordinator and export its access key (as "
        "secrets), for the seed's workflow; the default is a role to assume.",
    )
    dashboard: bool = setting(
        True, "A CloudWatch dashboard of the stack ($3 a month beyond an account's first 3)."
    )
    redis: bool = setting(False, "An ElastiCache Redis for the workers (seed 000's redis.tf).")
    redis_node_type: str = setting(
        "cache.t4g.micro",
        "Node type of the training Redis, one the price file (offline/prices-us-east-1.json) "
        "lists.",
        CACHE_NODE_TYPE,
    )


def check_training(s: Settings, problems: list[str]) -> None:
    """Rules between the training keys: a Fargate size, and each bound below its ceiling."""
    ns = f"{PROJECT}:training."
    t = s.training
    check_fargate_size(
        problems, f"{ns}worker_cpu", f"{ns}worker_memory", t.worker_cpu, t.worker_memory
    )
    if t.eval_seconds > t.max_eval_seconds:
        problems.append(
            f"{ns}eval_seconds: expected at most max_eval_seconds ({t.max_eval_seconds})"
        )
    if t.checkpoint_expire_days <= t.checkpoint_ia_days:
        problems.append(
            f"{ns}checkpoint_expire_days: expected more than checkpoint_ia_days "
            f"({t.checkpoint_ia_days})"
        )
    if t.max_workers < t.min_workers:
        problems.append(f"{ns}max_workers: expected at least min_workers ({t.min_workers})")
