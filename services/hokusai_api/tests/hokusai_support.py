"""What the tests share besides fixtures: the credentials and the API's environment."""

from __future__ import annotations

import json

from service_testing.postgres import PostgresCluster

ADMIN_KEY = "bootstrap-Admin-key-0123456789abcdef"
MLFLOW_ADMIN_PASSWORD = "mlflow-Admin-passw0rd%;#"
DB_USER = "mlflow_test"
DB_PASSWORD = "db-p@ss:w/rd%41#?&="
MODELS = ("fraud-detector", "churn-model", "ranker")
METRICS = ({"accuracy": 0.91, "loss": 0.25}, {"accuracy": 0.94, "loss": 0.19})


def environment(postgres: PostgresCluster, mlflow_url: str, **extra: str) -> dict[str, str]:
    return {
        "DB_HOST": postgres.host,
        "DB_PORT": str(postgres.port),
        "DB_SECRET": json.dumps({"username": DB_USER, "password": DB_PASSWORD}),
        "DB_SSLMODE": "disable",  # the local cluster has no TLS; the task keeps require
        "API_SECRET_KEY": ADMIN_KEY,
        "MLFLOW_TRACKING_URI": f"{mlflow_url}/",
        "MLFLOW_TRACKING_PASSWORD": MLFLOW_ADMIN_PASSWORD,
        **extra,
    }


UNREACHABLE_MLFLOW = "http://127.0.0.1:9/mlflow"  # the discard port: nothing listens
