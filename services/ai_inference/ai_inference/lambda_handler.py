"""The service on AWS Lambda: ``handler`` answers the load balancer's events with the app.

The inference load balancer forwards ``/move`` to a target group of type ``lambda``; the
function runs this service's image with the AWS Lambda runtime interface client
(``python -m awslambdaric ai_inference.lambda_handler.handler``) instead of the image's
server. Mangum turns each Application Load Balancer event into one ASGI request to the
same app ``python -m ai_inference`` serves (the same middleware: API key, body limit,
request log) and its answer into the response the load balancer expects.

The app is built on the first event, as ``uvicorn`` builds it before it listens: from the
environment, where Lambda has no ECS ``secrets``, so ``API_KEY`` is read here from the
secret ``API_KEY_SECRET_ID`` names (its current value; the app's key ring then accepts
every stage during a rotation, as on ECS). An unusable environment raises ``ConfigError``
on every event (Lambda answers the load balancer with an error, which it returns as 502):
the service never serves without a key.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from mangum import Mangum
from service_common import logs

from ai_inference.app import create_app
from ai_inference.settings import Settings

CURRENT_STAGE = "AWSCURRENT"


def current_secret(secret_id: str, client: Any = None) -> str:
    """The current value of the secret ``secret_id`` (``GetSecretValue``)."""
    if client is None:
        import boto3  # in the image (requirements.txt) and every Lambda runtime

        client = boto3.client("secretsmanager")
    return client.get_secret_value(SecretId=secret_id, VersionStage=CURRENT_STAGE)["SecretString"]


def build(
    environ: Mapping[str, str], read_secret: Callable[[str], str] = current_secret, **app_options
) -> Mangum:
    """The ASGI adapter of the app configured by ``environ``: ``API_KEY`` as given, else the
    current value of ``API_KEY_SECRET_ID``. ``app_options`` go to ``create_app`` (tests:
    ``store``, ``key_ring``). ``ConfigError`` when the environment is unusable."""
    env = dict(environ)
    if not env.get("API_KEY") and env.get("API_KEY_SECRET_ID"):
        env["API_KEY"] = read_secret(env["API_KEY_SECRET_ID"])
    settings = Settings.from_env(env)
    logs.configure(settings.log_level)
    # No lifespan: the app has no start-up or shutdown handlers (create_app loads the
    # models), and Lambda freezes the environment between events rather than stopping it.
    return Mangum(create_app(settings, **app_options), lifespan="off")


_adapter: Mangum | None = None
_lock = threading.Lock()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The function's handler: one load balancer event in, its response out."""
    global _adapter
    if _adapter is None:
        with _lock:
            if _adapter is None:
                _adapter = build(os.environ)
    return _adapter(event, context)
