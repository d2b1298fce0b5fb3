"""``StripBasePath``, the one ASGI layer of its own in front of the agent world's routes.

The other layers are the ones every HTTP service shares (``service_common.middleware``),
without their API key check: API Gateway authenticates callers before a request reaches
this service. Order, outermost first: ``RequestLog`` → ``StripBasePath`` (only with
``API_BASE_PATHS``) → ``BodySizeLimit`` → FastAPI, so every response, 413 included, is
logged, with the path as the request arrived (``/v1/api/world/worlds/w1`` if API Gateway
forwarded the stage and resource): the log shows which form reached the task, and the
routes see the stripped one.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send


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
