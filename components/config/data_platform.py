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
HOKUSAI_API_PATH = "/api"
"""Where the data platform serves the Hokusai API (``data_platform.api``)."""

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
    api_image: str = setting("", "Image URI of the Hokusai API; required with api.")
    db_connections_alarm: int = setting(
        80, "Alarm when the database has more connections than this.", int_range(1, 100000)
    )


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
    if d.api and not d.api_image:
        problems.append(f"{ns}api_image: expected an image URI when data_platform.api is true")
    if d.api_image and not IMAGE_URI.fullmatch(d.api_image):
        problems.append(f"{ns}api_image: expected an image URI or empty (got {d.api_image!r})")
    for host in d.allowed_hosts:
        if not re.fullmatch(
            r"[a-z0-9*]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+", host
        ):
            problems.append(f"{ns}allowed_hosts: expected DNS names (got {host!r})")
