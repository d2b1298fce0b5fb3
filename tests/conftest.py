"""Shared fixtures: the real program under the recording mock engine.

The mocks themselves live in ``offline/mocks.py`` because the offline plan uses the same
ones: they record every registered resource (type, name, inputs, parent, options), answer
with realistic AWS outputs and the typed outputs of awsx components, and fail on any
invoke they do not know. The fixtures here run ``__main__.py`` with the config of a real
stack file (``Pulumi.dev.yaml``, ``Pulumi.prod.yaml``), optionally with overrides.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from offline.runner import ProgramRun, run_function, run_program  # noqa: E402


@pytest.fixture(scope="session")
def dev_program() -> ProgramRun:
    """The dev stack as the program registers it (whole, whatever a module narrows)."""
    return run_program("dev")


@pytest.fixture(scope="session")
def prod_program() -> ProgramRun:
    """The prod stack as the program registers it (whole)."""
    return run_program("prod")


@pytest.fixture(scope="session")
def dev(dev_program) -> ProgramRun:
    """The dev stack; a test module may override it with the subtree it tests."""
    return dev_program


@pytest.fixture(scope="session")
def prod(prod_program) -> ProgramRun:
    """The prod stack; a test module may override it with the subtree it tests."""
    return prod_program


@pytest.fixture(params=["dev", "prod"])
def each_stack(request, dev, prod) -> ProgramRun:
    """Each real stack in turn."""
    return {"dev": dev, "prod": prod}[request.param]


@pytest.fixture
def run_stack():
    """Run the program for a stack file with config overrides: ``run_stack("dev", {...})``."""
    return run_program


@pytest.fixture
def run_inline():
    """Run a function that builds one component under the same mocks."""
    return run_function
