"""The ASGI layers in front of an HTTP service's routes: request log and last-resort 500, API
key, body limit.

They are plain ASGI middleware rather than route dependencies so that nothing reaches the
router unchecked: a route added later is protected without anyone remembering to, and an
unknown path answers 401 (not 404) to a caller without the key. Order, outermost first:
``RequestLog`` → ``ApiKeyAuth`` → ``BodySizeLimit`` → FastAPI, so an unauthenticated
caller's body is never read and every response, 401 and 413 included, is logged. A service
that API Gateway authenticates (the agent world) leaves ``ApiKeyAuth`` out.

``ApiKeyAuth`` given a :class:`~service_common.secret_keys.KeyRing` accepts every value the
ring holds (the secret's current, previous and pending versions), so a rotation of the key
never refuses a client; the ring's reads of Secrets Manager run in a worker thread.
"""

from __future__ import annotations

import hmac
import logging
import time
import uuid
from collections.abc import Iterable
from typing import Any

from anyio import to_thread
from starlette.datastructures import MutableHeaders, Secret
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service_common.secret_keys import KeyRing


class RequestLog:
    """Logs one JSON line per request (never headers or bodies), tags the response with
    ``X-Request-Id``, and answers 500 with a bare JSON reason when the app raises.

    ``logger`` names the logger of those lines (their ``logger`` field): each service passes
    its own, so a line says which service wrote it. Default this module's name."""

    def __init__(
        self, app: ASGIApp, quiet_paths: Iterable[str] = (), logger: str = __name__
    ) -> None:
        self.app = app
        self.quiet_paths = frozenset(quiet_paths)
        self.log = logging.getLogger(logger)

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
            self.log.exception("unhandled error", extra=fields)
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
            self.log.log(
                level, "request", extra={**fields, "status": status, "duration_ms": duration}
            )


class ApiKeyAuth:
    """Lets a request through only with ``X-API-Key: <key>`` or ``Authorization: Bearer
    <key>`` (either one matching is enough), except on ``public_paths``; otherwise 401 with
    ``WWW-Authenticate: Bearer`` and the reason. Keys are compared in constant time. With
    ``key_ring`` the accepted keys are the ring's (``api_key`` is then only what the ring
    falls back to), else ``api_key`` alone."""

    def __init__(
        self,
        app: ASGIApp,
        api_key: Secret,
        public_paths: Iterable[str] = (),
        key_ring: KeyRing | None = None,
    ) -> None:
        self.app = app
        self._key = str(api_key).encode("ascii")
        self.public_paths = frozenset(public_paths)
        self.key_ring = key_ring

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public_paths:
            await self.app(scope, receive, send)
            return
        presented, reason = self.presented(scope["headers"])
        if reason is None and not await self._accepted(presented):
            reason = "invalid API key"
        if reason is None:
            await self.app(scope, receive, send)
            return
        response = JSONResponse(
            {"detail": reason}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
        await response(scope, receive, send)

    async def _accepted(self, presented: list[bytes]) -> bool:
        ring = self.key_ring
        if ring is None:
            # Every candidate is compared, so the time taken does not depend on which matched.
            return any([hmac.compare_digest(c, self._key) for c in presented])
        if ring.needs_read(presented):
            return await to_thread.run_sync(ring.matches, presented)
        return ring.matches(presented)

    def refusal(self, headers: list[tuple[bytes, bytes]]) -> str | None:
        """Why the request is not authenticated by ``api_key`` alone, or ``None`` when it is."""
        presented, reason = self.presented(headers)
        if reason is not None:
            return reason
        matches = [hmac.compare_digest(candidate, self._key) for candidate in presented]
        return None if any(matches) else "invalid API key"

    @staticmethod
    def presented(headers: list[tuple[bytes, bytes]]) -> tuple[list[bytes], str | None]:
        """The keys a request presents, or why it presents none."""
        presented: list[bytes] = []
        other_scheme = False
        for name, value in headers:
            if name == b"x-api-key":
                presented.append(value.strip())
            elif name == b"authorization":
                scheme, _, token = value.strip().partition(b" ")
                if scheme.lower() == b"bearer":
                    presented.append(token.strip())
                else:
                    other_scheme = True
        if not presented:
            if other_scheme:
                return [], "unsupported authorization scheme: use Authorization: Bearer <key>"
            return [], "missing API key: send X-API-Key: <key> or Authorization: Bearer <key>"
        return presented, None


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
