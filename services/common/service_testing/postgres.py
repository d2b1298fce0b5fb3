"""A throwaway PostgreSQL cluster for the services' tests, and free ports.

The cluster is a real ``initdb`` in a fresh temporary directory, listening on 127.0.0.1 at a
free port with its socket in that directory, stopped and deleted at the end. PostgreSQL
refuses to run as root, so under root its commands run as the ``postgres`` user (which the
Debian package creates), and the directory is given to that user. Moved here from
services/mlflow/tests/mlflow_support.py, which imports it, so that every service's tests
start the same cluster.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
from psycopg2 import sql

from service_testing.ports import free_port

SERVER_TOOLS = ("initdb", "pg_ctl", "postgres")


class PostgresMissingError(RuntimeError):
    """No PostgreSQL server binaries here (or no user to run them as)."""


def postgres_bin_dir() -> Path:
    """The directory holding initdb, pg_ctl and postgres: Debian's newest
    ``/usr/lib/postgresql/<major>/bin``, else the one on PATH."""
    candidates = sorted(
        (Path(d) for d in glob.glob("/usr/lib/postgresql/*/bin")),
        key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0,
        reverse=True,
    )
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for directory in candidates:
        if all(os.access(directory / tool, os.X_OK) for tool in SERVER_TOOLS):
            return directory
    raise PostgresMissingError(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in "
        "/usr/lib/postgresql/*/bin or on PATH. Install them: `./tasks test` does so with "
        "apt-get (Debian package `postgresql`) when run as root; otherwise "
        "`sudo apt-get install postgresql`."
    )


@dataclass
class PostgresCluster:
    """A running throwaway cluster; ``superuser()`` connects over its unix socket (trust)."""

    bin_dir: Path
    base: Path
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    superuser_name: str = "postgres"

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base / "socket"

    @property
    def log_file(self) -> Path:
        return self.base / "postgres.log"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        owner: dict[str, object] = {}
        if os.geteuid() == 0:
            account = pwd.getpwnam(_service_user())
            owner = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        done = subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.base,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"},
            check=False,
            **owner,  # type: ignore[arg-type]
        )
        if done.returncode != 0:
            log = self.log_file.read_text() if self.log_file.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}{log}")
        return done

    def start(self) -> None:
        self.socket_dir.mkdir()
        if os.geteuid() == 0:
            account = pwd.getpwnam(_service_user())
            for path in (self.base, self.socket_dir):
                os.chown(path, account.pw_uid, account.pw_gid)
        # Trust on the socket for the test's setup; passwords (SCRAM) over TCP, as on RDS.
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            self.superuser_name,
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-sync",
            "-E",
            "UTF8",
        )
        options = (
            f"-c listen_addresses={self.host} -p {self.port} -k {self.socket_dir} "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_file), "-w", "-t", "60",
                  "-o", options, "start")  # fmt: skip

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                pid = int((self.data / "postmaster.pid").read_text().split()[0])
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def superuser(self, database: str = "postgres") -> psycopg2.extensions.connection:
        """An autocommit connection; close it (psycopg2's ``with`` only ends a transaction)."""
        connection = psycopg2.connect(
            host=str(self.socket_dir), port=self.port, user=self.superuser_name, dbname=database
        )
        connection.autocommit = True
        return connection

    def create_owner(self, role: str, password: str, database: str) -> None:
        """A login role that may create databases, owning ``database``: like RDS's master
        user and the database RDS creates for it."""
        connection = self.superuser()
        try:
            with connection.cursor() as cursor:
                statement = sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD %s")
                cursor.execute(statement.format(sql.Identifier(role)), (password,))
                statement = sql.SQL("CREATE DATABASE {} OWNER {}")
                cursor.execute(statement.format(sql.Identifier(database), sql.Identifier(role)))
        finally:
            connection.close()

    def databases(self) -> set[str]:
        return {row[0] for row in self.query("postgres", "SELECT datname FROM pg_database")}

    def query(self, database: str, statement: str, *args: object) -> list[tuple]:
        connection = self.superuser(database)
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement, args)
                return cursor.fetchall()
        finally:
            connection.close()


def _service_user() -> str:
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise PostgresMissingError("running as root, and neither a postgres nor a nobody user exists")


def start_cluster(prefix: str = "mlflow-pg-") -> PostgresCluster:
    """A started cluster in a new directory named ``prefix...`` under the temporary directory."""
    bin_dir = postgres_bin_dir()
    # Not pytest's tmp_path: its parent is private to root, and postgres must reach the socket.
    base = Path(tempfile.mkdtemp(prefix=prefix))
    cluster = PostgresCluster(bin_dir=bin_dir, base=base)
    try:
        cluster.start()
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise
    return cluster
