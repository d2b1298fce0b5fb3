"""The GPU instances' boot scripts and agent configuration (components/lib/gpu_instance.py)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from components.lib import gpu_instance

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/p/vision_validator@sha256:" + "a" * 64
OTHER = "public.ecr.aws/docker/library/busybox:1.36"


def _script(**kwargs) -> str:
    return gpu_instance.user_data("c", region="us-east-1", agent_parameter="/p/gpu/a", **kwargs)


def test_agent_config_collects_the_three_gpu_measurements_into_the_namespace():
    config = json.loads(gpu_instance.agent_config_json("p/GPU"))
    assert config["metrics"]["namespace"] == "p/GPU"
    assert config["metrics"]["metrics_collected"]["nvidia_gpu"]["measurement"] == [
        "utilization_gpu", "memory_used", "memory_total",
    ]  # fmt: skip
    assert gpu_instance.metric_names() == (
        "nvidia_smi_utilization_gpu", "nvidia_smi_memory_used", "nvidia_smi_memory_total",
    )  # fmt: skip


def test_the_script_is_the_same_for_the_same_inputs_and_names_each_image_once():
    one = _script(warm_pool=True, prepull_images=[IMAGE, OTHER])
    assert one == _script(warm_pool=True, prepull_images=[IMAGE, OTHER])
    assert one.count(IMAGE) == 1 and one.count(OTHER) == 1
    # one ECR login, for the ECR image's registry only (the public image needs none)
    assert one.count("docker login") == 1
    assert "--password-stdin 123456789012.dkr.ecr.us-east-1.amazonaws.com" in one


def test_without_a_warm_pool_there_is_no_hook_and_no_pull():
    script = _script(prepull_images=[IMAGE])
    assert IMAGE not in script and "complete-lifecycle-action" not in script
    assert "ECS_WARM_POOLS_CHECK=true" not in script


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("warm_pool", [False, True])
def test_the_scripts_parse_as_bash(tmp_path, warm_pool):
    scripts = {"user-data": _script(warm_pool=warm_pool, prepull_images=[IMAGE])}
    scripts["hook"] = gpu_instance.launch_hook_script("us-east-1", [IMAGE])
    for name, text in scripts.items():
        path = tmp_path / name
        path.write_text(text)
        result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, (name, result.stderr)


def test_user_data_fits_the_launch_templates_16_kb():
    # EC2 takes at most 16 KB of user data before base64 encoding.
    script = _script(warm_pool=True, prepull_images=[IMAGE] * 4)
    assert len(script.encode()) < 16 * 1024


def test_the_hook_script_is_embedded_verbatim_in_a_quoted_heredoc():
    script = _script(warm_pool=True, prepull_images=[IMAGE])
    hook = gpu_instance.launch_hook_script("us-east-1", [IMAGE])
    body = script.split(f"cat > {gpu_instance.HOOK_SCRIPT} <<'HOOK'\n", 1)[1].split("\nHOOK\n")[0]
    assert body + "\n" == hook
