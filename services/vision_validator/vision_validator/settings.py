"""The service's configuration, read from the environment once and frozen.

A ``Settings`` cannot hold an unusable API key: construction fails with ``ConfigError``, so
an app can never be built that accepts every request (the service fails closed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

MIN_API_KEY_LENGTH = 16
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_ANALYZER = "vision_validator.analyzers:heuristic"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


class ConfigError(ValueError):
    """The configuration is unusable; the text names every variable at fault."""


def api_key_problem(key: str | None) -> str | None:
    """Why ``key`` cannot be the API key, or ``None`` when it can."""
    if not key:
        return (
            "API_KEY: required: the key clients send as X-API-Key or Authorization: Bearer "
            f"(at least {MIN_API_KEY_LENGTH} characters; e.g. `openssl rand -base64 32`)"
        )
    if len(key) < MIN_API_KEY_LENGTH:
        return f"API_KEY: shorter than {MIN_API_KEY_LENGTH} characters"
    # A header value loses surrounding whitespace and cannot carry control or non-ASCII
    # characters reliably, so such a key could never be presented.
    if not all("!" <= character <= "~" for character in key):
        return "API_KEY: only visible ASCII characters are allowed (no spaces, no control codes)"
    return None


@dataclass(frozen=True)
class Settings:
    """The service's configuration; each field is read from the variable in its docstring."""

    api_key: str = field(repr=False)
    """API_KEY: the key every request but ``/health`` must present. Required, 16+ visible
    ASCII characters. Never printed (not even by ``repr``)."""
    enable_docs: bool = False
    """ENABLE_DOCS: serve ``/docs``, ``/redoc`` and ``/openapi.json`` without a key.
    Default false (production)."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    """MAX_BODY_BYTES: larger request bodies get 413. Default 1 MiB."""
    analyzer: str = DEFAULT_ANALYZER
    """ANALYZER: ``module:attr`` of the analyzer. Default the text heuristic."""
    log_level: str = "INFO"
    """LOG_LEVEL: DEBUG, INFO, WARNING or ERROR. Default INFO."""
    port: int = 8000
    """PORT: the port ``python -m vision_validator`` listens on. Default 8000."""

    def __post_init__(self) -> None:
        problems = [p for p in (api_key_problem(self.api_key),) if p]
        if self.max_body_bytes < 1:
            problems.append(f"MAX_BODY_BYTES: expected at least 1, got {self.max_body_bytes}")
        if self.log_level not in LOG_LEVELS:
            problems.append(f"LOG_LEVEL: expected one of {', '.join(LOG_LEVELS)}")
        if not 1 <= self.port <= 65535:
            problems.append(f"PORT: expected 1 to 65535, got {self.port}")
        if problems:
            raise ConfigError("; ".join(problems))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Settings from environment variables; ``ConfigError`` lists every problem."""
        problems: list[str] = []

        def integer(name: str, default: int, low: int, high: int) -> int:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            if not raw.isdigit() or not low <= int(raw) <= high:
                problems.append(f"{name}: expected an integer from {low} to {high}, got {raw!r}")
                return default
            return int(raw)

        docs = env.get("ENABLE_DOCS", "").strip().lower()
        if docs not in _TRUE + _FALSE:
            problems.append(f"ENABLE_DOCS: expected true or false, got {docs!r}")
        level = (env.get("LOG_LEVEL", "").strip() or "INFO").upper()
        if level not in LOG_LEVELS:
            problems.append(f"LOG_LEVEL: expected one of {', '.join(LOG_LEVELS)}, got {level!r}")
        key = env.get("API_KEY")
        if problem := api_key_problem(key):
            problems.append(problem)
        values = {
            "enable_docs": docs in _TRUE,
            "max_body_bytes": integer("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1, 64 << 20),
            "analyzer": env.get("ANALYZER", "").strip() or DEFAULT_ANALYZER,
            "log_level": level if level in LOG_LEVELS else "INFO",
            "port": integer("PORT", 8000, 1, 65535),
        }
        if problems:
            raise ConfigError("; ".join(problems))
        return cls(api_key=key or "", **values)
