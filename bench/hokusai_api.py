"""Requests per second of the Hokusai API's endpoints, served by uvicorn on 127.0.0.1.

Starts a throwaway PostgreSQL cluster (``service_testing.postgres``) and, unless
``--no-registry``, a real MLflow server (``service_testing.mlflow_server``, basic auth, its
stores in that cluster) with one registered model; builds the app as ``python -m
hokusai_api`` does (database created, migrations run) and serves it with uvicorn in this
process on a free port. Each measurement sends ``--requests`` requests from ``--clients``
threads, each with its own keep-alive httpx2 connection, and reports requests/s and the
median latency:

- ``GET /api/v1/me`` with ``Authorization: Bearer <api key>`` (a key lookup and its HMAC);
- ``POST /api/v1/keys`` with the admin credential (a new key: random secret, salted hash, insert);
- ``GET /api/v1/me`` signed by an Ethereum account (EIP-191 recovery, a nonce inserted; the
  messages are signed before the clock starts: signing is the client's cost);
- ``GET /api/v1/models/<name>`` with an API key (the same, plus a call to MLflow).

Usage: venv/bin/python bench/hokusai_api.py [--requests 400] [--clients 4] [--no-registry]
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICE = ROOT / "services" / "hokusai_api"
COMMON = ROOT / "services" / "common"
sys.path[:0] = [str(SERVICE), str(COMMON)]

import httpx2  # noqa: E402
import uvicorn  # noqa: E402
from eth_account import Account  # noqa: E402
from eth_account.messages import encode_defunct  # noqa: E402
from hokusai_api import eth  # noqa: E402
from hokusai_api.app import create_app  # noqa: E402
from hokusai_api.settings import Settings  # noqa: E402
from service_testing.mlflow_server import ADMIN_USERNAME, start_mlflow  # noqa: E402
from service_testing.ports import free_port  # noqa: E402
from service_testing.postgres import start_cluster  # noqa: E402

ADMIN_KEY = "bench-admin-key-0123456789abcdef"
DB_USER, DB_PASSWORD = "mlflow_bench", "bench-db-password"
MLFLOW_PASSWORD = "bench-mlflow-password"
MODEL = "bench-model"


def measure(base: str, requests: list[tuple[str, str, dict, dict | None]], clients: int):
    """Sends ``requests`` (method, path, headers, json) split over ``clients`` threads;
    returns (requests/s, median ms, statuses seen)."""
    shares = [requests[i::clients] for i in range(clients)]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def run(share):
        mine, seen = [], {}
        with httpx2.Client(base_url=base, timeout=60) as client:
            for method, path, headers, body in share:
                started = time.perf_counter()
                response = client.request(method, path, headers=headers, json=body)
                mine.append(time.perf_counter() - started)
                seen[response.status_code] = seen.get(response.status_code, 0) + 1
        with lock:
            latencies.extend(mine)
            for code, count in seen.items():
                statuses[code] = statuses.get(code, 0) + count

    threads = [threading.Thread(target=run, args=(share,)) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return len(requests) / elapsed, statistics.median(latencies) * 1000, statuses


def signed(account) -> dict[str, str]:
    expires = datetime.now(UTC) + timedelta(minutes=10)
    message = eth.message_text(account.address, secrets.token_hex(16), expires)
    signature = Account.sign_message(encode_defunct(text=message), account.key).signature
    return {
        "X-ETH-Address": account.address,
        "X-ETH-Signature": signature.hex(),
        "X-ETH-Message": message,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--no-registry", action="store_true", help="skip MLflow")
    parser.add_argument(
        "--mlflow-auth-cache",
        type=int,
        default=0,
        help="MLflow's auth_cache_ttl_seconds (default 0, as deployed: scrypt on every request)",
    )
    options = parser.parse_args()
    logging.disable(logging.INFO)  # one request log line per request would be measured too
    cluster = start_cluster(prefix="hokusai-bench-")
    workdir = Path(tempfile.mkdtemp(prefix="hokusai-bench-"))
    mlflow = None
    try:
        cluster.create_owner(DB_USER, DB_PASSWORD, "mlflow")
        mlflow_url = "http://127.0.0.1:9/mlflow"
        if not options.no_registry:
            mlflow = start_mlflow(
                cluster,
                workdir,
                MLFLOW_PASSWORD,
                DB_USER,
                DB_PASSWORD,
                auth_cache_ttl_seconds=options.mlflow_auth_cache,
            )
            mlflow_url = mlflow.url
            httpx2.post(
                f"{mlflow.url}/api/2.0/mlflow/registered-models/create",
                json={"name": MODEL},
                auth=(ADMIN_USERNAME, MLFLOW_PASSWORD),
                timeout=60,
            ).raise_for_status()
        env = {
            "DB_HOST": cluster.host,
            "DB_PORT": str(cluster.port),
            "DB_SECRET": json.dumps({"username": DB_USER, "password": DB_PASSWORD}),
            "DB_SSLMODE": "disable",
            "API_SECRET_KEY": ADMIN_KEY,
            "MLFLOW_TRACKING_URI": mlflow_url,
            "MLFLOW_TRACKING_PASSWORD": MLFLOW_PASSWORD,
        }
        app = create_app(Settings.from_env(env))
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        made = httpx2.post(
            f"{base}/api/v1/keys",
            json={"owner": "bench", "scopes": ["models:read", "keys:manage"]},
            headers=admin,
        ).json()
        bearer = {"Authorization": f"Bearer {made['key']}"}
        account = Account.create()
        httpx2.post(
            f"{base}/api/v1/eth-addresses",
            json={"address": account.address, "owner": "bench", "scopes": ["models:read"]},
            headers=admin,
        ).raise_for_status()
        n = options.requests
        cases = {
            "bearer GET /api/v1/me": [("GET", "/api/v1/me", bearer, None)] * n,
            "POST /api/v1/keys": [
                ("POST", "/api/v1/keys", admin, {"owner": "bench", "scopes": ["models:read"]})
            ]
            * n,
            "ETH-signed GET /api/v1/me": [
                ("GET", "/api/v1/me", signed(account), None) for _ in range(n)
            ],
        }
        if mlflow is not None:
            cases[f"bearer GET /api/v1/models/{MODEL} (MLflow)"] = [
                ("GET", f"/api/v1/models/{MODEL}", bearer, None)
            ] * max(n // 10, 8)
        print(f"hokusai_api on uvicorn, 127.0.0.1, {options.clients} clients, real PostgreSQL")
        for label, requests in cases.items():
            rate, median, statuses = measure(base, requests, options.clients)
            print(
                f"  {label:46s} {len(requests):5d} requests  {rate:8.1f} req/s  "
                f"median {median:7.1f} ms  statuses {statuses}"
            )
        server.should_exit = True
        thread.join(timeout=10)
    finally:
        if mlflow is not None:
            mlflow.stop()
        cluster.stop()
        shutil.rmtree(cluster.base, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
