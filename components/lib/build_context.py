"""Content hash of a Docker build, used as the image tag.

ECR repositories here have IMMUTABLE tags, so a tag must never be reused for different
content; a tag derived from the bytes that go into the build changes exactly when the
image would. Every service image is built from the context ``services/`` with its own
Dockerfile (``services/<name>/Dockerfile``), so that it can copy the shared package in
``services/common``; the hash covers what that build reads and nothing else:

- the Dockerfile and the ignore file in force;
- every file of the context the ignore file lets in.

The ignore file is found as BuildKit and pulumi-docker find it: ``<Dockerfile>.dockerignore``
beside the Dockerfile if there is one, else ``.dockerignore`` at the root of the context.
Its patterns are read with Docker's rules (``*`` and ``?`` stay within one path segment,
``**`` spans any number, a pattern also matches everything below a directory it matches,
``!`` lets a path back in, and the last pattern that matches wins). So a change to
``services/common`` changes every image's tag, and a change to another service's files
changes none. Caches Python writes never count, even where an ignore file forgets them, so
running the tests does not produce a new image.
"""

from __future__ import annotations

import hashlib
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

ALWAYS_IGNORED = ("__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache", ".venv", "venv", ".git")
"""Path segments never hashed, wherever they are."""


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    exclude: bool


def _regex(pattern: str) -> re.Pattern[str]:
    """Docker's (moby patternmatcher's) translation of one ignore pattern."""
    out, i = "", 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            if pattern[i + 1 : i + 2] == "*":
                i += 1
                if pattern[i + 1 : i + 2] == "/":
                    i += 1  # "**/" is "**"
                out += ".*" if i + 1 == len(pattern) else "(.*/)?"
            else:
                out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out += re.escape(char)
            else:
                body = pattern[i + 1 : end]
                out += "[" + ("^" + body[1:] if body.startswith("^") else body) + "]"
                i = end
        else:
            out += re.escape(char)
        i += 1
    return re.compile(f"^{out}$")


def _patterns(text: str) -> list[_Pattern]:
    """The patterns of an ignore file, read as Docker's ``ignorefile.ReadAll`` reads them."""
    patterns = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        exclude = not line.startswith("!")
        if not exclude:
            line = line[1:].strip()
        if line:
            line = str(PurePosixPath(line))  # cleaned as filepath.Clean does: no trailing "/"
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        patterns.append(_Pattern(_regex(line), exclude))
    return patterns


def _excluded(relative: str, patterns: list[_Pattern]) -> bool:
    """Docker's rule: each pattern that matches the path or one of its parent directories
    decides, the last one last."""
    parts = relative.split("/")
    candidates = [relative] + ["/".join(parts[: i + 1]) for i in range(len(parts) - 1)]
    excluded = False
    for pattern in patterns:
        # Only a pattern that could change the answer is tried (as Docker does).
        could_change = pattern.exclude != excluded
        if could_change and any(pattern.regex.match(c) for c in candidates):
            excluded = pattern.exclude
    return excluded


def ignore_file(context: Path, dockerfile: Path) -> Path | None:
    """The ignore file a build of ``dockerfile`` in ``context`` obeys, if there is one."""
    for candidate in (Path(f"{dockerfile}.dockerignore"), context / ".dockerignore"):
        if candidate.is_file():
            return candidate
    return None


def context_files(context: Path, dockerfile: Path | None = None) -> list[Path]:
    """The files of ``context`` the build of ``dockerfile`` (default ``context/Dockerfile``)
    receives, sorted: those its ignore file lets in, minus caches."""
    dockerfile = dockerfile or context / "Dockerfile"
    found = ignore_file(context, dockerfile)
    patterns = _patterns(found.read_text()) if found else []
    files = []
    for path in sorted(context.rglob("*")):
        relative = path.relative_to(context).as_posix()
        if not path.is_file() or _excluded(relative, patterns):
            continue
        if any(
            PurePosixPath(part).match(skip)
            for part in relative.split("/")
            for skip in ALWAYS_IGNORED
        ):
            continue
        files.append(path)
    return files


def context_digest(context: Path, dockerfile: Path | None = None, length: int = 16) -> str:
    """A hex digest of what the build of ``dockerfile`` (default ``context/Dockerfile``) in
    ``context`` reads: the Dockerfile, its ignore file and every file it lets in, each by
    relative path, permission bits, size and bytes. The permission bits are there because
    pulumi-docker hashes them into its own context digest (``hashPath`` writes each file's
    ``fs.FileMode``, provider/provider.go, v4.11.2): whenever the provider sees a change
    and rebuilds, the tag changes too, so a rebuild never pushes again a tag that the
    repository's immutable tags already hold."""
    if not context.is_dir():
        raise FileNotFoundError(f"build context {context} is not a directory")
    dockerfile = dockerfile or context / "Dockerfile"
    if not dockerfile.is_file():
        raise FileNotFoundError(f"Dockerfile {dockerfile} is not a file")
    found = ignore_file(context, dockerfile)
    read = {p.resolve() for p in (dockerfile, found) if p is not None}
    read.update(p.resolve() for p in context_files(context, dockerfile))
    root = context.resolve()
    digest = hashlib.sha256()
    for path in sorted(read, key=lambda p: _name(p, root)):
        permissions = oct(stat.S_IMODE(path.stat().st_mode))
        digest.update(f"{_name(path, root)}\0{permissions}\0{path.stat().st_size}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:length]


def _name(path: Path, root: Path) -> str:
    """The path relative to the context; a Dockerfile outside it is hashed by its name alone."""
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
