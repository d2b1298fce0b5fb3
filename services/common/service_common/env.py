"""Reading a service's settings from the environment: every problem collected, then one error.

A service's ``Settings.from_env`` reads each variable through an :class:`EnvReader`, which
notes what is wrong instead of raising at the first problem, so a task that fails to start
names every variable at fault at once. The checks the HTTP services share (``API_KEY``,
``LOG_LEVEL``, ``PORT``, ``MAX_BODY_BYTES``) live here too, so they say the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off", "")
MIN_API_KEY_LENGTH = 16


class ConfigError(ValueError):
    """The configuration is unusable; the text names every variable at fault."""


class EnvReader:
    """Reads variables from ``env``, collecting a problem per bad one; :meth:`check` raises
    them together. Every read strips surrounding whitespace; an empty value is unset."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def problem(self, text: str) -> None:
        """Notes a problem found by the caller (``"NAME: what is wrong"``)."""
        self.problems.append(text)

    def text(self, name: str, default: str = "") -> str:
        """The stripped value, or ``default`` when unset or empty."""
        return self.env.get(name, "").strip() or default

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        """A decimal integer from ``low`` to ``high``; ``default`` when unset or bad."""
        raw = self.text(name)
        if not raw:
            return default
        if not raw.isdigit() or not low <= int(raw) <= high:
            self.problem(f"{name}: expected an integer from {low} to {high}, got {raw!r}")
            return default
        return int(raw)

    def flag(self, name: str) -> bool:
        """``1/true/yes/on`` or ``0/false/no/off`` (any case); unset is false."""
        raw = self.text(name).lower()
        if raw not in TRUE + FALSE:
            self.problem(f"{name}: expected true or false, got {raw!r}")
        return raw in TRUE

    def log_level(self, name: str = "LOG_LEVEL") -> str:
        """One of :data:`LOG_LEVELS` (any case); INFO when unset or bad."""
        level = self.text(name, "INFO").upper()
        if level not in LOG_LEVELS:
            self.problem(f"{name}: expected one of {', '.join(LOG_LEVELS)}, got {level!r}")
            return "INFO"
        return level

    def check(self) -> None:
        """Raises :class:`ConfigError` naming every problem noted so far, if any."""
        if self.problems:
            raise ConfigError("; ".join(self.problems))


def api_key_problem(key: str | None) -> str | None:
    """Why ``key`` cannot be the ``API_KEY``, or ``None`` when it can."""
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


def server_problems(max_body_bytes: int, log_level: str, port: int) -> list[str]:
    """What is wrong with the fields every HTTP service's ``Settings`` has."""
    problems = []
    if max_body_bytes < 1:
        problems.append(f"MAX_BODY_BYTES: expected at least 1, got {max_body_bytes}")
    if log_level not in LOG_LEVELS:
        problems.append(f"LOG_LEVEL: expected one of {', '.join(LOG_LEVELS)}")
    if not 1 <= port <= 65535:
        problems.append(f"PORT: expected 1 to 65535, got {port}")
    return problems
