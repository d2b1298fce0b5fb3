"""The field machinery every config section is built from.

A section is a frozen dataclass whose fields are made with :func:`setting`: each carries
its default, one line of documentation and an optional check, so the parser, the
``Pulumi.yaml`` declarations (see ``tests/test_project_files.py``) and the README's
config reference all follow one definition. This module holds what the sections share:
:func:`setting`, the check constructors and the forms several sections accept,
:class:`ConfigError`, and :func:`parse_section`, which reads a section from the engine's
strings (a scalar key as its text, a structured key as JSON) and reports each bad key.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import json
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import field
from pathlib import Path
from typing import Any

from components.lib import fargate

PROJECT = "mlplatform"
"""The config namespace: every key below is ``mlplatform:<key>``."""
PRICES_FILE = Path(__file__).resolve().parents[2] / "offline" / "prices-us-east-1.json"
"""The dated price list the offline plan prices with; the one list of the RDS instance
classes and ElastiCache node types a stack may use."""

Check = Callable[[Any], "str | None"]
"""A check returns None for a good value, else the accepted form in words."""


class ConfigError(Exception):
    """Invalid stack configuration; the message names every bad key and what it accepts."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        noun = "problem" if len(problems) == 1 else "problems"
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"Invalid stack configuration ({len(problems)} {noun}):\n{lines}")


def setting(
    default: Any,
    doc: str,
    check: Check | None = None,
    required: bool = False,
    secret: bool = False,
) -> Any:
    """A config field: its default, one line of documentation and an optional check.

    A ``secret`` field must be set with ``pulumi config set --secret`` and is left out of
    the settings' repr, so it never lands in a log or an error message.
    """
    if isinstance(default, (dict, list)):
        raise TypeError("use tuples and MappingProxyType for defaults; settings are frozen")
    metadata = {"doc": doc, "check": check, "required": required, "secret": secret}
    if isinstance(default, Mapping):  # read-only, but unhashable: dataclasses want a factory
        frozen = types.MappingProxyType(dict(default))
        return field(default_factory=lambda: frozen, metadata=metadata, repr=not secret)
    return field(default=default, metadata=metadata, repr=not secret)


# --- checks -------------------------------------------------------------------------


def one_of(*choices: Any) -> Check:
    def check(value: Any) -> str | None:
        return None if value in choices else "one of " + ", ".join(map(str, choices))

    return check


def int_range(low: int, high: int) -> Check:
    def check(value: int) -> str | None:
        return None if low <= value <= high else f"an integer from {low} to {high}"

    return check


def matches(pattern: str, form: str) -> Check:
    compiled = re.compile(pattern)

    def check(value: str) -> str | None:
        return None if compiled.fullmatch(value) else form

    return check


def min_length(n: int) -> Check:
    def check(value: str) -> str | None:
        return None if value == "" or len(value) >= n else f"empty, or at least {n} characters"

    return check


def cidr_error(value: str, min_prefix: int = 0, max_prefix: int = 32) -> str | None:
    """None for an IPv4 CIDR (network address, prefix in range), else the accepted form."""
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError:
        return f"an IPv4 CIDR such as 10.0.0.0/16 (got {value!r})"
    if not min_prefix <= network.prefixlen <= max_prefix:
        return f"a prefix from /{min_prefix} to /{max_prefix} (got /{network.prefixlen})"
    return None


ACM_CERTIFICATE_ARN = matches(
    r"(arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36})?",
    "an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<uuid>) or empty",
)
IMAGE_URI = re.compile(
    r"[a-z0-9.-]+(:\d+)?(/[a-z0-9._-]+)+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?"
)
"""A container image URI: registry, repository path, then a tag, a digest or both."""


@functools.cache
def priced(kind: str) -> tuple[str, ...]:
    """The sizes of ``kind`` (``rds``, ``elasticache``, ``ec2``) the price file lists."""
    return tuple(sorted(json.loads(PRICES_FILE.read_text())["hourly"][kind]))


def priced_size(kind: str, form: str) -> Check:
    def check(value: str) -> str | None:
        if value in priced(kind):
            return None
        return f"{form} listed in offline/{PRICES_FILE.name}: {', '.join(priced(kind))}"

    return check


CACHE_NODE_TYPE = priced_size("elasticache", "an ElastiCache node type (cache.<family>.<size>)")


def fargate_size_error(cpu: int, memory: int) -> str | None:
    """None when Fargate runs a task of ``cpu`` units and ``memory`` MiB, else the memory
    sizes it accepts with that cpu, in words (``components/lib/fargate.py``)."""
    return None if fargate.is_valid(cpu, memory) else fargate.describe(cpu)


def check_fargate_size(
    problems: list[str], cpu_key: str, memory_key: str, cpu: int, memory: int
) -> None:
    """The memory at ``memory_key`` must pair with the cpu at ``cpu_key`` as Fargate
    accepts; a cpu already refused (not one of Fargate's) is not blamed twice."""
    if any(p.startswith(f"{cpu_key}:") for p in problems):
        return
    if accepted := fargate_size_error(cpu, memory):
        problems.append(f"{memory_key}: expected {accepted}")


# --- parsing ------------------------------------------------------------------------


def config_fields(cls: type) -> list[dataclasses.Field]:
    """The fields of a settings class that are config keys."""
    return [f for f in dataclasses.fields(cls) if f.metadata.get("config", True)]


def is_section(tp: Any) -> bool:
    """True when a field's type is a section (a nested object of settings)."""
    return dataclasses.is_dataclass(tp)


def section_list_item(tp: Any) -> Any:
    """The section type of a ``tuple[Section, ...]`` field, else None."""
    if typing.get_origin(tp) is tuple:
        (item, *_rest) = typing.get_args(tp)
        if is_section(item):
            return item
    return None


def _int_tuple(tp: Any) -> bool:
    """True for a ``tuple[int, ...]`` field (a list of integers in the stack file)."""
    return typing.get_origin(tp) is tuple and typing.get_args(tp)[:1] == (int,)


def _type_name(tp: Any) -> str:
    if tp is bool:
        return "a boolean"
    if tp is int:
        return "an integer"
    if tp is str:
        return "a string"
    if section_list_item(tp):
        return "a list of objects"
    if _int_tuple(tp):
        return "a list of integers"
    if typing.get_origin(tp) is tuple:
        return "a list of strings"
    if is_section(tp):
        return "an object"
    return "an object of string values"


def _coerce(tp: Any, value: Any, from_text: bool) -> tuple[bool, Any]:
    """Check ``value`` is of type ``tp``; ``from_text`` accepts the engine's string forms."""
    if from_text and isinstance(value, str):
        if tp is bool and value in ("true", "false"):
            return True, value == "true"
        if tp is int and re.fullmatch(r"-?\d+", value):
            return True, int(value)
        if tp is not str:
            try:
                value = json.loads(value)
            except ValueError:
                return False, None
            return _coerce(tp, value, from_text=False)
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is str:
        return isinstance(value, str), value
    if section_list_item(tp):
        ok = isinstance(value, list) and all(isinstance(v, dict) for v in value)
        return ok, value if ok else None
    if _int_tuple(tp):
        ok = isinstance(value, list) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        )
        return ok, tuple(value) if ok else None
    if typing.get_origin(tp) is tuple:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return ok, tuple(value) if ok else None
    if is_section(tp):
        return isinstance(value, dict), value
    ok = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    return ok, types.MappingProxyType(dict(value)) if ok else None


def parse_section(cls: type, raw: Mapping[str, Any], path: str, problems: list[str],
                  from_text: bool = False) -> Any:  # fmt: skip
    """An instance of the section ``cls`` from ``raw`` (its keys under ``path``), each
    field's type and check applied; a bad key keeps its default and is added to
    ``problems``."""
    hints = typing.get_type_hints(cls)
    fields = config_fields(cls)
    known = {f.name for f in fields}
    for key in sorted(set(raw) - known):
        problems.append(f"{path}{key}: unknown key; accepted keys: {', '.join(sorted(known))}")
    values: dict[str, Any] = {}
    for f in fields:
        key, tp = f"{path}{f.name}", hints[f.name]
        if f.name not in raw:
            if f.metadata.get("required"):
                problems.append(f"{key}: required; {_accepted(f, tp)}")
            continue
        ok, value = _coerce(tp, raw[f.name], from_text)
        if not ok:
            problems.append(f"{key}: expected {_type_name(tp)}, got {raw[f.name]!r}")
            continue
        if is_section(tp):
            values[f.name] = parse_section(tp, value, f"{key}.", problems)
            continue
        if item := section_list_item(tp):
            values[f.name] = tuple(
                parse_section(item, v, f"{key}[{i}].", problems) for i, v in enumerate(value)
            )
            continue
        check = f.metadata.get("check")
        if check and (accepted := check(value)):
            got = "" if "(got " in accepted else f" (got {_shown(value)})"
            problems.append(f"{key}: expected {accepted}{got}")
            continue
        values[f.name] = value
    return cls(**values)


def _shown(value: Any) -> str:
    return repr(list(value)) if isinstance(value, tuple) else repr(value)


def _accepted(f: dataclasses.Field, tp: Any) -> str:
    check = f.metadata.get("check")
    bad = check("") if check else None
    return f"expected {bad}" if bad else f"expected {_type_name(tp)}"


def defaults_as_config(cls: type) -> dict[str, Any]:
    """The default of every config key of ``cls``, as it would be written in a stack file."""
    out: dict[str, Any] = {}
    for f in config_fields(cls):
        if f.metadata.get("required"):
            continue
        default = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
        out[f.name] = _plain(default)
    return out


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in config_fields(type(value))}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value
