"""Helpers of the config tests: a real stack file's config with overrides, parsed as
``pulumi up`` would parse it, and the problems it is refused with."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from components.config import settings as s
from offline.runner import apply_override, stack_config

KNOWN = frozenset({"cmaes_worker", "vision_validator", "ai_inference"})
"""The services the tests pretend exist (``parse`` otherwise lists ``services/``)."""


def _config_for(stack: str, **overrides) -> dict[str, str]:
    config, _ = stack_config(stack)
    for path, value in overrides.items():
        apply_override(config, path.replace("__", "."), value)
    return config


def _problems_of(config: dict[str, str], stack: str = "dev") -> list[str]:
    with pytest.raises(s.ConfigError) as caught:
        s.parse(config, stack, known_services=KNOWN)
    return caught.value.problems


@pytest.fixture
def config_for() -> Callable[..., dict[str, str]]:
    """``config_for(stack, **overrides)``: the stack file's config map, each override
    (``section__key`` for ``section.key``, or a whole ``mlplatform:key``) applied."""
    return _config_for


@pytest.fixture
def problems_of() -> Callable[..., list[str]]:
    """``problems_of(config, stack="dev")``: the problems ``parse`` refuses a config with."""
    return _problems_of


@pytest.fixture
def problems_for() -> Callable[..., list[str]]:
    """``problems_for(stack, **overrides)``: the problems of the stack file so changed."""
    return lambda stack, **overrides: _problems_of(_config_for(stack, **overrides), stack)


@pytest.fixture
def parses() -> Callable[..., s.Settings]:
    """``parses(stack, **overrides)``: the settings of the stack file so changed."""
    return lambda stack, **overrides: s.parse(
        _config_for(stack, **overrides), stack, known_services=KNOWN
    )


@pytest.fixture
def only() -> Callable[[list[str], str], str]:
    """``only(problems, key)``: the one problem that names ``key``."""

    def only(problems: list[str], key: str) -> str:
        matching = [p for p in problems if p.startswith(f"{key}:")]
        assert len(matching) == 1, problems
        return matching[0]

    return only


@pytest.fixture
def refused(config_for, problems_of) -> Callable[[dict, str, str], None]:
    """``refused(overrides, key, accepted)``: dev with ``overrides`` is refused by a
    problem that names ``key`` and contains ``accepted``, a phrase of the accepted form."""

    def refused(overrides: dict, key: str, accepted: str) -> None:
        problems = problems_of(config_for("dev", **overrides))
        matching = [p for p in problems if p.startswith(f"{key}:")]
        assert matching, f"no problem names {key}: {problems}"
        assert any(accepted in p for p in matching), matching

    return refused
