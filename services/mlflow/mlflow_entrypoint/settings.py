"""The server's configuration, read from the environment once and frozen, and the database
URIs made from it.

Every problem with the environment is collected before anything is refused, so one start-up
names every bad variable at once. No message quotes a secret's value: the DB secret, the
admin password and the Flask key only ever appear as their variable names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

# ConfigError is raised by EnvReader.check and caught by the entry point, through this module.
from service_common.env import ConfigError as ConfigError
from service_common.env import EnvReader

# The modes that need nothing but the server: verify-ca and verify-full also need the RDS CA
# bundle on disk (sslrootcert), which this image does not carry, so they would only fail later.
SSL_MODES = ("disable", "allow", "prefer", "require")
MIN_ADMIN_PASSWORD_LENGTH = 12  # MLflow's own password policy (mlflow.utils.validation)
MIN_FLASK_KEY_LENGTH = 16
MAX_WORKERS = 32
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
# RDS database names: a letter or underscore, then letters, digits, underscores; 63 at most.
_DATABASE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
# A DNS name or an IPv4 address: what RDS endpoints and local test servers are.
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"{_LABEL}(\.{_LABEL})*")
# An allowed-hosts entry: a host name, optionally with fnmatch `*`s, optionally with `:port`.
_HOST_PATTERN = re.compile(r"[A-Za-z0-9*]([A-Za-z0-9.*-]*[A-Za-z0-9*])?(:([0-9]{1,5}|\*))?")
# S3 bucket naming rules (lower case, digits, dots, hyphens; 3-63), then an optional key prefix.
_S3_DESTINATION = re.compile(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/[^\s]*)?")
_STATIC_PREFIX = re.compile(r"(/[A-Za-z0-9._~-]+)+")
_ADMIN_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
# An application load balancer's ARN: the `signer` of the claims it signs.
_ALB_ARN = re.compile(
    r"arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:loadbalancer/app/[A-Za-z0-9-]{1,32}"
    r"/[0-9a-f]{1,32}"
)
_CLAIM = re.compile(r"[A-Za-z0-9_:.-]{1,64}")
# The hosts the container itself is reached by: the test harness and a container health check.
LOCAL_HOSTS = ("localhost", "127.0.0.1")


@dataclass(frozen=True)
class Settings:
    """The server's configuration; each field is read from the variable in its docstring.

    Secrets are kept out of ``repr`` so that a settings object in a traceback or a log line
    shows none of them.
    """

    db_host: str
    """DB_HOST: the PostgreSQL server (the RDS endpoint address). Required."""
    db_username: str
    """DB_SECRET ``username``: the database user. Required (DB_SECRET is required)."""
    db_password: str = field(repr=False)
    """DB_SECRET ``password``: that user's password. Required; never printed."""
    artifacts_destination: str
    """ARTIFACTS_DESTINATION: ``s3://bucket[/prefix]`` the server stores artifacts under.
    Required."""
    allowed_hosts: tuple[str, ...]
    """ALLOWED_HOSTS: comma-separated Host header values the server answers (the ALB's DNS
    name, a custom domain). Required; ``localhost`` and ``127.0.0.1`` are always added."""
    aws_region: str
    """AWS_REGION: the region of the artifacts bucket. Required."""
    db_port: int = 5432
    """DB_PORT: the PostgreSQL port. Default 5432."""
    db_name: str = "mlflow"
    """DB_NAME: the tracking database (runs, experiments, the model registry). Default
    ``mlflow``."""
    db_sslmode: str = "require"
    """DB_SSLMODE: libpq ``sslmode`` of every connection: disable, allow, prefer or require.
    Default ``require`` (RDS for PostgreSQL 15+ refuses unencrypted connections anyway)."""
    static_prefix: str = ""
    """STATIC_PREFIX: path prefix of every route (``/mlflow`` behind the shared ALB). Default
    empty: routes at the root."""
    auth: bool = True
    """MLFLOW_AUTH: run MLflow's basic-auth app. Default true."""
    db_auth_name: str = "mlflow_auth"
    """DB_AUTH_NAME: the basic-auth app's database on the same server, created at start if
    missing. Default ``mlflow_auth``; must differ from DB_NAME."""
    admin_username: str = "admin"
    """MLFLOW_ADMIN_USERNAME: the admin user created on the first start. Default ``admin``."""
    admin_password: str | None = field(default=None, repr=False)
    """MLFLOW_ADMIN_PASSWORD: that user's first password, 12+ characters. Required when auth
    is on; used only while the user does not exist yet. Never printed."""
    flask_secret_key: str | None = field(default=None, repr=False)
    """MLFLOW_FLASK_SERVER_SECRET_KEY: the key signing the auth app's CSRF tokens, the same in
    every task, 16+ characters. Required when auth is on. Never printed."""
    workers: int = 2
    """MLFLOW_WORKERS: uvicorn worker processes. Default 2."""
    port: int = 5000
    """PORT: the port the server listens on (all interfaces). Default 5000, the port the
    infrastructure routes to; tests pick a free one."""
    db_wait_seconds: int = 30
    """DB_WAIT_SECONDS: how long start-up retries a database it cannot reach yet. Default 30."""
    public_scheme: str = "https"
    """PUBLIC_SCHEME: the scheme browsers use to reach the server through the load balancer,
    ``https``, or ``http`` where the load balancer serves plain HTTP (dev without a
    certificate). Default ``https``."""
    sso_signer: str = ""
    """MLFLOW_SSO_SIGNER: the ARN of the load balancer that signs users in (single sign-on);
    requests it signed are accepted as their user (``alb_sso``). Default empty: basic auth
    only. Needs MLFLOW_AUTH on."""
    sso_username_claim: str = "email"
    """MLFLOW_SSO_USERNAME_CLAIM: the claim a signed-in user's MLflow name is taken from.
    Default ``email``."""

    def backend_store_uri(self) -> str:
        """The tracking store: ``postgresql+psycopg2://user:password@host:port/DB_NAME``."""
        return self.database_uri(self.db_name)

    def auth_database_uri(self) -> str:
        """The basic-auth app's store: the same server and user, database DB_AUTH_NAME."""
        return self.database_uri(self.db_auth_name)

    def database_uri(self, database: str) -> str:
        """A SQLAlchemy URI of ``database`` on the server; user and password URL-quoted
        (SQLAlchemy unquotes them), so any character of an RDS-generated password is safe."""
        return self._uri(database, quote(self.db_password, safe=""))

    def redacted_database_uri(self, database: str) -> str:
        """``database_uri`` with ``***`` for the password, for log lines."""
        return self._uri(database, "***")

    def _uri(self, database: str, password: str) -> str:
        return (
            f"postgresql+psycopg2://{quote(self.db_username, safe='')}:{password}"
            f"@{self.db_host}:{self.db_port}/{database}?sslmode={self.db_sslmode}"
        )

    def server_allowed_hosts(self) -> tuple[str, ...]:
        """What ``--allowed-hosts`` gets: each configured host as given and with any port (the
        Host header carries a port unless it is the scheme's default), then the local names.

        MLflow matches the Host header exactly (case included), or by fnmatch when the entry
        has a ``*``. Browsers send the host in lower case while AWS keeps the load balancer
        name's capitals in its DNS name, so a name with capitals is also listed in lower case.
        """
        hosts: list[str] = []
        for host in (*_with_lower_case(self.allowed_hosts), *LOCAL_HOSTS):
            hosts.append(host)
            if ":" not in host:
                hosts.append(f"{host}:*")
        return tuple(dict.fromkeys(hosts))

    def server_cors_origins(self) -> tuple[str, ...]:
        """What ``--cors-allowed-origins`` gets: ``<PUBLIC_SCHEME>://<host>`` per configured host.

        Browsers send ``Origin`` with every POST, same-origin ones included, and MLflow refuses
        a state-changing API request whose origin is neither localhost nor listed (403
        "Cross-origin request blocked") — without this the UI behind the load balancer could
        read but not change anything. One scheme: with a certificate the load balancer
        redirects http, and without one (dev) it serves http only.
        """
        return tuple(
            f"{self.public_scheme}://{host}" for host in _with_lower_case(self.allowed_hosts)
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Settings from environment variables; ``ConfigError`` names every bad variable."""
        read = EnvReader(env)
        text, integer = read.text, read.integer
        problems = read.problems  # the checks below note theirs in the same list

        def database_name(name: str, default: str) -> str:
            value = text(name) or default
            if not _DATABASE_NAME.fullmatch(value):
                problems.append(
                    f"{name}: expected a database name (a letter or _, then letters, digits "
                    f"or _, 63 at most), got {value!r}"
                )
            return value

        host = text("DB_HOST")
        if not host:
            problems.append("DB_HOST: required (the PostgreSQL server's address)")
        elif len(host) > 253 or not _HOSTNAME.fullmatch(host):
            hint = (
                " (the RDS instance's address, not its endpoint, which ends in :port: the port "
                "goes in DB_PORT)"
                if ":" in host
                else ""
            )
            problems.append(f"DB_HOST: expected a host name or IPv4 address, got {host!r}{hint}")
        port = integer("DB_PORT", 5432, 1, 65535)
        db_name = database_name("DB_NAME", "mlflow")
        username, password = _db_secret(env.get("DB_SECRET", ""), problems)

        sslmode = text("DB_SSLMODE") or "require"
        if sslmode not in SSL_MODES:
            problems.append(f"DB_SSLMODE: expected one of {', '.join(SSL_MODES)}, got {sslmode!r}")

        destination = text("ARTIFACTS_DESTINATION")
        if not destination:
            problems.append("ARTIFACTS_DESTINATION: required (s3://bucket[/prefix])")
        elif not _S3_DESTINATION.fullmatch(destination):
            problems.append(
                f"ARTIFACTS_DESTINATION: expected s3://bucket[/prefix], got {destination!r}"
            )
        destination = destination.rstrip("/")

        hosts = tuple(part.strip() for part in env.get("ALLOWED_HOSTS", "").split(","))
        hosts = tuple(part for part in hosts if part)
        if not hosts:
            problems.append(
                "ALLOWED_HOSTS: required (comma-separated host names clients use: the load "
                "balancer's DNS name, a custom domain)"
            )
        bad_hosts = [h for h in hosts if not _HOST_PATTERN.fullmatch(h) or h.strip("*:") == ""]
        if bad_hosts:
            problems.append(f"ALLOWED_HOSTS: not a host name or pattern: {', '.join(bad_hosts)}")

        prefix = text("STATIC_PREFIX")
        if prefix and not _STATIC_PREFIX.fullmatch(prefix):
            problems.append(
                "STATIC_PREFIX: expected a path that starts with / and does not end with / "
                f"(e.g. /mlflow), got {prefix!r}"
            )

        raw_auth = text("MLFLOW_AUTH").lower() or "true"
        if raw_auth not in _TRUE + _FALSE:
            problems.append(f"MLFLOW_AUTH: expected true or false, got {raw_auth!r}")
        auth = raw_auth not in _FALSE

        db_auth_name = database_name("DB_AUTH_NAME", "mlflow_auth")
        admin_username = text("MLFLOW_ADMIN_USERNAME") or "admin"
        admin_password = env.get("MLFLOW_ADMIN_PASSWORD") or None
        flask_key = env.get("MLFLOW_FLASK_SERVER_SECRET_KEY") or None
        if auth:
            if db_auth_name == db_name:
                problems.append(
                    "DB_AUTH_NAME: must differ from DB_NAME (both stores keep an "
                    "alembic_version table)"
                )
            if not _ADMIN_USERNAME.fullmatch(admin_username):
                problems.append(
                    "MLFLOW_ADMIN_USERNAME: expected 1-64 of A-Z a-z 0-9 . _ @ - (starting with "
                    f"a letter or digit), got {admin_username!r}"
                )
            if problem := _admin_password_problem(admin_password):
                problems.append(problem)
            if not flask_key:
                problems.append(
                    "MLFLOW_FLASK_SERVER_SECRET_KEY: required when MLFLOW_AUTH is on (the key "
                    "signing CSRF tokens, the same in every task, e.g. `openssl rand -hex 32`)"
                )
            elif len(flask_key) < MIN_FLASK_KEY_LENGTH:
                problems.append(
                    f"MLFLOW_FLASK_SERVER_SECRET_KEY: shorter than {MIN_FLASK_KEY_LENGTH} "
                    "characters"
                )

        workers = integer("MLFLOW_WORKERS", 2, 1, MAX_WORKERS)
        server_port = integer("PORT", 5000, 1, 65535)
        wait = integer("DB_WAIT_SECONDS", 30, 0, 3600)
        scheme = text("PUBLIC_SCHEME").lower() or "https"
        if scheme not in ("https", "http"):
            problems.append(f"PUBLIC_SCHEME: expected https or http, got {scheme!r}")
        region = text("AWS_REGION")
        if not region:
            problems.append("AWS_REGION: required (the artifacts bucket's region)")
        sso_signer = text("MLFLOW_SSO_SIGNER")
        if sso_signer and not _ALB_ARN.fullmatch(sso_signer):
            problems.append(
                "MLFLOW_SSO_SIGNER: expected an application load balancer's ARN "
                f"(arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app/...), got "
                f"{sso_signer!r}"
            )
        if sso_signer and not auth:
            problems.append("MLFLOW_SSO_SIGNER: needs MLFLOW_AUTH on (SSO users are its users)")
        claim = text("MLFLOW_SSO_USERNAME_CLAIM") or "email"
        if not _CLAIM.fullmatch(claim):
            problems.append(
                f"MLFLOW_SSO_USERNAME_CLAIM: expected a claim name such as email, got {claim!r}"
            )

        read.check()
        return cls(
            db_host=host,
            db_port=port,
            db_name=db_name,
            db_username=username,
            db_password=password,
            db_sslmode=sslmode,
            artifacts_destination=destination,
            allowed_hosts=hosts,
            aws_region=region,
            static_prefix=prefix,
            auth=auth,
            db_auth_name=db_auth_name,
            admin_username=admin_username,
            admin_password=admin_password,
            flask_secret_key=flask_key,
            workers=workers,
            port=server_port,
            db_wait_seconds=wait,
            public_scheme=scheme,
            sso_signer=sso_signer,
            sso_username_claim=claim,
        )


def _with_lower_case(hosts: tuple[str, ...]) -> tuple[str, ...]:
    """Each host as given, followed by its lower-case form when that differs."""
    return tuple(dict.fromkeys(form for host in hosts for form in (host, host.lower())))


def _db_secret(raw: str, problems: list[str]) -> tuple[str, str]:
    """``(username, password)`` from the RDS-managed secret's JSON. The problems it reports
    never quote the value: it holds the password."""
    shape = 'a JSON object {"username": "...", "password": "..."} (the RDS master user secret)'
    if not raw.strip():
        problems.append(f"DB_SECRET: required: {shape}")
        return "", ""
    try:
        secret = json.loads(raw)
    except ValueError:
        problems.append(f"DB_SECRET: not valid JSON, expected {shape}")
        return "", ""
    if not isinstance(secret, dict):
        problems.append(f"DB_SECRET: expected {shape}")
        return "", ""
    missing = [
        key
        for key in ("username", "password")
        if not isinstance(secret.get(key), str) or not secret[key]
    ]
    if missing:
        problems.append(f"DB_SECRET: missing or empty {' and '.join(missing)}, expected {shape}")
        return "", ""
    return secret["username"], secret["password"]


def _admin_password_problem(password: str | None) -> str | None:
    if not password:
        return (
            "MLFLOW_ADMIN_PASSWORD: required when MLFLOW_AUTH is on (the admin user's first "
            f"password, at least {MIN_ADMIN_PASSWORD_LENGTH} characters)"
        )
    if len(password) < MIN_ADMIN_PASSWORD_LENGTH:
        return f"MLFLOW_ADMIN_PASSWORD: shorter than {MIN_ADMIN_PASSWORD_LENGTH} characters"
    # It is written to an ini file, which strips surrounding whitespace and ends at a newline.
    if password != password.strip() or any(ord(c) < 32 or ord(c) == 127 for c in password):
        return (
            "MLFLOW_ADMIN_PASSWORD: must not start or end with whitespace or contain control "
            "characters"
        )
    return None
