"""A real ``redis-server`` for tests, as ElastiCache runs the agent world's: TLS only (no
plain-TCP port: ``--port 0``), AUTH (``--requirepass``), nothing persisted.

``RedisServer(directory)`` writes a throw-away CA and a server certificate for 127.0.0.1
(``cryptography``), starts ``/usr/bin/redis-server`` (Debian's ``redis-server``; ``./tasks
test`` installs it: ``ensure_redis``) on a free port, waits until it answers PING over TLS,
and ``stop()`` ends it (also at exit). ``client()`` is a ``redis.Redis`` that trusts the CA.
"""

from __future__ import annotations

import datetime
import ipaddress
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from service_testing.ports import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def write_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """``(ca.pem, server.pem, server.key)``: a CA, and a certificate for 127.0.0.1 and
    localhost signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test redis CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                          content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = (directory / n for n in ("ca.pem", "server.pem", "server.key"))
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    return ca_file, cert_file, key_file


class RedisServer:
    """One ``redis-server`` with TLS and a password, in ``directory``."""

    host = "127.0.0.1"

    def __init__(self, directory: Path, password: str | None = None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.password = password or secrets.token_hex(24)
        self.port = free_port()
        self.ca_file, cert_file, key_file = write_certificates(self.directory)
        self._log = open(self.directory / "redis.log", "wb")  # noqa: SIM115 (kept open)
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port", "0",  # no plain-TCP listener: TLS only, as ElastiCache in transit
                "--tls-port", str(self.port),
                "--bind", self.host,
                "--tls-cert-file", str(cert_file),
                "--tls-key-file", str(key_file),
                "--tls-ca-cert-file", str(self.ca_file),
                "--tls-auth-clients", "no",  # ElastiCache asks for no client certificate
                "--requirepass", self.password,
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._wait()

    def client(self, **options: Any) -> Any:
        import redis

        settings: dict[str, Any] = {
            "host": self.host, "port": self.port, "password": self.password, "ssl": True,
            "ssl_ca_certs": str(self.ca_file), "ssl_cert_reqs": "required",
            "socket_timeout": 2,
        }  # fmt: skip
        return redis.Redis(**(settings | options))

    def _wait(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.directory / "redis.log").read_text(errors="replace")
                raise RuntimeError(f"redis-server exited {self.process.returncode}:\n{log}")
            try:
                with self.client(socket_timeout=1) as probe:
                    if probe.ping():
                        return
            except Exception as error:  # not up yet
                last = error
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer within {timeout}s: {last}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
