"""The CPU/memory combinations AWS Fargate accepts for a Linux task.

Source: "Task CPU and memory" in the Amazon ECS developer guide. A task definition
with any other pair is rejected by the ECS API at deploy time; checking here turns a
failed `pulumi up` into a config error before anything is registered.
"""

from __future__ import annotations

# cpu units -> (lowest MiB, highest MiB, step MiB)
_MEMORY_RANGES: dict[int, tuple[int, int, int]] = {
    256: (512, 2048, 0),  # 512, 1024 or 2048 only: handled below
    512: (1024, 4096, 1024),
    1024: (2048, 8192, 1024),
    2048: (4096, 16384, 1024),
    4096: (8192, 30720, 1024),
    8192: (16384, 61440, 4096),
    16384: (32768, 122880, 8192),
}


def memory_choices(cpu: int) -> list[int]:
    """Every memory size (MiB) Fargate accepts with ``cpu`` units; empty if cpu is invalid."""
    if cpu == 256:
        return [512, 1024, 2048]
    if cpu not in _MEMORY_RANGES:
        return []
    low, high, step = _MEMORY_RANGES[cpu]
    return list(range(low, high + 1, step))


def cpu_choices() -> list[int]:
    """The CPU units Fargate accepts."""
    return sorted(_MEMORY_RANGES)


def is_valid(cpu: int, memory: int) -> bool:
    """True when Fargate accepts the pair."""
    return memory in memory_choices(cpu)


def describe(cpu: int) -> str:
    """The accepted memory sizes for ``cpu`` in words, for error messages."""
    if cpu not in _MEMORY_RANGES:
        return f"cpu one of {cpu_choices()}"
    if cpu == 256:
        return "memory 512, 1024 or 2048 with cpu 256"
    low, high, step = _MEMORY_RANGES[cpu]
    return f"memory {low}-{high} in steps of {step} with cpu {cpu}"


HOKUSAI_API_SIZE = (512, 1024)
"""CPU units and MiB of the one Hokusai API task, which no setting sizes: read by the data
platform and by the quota plan (one definition for both)."""

API_RESERVATION_MIB = 256
"""MiB the Hokusai API's container reserves when it runs in MLflow's task
(``data_platform.api_placement: with_mlflow``): about 95 MiB resident measured after start-up
and 40 authenticated requests (``python -m hokusai_api`` against PostgreSQL, x86_64, locally,
not on Fargate), with room for bursts."""
MLFLOW_BASE_MIB = 250
MLFLOW_WORKER_MIB = 200
"""What an MLflow server needs: about :data:`MLFLOW_BASE_MIB` plus this per uvicorn worker
(proportional set size of the process tree measured locally with basic auth on PostgreSQL:
438 MiB with 1 worker, 640 MiB with 2, after 45 requests; rounded up)."""


def mlflow_memory_need(workers: int) -> int:
    """MiB an MLflow server of ``workers`` uvicorn workers needs (see :data:`MLFLOW_WORKER_MIB`)."""
    return MLFLOW_BASE_MIB + workers * MLFLOW_WORKER_MIB
