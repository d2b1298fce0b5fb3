"""The ``mlflow-admin`` kind when MLflow cannot answer (the real server's answers are
tested in services/mlflow/tests/test_round_trip.py, against a running MLflow)."""

from __future__ import annotations

import urllib.error

import pytest
from secret_rotation.kinds import MlflowAdminPassword, from_env
from secret_rotation.steps import RotationError


def test_an_unreachable_server_fails_the_step_with_its_url():
    def unreachable(request, timeout):
        raise urllib.error.URLError("connection refused")

    kind = MlflowAdminPassword("http://mlflow.internal/mlflow", opener=unreachable)
    with pytest.raises(RotationError, match=r"http://mlflow.internal/mlflow cannot be reached"):
        kind.set("current-0123456789", "pending-0123456789", None, None)


def test_a_server_error_is_not_taken_for_a_refused_password():
    def failing(request, timeout):
        raise urllib.error.HTTPError(request.full_url, 502, "Bad Gateway", {}, None)

    kind = MlflowAdminPassword("http://mlflow.internal/mlflow", opener=failing)
    with pytest.raises(RotationError, match="answered 502"):
        kind.test("pending-0123456789")


def test_the_function_variables_configure_the_kind():
    kind = from_env({"ROTATION_KIND": "mlflow-admin", "MLFLOW_URL": "https://alb/mlflow"},
                    lambda s: None)  # fmt: skip
    assert (kind.url, kind.username) == ("https://alb/mlflow", "admin")
