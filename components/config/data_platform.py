"""The ``data_platform`` section: MLflow on Fargate with RDS PostgreSQL (or Aurora
Serverless v2) and S3, the optional Hokusai API, and the checks between their keys.

Read by ``components/stacks/data_platform.py``. Its paths on the inference load balancer,
when it shares that one, are checked in ``settings.py`` against the inference services'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from components.config.fields import (
    IMAGE_URI,
    PROJECT,
    check_fargate_size,
    int_range,
    one_of,
    priced_size,
    setting,
)
from components.lib import fargate

if TYPE_CHECKING:
    from components.config.settings import Settings

MLFLOW_PATH = "/mlflow"
"""Where the data platform serves MLflow on its load balancer (its own or the shared one)."""

MLFLOW_CLIENT_PATHS = (
    f"{MLFLOW_PATH}/api/*",
    f"{MLFLOW_PATH}/version",
    f"{MLFLOW_PATH}/v1/traces",
)
"""What MLflow's Python client (SDK, CI) calls, which with single sign-on bypass the sign-in
and keep basic auth: the REST API and artifact proxy (``/api/2.0``, ``/api/3.0``, the auth
app's user management), the server version the tracing client asks for and the OTLP span
export (mlflow 3.17: ``store/tracking/rest_store.py``, ``tracing/utils/otlp.py``). The
browser UI calls ``/ajax-api/`` (and ``get-artifact``, ``graphql``, static files): those
stay behind the sign-in, so a browser is never asked for a password."""


IDP_RESPONSE_PATH = "/oauth2/idpresponse"
"""Where the load balancer receives the IdP's answer: the callback URL to register."""
MLFLOW_LOGIN_PATHS = (
    IDP_RESPONSE_PATH,
    f"{MLFLOW_PATH}/signup",
    f"{MLFLOW_PATH}/api/2.0/mlflow/users/",
    f"{MLFLOW_PATH}/ajax-api/2.0/mlflow/users/",
)
"""Where MLflow is signed in to or its accounts changed (URI prefixes): the load balancer's
sign-in callback, MLflow's signup page and its users API (create, update-password...;
mlflow 3.17 ``server/auth/routes.py``). WAF's tighter login limit counts these only: the
UI's own pages and calls, and the SDK's traffic, come in far larger numbers."""
MLFLOW_ARTIFACT_PATHS = (
    f"{MLFLOW_PATH}/api/2.0/mlflow-artifacts/",
    f"{MLFLOW_PATH}/ajax-api/2.0/mlflow-artifacts/",
)
"""MLflow's artifact proxy (uploads, multipart uploads; mlflow 3.17
``server/artifact_router.py``), whose bodies are files of any content (HTML reports,
pickles): the body-inspecting WAF rule groups skip them."""


HOKUSAI_API_PATH = "/api"
"""Where the data platform serves the Hokusai API (``data_platform.api``)."""
API_PLACEMENTS = ("own_service", "with_mlflow")
"""Where the Hokusai API runs (``data_platform.api_placement``): its own ECS service, or a
second container in MLflow's task (one task, one network interface, one public IPv4)."""

SSO_KINDS = ("none", "oidc", "cognito")
SESSION_TIMEOUT_MAX = 604800
"""The longest authentication session ELB accepts: 7 days (its default), in seconds."""
COGNITO_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
"""A Cognito domain prefix (botocore cognito-idp CreateUserPoolDomain: Domain)."""
COGNITO_RESERVED = ("aws", "amazon", "cognito")
"""Words a Cognito domain prefix may not contain (Cognito developer guide, "Using the Amazon
Cognito domain for the managed login")."""
_DNS_NAME = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+"
_HTTPS_URL = re.compile(r"https://[A-Za-z0-9.-]+(:\d{1,5})?(/[^\s]*)?")

DB_INSTANCE_CLASS = priced_size("rds", "an RDS instance class (db.<family>.<size>)")


@dataclass(frozen=True)
class DataPlatformSettings:
    """MLflow on Fargate with RDS PostgreSQL and S3 (seed 002)."""

    multi_az: bool = setting(
        True, "Run the database with a standby (Aurora: a reader) in a second AZ."
    )
    db_engine: str = setting(
        "postgres",
        "postgres: an RDS for PostgreSQL instance of db_instance_class. aurora-postgresql: "
        "Aurora Serverless v2 between db_min_acu and db_max_acu, which at 0 pauses when idle "
        "(dev).",
        one_of("postgres", "aurora-postgresql"),
    )
    db_min_acu: int = setting(
        0,
        "Aurora: fewest capacity units; 0 pauses the database after db_auto_pause_minutes "
        "without a connection (it bills storage only until the next one resumes it).",
        int_range(0, 256),
    )
    db_max_acu: int = setting(4, "Aurora: most capacity units.", int_range(1, 256))
    db_auto_pause_minutes: int = setting(
        15, "Aurora with db_min_acu 0: idle minutes before it pauses.", int_range(5, 1440)
    )
    db_instance_class: str = setting(
        "db.t4g.medium",
        "RDS instance class, one the price file (offline/prices-us-east-1.json) lists.",
        DB_INSTANCE_CLASS,
    )
    backup_retention_days: int = setting(
        14, "Days of automated RDS backups, 7-35 (production: at least 14).", int_range(7, 35)
    )
    postgres_version: str = setting(
        "17",
        "PostgreSQL major version; minor versions are upgraded automatically.",
        one_of("14", "15", "16", "17"),
    )
    db_storage_gib: int = setting(20, "Allocated gp3 storage in GiB.", int_range(20, 65536))
    db_max_storage_gib: int = setting(
        100, "Storage autoscaling ceiling in GiB; at least db_storage_gib.", int_range(20, 65536)
    )
    db_log_min_duration_ms: int = setting(
        1000,
        "PostgreSQL logs every statement that runs at least this many milliseconds "
        "(log_min_duration_statement), besides every DDL statement (log_statement=ddl); "
        "-1 logs none by duration.",
        int_range(-1, 3600000),
    )
    mlflow_cpu: int = setting(
        1024, "CPU units of an MLflow task (1024 = 1 vCPU).", one_of(*fargate.cpu_choices())
    )
    mlflow_memory: int = setting(
        2048, "Memory of an MLflow task in MiB; a pair Fargate accepts with mlflow_cpu."
    )
    mlflow_desired_count: int = setting(1, "MLflow tasks.", int_range(0, 20))
    spot_percentage: int = setting(
        0, "Share of MLflow (and API) tasks on Fargate Spot, 0-100.", int_range(0, 100)
    )
    share_load_balancer: bool = setting(
        False,
        "Serve MLflow (and the API) from the inference stack's load balancer instead of an own "
        "one, saving one load balancer's hourly charge; needs stacks.inference.",
    )
    allowed_hosts: tuple[str, ...] = setting(
        (), "Extra host names MLflow answers to (a custom DNS name in front of the ALB)."
    )
    artifact_ia_days: int = setting(
        90,
        "Days before MLflow artifacts and pipeline data move to S3 Standard-IA.",
        int_range(30, 3650),
    )
    api: bool = setting(False, "Also run the Hokusai API service (seed 002) at /api.")
    api_placement: str = setting(
        "own_service",
        "Where the Hokusai API runs: own_service (its own ECS service and task) or "
        "with_mlflow (a second container in each MLflow task, behind its own target group: one "
        "task and one public IPv4 fewer; the task's mlflow_cpu and mlflow_memory then cover "
        "both, and the two fail and restart together). with_mlflow needs api true.",
        one_of(*API_PLACEMENTS),
    )
    mlflow_workers: int = setting(
        2,
        "uvicorn worker processes of the MLflow server (MLFLOW_WORKERS); each holds a copy "
        "of the app, about 200 MiB beside the server's 250.",
        int_range(1, 32),
    )
    api_image: str = setting(
        "",
        "Prebuilt image URI of the Hokusai API instead of building services/hokusai_api (as "
        "images.hokusai_api); empty: built.",
    )
    dashboard: bool = setting(
        True, "A CloudWatch dashboard of the stack ($3 a month beyond an account's first 3)."
    )
    container_insights: bool = setting(
        True,
        "Container Insights on the stack's cluster: per-task metrics, billed as custom metrics "
        "while tasks run (about $9.60 a month per always-on service). Off: the tasks-below-"
        "desired alarm only tells that no MLflow task runs (AWS/ECS CPUUtilization has no "
        "datapoint), and the dashboard's task widgets stay empty (dev).",
    )
    db_connections_alarm: int = setting(
        80, "Alarm when the database has more connections than this.", int_range(1, 100000)
    )
    sso: str = setting(
        "none",
        "Single sign-on in front of the MLflow UI: none (basic auth only, dev), oidc (the load "
        "balancer's authenticate-oidc with the oidc_* keys) or cognito (a Cognito user pool the "
        "stack creates, with MFA); needs MLflow's own HTTPS load balancer and sso_host. API "
        "clients keep basic auth through /mlflow/api/.",
        one_of(*SSO_KINDS),
    )
    sso_host: str = setting(
        "",
        "Host name browsers reach MLflow by with sso (a DNS name pointing at MLflow's load "
        "balancer, covered by its certificate): the IdP's callback is "
        "https://<sso_host>/oauth2/idpresponse.",
    )
    sso_scope: str = setting(
        "openid email",
        "OAuth scopes the load balancer requests, space-separated; openid first.",
    )
    sso_username_claim: str = setting(
        "email", "The claim MLflow takes a signed-in user's name from (the IdP's user info)."
    )
    sso_session_timeout: int = setting(
        43200,
        "Seconds a sign-in lasts before the load balancer asks the IdP again (ELB allows up "
        "to 604800).",
        int_range(1, SESSION_TIMEOUT_MAX),
    )
    oidc_issuer: str = setting("", "oidc: the IdP's issuer URL (https).")
    oidc_authorization_endpoint: str = setting("", "oidc: the IdP's authorization endpoint.")
    oidc_token_endpoint: str = setting("", "oidc: the IdP's token endpoint.")
    oidc_user_info_endpoint: str = setting("", "oidc: the IdP's user info endpoint.")
    oidc_client_id: str = setting("", "oidc: the client ID registered at the IdP.")
    oidc_client_secret_id: str = setting(
        "",
        "oidc: ARN or name of the Secrets Manager secret (created by the operator) whose "
        "value is the client secret; read at deploy time.",
    )
    cognito_domain_prefix: str = setting(
        "",
        "cognito: the hosted sign-in domain prefix (<prefix>.auth.<region>.amazoncognito.com, "
        "unique in the region); empty: <project>-<environment>-mlflow.",
    )
    cognito_mfa: str = setting(
        "ON",
        "cognito: ON (every user enrols a TOTP app at first sign-in) or OPTIONAL.",
        one_of("ON", "OPTIONAL"),
    )
    cognito_threat_protection: bool = setting(
        False,
        "cognito: the Plus tier's threat protection (advanced security), which bills every "
        "monthly active user; off: the Lite tier, free up to 10,000 of them.",
    )

    @property
    def api_with_mlflow(self) -> bool:
        """The Hokusai API runs as a second container of MLflow's task (``api`` and
        ``api_placement: with_mlflow``): no task, service or security group of its own."""
        return self.api and self.api_placement == "with_mlflow"


def check_data_platform(s: Settings, problems: list[str]) -> None:
    """Rules between the data platform keys, and what production asks of its backups."""
    ns = f"{PROJECT}:data_platform."
    d = s.data_platform
    if s.production and d.backup_retention_days < 14:
        problems.append(
            f"{ns}backup_retention_days: expected at least 14 when production is true "
            f"(got {d.backup_retention_days})"
        )
    if d.db_engine == "aurora-postgresql":
        if d.db_max_acu < d.db_min_acu:
            problems.append(f"{ns}db_max_acu: expected at least db_min_acu ({d.db_min_acu})")
        if d.postgres_version not in ("16", "17"):
            problems.append(
                f"{ns}postgres_version: expected 16 or 17 with db_engine aurora-postgresql "
                f"(got {d.postgres_version})"
            )
    if d.db_max_storage_gib < d.db_storage_gib:
        problems.append(
            f"{ns}db_max_storage_gib: expected at least db_storage_gib ({d.db_storage_gib})"
        )
    check_fargate_size(
        problems, f"{ns}mlflow_cpu", f"{ns}mlflow_memory", d.mlflow_cpu, d.mlflow_memory
    )
    if d.share_load_balancer and s.stacks.data_platform and not s.stacks.inference:
        problems.append(f"{ns}share_load_balancer: expected false unless stacks.inference is true")
    if d.api_placement == "with_mlflow" and not d.api:
        problems.append(
            f"{ns}api_placement: expected own_service unless api is true (with_mlflow runs the "
            "Hokusai API inside MLflow's task)"
        )
    # The containers' memory reservations fit in the task's memory (botocore ecs
    # ContainerDefinition.memory; preflight/documented.py checks the registered task too).
    need = fargate.mlflow_memory_need(d.mlflow_workers) + fargate.API_RESERVATION_MIB
    if (
        d.api_with_mlflow
        and fargate.is_valid(d.mlflow_cpu, d.mlflow_memory)
        and d.mlflow_memory < need
    ):
        problems.append(
            f"{ns}mlflow_memory: expected at least {need} MiB with api_placement with_mlflow and "
            f"mlflow_workers {d.mlflow_workers} (MLflow about {fargate.MLFLOW_BASE_MIB} MiB and "
            f"{fargate.MLFLOW_WORKER_MIB} per worker, the API {fargate.API_RESERVATION_MIB}; "
            f"got {d.mlflow_memory})"
        )
    if d.api_image and not IMAGE_URI.fullmatch(d.api_image):
        problems.append(f"{ns}api_image: expected an image URI or empty (got {d.api_image!r})")
    for host in d.allowed_hosts:
        if not re.fullmatch(
            r"[a-z0-9*]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+", host
        ):
            problems.append(f"{ns}allowed_hosts: expected DNS names (got {host!r})")
    check_sso(s, problems)


def mlflow_has_certificate(s: Settings) -> bool:
    """MLflow's own load balancer gets a certificate, so an HTTPS listener: what the ALB's
    authenticate actions need (ELB offers them on HTTPS listeners only). The one place
    that says where the certificate comes from: ``ingress.certificate_arn``, or the one the
    stack creates for ``dns.mlflow_host`` in ``dns.zone_id``."""
    return bool(s.ingress.certificate_arn or (s.dns.zone_id and s.dns.mlflow_host))


def sso_host(s: Settings) -> str:
    """The host browsers sign in at: ``data_platform.sso_host``, else ``dns.mlflow_host``
    (the host the stack's certificate covers), so the name is set once."""
    return s.data_platform.sso_host or s.dns.mlflow_host


def cognito_domain_prefix(d: DataPlatformSettings, name_prefix: str) -> str:
    """The Cognito domain prefix: the configured one, else ``<name_prefix>-mlflow``
    (``<project>-<environment>-mlflow``)."""
    return d.cognito_domain_prefix or f"{name_prefix}-mlflow"


def check_sso(s: Settings, problems: list[str]) -> None:
    """Single sign-on for the MLflow UI: where it can run, and each provider's keys."""
    ns = f"{PROJECT}:data_platform."
    d = s.data_platform
    if s.production and s.stacks.data_platform and d.sso == "none":
        problems.append(
            f"{ns}sso: expected oidc or cognito when production is true (the MLflow UI "
            "behind the load balancer's sign-in; basic auth alone is for dev)"
        )
    if d.sso_host and not re.fullmatch(_DNS_NAME, d.sso_host):
        problems.append(f"{ns}sso_host: expected a DNS name (got {d.sso_host!r})")
    if d.sso == "none":
        return
    if d.share_load_balancer:
        problems.append(
            f"{ns}share_load_balancer: expected false with sso {d.sso} (the sign-in needs "
            "MLflow's own HTTPS load balancer)"
        )
    # In production the dns check already asks every load balancer for a certificate.
    if not mlflow_has_certificate(s) and not s.production:
        problems.append(
            f"{PROJECT}:ingress.certificate_arn: expected an ACM certificate (or dns.zone_id and "
            f"dns.mlflow_host) with data_platform.sso {d.sso} (the load balancer authenticates "
            "on HTTPS only)"
        )
    if not sso_host(s):
        problems.append(
            f"{ns}sso_host: expected the DNS name browsers use with sso {d.sso}, or "
            "dns.mlflow_host (the IdP's callback is https://<sso_host>/oauth2/idpresponse)"
        )
    if d.sso_host and s.dns.mlflow_host and d.sso_host != s.dns.mlflow_host:
        problems.append(
            f"{ns}sso_host: expected empty or {s.dns.mlflow_host} (dns.mlflow_host, the host "
            f"the stack's certificate covers; got {d.sso_host!r})"
        )
    scopes = d.sso_scope.split(" ")
    if (
        not scopes
        or scopes[0] != "openid"
        or any(not re.fullmatch(r"[!#-\[\]-~]+", x) for x in scopes)
    ):
        problems.append(
            f"{ns}sso_scope: expected space-separated OAuth scopes starting with openid "
            f"(got {d.sso_scope!r})"
        )
    if not re.fullmatch(r"[A-Za-z0-9_:.-]{1,64}", d.sso_username_claim):
        problems.append(
            f"{ns}sso_username_claim: expected a claim name such as email (got "
            f"{d.sso_username_claim!r})"
        )
    if d.sso == "oidc":
        _check_oidc(s, problems)
    else:
        _check_cognito(s, problems)


def _check_oidc(s: Settings, problems: list[str]) -> None:
    ns = f"{PROJECT}:data_platform."
    d = s.data_platform
    # AuthenticateOidcActionConfig (botocore elbv2): each endpoint "must be a full URL,
    # including the HTTPS protocol, the domain, and the path"; the client ID is required.
    for key in ("issuer", "authorization_endpoint", "token_endpoint", "user_info_endpoint"):
        value = getattr(d, f"oidc_{key}")
        if not _HTTPS_URL.fullmatch(value):
            problems.append(
                f"{ns}oidc_{key}: expected an https:// URL of the IdP with sso oidc (got {value!r})"
            )
    if not re.fullmatch(r"[\x21-\x7e]{1,255}", d.oidc_client_id):
        problems.append(
            f"{ns}oidc_client_id: expected the client ID registered at the IdP with sso oidc "
            f"(got {d.oidc_client_id!r})"
        )
    secret = d.oidc_client_secret_id
    arn = r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+"
    if not (re.fullmatch(arn, secret) or re.fullmatch(r"[A-Za-z0-9/_+=.@-]{1,512}", secret)):
        problems.append(
            f"{ns}oidc_client_secret_id: expected the ARN or name of the Secrets Manager "
            f"secret holding the client secret with sso oidc (got {secret!r})"
        )


def _check_cognito(s: Settings, problems: list[str]) -> None:
    ns = f"{PROJECT}:data_platform."
    prefix = cognito_domain_prefix(s.data_platform, s.prefix())
    reserved = [w for w in COGNITO_RESERVED if w in prefix]
    if not COGNITO_DOMAIN.fullmatch(prefix) or reserved:
        problems.append(
            f"{ns}cognito_domain_prefix: expected 1-63 lowercase letters, digits and '-', "
            f"without {', '.join(COGNITO_RESERVED)} (got {prefix!r})"
        )
    for key in ("oidc_issuer", "oidc_client_id", "oidc_client_secret_id"):
        if getattr(s.data_platform, key):
            problems.append(f"{ns}{key}: expected empty with sso cognito (an oidc key)")
