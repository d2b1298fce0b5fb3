"""What the GPU instances run at boot: pure builders (no Pulumi) of their user data, the
CloudWatch agent's configuration and the launch hook that pre-pulls the GPU images.

Used by ``components/blocks/gpu_capacity.py`` (which registers the resources), the
dashboards (metric names, namespace) and the offline plan (metrics per instance); tested
without mocks in ``tests/lib/test_gpu_instance.py``.

The instances run the ECS GPU-optimized Amazon Linux 2023 AMI. It carries the ECS agent,
Docker and the NVIDIA driver (``nvidia-smi``), not the CloudWatch agent (its build adds
``packages_al2023`` of aws/amazon-ecs-ami's ``variables.pkr.hcl``, which does not name
it; commit 014e02d): the user data
installs ``amazon-cloudwatch-agent`` from the Amazon Linux 2023 repository when it is
missing (``rpm -q`` first, so an AMI that has it is left alone), and the AWS CLI
(``awscli-2``) likewise for the launch hook.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence

MEASUREMENTS = ("utilization_gpu", "memory_used", "memory_total")
"""What the agent's ``nvidia_gpu`` section collects: GPU %, and memory used and total (MiB),
each per GPU. The agent publishes them as ``nvidia_smi_<measurement>``."""
METRIC_PREFIX = "nvidia_smi_"
COLLECTION_SECONDS = 60
"""Standard resolution: one datapoint a minute, and one PutMetricData a minute per instance
(the agent flushes every 60 s)."""
LAUNCH_HOOK = "gpu-prepull"
"""The Auto Scaling group's EC2_INSTANCE_LAUNCHING hook the launch script completes."""
HOOK_TIMEOUT_SECONDS = 900
"""How long a launch waits for the script before Auto Scaling continues without it."""
HOOK_SCRIPT = "/usr/local/bin/gpu-launch-hook"
HOOK_UNIT = "gpu-launch-hook.service"
IMDS = "http://169.254.169.254/latest"
_ECR_HOST = re.compile(r"(\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com)/.+")


def metric_names() -> tuple[str, ...]:
    """The metric names the agent publishes, one per measurement."""
    return tuple(METRIC_PREFIX + m for m in MEASUREMENTS)


def namespace(name_prefix: str) -> str:
    """The stack's own metric namespace: the instance role may write to it only."""
    return f"{name_prefix}/GPU"


def parameter_name(name_prefix: str) -> str:
    """The SSM parameter holding the agent's configuration, under the stack's prefix."""
    return f"/{name_prefix}/gpu/cloudwatch-agent"


def agent_config(metric_namespace: str) -> dict:
    """The CloudWatch agent's configuration: the GPU metrics only, per instance.

    ``InstanceId`` is appended from the instance metadata (no permission needed);
    ``AutoScalingGroupName`` is not, as the agent reads it with ``ec2:DescribeTags``,
    which the instance role does not get: the stack's own namespace already says which
    group the instances belong to. No logs are shipped.
    """
    return {
        "agent": {"metrics_collection_interval": COLLECTION_SECONDS, "omit_hostname": True},
        "metrics": {
            "namespace": metric_namespace,
            "append_dimensions": {"InstanceId": "${aws:InstanceId}"},
            "metrics_collected": {
                "nvidia_gpu": {
                    "measurement": list(MEASUREMENTS),
                    "metrics_collection_interval": COLLECTION_SECONDS,
                }
            },
        },
    }


def registries(images: Sequence[str]) -> list[str]:
    """The ECR registries (``<account>.dkr.ecr.<region>.amazonaws.com``) of ``images``."""
    hosts = {m[1] for image in images if (m := _ECR_HOST.fullmatch(image))}
    return sorted(hosts)


def launch_hook_script(region: str, images: Sequence[str]) -> str:
    """The script every boot runs (``gpu-launch-hook.service``).

    It reads the instance's ``autoscaling/target-lifecycle-state``. Launching into the warm
    pool (``Warmed:Stopped``, ``Warmed:Hibernated``, ``Warmed:Running``) it logs in to ECR
    with the instance role and pulls ``images``, so a task placed after the start finds its
    layers on disk. Either way it then completes the group's launch hook: Auto Scaling
    stops a warm-pool instance as soon as the hook is complete (without the hook it would
    not wait for the pull), and an instance started from the pool or launched straight into
    service continues at once. A failed pull is retried, then left to the ECS agent.
    """
    quoted = " ".join(shlex.quote(i) for i in images)
    logins = [
        f"  aws ecr get-login-password --region {region} | "
        f"docker login --username AWS --password-stdin {host}"
        for host in registries(images)
    ]
    return "\n".join(
        [
            "#!/bin/bash",
            "token=$(curl -sf -X PUT " + IMDS + "/api/token "
            "-H 'X-aws-ec2-metadata-token-ttl-seconds: 900')",
            'imds() { curl -sf -H "X-aws-ec2-metadata-token: $token" "'
            + IMDS
            + '/meta-data/$1"; }',
            'state=""',
            "for attempt in $(seq 1 60); do",
            '  state=$(imds autoscaling/target-lifecycle-state) && [ -n "$state" ] && break',
            "  sleep 5",
            "done",
            "instance=$(imds instance-id)",
            'case "$state" in',
            "Warmed:*)",
            *logins,
            f"  for image in {quoted}; do",
            '    for attempt in 1 2 3; do docker pull "$image" && break; sleep 10; done',
            "  done",
            "  ;;",
            "esac",
            f"group=$(aws autoscaling describe-auto-scaling-instances --region {region} "
            '--instance-ids "$instance" '
            "--query 'AutoScalingInstances[0].AutoScalingGroupName' --output text)",
            f"aws autoscaling complete-lifecycle-action --region {region} "
            f'--lifecycle-hook-name {LAUNCH_HOOK} --auto-scaling-group-name "$group" '
            '--instance-id "$instance" --lifecycle-action-result CONTINUE || true',
            "",
        ]
    )


def hook_unit() -> str:
    """The systemd unit running :func:`launch_hook_script` at every boot (cloud-init runs
    user data on the first boot only; an instance leaving the warm pool boots again)."""
    return "\n".join(
        [
            "[Unit]",
            "Description=Pre-pull the GPU images in the warm pool, complete the launch hook",
            "Wants=network-online.target docker.service",
            "After=network-online.target docker.service",
            "[Service]",
            "Type=oneshot",
            f"ExecStart={HOOK_SCRIPT}",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


def user_data(
    cluster_name: str,
    *,
    region: str,
    agent_parameter: str,
    warm_pool: bool = False,
    prepull_images: Sequence[str] = (),
) -> str:
    """The first-boot script: the ECS agent's configuration, the CloudWatch agent started
    from its SSM parameter, and with a warm pool the launch hook that pre-pulls
    ``prepull_images`` (plain text; the launch template takes it base64-encoded).

    With a warm pool the ECS agent checks the instance's lifecycle state first
    (``ECS_WARM_POOLS_CHECK``, Amazon ECS developer guide, "Configuring pre-initialized
    instances"): an instance warming up for the pool, or stopped in it, must not register
    with the cluster, or ECS would place tasks on an instance about to stop.
    """
    warm = ["ECS_WARM_POOLS_CHECK=true"] if warm_pool else []
    lines = [
        "#!/bin/bash",
        "cat >> /etc/ecs/ecs.config <<'EOF'",
        f"ECS_CLUSTER={cluster_name}",
        "ECS_ENABLE_GPU_SUPPORT=true",
        # A Spot interruption notice drains the instance: its tasks move before it ends.
        "ECS_ENABLE_SPOT_INSTANCE_DRAINING=true",
        "ECS_ENABLE_TASK_IAM_ROLE=true",
        # Tasks never see the instance's credentials.
        "ECS_AWSVPC_BLOCK_IMDS=true",
        "ECS_CONTAINER_STOP_TIMEOUT=30s",
        *warm,
        "EOF",
        # The CloudWatch agent: installed when the AMI lacks it, configured from SSM.
        "rpm -q amazon-cloudwatch-agent >/dev/null || dnf install -y amazon-cloudwatch-agent",
        "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config "
        f"-m ec2 -c ssm:{agent_parameter} -s",
    ]
    if warm_pool:
        lines += [
            "command -v aws >/dev/null || dnf install -y awscli-2",
            f"cat > {HOOK_SCRIPT} <<'HOOK'",
            launch_hook_script(region, prepull_images).rstrip("\n"),
            "HOOK",
            f"chmod 0755 {HOOK_SCRIPT}",
            f"cat > /etc/systemd/system/{HOOK_UNIT} <<'UNIT'",
            hook_unit().rstrip("\n"),
            "UNIT",
            "systemctl daemon-reload",
            f"systemctl enable {HOOK_UNIT}",
            # --no-block: cloud-init's own unit must finish first for units ordered after it.
            f"systemctl start --no-block {HOOK_UNIT}",
        ]
    return "\n".join([*lines, ""])


def agent_config_json(metric_namespace: str) -> str:
    """:func:`agent_config` as the SSM parameter's value."""
    return json.dumps(agent_config(metric_namespace), indent=2, sort_keys=True)
