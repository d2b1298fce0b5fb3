"""The HTTP API, every route under ``BASE_PATH`` (``/api``, where the load balancer forwards):

- ``GET /health``: 200 without credentials (the target group's check; no database call, so
  a slow database does not take every task out of the load balancer).
- ``GET /v1/me``: who the credential is.
- ``POST /v1/keys``, ``GET /v1/keys``, ``GET|DELETE /v1/keys/{id}`` (``keys:manage``).
- ``POST /v1/eth-addresses``, ``GET /v1/eth-addresses``, ``DELETE /v1/eth-addresses/{address}``
  (``keys:manage``).
- ``GET /v1/models``, ``/v1/models/{name}``, ``/v1/models/{name}/versions``,
  ``/v1/models/{name}/versions/{version}``, ``.../metrics`` (``models:read``): MLflow's registry.

``create_app(settings)`` prepares the database (creates it if missing, Alembic migrations
under an advisory lock) before the app exists; tests may pass an engine and a registry.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from service_common.handlers import lazy_app, validation_error
from service_common.middleware import BodySizeLimit, RequestLog

from hokusai_api import db, eth
from hokusai_api.auth import Authenticator, Identity, require
from hokusai_api.keys import KeyStore
from hokusai_api.models import NewAddress, NewKey
from hokusai_api.registry import Registry, RegistryError
from hokusai_api.settings import Settings

log = logging.getLogger(__name__)

HEALTH_PATH = "/health"
REQUEST_LOGGER = "hokusai_api.middleware"
KEY_ID = r"^[0-9a-f]{16}$"
ADDRESS = r"^0x[0-9a-fA-F]{40}$"
MODEL_NAME = Annotated[str, Path(min_length=1, max_length=256)]
VERSION = Annotated[int, Path(ge=1, le=2**31 - 1)]
MAX_RESULTS = Annotated[int, Query(ge=1, le=200)]
PAGE_TOKEN = Annotated[str | None, Query(min_length=1, max_length=4096)]


def create_app(
    settings: Settings, *, engine: sa.engine.Engine | None = None, registry: Registry | None = None
) -> FastAPI:
    engine = engine or db.prepare(settings)
    registry = registry or Registry(settings)
    keys, addresses = KeyStore(engine), eth.EthStore(engine)
    authenticator = Authenticator(
        settings.admin_key, keys, addresses, settings.eth_max_lifetime_seconds
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        registry.close()

    app = FastAPI(
        title="Hokusai API",
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(RegistryError, _registry_error)
    app.add_exception_handler(sa.exc.OperationalError, _database_down)
    app.add_exception_handler(sa.exc.InterfaceError, _database_down)
    manage = Depends(require(authenticator, "keys:manage"))
    read = Depends(require(authenticator, "models:read"))
    router = APIRouter(prefix=settings.base_path)

    @router.get(HEALTH_PATH)
    def health() -> JSONResponse:
        # No database or MLflow call: a slow dependency must not take every task out of the
        # load balancer. But refused MLflow credentials mend only by a new task (the admin
        # password is read at start and rotates every 30 days), so they fail the check.
        if registry.credentials_refused:
            return JSONResponse({"status": "mlflow refused the API's credentials"}, 503)
        return JSONResponse({"status": "ok"})

    @router.get("/v1/me")
    def me(request: Request) -> dict:
        return authenticator.identify(request).as_json()

    @router.post("/v1/keys", status_code=201)
    def create_key(body: NewKey, caller: Identity = manage) -> dict:
        beyond = [s for s in body.scopes if s not in caller.scopes]
        if beyond:
            raise HTTPException(403, f"cannot grant scopes the caller lacks: {', '.join(beyond)}")
        key, record = keys.create(body.owner, tuple(body.scopes), body.expires_at)
        log.info("api key created", extra={"key_id": record.id, "by": caller.credential})
        return {**record.as_json(), "key": key, "note": "shown once; only a hash is stored"}

    @router.get("/v1/keys")
    def list_keys(
        _caller: Identity = manage,
        owner: Annotated[
            str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}$")
        ] = None,
        limit: MAX_RESULTS = 50,
        page_token: Annotated[str | None, Query(pattern=KEY_ID)] = None,
    ) -> dict:
        found, token = keys.list(owner, limit, page_token)
        return {"keys": [r.as_json() for r in found], "next_page_token": token}

    @router.get("/v1/keys/{key_id}")
    def get_key(key_id: Annotated[str, Path(pattern=KEY_ID)], _caller: Identity = manage) -> dict:
        record = keys.get(key_id)
        if record is None:
            raise HTTPException(404, f"no API key {key_id}")
        return record.as_json()

    @router.delete("/v1/keys/{key_id}")
    def revoke_key(key_id: Annotated[str, Path(pattern=KEY_ID)], caller: Identity = manage) -> dict:
        record = keys.revoke(key_id)
        if record is None:
            raise HTTPException(404, f"no API key {key_id}")
        log.info("api key revoked", extra={"key_id": key_id, "by": caller.credential})
        return record.as_json()

    @router.post("/v1/eth-addresses", status_code=201)
    def register_address(body: NewAddress, caller: Identity = manage) -> dict:
        beyond = [s for s in body.scopes if s not in caller.scopes]
        if beyond:
            raise HTTPException(403, f"cannot grant scopes the caller lacks: {', '.join(beyond)}")
        registration = addresses.register(body.address, body.owner, tuple(body.scopes))
        if registration is None:
            raise HTTPException(409, f"{body.address} is registered already")
        return registration.as_json()

    @router.get("/v1/eth-addresses")
    def list_addresses(
        _caller: Identity = manage,
        limit: MAX_RESULTS = 50,
        page_token: Annotated[str | None, Query(pattern=ADDRESS)] = None,
    ) -> dict:
        found, token = addresses.list(limit, page_token)
        return {"addresses": [r.as_json() for r in found], "next_page_token": token}

    @router.delete("/v1/eth-addresses/{address}", status_code=204)
    def remove_address(
        address: Annotated[str, Path(pattern=ADDRESS)], _caller: Identity = manage
    ) -> Response:
        try:
            normalized = eth.normalize_address(address)
        except ValueError as error:
            raise HTTPException(400, f"address: {error}") from None
        if not addresses.remove(normalized):
            raise HTTPException(404, f"{normalized} is not registered")
        return Response(status_code=204)

    @router.get("/v1/models")
    def list_models(
        _caller: Identity = read, max_results: MAX_RESULTS = 50, page_token: PAGE_TOKEN = None
    ) -> dict:
        return registry.models(max_results, page_token)

    @router.get("/v1/models/{name}")
    def get_model(name: MODEL_NAME, _caller: Identity = read) -> dict:
        return {"model": registry.model(name)}

    @router.get("/v1/models/{name}/versions")
    def list_versions(
        name: MODEL_NAME,
        _caller: Identity = read,
        max_results: MAX_RESULTS = 50,
        page_token: PAGE_TOKEN = None,
    ) -> dict:
        return registry.versions(name, max_results, page_token)

    @router.get("/v1/models/{name}/versions/{version}")
    def get_version(name: MODEL_NAME, version: VERSION, _caller: Identity = read) -> dict:
        return {"version": registry.version(name, version)}

    @router.get("/v1/models/{name}/versions/{version}/metrics")
    def version_metrics(name: MODEL_NAME, version: VERSION, _caller: Identity = read) -> dict:
        return registry.metrics(name, version)

    app.include_router(router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        RequestLog, quiet_paths=(settings.base_path + HEALTH_PATH,), logger=REQUEST_LOGGER
    )

    log.info("app ready", extra={"base_path": settings.base_path})
    return app


async def _registry_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RegistryError)
    return JSONResponse({"detail": str(error)}, status_code=error.status)


async def _database_down(_request: Request, _error: Exception) -> JSONResponse:
    log.warning("database unavailable", extra={"error": type(_error).__name__})
    return JSONResponse({"detail": "database unavailable; retry later"}, status_code=503)


def _build() -> Any:
    import os

    return create_app(Settings.from_env(os.environ))


__getattr__ = lazy_app(__name__, globals(), _build)
