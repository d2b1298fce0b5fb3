"""The service's configuration, read from the environment once and frozen.

A ``Settings`` cannot hold an unusable API key: construction fails with ``ConfigError``, so
an app can never be built that accepts every request (the service fails closed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from service_common.env import (
    ConfigError,
    EnvReader,
    api_key_problem,
    server_problems,
)

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models"
"""``models/`` beside the package: ``services/ai_inference/models`` here, ``/app/models`` in
the image."""


@dataclass(frozen=True)
class Settings:
    """The service's configuration; each field is read from the variable in its docstring."""

    api_key: str = field(repr=False)
    """API_KEY: the key every request but ``/health`` must present. Required, 16+ visible
    ASCII characters. Never printed (not even by ``repr``)."""
    api_key_secret_id: str | None = None
    """API_KEY_SECRET_ID: the secret (ARN or name) that ``API_KEY`` came from; when set, every
    value its AWSCURRENT, AWSPREVIOUS and AWSPENDING versions hold is accepted, read at run
    time (``service_common.secret_keys``), so a rotation refuses no client. Default none:
    ``API_KEY`` alone."""
    model_dir: Path | None = None
    """MODEL_DIR: the directory models are loaded from; when set it must exist. Default
    ``DEFAULT_MODEL_DIR``, which may be absent or empty (then every move is the fallback's)."""
    enable_docs: bool = False
    """ENABLE_DOCS: serve ``/docs``, ``/redoc`` and ``/openapi.json`` without a key.
    Default false (production)."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    """MAX_BODY_BYTES: larger request bodies get 413. Default 1 MiB."""
    log_level: str = "INFO"
    """LOG_LEVEL: DEBUG, INFO, WARNING or ERROR. Default INFO."""
    port: int = 8000
    """PORT: the port ``python -m ai_inference`` listens on. Default 8000."""

    def __post_init__(self) -> None:
        problems = [p for p in (api_key_problem(self.api_key),) if p]
        problems += server_problems(self.max_body_bytes, self.log_level, self.port)
        if problems:
            raise ConfigError("; ".join(problems))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Settings from environment variables; ``ConfigError`` lists every problem."""
        read = EnvReader(env)
        enable_docs = read.flag("ENABLE_DOCS")
        log_level = read.log_level()
        key = env.get("API_KEY")
        if problem := api_key_problem(key):
            read.problem(problem)
        raw_dir = read.text("MODEL_DIR")
        # An explicit directory that is not there is a deployment mistake, not "no models".
        if raw_dir and not Path(raw_dir).is_dir():
            read.problem(f"MODEL_DIR: {raw_dir!r} is not a directory")
        values = {
            "model_dir": Path(raw_dir) if raw_dir else None,
            "enable_docs": enable_docs,
            "max_body_bytes": read.integer("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1, 64 << 20),
            "log_level": log_level,
            "port": read.integer("PORT", 8000, 1, 65535),
        }
        values["api_key_secret_id"] = read.text("API_KEY_SECRET_ID") or None
        read.check()
        return cls(api_key=key or "", **values)
