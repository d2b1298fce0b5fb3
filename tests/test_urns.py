"""No resource changes identity: dev and prod register exactly the URNs checked in under
``tests/urns/`` (a changed URN replaces a live resource). A change meant to add or remove
resources records them anew with ``venv/bin/python tests/urns/record.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

URNS = Path(__file__).resolve().parent / "urns"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_stack_registers_the_recorded_urns(stack, dev_program, prod_program):
    run = {"dev": dev_program, "prod": prod_program}[stack]
    recorded = set((URNS / f"{stack}.txt").read_text().split())
    registered = {r.urn for r in run.resources}
    assert sorted(registered - recorded) == [], "new URNs (replacements, if renamed)"
    assert sorted(recorded - registered) == [], "URNs gone (deletes, unless aliased)"
