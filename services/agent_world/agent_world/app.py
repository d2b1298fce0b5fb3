"""The HTTP API of one role: ``GET /health`` and that role's routers (every role's for
``all``, the dev setting where one task serves every route).

``create_app(settings)`` builds an app from settings that were already validated; the
DynamoDB resource, S3 client and LLM provider can be passed in (tests), otherwise they are
made from the environment (``AWS_ENDPOINT_URL`` included, which boto3 honours). A single
role mounts only its own routers, so another role's path is a 404. With ``API_BASE_PATHS``
a path loses its prefix before routing (``/v1/api/world/worlds/w1`` → ``/worlds/w1``), and
a path without one is routed as it is; the request log shows the path as it arrived.
``uvicorn agent_world.app:app`` builds the module-level ``app`` from the environment on
first use.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from service_common.handlers import lazy_app, validation_error
from service_common.middleware import BodySizeLimit, RequestLog

from agent_world import agents, llm, realtime, schema, worlds
from agent_world.middleware import StripBasePath
from agent_world.settings import Settings
from agent_world.store import (
    BadTokenError,
    ConflictError,
    NotFoundError,
    PreconditionRequiredError,
    to_plain,
)

log = logging.getLogger(__name__)

HEALTH_PATH = "/health"
# The logger of the request lines (their "logger" field), as it was when each service kept
# its own copy of the layers: log queries that filter on it keep working.
REQUEST_LOGGER = "agent_world.middleware"
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")


def create_app(
    settings: Settings,
    *,
    dynamodb: Any = None,
    s3: Any = None,
    provider: llm.Provider | None = None,
    redis: Any = None,
    management: Any = None,
) -> FastAPI:
    """The app for ``settings.role``. ``dynamodb`` is a boto3 DynamoDB *resource*, ``s3`` an
    S3 client; ``provider`` defaults to the one ``LLM_PROVIDER`` names."""
    docs = settings.enable_docs
    app = FastAPI(
        title=f"agent-world ({settings.role})",
        version="1",
        docs_url=DOCS_PATHS[0] if docs else None,
        redoc_url=DOCS_PATHS[2] if docs else None,
        openapi_url=DOCS_PATHS[3] if docs else None,
    )
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(NotFoundError, _status(404))
    app.add_exception_handler(ConflictError, _status(409))
    app.add_exception_handler(PreconditionRequiredError, _status(428))
    app.add_exception_handler(BadTokenError, _status(400))
    app.add_exception_handler(ClientError, _storage_error)
    app.add_exception_handler(BotoCoreError, _storage_error)

    @app.get(HEALTH_PATH)
    def health() -> dict[str, str]:
        # No AWS call: a throttled table must not make the load balancer stop every task.
        return {"status": "ok", "role": settings.role}

    if settings.serves("world-management") or settings.serves("agent-runtime"):
        dynamodb = dynamodb or boto3.resource("dynamodb", region_name=settings.region)

        # --- issue 15: every table behind the Redis cache and the event listener -------
        # (agent_world/realtime.py); ``redis``/``management`` clients may be passed (tests).
        live = realtime.Realtime(
            settings.realtime, settings.tables, dynamodb, settings.region,
            redis=redis, management=management,
        )  # fmt: skip
        app.state.realtime = live

        def table(spec: schema.Table) -> Any:
            return live.wrap(dynamodb.Table(settings.table(spec)), spec)

    if settings.serves("world-management"):
        s3 = s3 or boto3.client("s3", region_name=settings.region)
        tables = worlds.WorldTables(
            worlds=table(schema.WORLDS),
            agents=table(schema.AGENTS),
            memory=table(schema.MEMORY),
            objects=table(schema.OBJECTS),
            events=table(schema.EVENTS),
            snapshots=table(schema.SNAPSHOTS),
            s3=s3,
            bucket=settings.snapshot_bucket,
            kms_key_id=settings.snapshot_kms_key_id,
        )
        app.include_router(worlds.router(tables))
    if settings.serves("agent-runtime"):
        app.include_router(
            agents.router(
                agents.AgentTables(
                    worlds=table(schema.WORLDS),
                    agents=table(schema.AGENTS),
                    memory=table(schema.MEMORY),
                    events=table(schema.EVENTS),
                ),
                sockets=live.registry,  # issue 15: the $connect/$disconnect registry
            )
        )
    if settings.serves("llm-integration"):
        provider = provider or llm.load_provider(settings)
        app.include_router(llm.router(provider, settings.model_ids))

    # The last added is the outermost: RequestLog → StripBasePath → BodySizeLimit → routes.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.base_paths:
        app.add_middleware(StripBasePath, prefixes=settings.base_paths)
    app.add_middleware(RequestLog, quiet_paths=(HEALTH_PATH,), logger=REQUEST_LOGGER)
    log.info(
        "app ready",
        extra={"role": settings.role, "docs": docs, "base_paths": list(settings.base_paths)},
    )
    return app


def _status(code: int) -> Any:
    async def handler(_request: Request, error: Exception) -> JSONResponse:
        # A conflict says what the item is now (current_status, current_version).
        fields = getattr(error, "fields", {})
        return JSONResponse({"detail": str(error), **to_plain(fields)}, status_code=code)

    return handler


async def _storage_error(request: Request, error: Exception) -> JSONResponse:
    """AWS failing (throttling, a missing table, no route): 503 with the error code, and the
    details in the log rather than in the answer."""
    code = error.response["Error"]["Code"] if isinstance(error, ClientError) else "unreachable"
    log.error(
        "storage error",
        extra={"path": request.url.path, "code": code, "error": str(error)},
    )
    return JSONResponse({"detail": f"storage unavailable: {code}"}, status_code=503)


__getattr__ = lazy_app(__name__, globals(), lambda: create_app(Settings.from_env(os.environ)))
