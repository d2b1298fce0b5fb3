"""The offline plan: the README's main command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from offline.__main__ import main

ROOT = Path(__file__).resolve().parents[2]


def test_plan_prints_the_tree_counts_and_outputs(capsys, tmp_path, dev_program):
    assert main(["dev", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Offline plan of stack 'dev'" in out
    assert "pulumi:pulumi:Stack  mlplatform-dev" in out
    assert "├─ mlplatform:network:NetworkStack  network" in out
    assert "└─ mlplatform:training:TrainingStack  training" in out
    assert "├─ awsx:ec2:Vpc  network-vpc  [2 AZs, NAT None" in out
    assert "aws:ec2/flowLog:FlowLog  network-flow-log" in out
    assert "     2  aws:ec2/vpcEndpoint:VpcEndpoint" in out
    assert "├─ mlplatform:inference:InferenceStack  inference" in out
    assert "├─ mlplatform:data:DataPlatformStack  data-platform" in out
    assert "├─ mlplatform:agentworld:AgentWorldStack  agent-world" in out
    assert f"Resources by type ({len(dev_program.resources)} in all):" in out
    assert "  vpc_id: vpc-" in out
    assert "  sqs_task_queue_url: https://sqs.us-east-1.amazonaws.com/" in out
    assert "Monthly cost estimate (USD, us-east-1 list prices; usage: usage-example.yaml):" in out
    assert re.search(r"^  total\s+\d+\.\d\d\s+\d+\.\d\d$", out, re.M)
    assert f"Architecture diagram: {tmp_path / 'plan-dev.dot'}" in out


def test_plan_of_prod_shows_nat_per_az_and_interface_endpoints(capsys, tmp_path):
    assert main(["prod", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "[3 AZs, NAT OnePerAz" in out
    assert "     7  aws:ec2/vpcEndpoint:VpcEndpoint" in out


def test_plan_overrides_use_config_paths(capsys, tmp_path):
    argv = ["dev", "--set", "network.az_count=3", "--set", "network.nat_strategy=single"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    assert "[3 AZs, NAT Single" in capsys.readouterr().out


def test_bad_config_prints_every_problem_and_exits_2(capsys):
    code = main(
        ["dev", "--set", "network.cidr=10.0.0.0/8", "--set", "training.spot_percentage=120"]
    )
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert "Invalid stack configuration (2 problems):" in captured.err
    assert "mlplatform:network.cidr: expected a prefix from /16 to /24 (got /8)" in captured.err
    assert "mlplatform:training.spot_percentage: expected an integer from 0 to 100" in captured.err


def test_unknown_stack_exits_2(capsys):
    assert main(["staging"]) == 2
    assert "Pulumi.staging.yaml" in capsys.readouterr().err


def test_plan_runs_as_a_module_without_credentials_or_the_pulumi_cli(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PULUMI_"))}
    env.update(PATH=os.path.dirname(sys.executable), HOME=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "offline", "dev"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "mlplatform:network:NetworkStack" in result.stdout
    assert result.stderr == ""
