"""Real local servers for the tests and the bench: an HTTPS artefact server on 127.0.0.1
(a certificate made for the run with ``cryptography``) and an HTTP server that speaks the
two providers' APIs as their SDKs call them (OpenAI's ``POST /chat/completions``, Gemini's
``POST /v1beta/models/{model}:generateContent``)."""

from __future__ import annotations

import datetime
import io
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from PIL import Image


def make_certificate(
    directory: Path, hosts: tuple[str, ...] = ("localhost", "artifacts.test")
) -> tuple[Path, Path]:
    """A self-signed certificate for ``hosts`` and 127.0.0.1: (cert file, key file)."""
    host = hosts[0]
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    *(x509.DNSName(h) for h in hosts),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def png(width: int = 64, height: int = 48, color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    trickle: float = 0.0
    """Seconds between single body bytes (a slow server); 0 sends at once."""
    trickle_headers: float = 0.0
    """Seconds between single bytes of the status line and headers; 0 sends at once."""
    declare_length: bool = True
    """False: no Content-Length; the body ends when the connection closes."""


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self  # type: ignore[attr-defined]
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _ArtifactHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are separate writes: without this, Nagle's algorithm holds the body
    # until the client's delayed ACK (about 40 ms), which a benchmark would measure.
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        owner: ArtifactServer = self.server.owner  # type: ignore[attr-defined]
        owner.requests.append((self.path, dict(self.headers)))
        route = owner.routes.get(self.path.split("?")[0], Route(status=404, body=b"no"))
        if route.trickle_headers:
            head = f"HTTP/1.1 {route.status} OK\r\nContent-Type: image/png\r\n" * 1
            try:
                for byte in (head + "X-Padding: " + "p" * 400 + "\r\n\r\n").encode():
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(route.trickle_headers)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                pass
            self.close_connection = True
            return
        self.send_response(route.status)
        length = {"Content-Length": str(len(route.body))} if route.declare_length else {}
        if not route.declare_length:
            self.close_connection = True
            length["Connection"] = "close"
        headers = {**length, **route.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            if route.trickle:
                for byte in route.body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(route.trickle)
            else:
                self.wfile.write(route.body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass


class ArtifactServer(_Server):
    """HTTPS on 127.0.0.1 serving ``routes`` (path to :class:`Route`); ``url(path)``."""

    def __init__(self, cert_file: Path, key_file: Path):
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert_file, key_file)
        super().__init__(_ArtifactHandler, tls)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.port}{path}"

    def image(self, path: str, data: bytes | None = None, content_type: str = "image/png") -> str:
        self.routes[path] = Route(body=data or png(), headers={"Content-Type": content_type})
        return self.url(path)


def openai_completion(content: str | None, model: str = "gpt-4o-mini") -> dict[str, Any]:
    """A Chat Completions response body as OpenAI's API returns it."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def gemini_response(text: str) -> dict[str, Any]:
    """A generateContent response body as the Gemini API returns it."""
    return {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}
        ],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5},
        "modelVersion": "gemini-2.5-flash",
    }


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    delay: float = 0.0


class _ProviderHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are separate writes: without this, Nagle's algorithm holds the body
    # until the client's delayed ACK (about 40 ms), which a benchmark would measure.
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        owner: ProviderServer = self.server.owner  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        owner.requests.append(
            {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
             "json": json.loads(raw or b"null")}
        )  # fmt: skip
        reply = owner.reply(self.path)
        if reply.delay:
            time.sleep(reply.delay)
        data = json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


class ProviderServer(_Server):
    """Plain HTTP on 127.0.0.1; ``reply(path)`` decides each answer; ``requests`` records
    every request (path, lower-case headers, JSON body)."""

    def __init__(self, reply: Callable[[str], Reply] | None = None):
        self.requests: list[dict[str, Any]] = []
        self.reply = reply or (lambda path: Reply(status=404, body={"error": "no reply set"}))
        super().__init__(_ProviderHandler, None)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class FixedAnalyzer:
    """A set verdict, for the tests of the HTTP layer (authentication, body limits, key
    rotation), which need a 200 to tell from a 401 or a 413. The verdicts themselves are
    tested with the real SDKs in test_providers.py; the service never uses this."""

    name = "fixed-test-analyzer"

    def __init__(self, valid: bool = True, score: float = 0.9):
        from vision_validator.analyzers import Analysis

        self.requests: list[Any] = []
        self._analysis = Analysis(valid=valid, score=score, reasons=("set by the test",))

    def analyze(self, request: Any) -> Any:
        self.requests.append(request)
        return self._analysis
