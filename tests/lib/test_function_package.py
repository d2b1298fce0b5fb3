"""What goes into a function's zip (pure: a directory tree in a temporary directory)."""

from __future__ import annotations

import pytest

from components.lib.function_package import package_files


@pytest.fixture
def project(tmp_path):
    files = [
        "services/fn/fn/__init__.py",
        "services/fn/fn/handler.py",
        "services/fn/fn/sub/part.py",
        "services/fn/fn/__pycache__/handler.cpython-311.pyc",
        "services/fn/fn/test_inline.py",
        "services/fn/tests/test_handler.py",
        "services/fn/aws_access.yaml",
        "services/common/service_common/__init__.py",
        "services/common/service_common/secret_keys.py",
        "services/common/tests/test_x.py",
    ]
    for name in files:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")
    return tmp_path


def test_the_package_at_the_zips_root_without_tests_caches_or_lists(project):
    assert package_files(project, "fn", "fn", shared=False) == {
        "fn/__init__.py": "services/fn/fn/__init__.py",
        "fn/handler.py": "services/fn/fn/handler.py",
        "fn/sub/part.py": "services/fn/fn/sub/part.py",
    }


def test_the_shared_package_beside_it_when_used(project):
    found = package_files(project, "fn", "fn", shared=True)
    assert found["service_common/secret_keys.py"] == (
        "services/common/service_common/secret_keys.py"
    )
    assert list(found) == sorted(found)  # the same order on every checkout
    assert not [p for p in found if "tests" in p]


def test_a_missing_package_is_named(project):
    with pytest.raises(FileNotFoundError, match="services/nope/nope"):
        package_files(project, "nope", "nope", shared=False)
