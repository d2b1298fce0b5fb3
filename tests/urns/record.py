"""Write the URNs dev and prod register to ``tests/urns/<stack>.txt``.

Run only when a change is meant to create or remove resources
(``venv/bin/python tests/urns/record.py``); a refactor must leave both files as they are,
which ``tests/test_urns.py`` checks.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from offline.runner import run_program  # noqa: E402

STACKS = ("dev", "prod")


def urns(stack: str) -> list[str]:
    return sorted(r.urn for r in run_program(stack).resources)


if __name__ == "__main__":
    for stack in STACKS:
        (HERE / f"{stack}.txt").write_text("\n".join(urns(stack)) + "\n")
        print(f"tests/urns/{stack}.txt written")
