"""MLflow's ``authorization_function`` as the entry point names it: the sign-in check
(basic auth, or the load balancer's signed users with ``MLFLOW_SSO_SIGNER``), then a 400 for
a request that carries a NUL character where MLflow would store it.

PostgreSQL's text types cannot hold NUL; psycopg2 refuses such a string with a
``ValueError``, which MLflow's handlers do not catch, so an experiment named ``"a\\u0000b"``
was a 500. The auth app calls this function before every protected request reaches a
handler, and returns a response it gets as the answer. Only the query string, the path and
JSON bodies are read: artifact uploads are files, where a NUL byte is data.
"""

from __future__ import annotations

import json
import os
from typing import Any

NUL = "\x00"
PROBLEM = "INVALID_PARAMETER_VALUE"


def nul_in(value: Any) -> bool:
    """Whether a NUL character is in any string, key or value, of parsed JSON ``value``."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if NUL in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def nul_problem(request) -> str | None:
    """Where the Flask ``request`` carries a NUL character, or ``None``."""
    if NUL in request.path:
        return "the path contains a NUL character"
    if any(nul_in(key) or nul_in(value) for key, value in request.args.items(multi=True)):
        return "a query parameter contains a NUL character"
    if request.is_json:
        body = request.get_json(silent=True, cache=True)
        if nul_in(body):
            return "a value in the JSON body contains a NUL character"
    return None


def _sign_in():
    from mlflow.server import auth

    if os.environ.get("MLFLOW_SSO_SIGNER"):
        from mlflow_entrypoint import alb_sso

        return alb_sso.authenticate_request()
    return auth.authenticate_request_basic_auth()


def authenticate_request():
    """A werkzeug ``Authorization`` for a signed-in request without NUL, else a response:
    the sign-in's 401/503, or a 400 in MLflow's error form naming where the NUL is."""
    from flask import Response

    signed_in = _sign_in()
    if isinstance(signed_in, Response):
        return signed_in
    from flask import request

    problem = nul_problem(request)
    if problem is None:
        return signed_in
    body = json.dumps({"error_code": PROBLEM, "message": f"{problem}, which MLflow cannot store"})
    return Response(body, status=400, mimetype="application/json")
