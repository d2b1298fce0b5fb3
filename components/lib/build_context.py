"""Content hash of a Docker build context, used as the image tag.

ECR repositories here have IMMUTABLE tags, so a tag must never be reused for different
content; a tag derived from the bytes that go into the build changes exactly when the
image would. Files that ``.dockerignore`` excludes (and caches Python writes) do not
count, so running the service's tests does not produce a new image.
"""

from __future__ import annotations

import fnmatch
import hashlib
from pathlib import Path

ALWAYS_IGNORED = ("__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache", ".venv", "venv", ".git")


def _ignore_patterns(context: Path) -> list[str]:
    ignore_file = context / ".dockerignore"
    patterns = list(ALWAYS_IGNORED)
    if ignore_file.is_file():
        for line in ignore_file.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#") and not line.startswith("!"):
                patterns.append(line.rstrip("/"))
    return patterns


def _ignored(relative: str, patterns: list[str]) -> bool:
    parts = relative.split("/")
    for pattern in patterns:
        # A pattern matches the path itself, any leading directory of it, or any one
        # path component (the common "__pycache__" / "*.pyc" forms).
        if fnmatch.fnmatch(relative, pattern):
            return True
        if any(fnmatch.fnmatch("/".join(parts[: i + 1]), pattern) for i in range(len(parts))):
            return True
        if "/" not in pattern and any(fnmatch.fnmatch(part, pattern) for part in parts):
            return True
    return False


def context_files(context: Path) -> list[Path]:
    """The files of ``context`` that reach the Docker build, sorted."""
    patterns = _ignore_patterns(context)
    files = []
    for path in sorted(context.rglob("*")):
        relative = path.relative_to(context).as_posix()
        if path.is_file() and not _ignored(relative, patterns):
            files.append(path)
    return files


def context_digest(context: Path, length: int = 16) -> str:
    """A hex digest of every file's relative path, mode bit and bytes in ``context``."""
    if not context.is_dir():
        raise FileNotFoundError(f"build context {context} is not a directory")
    digest = hashlib.sha256()
    for path in context_files(context):
        relative = path.relative_to(context).as_posix()
        executable = "x" if path.stat().st_mode & 0o111 else "-"
        digest.update(f"{relative}\0{executable}\0{path.stat().st_size}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:length]
