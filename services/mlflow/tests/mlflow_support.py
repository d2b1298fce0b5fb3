"""Test helpers: the entrypoint as a process, and the shared PostgreSQL cluster and free
ports (``service_testing.postgres``, re-exported here for this service's tests)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from service_testing.ports import free_port  # noqa: F401 - re-exported for the tests
from service_testing.postgres import (  # noqa: F401 - re-exported for the tests
    PostgresCluster,
    PostgresMissingError,
    postgres_bin_dir,
    start_cluster,
)

SERVICE = Path(__file__).resolve().parent.parent
COMMON = SERVICE.parent / "common"  # service_common, which the image copies into /app too
REGION = "us-east-1"
# A password with every character that means something in a URL or an ini file.
DB_PASSWORD = "p@ss:w/rd%41#?&=+ é;$"
ADMIN_PASSWORD = "admin-Passw0rd%(x)s;#"
FLASK_KEY = "flask-key-5b0c2e8f7a91d3c4"
# What importing the pinned MLflow warns about, outside this project's control: SQLAlchemy 2.1
# deprecates a loader option of its mappings, starlette 1.x the WSGI bridge it mounts Flask with.
# Test modules that import mlflow set ``pytestmark = MLFLOW_IMPORT_WARNINGS``.
MLFLOW_IMPORT_WARNINGS = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow.store.*"),
    pytest.mark.filterwarnings("ignore:starlette.middleware.wsgi is deprecated:UserWarning"),
]


@dataclass
class ServerProcess:
    """``python -m mlflow_entrypoint`` as a real process; its output goes to a file."""

    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] = field(init=False)

    def __post_init__(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mlflow_entrypoint"],
                cwd=SERVICE,
                # service_common, which the image copies beside the package in /app.
                env={**self.env, "PYTHONPATH": str(COMMON)},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: teardown ends the workers too
            )

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_healthy(self, url: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the server exited with {self.process.returncode}:\n{self.output}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        raise AssertionError(f"not healthy after {timeout} s:\n{self.output}")

    def process_tree_command_lines(self) -> list[str]:
        """The command lines of the server and every process below it (Linux /proc)."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
        lines, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            try:
                raw = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            lines.append(raw.replace(b"\0", b" ").decode(errors="replace"))
            todo.extend(children.get(pid, []))
        return lines

    def stop(self) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # workers left behind, if any
        return self.process.wait(timeout=10)
