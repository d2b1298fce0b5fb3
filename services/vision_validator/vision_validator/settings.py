"""The service's configuration, read from the environment once and frozen.

A ``Settings`` cannot hold an unusable API key: construction fails with ``ConfigError``, so
an app can never be built that accepts every request (the service fails closed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from service_common.env import (
    ConfigError,
    EnvReader,
    api_key_problem,
    server_problems,
)

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_VALIDATE_DEADLINE = 110
"""Seconds a validation may take in all. The inference stack always sets it, to its load
balancer's idle timeout (``inference.request_timeout_seconds``, default 120) less a margin
(components/config/inference.py); this default equals what the stack sets by default
(tests/stacks/test_inference.py checks it)."""
PROVIDERS = ("openai", "gemini")
_PROVIDER_KEY = re.compile(r"[\x21-\x7e]{8,512}")
_MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")


def backend_url_problem(url: str) -> str | None:
    """None for an empty value or an https URL with a host and no credentials."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        return (
            f"BACKEND_URL: expected an https URL such as https://backend.example.com, got {url!r}"
        )
    return None


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
    enable_docs: bool = False
    """ENABLE_DOCS: serve ``/docs``, ``/redoc`` and ``/openapi.json`` without a key.
    Default false (production)."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    """MAX_BODY_BYTES: larger request bodies get 413. Default 1 MiB."""
    analyzer: str = ""
    """ANALYZER: ``module:attr`` of a plug-in analyzer. Default none: the vision model of the
    configured provider key (``vision_validator.providers.from_settings``)."""
    openai_api_key: str = field(default="", repr=False)
    """OPENAI_API_KEY: OpenAI's API key (an ECS secret). Default none."""
    gemini_api_key: str = field(default="", repr=False)
    """GEMINI_API_KEY: the Gemini API key (an ECS secret). Default none."""
    vision_provider: str = "openai"
    """VISION_PROVIDER: ``openai`` or ``gemini``, which provider to use when both keys are
    set. Default openai."""
    openai_model: str = "gpt-4o-mini"
    """OPENAI_MODEL: the OpenAI vision model. Default gpt-4o-mini."""
    gemini_model: str = "gemini-2.5-flash"
    """GEMINI_MODEL: the Gemini model. Default gemini-2.5-flash."""
    provider_timeout: int = 60
    """PROVIDER_TIMEOUT: seconds one model call may take (then 504). Default 60."""
    validate_deadline: int = DEFAULT_VALIDATE_DEADLINE
    """VALIDATE_DEADLINE_SECONDS: seconds one validation may take in all, its fetches and
    the model call together (then 504): below the load balancer's idle timeout, so the
    caller gets this service's JSON answer, not the load balancer's. Default 110."""
    fetch_timeout: int = 15
    """FETCH_TIMEOUT: seconds one artefact fetch may take, redirects included. Default 15."""
    max_artifact_bytes: int = 10 * 1024 * 1024
    """MAX_ARTIFACT_BYTES: largest artefact (image or listing) read. Default 10 MiB."""
    max_redirects: int = 3
    """MAX_REDIRECTS: redirects followed per fetch. Default 3."""
    max_images: int = 4
    """MAX_IMAGES: most images a listing may name. Default 4."""
    max_image_side: int = 1024
    """MAX_IMAGE_SIDE: images are scaled down to this longer side before upload. Default 1024."""
    backend_url: str = ""
    """BACKEND_URL: the Fabrikator backend (https). When set, ``artifactsUrl`` must be on its
    host (redirects from there are followed and checked as usual). Default none: any
    public host."""
    log_level: str = "INFO"
    """LOG_LEVEL: DEBUG, INFO, WARNING or ERROR. Default INFO."""
    port: int = 8000
    """PORT: the port ``python -m vision_validator`` listens on. Default 8000."""

    def __post_init__(self) -> None:
        problems = [p for p in (api_key_problem(self.api_key),) if p]
        problems += server_problems(self.max_body_bytes, self.log_level, self.port)
        problems += [p for p in (backend_url_problem(self.backend_url),) if p]
        for name, key in (
            ("OPENAI_API_KEY", self.openai_api_key),
            ("GEMINI_API_KEY", self.gemini_api_key),
        ):
            if key and not _PROVIDER_KEY.fullmatch(key):
                problems.append(f"{name}: expected 8-512 visible ASCII characters")
        if self.vision_provider not in PROVIDERS:
            problems.append(
                f"VISION_PROVIDER: expected openai or gemini, got {self.vision_provider!r}"
            )
        for name, model in (
            ("OPENAI_MODEL", self.openai_model),
            ("GEMINI_MODEL", self.gemini_model),
        ):
            if not _MODEL.fullmatch(model):
                problems.append(f"{name}: expected a model name such as gpt-4o-mini, got {model!r}")
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
        values = {
            "enable_docs": enable_docs,
            "max_body_bytes": read.integer("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1, 64 << 20),
            "analyzer": read.text("ANALYZER"),
            "openai_api_key": read.text("OPENAI_API_KEY"),
            "gemini_api_key": read.text("GEMINI_API_KEY"),
            "vision_provider": read.text("VISION_PROVIDER", "openai").lower(),
            "openai_model": read.text("OPENAI_MODEL", "gpt-4o-mini"),
            "gemini_model": read.text("GEMINI_MODEL", "gemini-2.5-flash"),
            "provider_timeout": read.integer("PROVIDER_TIMEOUT", 60, 1, 600),
            "fetch_timeout": read.integer("FETCH_TIMEOUT", 15, 1, 120),
            "validate_deadline": read.integer(
                "VALIDATE_DEADLINE_SECONDS", DEFAULT_VALIDATE_DEADLINE, 1, 3990
            ),
            "max_artifact_bytes": read.integer("MAX_ARTIFACT_BYTES", 10 << 20, 1024, 50 << 20),
            "max_redirects": read.integer("MAX_REDIRECTS", 3, 0, 10),
            "max_images": read.integer("MAX_IMAGES", 4, 1, 10),
            "max_image_side": read.integer("MAX_IMAGE_SIDE", 1024, 64, 4096),
            "backend_url": read.text("BACKEND_URL"),
            "log_level": log_level,
            "port": read.integer("PORT", 8000, 1, 65535),
        }
        values["api_key_secret_id"] = read.text("API_KEY_SECRET_ID") or None
        read.check()
        return cls(api_key=key or "", **values)

    def chosen_provider(self) -> str | None:
        """``openai`` or ``gemini`` by the keys set (``vision_provider`` when both), or None."""
        configured = [
            p
            for p, k in zip(PROVIDERS, (self.openai_api_key, self.gemini_api_key), strict=True)
            if k
        ]
        if len(configured) > 1:
            return self.vision_provider
        return configured[0] if configured else None

    def backend_host(self) -> str | None:
        """The host of ``backend_url``, or None when it is not set."""
        return urlsplit(self.backend_url).hostname if self.backend_url else None
