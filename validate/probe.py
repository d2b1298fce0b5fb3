"""One HTTP GET with a timeout, HTTPS verified, redirects optionally not followed.

Plain ``http://`` only to a loopback host (the tests' local services) or where the stack
itself serves plain HTTP (``ingress.allow_http``, dev), and never with a credential.

A request with headers (the API key) never follows a redirect: urllib copies every header
of the request onto the redirected one, to whatever host and scheme the ``Location`` names,
``https`` to ``http`` included, so following would hand the key to it. The redirect comes
back as the answer, and the caller judges it.
"""

from __future__ import annotations

import http.client
import ipaddress
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

TIMEOUT_SECONDS = 10.0
BODY_LIMIT = 64 * 1024
"""What is read of a body: health answers are small, and a huge one is not read whole."""


@dataclass(frozen=True)
class Answer:
    """What the server said, or why nothing was said (``status`` None, ``error`` set)."""

    status: int | None
    headers: dict[str, str]
    body: bytes = b""
    error: str = ""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect comes back as the answer (the MLflow UI's sign-in redirect is one)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refusal(url: str, *, allow_http: bool, credential: bool) -> str | None:
    """Why ``url`` may not be requested, or None."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme != "http" or not parts.hostname:
        return f"not an http(s) URL: {url}"
    if is_loopback(parts.hostname):
        return None
    if credential:
        return f"refusing to send a credential over plain HTTP: {url}"
    if not allow_http:
        return f"plain HTTP to {parts.hostname}, and the stack does not set ingress.allow_http"
    return None


def get(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    follow_redirects: bool = True,
    timeout: float = TIMEOUT_SECONDS,
) -> Answer:
    """GET ``url``; an HTTP error status is an answer, a network failure an ``error``.
    With ``headers`` a redirect is never followed (the module docstring says why)."""
    handlers: list[urllib.request.BaseHandler] = [
        urllib.request.HTTPSHandler(context=ssl.create_default_context())
    ]
    if headers or not follow_redirects:
        handlers.append(_NoRedirect())
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, headers=headers or {}, method="GET")
    try:
        with opener.open(request, timeout=timeout) as response:
            return Answer(response.status, dict(response.headers), response.read(BODY_LIMIT))
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, dict(error.headers or {}), error.read(BODY_LIMIT))
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return Answer(None, {}, error=f"{type(error).__name__}: {reason}")
