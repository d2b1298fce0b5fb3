"""A stack's outputs: from ``pulumi stack output --json`` or a JSON file, and what the stack's
config says about plain HTTP. Every problem is a :class:`UsageError` of one line."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from offline.runner import PROJECT_DIR, stack_config

PULUMI_TIMEOUT_SECONDS = 60
"""``pulumi stack output`` reads the state from the backend: a slow backend is an error."""


class UsageError(Exception):
    """Bad usage (unknown stack, unreadable or malformed outputs): exit 2 with this line."""


def stack_allows_http(stack: str, project_dir: Path = PROJECT_DIR) -> bool:
    """``ingress.allow_http`` of the stack (its file over ``Pulumi.yaml``'s default); the stack
    file must exist, which is what makes ``stack`` a stack of this project."""
    try:
        config, _ = stack_config(stack, project_dir)
    except FileNotFoundError:
        problem = f"unknown stack {stack!r}: no Pulumi.{stack}.yaml in {project_dir}"
        raise UsageError(problem) from None
    try:
        ingress = json.loads(config.get("mlplatform:ingress", "{}"))
    except ValueError:
        raise UsageError(f"Pulumi.{stack}.yaml: mlplatform:ingress is not an object") from None
    return isinstance(ingress, dict) and ingress.get("allow_http") is True


def from_file(path: str) -> dict[str, Any]:
    """The outputs in ``path``: one JSON object, output name to value."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read outputs file {path}: {error}") from None
    return _parse(text, f"outputs file {path}")


def from_pulumi(stack: str, pulumi: str | None = None) -> dict[str, Any]:
    """The outputs of ``stack`` as the Pulumi CLI reports them. Without ``--show-secrets``:
    a secret output (the coordinator's keys) comes back as ``"[secret]"`` and is never
    needed here, so its value never reaches this process."""
    pulumi = pulumi or shutil.which("pulumi")
    if pulumi is None:
        raise UsageError("the Pulumi CLI is not on PATH: pass --outputs FILE")
    try:
        done = subprocess.run(
            [pulumi, "stack", "output", "--json", "--stack", stack],
            capture_output=True,
            text=True,
            timeout=PULUMI_TIMEOUT_SECONDS,
            cwd=PROJECT_DIR,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise UsageError(f"pulumi stack output failed: {error}") from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise UsageError(f"pulumi stack output -s {stack} failed: {reason}")
    return _parse(done.stdout, f"pulumi stack output -s {stack}")


def _parse(text: str, source: str) -> dict[str, Any]:
    try:
        outputs = json.loads(text)
    except ValueError as error:
        raise UsageError(f"{source} is not JSON: {error}") from None
    if not isinstance(outputs, dict):
        raise UsageError(f"{source} is not a JSON object of outputs")
    return outputs
