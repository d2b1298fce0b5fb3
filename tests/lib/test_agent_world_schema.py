"""The agent world's tables are read from the service's own schema module, however the
program is started."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    # -S: no site-packages either, as bare as a start can be; the loader needs none.
    return subprocess.run(
        [sys.executable, "-S", "-c", code],
        cwd=cwd,
        env={"PYTHONPATH": str(pythonpath), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_component_and_the_service_share_one_schema_module():
    # One module object, however it is imported: nothing to drift.
    from agent_world import schema

    from components.lib import agent_world_schema

    assert agent_world_schema.schema is schema
    assert agent_world_schema.TABLES is schema.TABLES


def test_it_loads_with_only_the_project_directory_on_the_path(tmp_path):
    # given a process like `pulumi up`: the project directory on the path, nothing else,
    # started elsewhere
    code = (
        "import sys\n"
        "from components.lib import agent_world_schema as m\n"
        "print(m.schema.__file__)\n"
        "print(' '.join(t.stem for t in m.TABLES))\n"
    )
    result = run_python(code, cwd=tmp_path, pythonpath=ROOT)
    # then the service's own file is read
    assert result.returncode == 0, result.stderr
    file, stems = result.stdout.splitlines()
    assert Path(file) == ROOT / "services" / "agent_world" / "agent_world" / "schema.py"
    assert stems == "worlds agents memory-streams world-objects events snapshots connections"


def test_another_agent_world_ahead_on_the_path_is_refused(tmp_path):
    # given a different agent_world package earlier on the path
    impostor = tmp_path / "agent_world"
    impostor.mkdir()
    (impostor / "__init__.py").write_text("")
    (impostor / "schema.py").write_text("TABLES = ()\nIndex = Table = None\n")
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "from components.lib import agent_world_schema\n"
    )
    result = run_python(code, cwd=tmp_path, pythonpath=ROOT)
    # then the program stops rather than create tables from it
    assert result.returncode != 0
    assert "another agent_world package is ahead of the service" in result.stderr
