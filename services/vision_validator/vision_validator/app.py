"""The HTTP API: ``GET /health`` (open) and ``POST /validate`` (API key).

``create_app(settings)`` builds an app from settings that were already validated, so tests
make as many apps as they like with no environment at all. ``uvicorn
vision_validator.app:app`` needs a module-level ``app``: it is built from the environment
the first time it is asked for (PEP 562 ``__getattr__``), not at import, so importing this
module never needs an ``API_KEY`` — but serving always does: without a usable one, building
``app`` raises ``ConfigError`` and uvicorn exits before it listens.
"""

import logging
import os
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from service_common.handlers import lazy_app, validation_error
from service_common.middleware import ApiKeyAuth, BodySizeLimit, RequestLog
from service_common.secret_keys import KeyRing, ring_for
from starlette.datastructures import Secret

from vision_validator import providers
from vision_validator.analyzers import AnalysisError, Analyzer, load_analyzer
from vision_validator.gpu import CachedProbe, GpuProbe, GpuStatus
from vision_validator.schemas import IssueOut, ValidationRequest, ValidationResponse
from vision_validator.settings import Settings

log = logging.getLogger(__name__)

HEALTH_PATH = "/health"
# The logger of the request lines (their "logger" field), as it was when each service kept
# its own copy of the layers: log queries that filter on it keep working.
REQUEST_LOGGER = "vision_validator.middleware"
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")


def create_app(
    settings: Settings,
    *,
    gpu_probe: GpuProbe | None = None,
    analyzer: Analyzer | None = None,
    key_ring: KeyRing | None = None,
) -> FastAPI:
    """The app for ``settings``. ``gpu_probe`` defaults to the real one (cached 30 s);
    ``analyzer`` defaults to the one ``settings.analyzer`` names (``ConfigError`` if it
    cannot be loaded), else the vision model of the configured provider key (none: every
    validation a 503); ``key_ring`` to the ring of ``settings.api_key_secret_id`` (none
    without one: ``API_KEY`` alone)."""
    if analyzer is None:
        analyzer = (
            load_analyzer(settings.analyzer)
            if settings.analyzer
            else providers.from_settings(settings)
        )
    probe = gpu_probe or CachedProbe()
    docs = settings.enable_docs
    app = FastAPI(
        title="vision-validator",
        version="1",
        docs_url=DOCS_PATHS[0] if docs else None,
        redoc_url=DOCS_PATHS[2] if docs else None,
        openapi_url=DOCS_PATHS[3] if docs else None,
    )
    app.add_exception_handler(RequestValidationError, validation_error)

    @app.exception_handler(AnalysisError)
    def no_verdict(request: Request, error: AnalysisError) -> JSONResponse:
        # No verdict was reached: the status says whose fault (422 the artefacts, 502/504
        # the provider or the artefact server, 503 no analyzer); never a made-up pass.
        log.warning(
            "no verdict",
            extra={"status": error.status, "reason": error.reason, "analyzer": analyzer.name},
        )
        return JSONResponse({"detail": error.reason}, status_code=error.status)

    # Plain (sync) handlers: FastAPI runs them in its thread pool, so a slow probe or a
    # blocking analyzer does not stall the event loop.
    @app.get(HEALTH_PATH)
    def health() -> dict[str, Any]:
        try:
            status = probe()
        except Exception:
            # A broken probe must not fail the health check: the ALB would then stop
            # every task, though validation (and the default analyzer) still works.
            log.exception("GPU probe failed")
            status = GpuStatus(available=False, source="error")
        return {
            "status": "ok",
            "gpu": {
                "available": status.available,
                "devices": [{"id": d.id, "name": d.name} for d in status.devices],
                "source": status.source,
            },
            "analyzer": analyzer.name,
        }

    @app.post("/validate", response_model=ValidationResponse)
    def validate(body: ValidationRequest) -> ValidationResponse:
        analysis = analyzer.analyze(body)
        # The description and the full artefacts URL (presigned URLs carry signatures)
        # stay out of the logs.
        log.info(
            "validated",
            extra={
                "session_id": body.context.session_id,
                "step": body.context.step,
                "part": body.args.part,
                "artifacts_host": body.context.artifacts_url.host,
                "valid": analysis.valid,
                "score": analysis.score,
                "analyzer": analyzer.name,
            },
        )
        return ValidationResponse(
            session_id=body.context.session_id,
            step=body.context.step,
            part=body.args.part,
            valid=analysis.valid,
            score=analysis.score,
            issues=[IssueOut(code=i.code, message=i.message) for i in analysis.issues],
            reasons=list(analysis.reasons),
            analyzer=analyzer.name,
        )

    # Added innermost first; see service_common.middleware for why this order.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        ApiKeyAuth,
        # Secret: the middleware list is printable, the key must not be.
        api_key=Secret(settings.api_key),
        key_ring=key_ring
        if key_ring is not None
        else ring_for(settings.api_key_secret_id, settings.api_key),
        public_paths=(HEALTH_PATH, *(DOCS_PATHS if docs else ())),
    )
    app.add_middleware(RequestLog, quiet_paths=(HEALTH_PATH,), logger=REQUEST_LOGGER)
    log.info("app ready", extra={"analyzer": analyzer.name, "docs": docs})
    return app


__getattr__ = lazy_app(__name__, globals(), lambda: create_app(Settings.from_env(os.environ)))
