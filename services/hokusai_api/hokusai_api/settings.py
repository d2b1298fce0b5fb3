"""The service's configuration, read from the environment once and frozen.

Secrets (``DB_SECRET``, ``API_SECRET_KEY``, ``MLFLOW_TRACKING_PASSWORD``) reach the task as
ECS secrets from Secrets Manager; nothing here reads AWS. Every problem is named at once
(``service_common.env.EnvReader``), and no message quotes a secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from service_common.env import EnvReader, api_key_problem, server_problems

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
DEFAULT_MAX_BODY_BYTES = 64 * 1024
# PostgreSQL identifiers the service creates or connects to: plain lower-case names only.
_DB_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_BASE_PATH = re.compile(r"(/[A-Za-z0-9._~-]+)*")
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


@dataclass(frozen=True)
class Settings:
    """The service's configuration; each field is read from the variable in its docstring."""

    db_host: str
    """DB_HOST: the PostgreSQL server (the data platform's RDS or Aurora endpoint). Required."""
    db_username: str = field(repr=False, default="")
    """DB_SECRET ``username``: the database user (RDS's master user secret, as MLflow's)."""
    db_password: str = field(repr=False, default="")
    """DB_SECRET ``password``: that user's password. Required; never printed."""
    admin_key: str = field(repr=False, default="")
    """API_SECRET_KEY: the bootstrap admin credential (``Authorization: Bearer <it>`` holds
    every scope; it creates the first API keys). Required, at least 16 characters."""
    db_port: int = 5432
    """DB_PORT. Default 5432."""
    db_name: str = "hokusai_api"
    """DB_NAME: the API's own database on that server, created at start if missing. Default
    ``hokusai_api``."""
    db_maintenance_name: str = "mlflow"
    """DB_MAINTENANCE_NAME: the existing database connected to for ``CREATE DATABASE``
    (the one RDS created with the instance). Default ``mlflow``."""
    db_sslmode: str = "require"
    """DB_SSLMODE: libpq ``sslmode``. Default require (the database forces TLS)."""
    db_wait_seconds: int = 60
    """DB_WAIT_SECONDS: how long start-up retries an unreachable database (an Aurora
    cluster at 0 ACUs takes about 15 s to resume). Default 60."""
    db_null_pool: bool = False
    """DB_NULL_POOL: open a connection per request instead of keeping a pool, so a database
    that pauses when idle (Aurora Serverless v2 at 0 ACUs) can pause. Default false."""
    mlflow_tracking_uri: str = ""
    """MLFLOW_TRACKING_URI: MLflow's base URL (``https://<load balancer>/mlflow/``). Required."""
    mlflow_username: str = "admin"
    """MLFLOW_TRACKING_USERNAME: MLflow basic-auth user. Default ``admin``."""
    mlflow_password: str = field(repr=False, default="")
    """MLFLOW_TRACKING_PASSWORD: that user's password (MLflow's admin password). Required."""
    mlflow_timeout_seconds: int = 10
    """MLFLOW_TIMEOUT_SECONDS: per request to MLflow; then 504. Default 10."""
    eth_max_lifetime_seconds: int = 900
    """ETH_MAX_LIFETIME_SECONDS: how far in the future a signed message's ``expires`` may
    be (so a stolen message is short-lived and used nonces are kept briefly). Default 900."""
    base_path: str = "/api"
    """BASE_PATH: the prefix every route is served under (the load balancer forwards
    ``/api/*`` unchanged). Default ``/api``; empty serves at the root."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    """MAX_BODY_BYTES: larger request bodies get 413. Default 64 KiB."""
    log_level: str = "INFO"
    """LOG_LEVEL: DEBUG, INFO, WARNING or ERROR. Default INFO."""
    port: int = 8000
    """PORT: the port ``python -m hokusai_api`` listens on. Default 8000."""

    @property
    def mlflow_base(self) -> str:
        """MLFLOW_TRACKING_URI without its trailing ``/``."""
        return self.mlflow_tracking_uri.rstrip("/")

    def database_uri(self, database: str) -> str:
        """A SQLAlchemy URL (psycopg2) of ``database`` as the DB_SECRET user; it holds the
        password: never log it."""
        user = quote(self.db_username, safe="")
        password = quote(self.db_password, safe="")
        return (
            f"postgresql+psycopg2://{user}:{password}@{self.db_host}:{self.db_port}/"
            f"{database}?sslmode={self.db_sslmode}&application_name=hokusai-api"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        r = EnvReader(env)
        username, password = _db_secret(r.text("DB_SECRET"), r)
        host = r.text("DB_HOST")
        if not host:
            r.problem("DB_HOST: required: the PostgreSQL server's host name")
        names = {}
        for name, default in (("DB_NAME", "hokusai_api"), ("DB_MAINTENANCE_NAME", "mlflow")):
            names[name] = r.text(name, default)
            if not _DB_NAME.fullmatch(names[name]):
                r.problem(f"{name}: expected a lower-case PostgreSQL name, got {names[name]!r}")
        sslmode = r.text("DB_SSLMODE", "require")
        if sslmode not in SSL_MODES:
            r.problem(f"DB_SSLMODE: expected one of {', '.join(SSL_MODES)}, got {sslmode!r}")
        admin_key = r.text("API_SECRET_KEY")
        if problem := api_key_problem(admin_key):
            r.problem(problem.replace("API_KEY", "API_SECRET_KEY", 1))
        tracking = r.text("MLFLOW_TRACKING_URI")
        parts = urlsplit(tracking)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            r.problem(
                "MLFLOW_TRACKING_URI: expected MLflow's http(s) URL such as "
                f"https://lb.example.com/mlflow/, got {tracking!r}"
            )
        mlflow_username = r.text("MLFLOW_TRACKING_USERNAME", "admin")
        if not _USERNAME.fullmatch(mlflow_username):
            r.problem("MLFLOW_TRACKING_USERNAME: expected 1-64 of A-Z a-z 0-9 . _ @ -")
        mlflow_password = r.text("MLFLOW_TRACKING_PASSWORD")
        if not mlflow_password:
            r.problem("MLFLOW_TRACKING_PASSWORD: required: MLflow's admin password")
        base_path = r.text("BASE_PATH", "/api").rstrip("/")
        if not _BASE_PATH.fullmatch(base_path):
            r.problem(f"BASE_PATH: expected a path such as /api, got {base_path!r}")
        settings = cls(
            db_host=host,
            db_username=username,
            db_password=password,
            admin_key=admin_key,
            db_port=r.integer("DB_PORT", 5432, 1, 65535),
            db_name=names["DB_NAME"],
            db_maintenance_name=names["DB_MAINTENANCE_NAME"],
            db_sslmode=sslmode,
            db_null_pool=r.flag("DB_NULL_POOL"),
            db_wait_seconds=r.integer("DB_WAIT_SECONDS", 60, 0, 900),
            mlflow_tracking_uri=tracking,
            mlflow_username=mlflow_username,
            mlflow_password=mlflow_password,
            mlflow_timeout_seconds=r.integer("MLFLOW_TIMEOUT_SECONDS", 10, 1, 120),
            eth_max_lifetime_seconds=r.integer("ETH_MAX_LIFETIME_SECONDS", 900, 10, 86400),
            base_path=base_path,
            max_body_bytes=r.integer("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1, 1 << 30),
            log_level=r.log_level(),
            port=r.integer("PORT", 8000, 1, 65535),
        )
        for problem in server_problems(settings.max_body_bytes, settings.log_level, settings.port):
            r.problem(problem)
        r.check()
        return settings


def _db_secret(raw: str, r: EnvReader) -> tuple[str, str]:
    """``username`` and ``password`` of the RDS-managed secret's JSON value."""
    shape = 'a JSON object {"username": ..., "password": ...} (the RDS master user secret)'
    if not raw:
        r.problem(f"DB_SECRET: required: {shape}")
        return "", ""
    try:
        value = json.loads(raw)
    except ValueError:
        r.problem(f"DB_SECRET: not valid JSON, expected {shape}")
        return "", ""
    if not isinstance(value, dict):
        r.problem(f"DB_SECRET: expected {shape}")
        return "", ""
    username, password = value.get("username"), value.get("password")
    if (
        not isinstance(username, str)
        or not username
        or not isinstance(password, str)
        or not password
    ):
        r.problem(f"DB_SECRET: missing or empty username or password, expected {shape}")
        return "", ""
    return username, password
