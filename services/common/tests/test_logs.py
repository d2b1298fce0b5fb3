"""JSON log lines: one object per record, extras as fields, uvicorn's colour copy left out."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest
from service_common import logs


@pytest.fixture
def restore_root():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def record(message: str = "request", **extra) -> logging.LogRecord:
    made = logging.LogRecord("svc.part", logging.INFO, __file__, 1, message, None, None)
    made.__dict__.update(extra)
    made.created, made.msecs = 0.0, 7.0
    return made


def test_a_record_is_one_json_object_with_its_extras():
    line = logs.JsonFormatter().format(record(status=200, path="/move"))
    assert json.loads(line) == {
        "time": "1970-01-01T00:00:00.007Z",
        "level": "INFO",
        "logger": "svc.part",
        "message": "request",
        "status": 200,
        "path": "/move",
    }


def test_uvicorns_coloured_copy_of_the_message_is_left_out():
    # uvicorn adds color_message to its records; the worker's copy of this module (before the
    # services shared one) did not drop it, which only mattered where uvicorn logs.
    line = logs.JsonFormatter().format(record("started", color_message="\x1b[32mstarted\x1b[0m"))
    assert "color_message" not in json.loads(line)


def test_exceptions_and_values_json_cannot_hold_are_written_as_text():
    try:
        raise ValueError("boom")
    except ValueError:
        made = record("failed", when=object)
        made.exc_info = sys.exc_info()
    entry = json.loads(logs.JsonFormatter().format(made))
    assert "ValueError: boom" in entry["exception"]
    assert entry["when"] == str(object)


def test_configure_sends_every_logger_to_one_json_stream(restore_root):
    stream = io.StringIO()
    logs.configure("debug", stream)
    logging.getLogger("anything").debug("hello", extra={"n": 1})
    logging.getLogger("botocore").debug("noise")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(entry["logger"], entry["message"], entry.get("n")) for entry in lines] == [
        ("anything", "hello", 1)
    ]
