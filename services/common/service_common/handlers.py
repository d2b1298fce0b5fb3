"""What the HTTP services' FastAPI apps share: the 4xx body of a request that fails
validation, and building the app once, on first use of ``<service>.app:app``."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


async def validation_error(_request: Request, error: Exception) -> JSONResponse:
    """FastAPI's 422 body without ``input`` (a bad request is not echoed back in full) and
    with the ``ctx`` values as text (a validator's exception would otherwise read ``{}``).
    Register with ``app.add_exception_handler(RequestValidationError, validation_error)``."""
    assert isinstance(error, RequestValidationError)
    detail = []
    for entry in error.errors():
        entry = {k: v for k, v in entry.items() if k != "input"}
        if "ctx" in entry:
            entry["ctx"] = {k: _plain(v) for k, v in entry["ctx"].items()}
        detail.append(entry)
    return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=422)


def _plain(value: object) -> object:
    return value if isinstance(value, str | int | float | bool | None) else str(value)


def lazy_app(
    module: str, namespace: MutableMapping[str, Any], build: Callable[[], Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` that builds ``app`` from the environment on first use, so
    importing the module (the tests do) reads no environment:
    ``__getattr__ = lazy_app(__name__, globals(), lambda: create_app(...))``."""

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module hook's own name
        if name != "app":
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        built = build()
        namespace["app"] = built  # built once; later lookups find it without coming here
        return built

    return __getattr__
