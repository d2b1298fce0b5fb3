"""The API's database: created if missing, migrated with Alembic at start, and its tables.

``prepare(settings)`` is what start-up runs before serving: connect (retrying an unreachable
server for ``DB_WAIT_SECONDS``), ``CREATE DATABASE`` the API's own database on the data
platform's server if it is not there, then ``alembic upgrade head`` inside one transaction
that first takes a PostgreSQL advisory lock, so that two tasks starting together migrate one
after the other (the second finds the schema current and does nothing).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from service_common.env import ConfigError
from sqlalchemy.engine import Engine

from hokusai_api.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x484B5341  # "HKSA": the advisory lock key every task's migration takes
RETRY_INTERVAL_SECONDS = 2.0
CONNECT_TIMEOUT_SECONDS = 10
PERMANENT_ERRORS = ("authentication failed", "does not exist", "no pg_hba.conf entry")

metadata = sa.MetaData()
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("owner", sa.String(128), nullable=False),
    sa.Column("scopes", sa.ARRAY(sa.String(32)), nullable=False),
    sa.Column("salt", sa.LargeBinary(16), nullable=False),
    sa.Column("secret_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True)),
    sa.Column("last_used_at", sa.DateTime(timezone=True)),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)
eth_addresses = sa.Table(
    "eth_addresses",
    metadata,
    sa.Column("address", sa.String(42), primary_key=True),
    sa.Column("owner", sa.String(128), nullable=False),
    sa.Column("scopes", sa.ARRAY(sa.String(32)), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_used_at", sa.DateTime(timezone=True)),
)
eth_nonces = sa.Table(
    "eth_nonces",
    metadata,
    sa.Column("nonce", sa.String(64), primary_key=True),  # the unique constraint: replay refused
    sa.Column("address", sa.String(42), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
)
"""The tables as the newest migration leaves them (the queries use these; the migrations
in ``migrations/versions`` are the history and are what creates them)."""


class DatabaseError(ConfigError):
    """The database cannot be reached, created or migrated; the text holds no secret."""


def engine_for(settings: Settings, database: str | None = None, **options) -> Engine:
    return sa.create_engine(
        settings.database_uri(database or settings.db_name),
        pool_pre_ping=True,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
        **options,
    )


def prepare(
    settings: Settings,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Engine:
    """Creates the database if missing and migrates it; returns the service's engine."""
    ensure_database(settings, sleep, clock)
    if settings.db_null_pool:
        engine = engine_for(settings, poolclass=sa.pool.NullPool)
    else:
        engine = engine_for(settings, pool_size=8, max_overflow=8)
    try:
        migrate(engine)
    except sa.exc.SQLAlchemyError as error:
        engine.dispose()
        raise DatabaseError(
            f"migration of {settings.db_name!r} failed: {_scrub(error, settings)}"
        ) from None
    return engine


def migrate(engine: Engine) -> None:
    """``alembic upgrade head`` on ``engine`` under the advisory lock (held to the commit)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK)))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def ensure_database(settings: Settings, sleep, clock) -> bool:
    """``CREATE DATABASE`` DB_NAME unless it exists (connected to DB_MAINTENANCE_NAME);
    True if created. A concurrent creator's "already exists" counts as success."""
    deadline = clock() + settings.db_wait_seconds
    engine = engine_for(settings, settings.db_maintenance_name, isolation_level="AUTOCOMMIT")
    try:
        while True:
            try:
                connection = engine.connect()
                break
            except sa.exc.OperationalError as error:
                # A refused password or a missing database will not mend by waiting.
                permanent = any(text in str(error) for text in PERMANENT_ERRORS)
                if permanent or clock() + RETRY_INTERVAL_SECONDS > deadline:
                    raise DatabaseError(
                        f"cannot connect to {settings.db_host}:{settings.db_port}/"
                        f"{settings.db_maintenance_name}: {_scrub(error, settings)}"
                    ) from None
                sleep(RETRY_INTERVAL_SECONDS)
        with connection:
            found = connection.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": settings.db_name},
            ).first()
            if found:
                return False
            try:
                # The name matched settings._DB_NAME (lower-case letters, digits, _): safe.
                connection.execute(sa.text(f'CREATE DATABASE "{settings.db_name}"'))
            except sa.exc.ProgrammingError as error:
                if "already exists" in str(error):
                    return False
                raise DatabaseError(
                    f"cannot create database {settings.db_name!r} as {settings.db_username!r} "
                    f"(it needs CREATEDB, or create it beforehand): {_scrub(error, settings)}"
                ) from None
            except sa.exc.IntegrityError:
                return False  # pg_database's unique index: another task created it meanwhile
            return True
    finally:
        engine.dispose()


def _scrub(error: Exception, settings: Settings) -> str:
    """The driver's first line, without the password in case a driver ever quotes it."""
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    message = text[0] if text else type(error).__name__
    return message.replace(settings.db_password, "***") if settings.db_password else message
