"""Which NVIDIA GPUs the container can see, found without any CUDA library.

The NVIDIA container runtime gives a container that was assigned GPUs the driver's
``/proc/driver/nvidia/gpus/<PCI bus id>/`` entries and the ``nvidia-smi`` binary; a
container without GPUs has neither. ``NVIDIA_VISIBLE_DEVICES`` is deliberately not
evidence: the image sets it to ``all`` so that the runtime exposes whatever the task was
given, and it says nothing about what that is.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROC_GPUS = Path("/proc/driver/nvidia/gpus")
NVIDIA_SMI_TIMEOUT = 5.0
"""Seconds ``nvidia-smi -L`` may take; a driver in trouble can make it hang."""

_SMI_LINE = re.compile(r"^GPU (\d+): (.+?)(?: \(UUID: [^)]*\))?$")


@dataclass(frozen=True)
class GpuDevice:
    id: str
    """The PCI bus id (from /proc) or ``GPU <index>`` (from nvidia-smi)."""
    name: str
    """The model, e.g. ``Tesla T4``; ``unknown`` when the driver does not say."""


@dataclass(frozen=True)
class GpuStatus:
    available: bool
    devices: tuple[GpuDevice, ...] = ()
    source: str = "none"
    """Where the devices were found: ``proc``, ``nvidia-smi``, ``none``, or ``error`` when
    the probe itself failed."""


GpuProbe = Callable[[], GpuStatus]


def probe_gpus(
    proc_dir: Path = PROC_GPUS,
    nvidia_smi: str = "nvidia-smi",
    timeout: float = NVIDIA_SMI_TIMEOUT,
) -> GpuStatus:
    """The GPUs in ``proc_dir``, else those ``nvidia-smi -L`` lists, else none."""
    devices = _from_proc(proc_dir)
    if devices:
        return GpuStatus(available=True, devices=devices, source="proc")
    devices = _from_nvidia_smi(nvidia_smi, timeout)
    if devices:
        return GpuStatus(available=True, devices=devices, source="nvidia-smi")
    return GpuStatus(available=False)


def _from_proc(proc_dir: Path) -> tuple[GpuDevice, ...]:
    try:
        entries = sorted(path for path in proc_dir.iterdir() if path.is_dir())
    except OSError:
        return ()
    devices = []
    for entry in entries:
        name = "unknown"
        try:
            for line in (entry / "information").read_text(errors="replace").splitlines():
                key, _, value = line.partition(":")
                if key.strip() == "Model" and value.strip():
                    name = value.strip()
                    break
        except OSError:
            pass
        devices.append(GpuDevice(id=entry.name, name=name))
    return tuple(devices)


def _from_nvidia_smi(command: str, timeout: float) -> tuple[GpuDevice, ...]:
    found = shutil.which(command)
    if not found:
        return ()
    try:
        done = subprocess.run(
            [found, "-L"], capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ()
    if done.returncode != 0:
        return ()
    devices = []
    for line in done.stdout.splitlines():
        match = _SMI_LINE.match(line.strip())
        if match:
            devices.append(GpuDevice(id=f"GPU {match.group(1)}", name=match.group(2)))
    return tuple(devices)


class CachedProbe:
    """A probe that runs at most once per ``ttl`` seconds: the load balancer asks for
    ``/health`` every few seconds, and ``nvidia-smi`` takes a noticeable fraction of one."""

    def __init__(
        self,
        probe: GpuProbe = probe_gpus,
        ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._probe = probe
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._status: GpuStatus | None = None
        self._taken_at = 0.0

    def __call__(self) -> GpuStatus:
        with self._lock:
            now = self._clock()
            if self._status is None or now - self._taken_at >= self._ttl:
                self._status = self._probe()
                self._taken_at = now
            return self._status
