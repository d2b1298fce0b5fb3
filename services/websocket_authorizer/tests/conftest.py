"""The authorizer's package and service_common import from any directory, as in its zip."""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent
for path in (PACKAGE, PACKAGE.parent / "common"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
