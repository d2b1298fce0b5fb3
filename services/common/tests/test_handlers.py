"""The shared FastAPI handlers: a validation error's 4xx body, and the lazily built app."""

from __future__ import annotations

import types

import pytest
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient
from pydantic import BaseModel, field_validator
from service_common.handlers import lazy_app, validation_error


class Body(BaseModel):
    size: int

    @field_validator("size")
    @classmethod
    def positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("size must be positive")
        return value


def app() -> FastAPI:
    made = FastAPI()
    made.add_exception_handler(RequestValidationError, validation_error)

    @made.post("/things")
    def create(body: Body) -> dict:
        return {"size": body.size}

    return made


def test_a_bad_request_is_answered_422_without_echoing_its_input():
    response = TestClient(app()).post("/things", json={"size": "x" * 50})
    assert response.status_code == 422
    (entry,) = response.json()["detail"]
    assert entry["loc"] == ["body", "size"] and "input" not in entry


def test_a_validators_reason_reads_as_text():
    response = TestClient(app()).post("/things", json={"size": -1})
    (entry,) = response.json()["detail"]
    assert entry["ctx"] == {"error": "size must be positive"}


def test_the_app_is_built_once_on_first_use_and_nothing_else_is_answered():
    built = []
    module = types.ModuleType("svc.app")
    module.__getattr__ = lazy_app("svc.app", vars(module), lambda: built.append(1) or "the app")
    assert module.app == "the app" and module.app == "the app"
    assert built == [1]
    with pytest.raises(AttributeError, match="has no attribute 'other'"):
        module.other  # noqa: B018
