"""What goes into a Lambda function's zip: a code package under ``services/`` and, when it
uses it, the shared ``services/common/service_common``.

Paths inside the zip are the package's own (``secret_rotation/steps.py``), so the handler
``secret_rotation.handler.lambda_handler`` and ``import service_common`` work at the zip's
root, as they do on the tests' path. Tests, caches and the package's own metadata files
(``aws_access.yaml``, README, requirements) stay out: the zip changes exactly when the code
does, and the order is sorted, so two checkouts send the provider the same archive.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

SERVICES = "services"
COMMON = PurePosixPath(SERVICES, "common", "service_common")
SKIPPED = ("__pycache__", "tests", ".pytest_cache", ".ruff_cache")


def package_files(root: Path, package: str, module: str, shared: bool) -> dict[str, str]:
    """Zip path -> file path (relative to ``root``, the project) of the function built from
    ``services/<package>/<module>/`` (plus ``service_common`` when ``shared``)."""
    sources = [PurePosixPath(SERVICES, package, module)]
    if shared:
        sources.append(COMMON)
    files: dict[str, str] = {}
    for source in sources:
        directory = root / source
        if not directory.is_dir():
            raise FileNotFoundError(f"no function package at {source}")
        for path in sorted(directory.rglob("*.py")):
            relative = path.relative_to(directory)
            if any(part in SKIPPED for part in relative.parts) or path.name.startswith("test_"):
                continue
            files[str(PurePosixPath(source.name, *relative.parts))] = str(
                PurePosixPath(source, *relative.parts)
            )
    return dict(sorted(files.items()))
