"""Pulumi.yaml and the stack files say what the code does."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
import yaml

from components.config import settings as s

ROOT = Path(__file__).resolve().parent.parent
PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
SCALAR_TYPES = {bool: "boolean", int: "integer", str: "string"}


def test_project_is_python_with_pip_and_the_venv():
    assert PROJECT["name"] == "mlplatform"
    assert PROJECT["runtime"] == {
        "name": "python",
        "options": {"toolchain": "pip", "virtualenv": "venv"},
    }


def test_pulumi_yaml_declares_every_key_with_description_and_the_code_default():
    declared = PROJECT["config"]
    keys = [f.name for f in s.config_fields(s.Settings)]
    assert sorted(declared) == sorted(keys)
    hints = typing.get_type_hints(s.Settings)
    defaults = s.defaults_as_config()
    for f in s.config_fields(s.Settings):
        entry = declared[f.name]
        assert entry["description"], f.name
        if hints[f.name] in SCALAR_TYPES:
            assert entry["type"] == SCALAR_TYPES[hints[f.name]], f.name
        if f.metadata["required"]:
            assert "default" not in entry, f"{f.name} is required: no default"
        else:
            assert entry["default"] == defaults[f.name], f.name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_set_the_region_and_the_environment(stack):
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    assert config["aws:region"] == "us-east-1"
    assert config["mlplatform:environment"] == stack


def test_readme_documents_every_config_key():
    readme = (ROOT / "README.md").read_text()
    for f in s.config_fields(s.Settings):
        assert f"`{f.name}`" in readme, f.name
        section = typing.get_type_hints(s.Settings)[f.name]
        if s.dataclasses.is_dataclass(section):
            for sub in s.config_fields(section):
                assert f"`{f.name}.{sub.name}`" in readme, f"{f.name}.{sub.name}"
                item = s._section_list_item(typing.get_type_hints(section)[sub.name])
                for leaf in s.config_fields(item) if item else ():
                    key = f"{f.name}.{sub.name}[].{leaf.name}"
                    assert f"`{key}`" in readme, key


def test_requirements_pin_every_package():
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-r"):
                assert "==" in line, f"{name}: {line} is not pinned"
