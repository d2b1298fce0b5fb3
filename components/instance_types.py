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
