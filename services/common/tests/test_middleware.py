"""The shared ASGI layers on a bare Starlette app: what each service's own tests rely on."""

from __future__ import annotations

import logging

from service_common.middleware import ApiKeyAuth, BodySizeLimit, RequestLog
from starlette.applications import Starlette
from starlette.datastructures import Secret
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

KEY = "a-usable-key-0123456789"


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({"size": len(await request.body())})


def client(**request_log) -> TestClient:
    app = Starlette(routes=[Route("/echo", echo, methods=["POST"]), Route("/health", echo)])
    app.add_middleware(BodySizeLimit, max_bytes=8)
    app.add_middleware(ApiKeyAuth, api_key=Secret(KEY), public_paths=("/health",))
    app.add_middleware(RequestLog, quiet_paths=("/health",), **request_log)
    return TestClient(app)


def test_request_lines_go_to_the_logger_the_service_names(caplog):
    with caplog.at_level(logging.DEBUG):
        client(logger="svc.middleware").post("/echo", headers={"X-API-Key": KEY}, content=b"hi")
    lines = [r for r in caplog.records if r.getMessage() == "request"]
    assert [(r.name, r.levelno, r.status, r.path) for r in lines] == [
        ("svc.middleware", logging.INFO, 200, "/echo")
    ]


def test_by_default_the_logger_is_the_modules_and_health_checks_log_at_debug(caplog):
    with caplog.at_level(logging.DEBUG):
        client().get("/health")
    lines = [r for r in caplog.records if r.getMessage() == "request"]
    assert [(r.name, r.levelno) for r in lines] == [("service_common.middleware", logging.DEBUG)]


def test_the_key_is_checked_before_the_body_limit():
    test = client()
    assert test.post("/echo", content=b"x" * 100).status_code == 401
    refused = test.post("/echo", headers={"Authorization": f"Bearer {KEY}"}, content=b"x" * 100)
    assert refused.status_code == 413
    assert refused.headers["X-Request-Id"]
