"""The HTTP API: ``GET /health`` (open) and ``POST /move`` (API key).

``create_app(settings)`` builds an app from settings that were already validated, so tests
make as many apps as they like with no environment at all. ``uvicorn ai_inference.app:app``
needs a module-level ``app``: it is built from the environment the first time it is asked
for (PEP 562 ``__getattr__``), not at import, so importing this module never needs an
``API_KEY`` — but serving always does: without a usable one, building ``app`` raises
``ConfigError`` and uvicorn exits before it listens.
"""

import logging
import os
import time
from typing import Any

from fastapi import FastAPI, Response
from fastapi.exceptions import RequestValidationError
from service_common.handlers import lazy_app, validation_error
from service_common.middleware import ApiKeyAuth, BodySizeLimit, RequestLog
from service_common.secret_keys import KeyRing, ring_for
from starlette.datastructures import Secret

from ai_inference.model_store import ModelStore, load_models
from ai_inference.policy import choose
from ai_inference.schemas import MoveRequest, MoveResponse
from ai_inference.settings import DEFAULT_MODEL_DIR, Settings

log = logging.getLogger(__name__)

HEALTH_PATH = "/health"
# The logger of the request lines (their "logger" field), as it was when each service kept
# its own copy of the layers: log queries that filter on it keep working.
REQUEST_LOGGER = "ai_inference.middleware"
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")
DEVICE = "cpu"
"""This image has no torch and so no GPU inference; the field keeps the seed's contract."""


def create_app(
    settings: Settings, *, store: ModelStore | None = None, key_ring: KeyRing | None = None
) -> FastAPI:
    """The app for ``settings``. ``store`` defaults to the models in ``settings.model_dir``
    (or ``DEFAULT_MODEL_DIR``), loaded now; ``key_ring`` to the ring of
    ``settings.api_key_secret_id`` (none without one: ``API_KEY`` alone)."""
    if store is None:
        store = load_models(settings.model_dir or DEFAULT_MODEL_DIR)
    docs = settings.enable_docs
    app = FastAPI(
        title="ai-inference",
        version="1",
        docs_url=DOCS_PATHS[0] if docs else None,
        redoc_url=DOCS_PATHS[2] if docs else None,
        openapi_url=DOCS_PATHS[3] if docs else None,
    )
    app.add_exception_handler(RequestValidationError, validation_error)

    @app.get(HEALTH_PATH)
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "models": [model.name for model in store.models],
            "skipped": [{"file": s.file, "reason": s.reason} for s in store.skipped],
            "device": DEVICE,
        }

    # A plain (sync) handler: FastAPI runs it in its thread pool, so ranking a long list of
    # moves does not stall the event loop.
    # The move goes back as it came: a ``NaN`` or ``Infinity`` the caller's parser produced
    # is written back as that literal (pydantic's JSON mode would make it ``null``, and
    # FastAPI's own response refuses it with a 500), hence a Response written here.
    @app.post("/move", response_model=MoveResponse)
    def move(body: MoveRequest) -> Response:
        started = time.perf_counter()
        game_state = body.game_state.model_dump()
        moves = game_state["legal_moves"]
        choice = choose(game_state, moves, body.player_number, body.difficulty, store)
        thinking_ms = round((time.perf_counter() - started) * 1000, 3)
        log.info(
            "move chosen",
            extra={
                "player_number": body.player_number,
                "difficulty": body.difficulty,
                "policy": choice.policy,
                "legal_moves": len(moves),
                "thinking_ms": thinking_ms,
                **({"model_not_used": choice.reason} if choice.reason else {}),
            },
        )
        answer = MoveResponse(
            move=moves[choice.index],
            player_number=body.player_number,
            difficulty=body.difficulty,
            policy=choice.policy,
            thinking_ms=thinking_ms,
        )
        return Response(answer.model_dump_json(), media_type="application/json")

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
    log.info("app ready", extra={"models": len(store.models), "docs": docs})
    return app


__getattr__ = lazy_app(__name__, globals(), lambda: create_app(Settings.from_env(os.environ)))
