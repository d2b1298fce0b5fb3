"""GPU instance types that the ECS GPU-optimized AMI supports, with their GPU counts.

x86_64 NVIDIA families only: the ECS GPU-optimized Amazon Linux 2023 AMI is built for
them (Graviton ``g5g`` and the Inferentia/Trainium families need other AMIs). Source:
the Amazon EC2 accelerated-computing instance specifications.
"""

from __future__ import annotations

_ONE_GPU_SIZES = ("xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge")

GPU_COUNTS: dict[str, int] = {
    **{f"g4dn.{size}": 1 for size in _ONE_GPU_SIZES},
    "g4dn.12xlarge": 4,
    "g4dn.metal": 8,
    **{f"{family}.{size}": 1 for family in ("g5", "g6", "g6e") for size in _ONE_GPU_SIZES},
    **{f"{family}.12xlarge": 4 for family in ("g5", "g6", "g6e")},
    **{f"{family}.24xlarge": 4 for family in ("g5", "g6", "g6e")},
    **{f"{family}.48xlarge": 8 for family in ("g5", "g6", "g6e")},
    "p3.2xlarge": 1,
    "p3.8xlarge": 4,
    "p3.16xlarge": 8,
    "p4d.24xlarge": 8,
    "p5.48xlarge": 8,
}

GPU_FAMILIES: tuple[str, ...] = tuple(sorted({t.split(".")[0] for t in GPU_COUNTS}))


def gpu_count(instance_type: str) -> int:
    """GPUs on ``instance_type``; 0 for a type that is not a supported GPU type."""
    return GPU_COUNTS.get(instance_type, 0)


# vCPUs and memory (GiB) of each supported GPU type, for checking that a task fits.
_SIZES: dict[str, tuple[int, int]] = {
    "xlarge": (4, 16), "2xlarge": (8, 32), "4xlarge": (16, 64), "8xlarge": (32, 128),
    "12xlarge": (48, 192), "16xlarge": (64, 256), "24xlarge": (96, 384), "48xlarge": (192, 768),
}  # fmt: skip
RESOURCES: dict[str, tuple[int, int]] = {
    **{f"{family}.{size}": _SIZES[size] for family in ("g4dn", "g5", "g6")
       for size in _SIZES if f"{family}.{size}" in GPU_COUNTS},
    **{f"g6e.{size}": (vcpus, 2 * gib) for size, (vcpus, gib) in _SIZES.items()
       if f"g6e.{size}" in GPU_COUNTS},
    "g4dn.metal": (96, 384),
    "p3.2xlarge": (8, 61), "p3.8xlarge": (32, 244), "p3.16xlarge": (64, 488),
    "p4d.24xlarge": (96, 1152), "p5.48xlarge": (192, 2048),
}  # fmt: skip

# Share of an instance's memory a task may reserve: the OS and the ECS agent keep the rest
# (ECS registers a little less than the instance's memory).
TASK_MEMORY_SHARE = 0.9


def task_capacity(instance_type: str) -> tuple[int, int]:
    """(CPU units, MiB) one task may reserve on ``instance_type``; (0, 0) if unknown."""
    vcpus, gib = RESOURCES.get(instance_type, (0, 0))
    return vcpus * 1024, int(gib * 1024 * TASK_MEMORY_SHARE)
