"""A local stand-in for a WebSocket stage's API Gateway Management API, on 127.0.0.1.

It speaks what ``boto3.client("apigatewaymanagementapi", endpoint_url=...)``'s
``post_to_connection`` sends: ``POST /@connections/{id}`` (the path of botocore's model,
URL-quoted id) with the data as the body and a SigV4 ``Authorization`` header; it answers
200, or 410 with ``x-amzn-ErrorType: GoneException`` (how the service answers for a closed
connection) for ids in ``gone``, and 410 too for ids in ``pending``: connections whose
``$connect`` integration has not returned yet, which API Gateway does not let anyone post to
until then (``connected(id)`` opens one); ``refused`` counts the 410s per id. What arrived
is kept per connection in ``received``, and the signing scope of each request in ``scopes``
(``.../execute-api/aws4_request``).
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

_PATH = re.compile(r"^/(?:[^/]+/)?@connections/([^/?]+)$")


class ManagementApi:
    """Start with ``ManagementApi()``; ``url`` is the ``endpoint_url``; ``close()`` ends it."""

    def __init__(self, stage: str = "v1", delay: float = 0.0):
        self.received: dict[str, list[bytes]] = {}
        self.gone: set[str] = set()
        self.pending: set[str] = set()
        self.refused: dict[str, int] = {}
        self.scopes: list[str] = []
        self.delay = delay
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                match = _PATH.match(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length)
                if match is None:
                    return self._answer(404, "NotFoundException", "no such route")
                auth = self.headers.get("Authorization", "")
                scope = re.search(r"Credential=[^/]+/([^,]+)", auth)
                if scope is None:
                    return self._answer(403, "ForbiddenException", "missing signature")
                connection_id = unquote(match.group(1))
                if owner.delay:
                    threading.Event().wait(owner.delay)
                with owner._lock:
                    owner.scopes.append(scope.group(1))
                    if connection_id in owner.gone or connection_id in owner.pending:
                        owner.refused[connection_id] = owner.refused.get(connection_id, 0) + 1
                        return self._answer(410, "GoneException", "connection gone")
                    owner.received.setdefault(connection_id, []).append(data)
                self._answer(200)

            def _answer(self, status: int, code: str = "", text: str = "") -> None:
                body = json.dumps({"message": text}).encode() if code else b""
                self.send_response(status)
                if code:
                    self.send_header("x-amzn-ErrorType", f"{code}:")
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/{stage}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def connected(self, connection_id: str) -> None:
        """The ``$connect`` of a pending connection returned: posts to it now succeed."""
        with self._lock:
            self.pending.discard(connection_id)

    def messages(self, connection_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(m) for m in self.received.get(connection_id, [])]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> ManagementApi:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
