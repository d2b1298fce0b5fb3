"""EnvReader: each variable read once, every problem named together in one ConfigError."""

from __future__ import annotations

import pytest
from service_common.env import (
    ConfigError,
    EnvReader,
    api_key_problem,
    server_problems,
)


def test_unset_and_blank_variables_take_their_defaults():
    read = EnvReader({"PORT": "  ", "ENABLE_DOCS": ""})
    assert read.integer("PORT", 8000, 1, 65535) == 8000
    assert read.flag("ENABLE_DOCS") is False
    assert read.log_level() == "INFO"
    assert read.text("NAME", "fallback") == "fallback"
    read.check()  # nothing to report


def test_values_are_stripped_and_parsed():
    read = EnvReader({"PORT": " 9000 ", "ENABLE_DOCS": "Yes", "LOG_LEVEL": "debug", "N": " x "})
    assert read.integer("PORT", 8000, 1, 65535) == 9000
    assert read.flag("ENABLE_DOCS") is True
    assert read.log_level() == "DEBUG"
    assert read.text("N") == "x"


def test_every_bad_variable_is_named_in_one_error_in_reading_order():
    read = EnvReader({"PORT": "http", "MAX": "99", "ENABLE_DOCS": "maybe", "LOG_LEVEL": "loud"})
    assert read.integer("PORT", 8000, 1, 65535) == 8000  # bad values fall back to the default
    assert read.integer("MAX", 5, 1, 10) == 5
    assert read.flag("ENABLE_DOCS") is False
    assert read.log_level() == "INFO"
    with pytest.raises(ConfigError) as raised:
        read.check()
    assert str(raised.value) == (
        "PORT: expected an integer from 1 to 65535, got 'http'; "
        "MAX: expected an integer from 1 to 10, got '99'; "
        "ENABLE_DOCS: expected true or false, got 'maybe'; "
        "LOG_LEVEL: expected one of DEBUG, INFO, WARNING, ERROR, got 'LOUD'"
    )


def test_a_signed_integer_is_refused():
    read = EnvReader({"N": "-1"})
    assert read.integer("N", 3, 0, 10) == 3
    assert read.problems == ["N: expected an integer from 0 to 10, got '-1'"]


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        (None, "API_KEY: required"),
        ("", "API_KEY: required"),
        ("fifteen-chars-x", "API_KEY: shorter than 16 characters"),
        ("sixteen chars ok", "API_KEY: only visible ASCII"),
        ("kéy-with-accent-0123", "API_KEY: only visible ASCII"),
        ("a-usable-key-0123456789", None),
    ],
)
def test_an_api_key_must_be_16_visible_ascii_characters(key, problem):
    found = api_key_problem(key)
    assert (found is None) if problem is None else found.startswith(problem)


def test_the_shared_server_fields_are_checked_together():
    assert server_problems(1, "INFO", 8000) == []
    assert server_problems(0, "LOUD", 70000) == [
        "MAX_BODY_BYTES: expected at least 1, got 0",
        "LOG_LEVEL: expected one of DEBUG, INFO, WARNING, ERROR",
        "PORT: expected 1 to 65535, got 70000",
    ]
