"""Read access to MLflow's model registry through its REST API (``/api/2.0/mlflow/...``),
with the MLflow admin's basic-auth credentials, which the data platform gives MLflow and
this service from the same Secrets Manager secret.

MLflow's own answers decide: its 404 (``RESOURCE_DOES_NOT_EXIST``) is a 404 here and its
400 (``INVALID_PARAMETER_VALUE``, e.g. a bad page token) a 400 with MLflow's reason. Anything
else (refused credentials, a 5xx, no answer) is MLflow's failure, not the caller's: 502, or
504 after ``MLFLOW_TIMEOUT_SECONDS``.
"""

from __future__ import annotations

from typing import Any

import httpx2

from hokusai_api.settings import Settings

API = "/api/2.0/mlflow"


class RegistryError(Exception):
    """An answer for the caller: ``status`` and the reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def name_filter(name: str) -> str:
    """MLflow's search filter for one model name, quoted with the quote it does not hold."""
    if "'" not in name:
        return f"name='{name}'"
    if '"' not in name:
        return f'name="{name}"'
    raise RegistryError(400, "model name: holds both ' and \", which MLflow's filter cannot quote")


class Registry:
    """MLflow's registry over HTTP (one pooled client, thread-safe)."""

    def __init__(self, settings: Settings, transport: Any = None) -> None:
        self.client = httpx2.Client(
            base_url=settings.mlflow_base,
            auth=(settings.mlflow_username, settings.mlflow_password),
            timeout=settings.mlflow_timeout_seconds,
            follow_redirects=False,
            transport=transport,
        )
        self.credentials_refused = False
        """MLflow answered 401/403 to the last request: the admin password rotated since
        this task read it (the health route then fails, so ECS starts a task that reads the
        new one)."""

    def close(self) -> None:
        self.client.close()

    def _get(self, path: str, params: dict[str, Any]) -> dict:
        params = {k: v for k, v in params.items() if v is not None}
        try:
            response = self.client.get(f"{API}/{path}", params=params)
        except httpx2.TimeoutException:
            raise RegistryError(504, "MLflow did not answer in time") from None
        except httpx2.HTTPError as error:
            raise RegistryError(502, f"MLflow unreachable: {type(error).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        self.credentials_refused = response.status_code in (401, 403)
        if response.status_code == 200:
            return body
        reason = str(body.get("message") or f"MLflow answered {response.status_code}")[:500]
        code = body.get("error_code")
        if response.status_code == 404 or code == "RESOURCE_DOES_NOT_EXIST":
            raise RegistryError(404, reason)
        if response.status_code == 400 or code == "INVALID_PARAMETER_VALUE":
            raise RegistryError(400, reason)
        if response.status_code in (401, 403):
            raise RegistryError(502, "MLflow refused the API's credentials")
        raise RegistryError(502, f"MLflow answered {response.status_code}")

    def models(self, max_results: int, page_token: str | None) -> dict:
        body = self._get(
            "registered-models/search", {"max_results": max_results, "page_token": page_token}
        )
        return {
            "models": body.get("registered_models", []),
            "next_page_token": body.get("next_page_token") or None,
        }

    def model(self, name: str) -> dict:
        return self._get("registered-models/get", {"name": name})["registered_model"]

    def versions(self, name: str, max_results: int, page_token: str | None) -> dict:
        self.model(name)  # a 404 for an unknown model, not an empty list
        body = self._get(
            "model-versions/search",
            {"filter": name_filter(name), "max_results": max_results, "page_token": page_token},
        )
        return {
            "versions": body.get("model_versions", []),
            "next_page_token": body.get("next_page_token") or None,
        }

    def version(self, name: str, version: int) -> dict:
        return self._get("model-versions/get", {"name": name, "version": str(version)})[
            "model_version"
        ]

    def metrics(self, name: str, version: int) -> dict:
        """The latest value of each metric of the run that produced the version."""
        found = self.version(name, version)
        run_id = found.get("run_id") or None
        details: list[dict] = []
        if run_id:
            run = self._get("runs/get", {"run_id": run_id})["run"]
            details = run.get("data", {}).get("metrics", [])
        return {
            "name": name,
            "version": str(version),
            "run_id": run_id,
            "metrics": {m["key"]: m["value"] for m in details},
            "details": details,
        }
