"""MLflow's authorization function behind the load balancer's single sign-on.

With ``MLFLOW_SSO_SIGNER`` set, the entry point names :func:`authenticate_request` as the
basic-auth app's ``authorization_function`` (MLflow calls it for every Flask and FastAPI
request it protects). The load balancer signs each request it authenticated with the
user's claims in the ``x-amzn-oidc-data`` header: a JWT signed with ES256 by a key whose
public half is served at ``https://public-keys.auth.elb.<region>.amazonaws.com/<kid>``, its
header naming the load balancer as ``signer`` (ELB user guide, "Authenticate users using an
Application Load Balancer": verify the signature and the signer before using the claims).

- A request with the header is accepted as the user of its ``MLFLOW_SSO_USERNAME_CLAIM``
  claim only when the signature verifies with the load balancer's regional key, the signer
  is this load balancer's ARN and the token has not expired; that user is created in the
  auth store on its first request (a random password nobody knows: it signs in by SSO
  only). A header that fails any check is refused (401), never read unverified and never
  retried with a password: the client paths reach MLflow without the sign-in, so anyone
  can send such a header there.
- A request without it (the SDK and CI on ``/mlflow/api/``) goes to MLflow's own basic auth.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

HEADER = "x-amzn-oidc-data"
SIGNER_VARIABLE = "MLFLOW_SSO_SIGNER"
USERNAME_CLAIM_VARIABLE = "MLFLOW_SSO_USERNAME_CLAIM"
KEYS_URL_VARIABLE = "MLFLOW_SSO_PUBLIC_KEYS_URL"
"""The key endpoint without the key ID; default the region's ELB endpoint (tests set it)."""
KEYS_URL = "https://public-keys.auth.elb.{region}.amazonaws.com"
LEEWAY_SECONDS = 30
"""Clock skew allowed on ``exp`` between the load balancer and the task."""
FETCH_TIMEOUT_SECONDS = 5
MAX_CACHED_KEYS = 16
# The load balancer's key IDs are UUIDs; nothing else may reach the key URL's path.
_KID = re.compile(r"[A-Za-z0-9-]{1,128}")


class InvalidTokenError(Exception):
    """The header is not a token this load balancer signed, or it has expired."""


class KeyUnavailableError(Exception):
    """The load balancer's public key could not be fetched (the answer is unknown)."""


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_SECONDS) as response:
        return response.read()


def _b64decode(segment: str) -> bytes:
    """base64url with or without padding (the load balancer pads its segments)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", segment):
        raise InvalidTokenError("a segment is not base64url")
    stripped = segment.rstrip("=")
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError):
        raise InvalidTokenError("a segment is not base64url") from None


def _json(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64decode(segment))
    except ValueError:
        raise InvalidTokenError("a segment is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidTokenError("a segment is not a JSON object")
    return value


@dataclass
class AlbTokenVerifier:
    """Verifies the ``x-amzn-oidc-data`` tokens one load balancer signs."""

    signer: str
    """The load balancer's ARN: the only ``signer`` accepted."""
    keys_url: str
    """The public key endpoint; a key is fetched from ``<keys_url>/<kid>``."""
    fetch: Callable[[str], bytes] = _fetch
    clock: Callable[[], float] = time.time
    _keys: dict[str, ec.EllipticCurvePublicKey] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of ``token``; :class:`InvalidTokenError` unless this load balancer signed
        it with ES256 and it has not expired."""
        parts = token.strip().split(".")
        if len(parts) != 3 or not all(parts):
            raise InvalidTokenError("not a signed JWT (three non-empty segments)")
        header = _json(parts[0])
        if header.get("alg") != "ES256":
            raise InvalidTokenError("not signed with ES256")
        signer = header.get("signer")
        if not isinstance(signer, str) or not secrets.compare_digest(signer, self.signer):
            raise InvalidTokenError("signed by another load balancer")
        kid = header.get("kid")
        if not isinstance(kid, str) or not _KID.fullmatch(kid):
            raise InvalidTokenError("no usable key ID")
        signature = _b64decode(parts[2])
        if len(signature) != 64:  # JWS ES256: r and s, 32 bytes each
            raise InvalidTokenError("not an ES256 signature")
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        try:
            self._key(kid).verify(
                der, f"{parts[0]}.{parts[1]}".encode("ascii"), ec.ECDSA(hashes.SHA256())
            )
        except InvalidSignature:
            raise InvalidTokenError("the signature does not verify") from None
        claims = _json(parts[1])
        expiry = claims.get("exp", header.get("exp"))
        if isinstance(expiry, str) and expiry.isdigit():
            expiry = int(expiry)
        if not isinstance(expiry, (int, float)) or isinstance(expiry, bool):
            raise InvalidTokenError("no expiry")
        if self.clock() > expiry + LEEWAY_SECONDS:
            raise InvalidTokenError("expired")
        return claims

    def _key(self, kid: str) -> ec.EllipticCurvePublicKey:
        with self._lock:
            if kid in self._keys:
                return self._keys[kid]
        try:
            pem = self.fetch(f"{self.keys_url.rstrip('/')}/{kid}")
        except Exception as error:  # network, HTTP status, timeout: the key is unknown
            raise KeyUnavailableError(
                f"cannot fetch the load balancer's key {kid}: {error}"
            ) from None
        try:
            key = serialization.load_pem_public_key(pem)
        except ValueError:
            raise InvalidTokenError("the key endpoint answered no PEM public key") from None
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise InvalidTokenError("the key is not a P-256 key")
        with self._lock:
            if len(self._keys) >= MAX_CACHED_KEYS:
                self._keys.clear()
            self._keys[kid] = key
        return key


_verifier: AlbTokenVerifier | None = None


def verifier(environ: dict[str, str] | os._Environ = os.environ) -> AlbTokenVerifier:
    """The process's verifier, made once from its environment."""
    global _verifier
    if _verifier is None:
        region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION", "")
        url = environ.get(KEYS_URL_VARIABLE) or KEYS_URL.format(region=region)
        _verifier = AlbTokenVerifier(signer=environ[SIGNER_VARIABLE], keys_url=url)
    return _verifier


def username_of(claims: dict[str, Any], claim: str, admin_username: str) -> str:
    """The user name in ``claims``; :class:`InvalidTokenError` when it is missing or would be the
    basic-auth admin (an IdP account must never become MLflow's admin by its name)."""
    name = claims.get(claim)
    if not isinstance(name, str) or not name.strip() or len(name) > 256:
        raise InvalidTokenError(f"no {claim} claim")
    if name == admin_username:
        raise InvalidTokenError(f"the {claim} claim names the basic-auth admin")
    return name


def authenticate_request():
    """MLflow's ``authorization_function``: a werkzeug ``Authorization`` or a response."""
    from flask import Response, request
    from mlflow.server import auth
    from werkzeug.datastructures import Authorization

    token = request.headers.get(HEADER)
    if token is None:
        return auth.authenticate_request_basic_auth()
    try:
        claims = verifier().verify(token)
        claim = os.environ.get(USERNAME_CLAIM_VARIABLE) or "email"
        username = username_of(claims, claim, auth.auth_config.admin_username)
    except KeyUnavailableError:
        return Response("The sign-in could not be checked; try again.", status=503)
    except InvalidTokenError:
        # No WWW-Authenticate: a browser must not be asked for a password instead.
        return Response("The sign-in header is not valid.", status=401)
    _ensure_user(auth.store, username)
    return Authorization("bearer", {"username": username})


def _ensure_user(store, username: str) -> None:
    """Create ``username`` on its first sign-in, with a password no one knows."""
    if store.has_user(username, use_primary=True):
        return
    try:
        store.create_user(username, secrets.token_urlsafe(32))
    except Exception:  # another worker created it first
        if not store.has_user(username, use_primary=True):
            raise
