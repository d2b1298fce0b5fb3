"""Analyzers: what decides whether a step's part is valid.

An analyzer is an object with a ``name`` (reported in every response) and
``analyze(request: ValidationRequest) -> Analysis``. The app loads one at start-up from
``ANALYZER=module:attr``: the attribute may be the object itself or a class, which is
instantiated without arguments. ``analyze`` runs in a worker thread, so it may block (run a
model on the GPU, fetch artefacts). It reports problems with the part as ``issues``; an
exception is a fault of the analyzer and becomes a 500.

An analyzer that fetches ``artifactsUrl`` must only follow https URLs whose host resolves
to public addresses (no loopback, link-local — the instance metadata service — or private
ranges), re-checked on every redirect; the default one fetches nothing.
"""

from __future__ import annotations

import importlib
import math
import re
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from vision_validator.schemas import ValidationRequest
from vision_validator.settings import ConfigError


@dataclass(frozen=True)
class Issue:
    code: str
    """A stable, machine-readable identifier, e.g. ``part_not_mentioned``."""
    message: str
    """A sentence for a person."""


@dataclass(frozen=True)
class Analysis:
    valid: bool
    score: float
    """Confidence that the part is right, from 0 to 1."""
    issues: tuple[Issue, ...] = ()

    def __post_init__(self) -> None:
        if not (math.isfinite(self.score) and 0.0 <= self.score <= 1.0):
            raise ValueError(f"score must be from 0 to 1, got {self.score!r}")


@runtime_checkable
class Analyzer(Protocol):
    name: str

    def analyze(self, request: ValidationRequest) -> Analysis: ...


VALID_THRESHOLD = 0.6
_WORD = re.compile(r"[a-z0-9]+")
_DIMENSION = re.compile(r"\b\d+(?:\.\d+)?\s?(?:mm|cm|m|in|inch|inches|deg|degrees)\b")
_GEOMETRY = frozenset(
    {
        "arc",
        "bar",
        "beam",
        "block",
        "bolt",
        "box",
        "bracket",
        "chamfer",
        "circle",
        "circular",
        "cone",
        "conical",
        "cube",
        "cuboid",
        "curved",
        "cylinder",
        "cylindrical",
        "diameter",
        "disc",
        "disk",
        "fillet",
        "flange",
        "flat",
        "groove",
        "height",
        "hex",
        "hexagonal",
        "hole",
        "hollow",
        "length",
        "plate",
        "radius",
        "rectangular",
        "ring",
        "rod",
        "round",
        "shaft",
        "slot",
        "sphere",
        "spherical",
        "square",
        "thick",
        "thickness",
        "thread",
        "threaded",
        "tube",
        "wall",
        "wedge",
        "width",
    }
)
_DETAILED_WORDS = 12


class TextHeuristicAnalyzer:
    """The default: judges how well the step *describes* its part, from the text alone.

    It looks at no image and fetches nothing (so it needs no GPU and cannot be used to reach
    internal addresses); it stands in until a vision model is plugged in, and is
    deterministic — the same request always gets the same answer. Score, 0 to 1:

    - 0.4 × detail: the description's word count over 12, capped at 1;
    - 0.3 if the description names the part (any word of ``part``, or its plural);
    - 0.3 if it names a shape or a dimension (``cylindrical``, ``diameter``, ``20 mm`` …).

    ``valid`` is ``score >= 0.6``; each missing element is reported as an issue.
    """

    name = "text-heuristic"

    def analyze(self, request: ValidationRequest) -> Analysis:
        part = request.args.part.lower()
        description = request.args.part_description.lower()
        words = _WORD.findall(description)
        vocabulary = set(words)
        part_words = [word for word in _WORD.findall(part) if len(word) > 1]
        mentions_part = any(
            word in vocabulary or f"{word}s" in vocabulary or f"{word}es" in vocabulary
            for word in part_words
        )
        has_geometry = bool(vocabulary & _GEOMETRY) or bool(_DIMENSION.search(description))
        detail = min(1.0, len(words) / _DETAILED_WORDS)
        score = round(0.4 * detail + 0.3 * mentions_part + 0.3 * has_geometry, 4)
        issues = []
        if detail < 0.5:
            issues.append(
                Issue(
                    "sparse_description",
                    f"the description has {len(words)} word(s); "
                    f"{_DETAILED_WORDS // 2} or more describe a part better",
                )
            )
        if not mentions_part:
            issues.append(Issue("part_not_mentioned", "the description does not name the part"))
        if not has_geometry:
            issues.append(Issue("no_geometry", "the description names no shape or dimension"))
        return Analysis(valid=score >= VALID_THRESHOLD, score=score, issues=tuple(issues))


heuristic = TextHeuristicAnalyzer()


def load_analyzer(spec: str) -> Analyzer:
    """The analyzer ``module:attr`` names; ``ConfigError`` (naming ANALYZER) says why not."""
    module_name, colon, attr = spec.partition(":")
    if not colon or not module_name or not attr:
        raise ConfigError(f"ANALYZER: expected module:attr, got {spec!r}")
    try:
        target: object = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(f"ANALYZER: cannot import {module_name!r}: {error}") from error
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"ANALYZER: {module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    if isinstance(target, type):
        target = target()
    name = getattr(target, "name", None)
    if not callable(getattr(target, "analyze", None)) or not isinstance(name, str) or not name:
        raise ConfigError(
            f"ANALYZER: {spec!r} is not an analyzer (needs a str `name` and `analyze(request)`)"
        )
    return target  # type: ignore[return-value]
