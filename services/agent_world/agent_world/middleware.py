"""The ASGI layers in front of the routes: request log and last-resort 500, base-path
stripping, body limit.

The same layers as the other HTTP services, without their API key check: API Gateway
authenticates callers before a request reaches this service. Order, outermost first:
``RequestLog`` → ``StripBasePath`` (only with ``API_BASE_PATHS``) → ``BodySizeLimit`` →
FastAPI, so every response, 413 included, is logged, with the path as the request arrived
(``/v1/api/world/worlds/w1`` if API Gateway forwarded the stage and resource): the log shows
which form reached the task, and the routes see the stripped one.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


class RequestLog:
    """Logs one JSON line per request (never headers or bodies), tags the response with
    ``X-Request-Id``, and answers 500 with a bare JSON reason when the app raises."""

    def __init__(self, app: ASGIApp, quiet_paths: Iterable[str] = ()) -> None:
        self.app = app
        self.quiet_paths = frozenset(quiet_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        started = time.perf_counter()
        status: int | None = None

        async def tagged_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-Id", request_id)
            await send(message)

        fields: dict[str, Any] = {
            "request_id": request_id,
            "method": scope["method"],
            "path": scope["path"],
        }
        try:
            await self.app(scope, receive, tagged_send)
        except Exception:
            log.exception("unhandled error", extra=fields)
            if status is not None:
                raise  # the response has started: only dropping the connection is left
            response = JSONResponse(
                {"detail": "internal server error", "request_id": request_id}, status_code=500
            )
            await response(scope, receive, tagged_send)
        finally:
            # Health checks arrive every few seconds from every load balancer node.
            level = logging.DEBUG if scope["path"] in self.quiet_paths else logging.INFO
            duration = round((time.perf_counter() - started) * 1000, 3)
            log.log(level, "request", extra={**fields, "status": status, "duration_ms": duration})


class StripBasePath:
    """Removes the longest of ``prefixes`` that the path equals or continues with ``/``, so
    ``/v1/api/world/worlds/w1`` is routed as ``/worlds/w1`` and ``/v1/api/world`` as ``/``;
    ``/v1/api/worldx/...`` and paths without a prefix pass unchanged. A REST API's private
    integration through a VPC link V2 may forward the stage and resource with the proxy path.

    The app gets a copy of the scope (layers outside keep the path as it arrived), with
    ``raw_path`` stripped likewise, or left out when it does not start with the same prefix
    (percent-encoded differently) rather than disagree with ``path``. The query string, the
    headers and ``root_path`` are untouched."""

    def __init__(self, app: ASGIApp, prefixes: Iterable[str]) -> None:
        self.app = app
        self.prefixes = sorted(set(prefixes), key=len, reverse=True)  # longest first

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            for prefix in self.prefixes:
                if path == prefix or path.startswith(prefix + "/"):
                    scope = {**scope, "path": path[len(prefix) :] or "/"}
                    raw = scope.pop("raw_path", None)
                    encoded = prefix.encode()
                    if raw is not None and (raw == encoded or raw.startswith(encoded + b"/")):
                        scope["raw_path"] = raw[len(encoded) :] or b"/"
                    break
        await self.app(scope, receive, send)


class BodySizeLimit:
    """Answers 413 to a request body over ``max_bytes``, whether it declares its length or
    arrives chunked. The body is read here (at most ``max_bytes``) and replayed to the app."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            if declared.isdigit():
                await self._too_large(scope, receive, send)
            else:
                response = JSONResponse({"detail": "invalid Content-Length"}, status_code=400)
                await response(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its body
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {"detail": f"request body larger than {self.max_bytes} bytes"}, status_code=413
        )
        await response(scope, receive, send)
