"""GPU detection without CUDA: /health says what the container can see."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest
from vision_validator.gpu import CachedProbe, GpuDevice, GpuStatus, probe_gpus


@pytest.mark.parametrize("state", ["none", "one"])
def test_health_reports_what_the_probe_sees(make_client, gpu_states, state):
    client = make_client(gpu=gpu_states[state])

    response = client.get("/health")

    assert response.status_code == 200
    if state == "one":
        assert response.json()["gpu"] == {
            "available": True,
            "devices": [{"id": "0000:00:1e.0", "name": "Tesla T4"}],
            "source": "proc",
        }
    else:
        assert response.json()["gpu"] == {"available": False, "devices": [], "source": "none"}


def test_a_failing_probe_still_answers_health(make_client, caplog):
    def broken() -> GpuStatus:
        raise RuntimeError("driver exploded")

    response = make_client(probe=broken).get("/health")

    assert response.status_code == 200
    assert response.json()["gpu"] == {"available": False, "devices": [], "source": "error"}
    assert "GPU probe failed" in [record.getMessage() for record in caplog.records]


def fake_proc(root: Path, devices: dict[str, str]) -> Path:
    for bus_id, model in devices.items():
        (root / bus_id).mkdir(parents=True)
        (root / bus_id / "information").write_text(
            f"Model: \t\t {model}\nIRQ:   \t\t 37\nBus Location: \t {bus_id}\n"
        )
    return root


def fake_nvidia_smi(directory: Path, script: str) -> str:
    path = directory / "nvidia-smi"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_gpus_are_read_from_the_drivers_proc_entries(tmp_path):
    proc = fake_proc(tmp_path / "gpus", {"0000:00:1e.0": "Tesla T4", "0000:00:1f.0": "Tesla T4"})

    status = probe_gpus(proc_dir=proc, nvidia_smi=str(tmp_path / "absent"))

    assert status == GpuStatus(
        available=True,
        devices=(
            GpuDevice(id="0000:00:1e.0", name="Tesla T4"),
            GpuDevice(id="0000:00:1f.0", name="Tesla T4"),
        ),
        source="proc",
    )


def test_nvidia_smi_is_asked_when_proc_has_nothing(tmp_path):
    smi = fake_nvidia_smi(
        tmp_path,
        'echo "GPU 0: Tesla T4 (UUID: GPU-0a1b2c3d-0000-1111-2222-333344445555)"\n'
        'echo "GPU 1: NVIDIA A10G (UUID: GPU-99)"\n',
    )

    status = probe_gpus(proc_dir=tmp_path / "no-proc", nvidia_smi=smi)

    assert status.available is True
    assert status.source == "nvidia-smi"
    assert status.devices == (
        GpuDevice(id="GPU 0", name="Tesla T4"),
        GpuDevice(id="GPU 1", name="NVIDIA A10G"),
    )


@pytest.mark.parametrize(
    "script",
    ["echo 'NVIDIA-SMI has failed' >&2; exit 9\n", "sleep 5\n", "echo 'No devices found.'\n"],
    ids=["fails", "hangs", "no-devices"],
)
def test_a_failing_or_hanging_nvidia_smi_means_no_gpu(tmp_path, script):
    smi = fake_nvidia_smi(tmp_path, script)
    started = time.monotonic()

    status = probe_gpus(proc_dir=tmp_path / "no-proc", nvidia_smi=smi, timeout=0.3)

    assert status == GpuStatus(available=False)
    assert time.monotonic() - started < 3


def test_no_proc_entries_and_no_nvidia_smi_means_no_gpu(tmp_path):
    status = probe_gpus(proc_dir=tmp_path / "no-proc", nvidia_smi=str(tmp_path / "absent"))

    assert status == GpuStatus(available=False, devices=(), source="none")


def test_the_cached_probe_asks_once_per_ttl():
    calls = []
    now = [100.0]

    def probe() -> GpuStatus:
        calls.append(now[0])
        return GpuStatus(available=bool(len(calls) % 2))

    cached = CachedProbe(probe, ttl=30.0, clock=lambda: now[0])

    first = cached()
    now[0] += 29.0
    second = cached()
    now[0] += 1.0
    third = cached()

    assert calls == [100.0, 130.0]
    assert first is second
    assert third.available is False
