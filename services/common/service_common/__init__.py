"""Code every service image shares, installed into each of them.

Each image's build context is ``services/`` (not the service's own directory), and each
Dockerfile copies this package beside the service's own one in ``/app``, so
``import service_common`` works there as it does in the tests (``pythonpath`` in the
project's pyproject.toml). The modules are imported one by one and this file imports none:
a service imports only what it uses, and so needs only that module's libraries.

- ``env``: reading settings from the environment, every problem named in one ``ConfigError``
  (stdlib only: every service).
- ``logs``: one JSON object per log line (stdlib only: every service).
- ``middleware``: the ASGI layers in front of an HTTP service's routes (starlette).
- ``server``: the entry point of an HTTP service: settings, JSON logs, uvicorn (uvicorn).

Nothing here imports a service's package; the services import from here.
"""
