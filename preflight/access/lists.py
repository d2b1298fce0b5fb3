"""The access lists (``services/<image>/aws_access.yaml``) and the scan of the code they cover."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

ACCESS_FILE = "aws_access.yaml"


# --- the lists ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Program:
    """Who makes a group of calls: ``runs_as`` is ``task``, ``execution``, ``instance`` or
    ``{"role": <logical name>, "user": <logical name>}`` (each where registered);
    ``container`` the container making them (default: the image's own)."""

    name: str
    runs_as: Any
    container: str | None = None


@dataclass(frozen=True)
class Call:
    """One entry of an access list."""

    program: str
    actions: tuple[str, ...]
    resources: tuple[str, ...] = ()
    service: str | None = None
    """The botocore service name, for a boto3 call of our code."""
    method: str | None = None
    """The boto3 method (snake_case), for a boto3 call of our code."""
    call: str | None = None
    """What the call is, for one made on our behalf."""
    when: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Container variable -> the values under which the call is made (default: always)."""
    context: Mapping[str, Any] = field(default_factory=dict)
    """Condition keys the request carries (a value may be a symbol, resolved like a resource)."""
    multipart: bool = False
    """An S3 upload that may be multipart (needs kms:Decrypt besides GenerateDataKey)."""
    deployed: bool = True
    """False for code no deployed task runs (test and local-development helpers)."""

    def describe(self) -> str:
        return f"{self.service}.{self.method}" if self.method else str(self.call)


@dataclass(frozen=True)
class AccessList:
    """One image's ``aws_access.yaml``."""

    image: str
    """The directory under ``services/`` (and the last part of its ECR repository's name)."""
    path: Path
    programs: Mapping[str, Program]
    bindings: Mapping[str, Mapping[str, Any]]
    """The ``resources`` section: symbol -> ``{type, name, env}`` or ``{env_list, arn}``."""
    calls: tuple[Call, ...]


def load_access_list(path: Path) -> AccessList:
    """One ``aws_access.yaml``; ``ValueError`` naming the file and entry when malformed."""
    import yaml  # a development requirement; the proof runs in the test suite

    raw = yaml.safe_load(path.read_text()) or {}
    programs = {
        name: Program(name, spec.get("runs_as"), spec.get("container"))
        for name, spec in (raw.get("programs") or {}).items()
    }
    calls = []
    for index, entry in enumerate(raw.get("calls") or []):
        where = f"{path}: calls[{index}]"
        if entry.get("program") not in programs:
            raise ValueError(f"{where}: program {entry.get('program')!r} is not declared")
        if not entry.get("actions"):
            raise ValueError(f"{where}: no actions")
        if bool(entry.get("method")) == bool(entry.get("call")):
            raise ValueError(f"{where}: give either service+method (our code) or call")
        if entry.get("method") and not entry.get("service"):
            raise ValueError(f"{where}: a method needs its service")
        if entry.get("deployed", True) and not entry.get("resources"):
            raise ValueError(f"{where}: no resources")
        calls.append(
            Call(
                program=entry["program"],
                actions=tuple(entry["actions"]),
                resources=tuple(entry.get("resources") or ()),
                service=entry.get("service"),
                method=entry.get("method"),
                call=entry.get("call"),
                when=entry.get("when") or {},
                context=entry.get("context") or {},
                multipart=bool(entry.get("multipart", False)),
                deployed=bool(entry.get("deployed", True)),
            )
        )
    return AccessList(
        image=raw.get("image") or path.parent.name,
        path=path,
        programs=programs,
        bindings=raw.get("resources") or {},
        calls=tuple(calls),
    )


def load_access_lists(services: Path) -> list[AccessList]:
    """Every image's list under ``services``, in directory order."""
    return [load_access_list(p) for p in sorted(services.glob(f"*/{ACCESS_FILE}"))]


def images(services: Path) -> list[Path]:
    """The service image directories (each holds a ``Dockerfile``)."""
    return sorted(p.parent for p in services.glob("*/Dockerfile"))


def functions(services: Path) -> list[Path]:
    """The Lambda function packages: a directory with an access list and no Dockerfile
    (``components/blocks/function.py`` zips it)."""
    return sorted(
        p.parent
        for p in services.glob(f"*/{ACCESS_FILE}")
        if not (p.parent / "Dockerfile").exists()
    )


# --- the AST scan -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FoundCall:
    path: str
    line: int
    service: str
    method: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.service}.{self.method}"


INJECTED = {
    "s3": (
        "upload_file",
        "upload_fileobj",
        "download_file",
        "download_fileobj",
        "copy",
        "generate_presigned_url",
        "generate_presigned_post",
    ),
    "dynamodb": ("batch_writer",),
}
"""Methods boto3 adds to a service's clients and resources that are no botocore operation
but make (or sign) requests: the S3 transfer manager's and presigning methods, and the
DynamoDB table's batch writer (boto3 guide, "Uploading files", "Presigned URLs",
"Batch writing"). The scan reports them like operations; their entries name the
operations they stand for in ``actions``."""


@cache
def operations(service: str) -> frozenset[str]:
    """The snake_case operation names of a botocore service (``put_item``, ...), and the
    methods boto3 injects for it (:data:`INJECTED`)."""
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    return frozenset(xform_name(name) for name in model.operation_names) | set(
        INJECTED.get(service, ())
    )


_FACTORIES = ("client", "resource")


def _created_services(tree: ast.AST) -> set[str]:
    """Services of the clients a module creates: ``boto3.client("sqs")``,
    ``session.resource("dynamodb")``, or a helper of ours named ``client``/``resource``
    given the service as its first argument (``queues.client("s3")``)."""
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name not in _FACTORIES:
            continue
        first = node.args[0] if node.args else None
        for keyword in node.keywords:
            if keyword.arg == "service_name":
                first = keyword.value
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.add(first.value)
    return found


_BY_NAME = ("get_paginator", "can_paginate", "get_waiter")


def _attribute_uses(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every ``<expr>.<name>`` read: calls and bound methods handed on (``_batch(sqs.x)``),
    and the operation a paginator or waiter is asked for by name
    (``s3.get_paginator("list_objects_v2")``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            yield node.lineno, node.attr
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _BY_NAME
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def scan_sources(sources: Mapping[str, str]) -> list[FoundCall]:
    """The boto3 calls in ``sources`` (path -> Python text) taken as one image: the services
    are those any of its modules creates a client or resource for (a client made in one
    module is used in another), the calls every attribute named as one of their operations."""
    trees = {path: ast.parse(text, filename=path) for path, text in sources.items()}
    services = sorted(set().union(*(_created_services(t) for t in trees.values())))
    found = []
    for path, tree in trees.items():
        for line, name in _attribute_uses(tree):
            for service in services:
                if name in operations(service):
                    found.append(FoundCall(path, line, service, name))
    return sorted(set(found), key=lambda c: (c.path, c.line, c.service, c.method))


SHARED_PACKAGE = "service_common"
"""The package every image and function carries (``services/common/service_common``)."""


TEST_SUPPORT_PACKAGE = "service_testing"
"""``services/common/service_testing``: the tests' helpers (moto, local servers), which no
image or function package copies; its calls are the tests', not a service's."""


def _shared_imports(sources: Mapping[str, str]) -> set[str]:
    """The ``service_common`` modules the sources import."""
    found = set()
    for text in sources.values():
        for node in ast.walk(ast.parse(text)):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            found |= {n.split(".")[1] for n in names if n.startswith(f"{SHARED_PACKAGE}.")}
    return found


def scan_image(directory: Path) -> list[FoundCall]:
    """The boto3 calls of every non-test Python file of one image (or function package;
    not ``tests/`` nor the test-support package), and of each module of the shared package
    it imports: its copy makes them too."""
    sources = {
        str(p.relative_to(directory.parent)): p.read_text()
        for p in sorted(directory.rglob("*.py"))
        if not {"tests", TEST_SUPPORT_PACKAGE} & set(p.relative_to(directory).parts)
        and not p.name.startswith("test_")
    }
    shared = directory.parent / "common" / SHARED_PACKAGE
    if directory != shared.parent:
        for module in sorted(_shared_imports(sources)):
            path = shared / f"{module}.py"
            if path.exists():
                sources[str(path.relative_to(directory.parent))] = path.read_text()
    return scan_sources(sources)


def unlisted_calls(access: AccessList | None, found: Iterable[FoundCall]) -> list[FoundCall]:
    """The calls without an entry (same service and method) in ``access``."""
    listed = {(c.service, c.method) for c in (access.calls if access else ())}
    return [c for c in found if (c.service, c.method) not in listed]
