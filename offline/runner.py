"""Run the real ``__main__.py`` under the mock engine with a real stack file's config.

The config is assembled as the Pulumi CLI would: the stack file's values, then each
``Pulumi.yaml`` default for a key the stack file does not set, every value as the string
the engine hands a Python program (JSON for structured values). Encrypted (``secure:``)
values cannot be read without the stack's key, so they become a placeholder marked secret.
"""

from __future__ import annotations

import asyncio
import gc
import json
import runpy
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from offline.mocks import SECRET_PLACEHOLDER, PlatformMocks, RecordedResource, RecordingMonitor

PROJECT_DIR = Path(__file__).resolve().parent.parent


def _as_engine_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def stack_config(stack: str, project_dir: Path = PROJECT_DIR) -> tuple[dict[str, str], list[str]]:
    """The engine's config map and secret keys for ``Pulumi.<stack>.yaml``."""
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    stack_file = project_dir / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        raise FileNotFoundError(f"no stack file {stack_file.name} in {project_dir}")
    values = (yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in values.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            secret_keys.append(key)
            value = SECRET_PLACEHOLDER
        config[key] = _as_engine_string(value)
    namespace = project["name"]
    for key, declaration in (project.get("config") or {}).items():
        full_key = key if ":" in key else f"{namespace}:{key}"
        declared = declaration if isinstance(declaration, dict) else {"default": declaration}
        for source in ("default", "value"):
            if full_key not in config and declared.get(source) is not None:
                config[full_key] = _as_engine_string(declared[source])
    return config, secret_keys


class ProgramError(Exception):
    """The program failed; :attr:`resources` is what it had registered by then."""

    def __init__(self, error: BaseException, resources: list[RecordedResource]):
        super().__init__(str(error))
        self.error = error
        self.resources = resources


class OverrideError(ValueError):
    """An override that cannot be applied (a field of a value that is not an object)."""


def apply_override(config: dict[str, str], key: str, value: Any) -> None:
    """Set ``key`` in the engine's config map as ``pulumi config set --path`` would.

    ``key`` is ``namespace:name`` or ``namespace:name.field.sub``; a bare name means the
    ``mlplatform`` namespace. None removes the key (or the field). A field of a value that
    is not an object raises :class:`OverrideError`.
    """
    if ":" not in key.split(".")[0]:
        key = f"mlplatform:{key}"
    top, _, path = key.partition(".")
    if not path:
        if value is None:
            config.pop(top, None)
        else:
            config[top] = _as_engine_string(value)
        return
    try:
        document = json.loads(config[top]) if top in config else {}
    except ValueError:
        document = config[top]
    if not isinstance(document, dict):
        raise OverrideError(f"{top} is {document!r}, not an object, so {key} cannot be set")
    node = document
    *parents, leaf = path.split(".")
    for depth, part in enumerate(parents, start=1):
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            where = ".".join([top, *parents[:depth]])
            raise OverrideError(f"{where} is {node!r}, not an object, so {key} cannot be set")
    if value is None:
        node.pop(leaf, None)
    else:
        node[leaf] = value
    config[top] = json.dumps(document)


@dataclass
class ProgramRun:
    """What one run of the program registered and exported."""

    stack: str
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    secret_outputs: frozenset[str]
    config: dict[str, str] = field(default_factory=dict)

    def of_type(self, type_token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str) -> RecordedResource:
        found = self.of_type(type_token)
        if len(found) != 1:
            raise AssertionError(f"expected one {type_token}, found {len(found)}")
        return found[0]

    def named(self, name: str) -> RecordedResource:
        for r in self.resources:
            if r.name == name:
                return r
        raise KeyError(f"no resource named {name!r}")

    def children_of(self, parent: RecordedResource) -> list[RecordedResource]:
        return [r for r in self.resources if r.parent == parent.urn]

    def subtree(self, name: str) -> ProgramRun:
        """This run restricted to the component ``name`` and everything under it."""
        root = self.named(name)
        urns = {root.urn}
        kept = []
        for r in self.resources:  # registration order: a parent comes before its children
            if r.urn in urns or r.parent in urns:
                urns.add(r.urn)
                kept.append(r)
        return ProgramRun(self.stack, kept, self.outputs, self.secret_outputs, self.config)

    def counts(self) -> Counter[str]:
        return Counter(r.type for r in self.resources)


def run_program(
    stack: str,
    overrides: dict[str, Any] | None = None,
    project_dir: Path = PROJECT_DIR,
    preview: bool = False,
) -> ProgramRun:
    """Run ``__main__.py`` for ``stack`` under mocks; ``overrides`` are applied with
    :func:`apply_override`.

    A failing program raises :class:`ProgramError` (for bad config its ``error`` is a
    ``pulumi.RunError``).
    """
    config, secret_keys = stack_config(stack, project_dir)
    for key, value in (overrides or {}).items():
        apply_override(config, key, value)
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))

    def program() -> None:
        runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")

    return run_function(program, stack, config, secret_keys, preview)


def run_function(
    program: Callable[[], Any],
    stack: str = "test",
    config: dict[str, str] | None = None,
    secret_keys: list[str] | None = None,
    preview: bool = False,
) -> ProgramRun:
    """Run ``program`` (any function that registers resources) under the recording mocks."""
    config = dict(config or {})
    # A loop of its own per run: a failed program leaves tasks behind (applies, invokes)
    # that must not wake up inside the next run.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    platform_mocks = PlatformMocks(region=config.get("aws:region", "us-east-1"))
    monitor = RecordingMonitor(platform_mocks)
    pulumi_settings.ROOT.set(None)
    set_all_config(config, secret_keys or [])
    pulumi_mocks.set_mocks(
        platform_mocks, project="mlplatform", stack=stack, preview=preview, monitor=monitor
    )
    # Output tasks a failed run left behind belong to its closed loop (pulumi's own
    # runtime.test clears them the same way).
    pulumi_settings.SETTINGS.outputs.clear()
    try:
        _sync_await(run_pulumi_func(program))
        outputs, secret = _resolve_outputs()
    except Exception as error:
        raise ProgramError(error, list(monitor.recorded)) from error
    finally:
        _close(loop)
    return ProgramRun(stack, list(monitor.recorded), outputs, secret, config)


def _close(loop: asyncio.AbstractEventLoop) -> None:
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()
    asyncio.set_event_loop(None)
    # Collect the loops the SDK's worker threads made now, not at interpreter exit, where
    # closing them prints spurious errors.
    gc.collect()
    _freeze_the_imports_once()


def _freeze_the_imports_once() -> None:
    """After the first run, move what is alive then (the SDKs' modules and classes, loaded
    lazily by that run) out of the collector's reach: every later full collection, one per
    run, then scans only what runs made since, instead of the hundreds of thousands of
    objects of pulumi_aws's modules each time (most of a test session's time otherwise)."""
    if gc.get_freeze_count() == 0:
        gc.freeze()


def _resolve_outputs() -> tuple[dict[str, Any], frozenset[str]]:
    root = pulumi_settings.get_root_resource()
    outputs: dict[str, Any] = {}
    secret: set[str] = set()
    for name, value in getattr(root, "outputs", {}).items():
        output = pulumi.Output.from_input(value)
        outputs[name] = _sync_await(output.future())
        if _sync_await(output.is_secret()):
            secret.add(name)
    return outputs, frozenset(secret)
