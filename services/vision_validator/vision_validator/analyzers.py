"""Analyzers: what decides whether a step's part is valid.

An analyzer is an object with a ``name`` (reported in every response) and
``analyze(request: ValidationRequest) -> Analysis``. Without ``ANALYZER`` the service picks
the vision model analyzer of the provider whose key is configured
(:mod:`vision_validator.providers`); ``ANALYZER=module:attr`` names another: the attribute
may be the object itself or a class, which is instantiated without arguments. ``analyze``
runs in a worker thread, so it may block (fetch artefacts, call a model, run one on the GPU).

An analyzer never invents a verdict. When it cannot judge it raises an
:class:`AnalysisError`, whose ``status`` and ``reason`` the service answers with:
the artefacts refused (422), no analyzer configured (503), the provider or the artefact
server failing (502) or too slow (504), a malformed answer from the model (502). Any
other exception is a fault of the analyzer (500).
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from vision_validator.schemas import ValidationRequest
from vision_validator.settings import ConfigError


@dataclass(frozen=True)
class Issue:
    code: str
    """A stable, machine-readable identifier, e.g. ``part_mismatch``."""
    message: str
    """A sentence for a person."""


@dataclass(frozen=True)
class Analysis:
    valid: bool
    score: float
    """Confidence that the part is right, from 0 to 1."""
    issues: tuple[Issue, ...] = ()
    reasons: tuple[str, ...] = ()
    """What the model saw, in its words."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.score) and 0.0 <= self.score <= 1.0):
            raise ValueError(f"score must be from 0 to 1, got {self.score!r}")


@runtime_checkable
class Analyzer(Protocol):
    name: str

    def analyze(self, request: ValidationRequest) -> Analysis: ...


class AnalysisError(Exception):
    """No verdict: the service answers ``status`` with ``{"detail": reason}``."""

    status = 502

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ArtifactsRefusedError(AnalysisError):
    """The artefacts cannot be used (URL refused, too large, not an image …)."""

    status = 422


class UpstreamFailedError(AnalysisError):
    """The provider or the artefact server failed, or the model's answer is malformed."""

    status = 502


class UpstreamTimeoutError(AnalysisError):
    """The provider or the artefact server did not answer in time."""

    status = 504


class NotConfiguredError(AnalysisError):
    status = 503


class NoAnalyzer:
    """What serves when no provider key is configured: every validation is a 503, never a
    verdict (the service starts, so ``/health`` still answers and says so)."""

    name = "none"

    def analyze(self, request: ValidationRequest) -> Analysis:
        raise NotConfiguredError(
            "no analyzer configured: the service needs OPENAI_API_KEY or GEMINI_API_KEY"
        )


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
