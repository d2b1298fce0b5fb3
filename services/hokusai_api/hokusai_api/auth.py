"""Who is calling: the bootstrap admin credential, an API key, or a signed Ethereum message.

- ``Authorization: Bearer <API_SECRET_KEY>``: the bootstrap admin (owner ``admin``, every
  scope). The value is the data platform's generated ``api-secret-key`` secret, injected as
  an ECS secret; it exists so the first keys can be made, and rotates every 30 days (the
  rotation redeploys the service).
- ``Authorization: Bearer hk_<id>_<secret>``: an API key (:mod:`hokusai_api.keys`), with
  the owner and scopes it was created with.
- ``X-ETH-Address`` + ``X-ETH-Signature`` + ``X-ETH-Message``: a registered Ethereum
  address (:mod:`hokusai_api.eth`), with its registration's owner and scopes.

Sending both kinds, or part of the Ethereum triple, is a 400; none is a 401; a credential
without the route's scope a 403. Each refusal says why.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request

from hokusai_api import eth
from hokusai_api.keys import KeyStore

SCOPES = ("models:read", "keys:manage")
"""``models:read``: the registry's read routes; ``keys:manage``: create, list and revoke API
keys and register Ethereum addresses (an administrator's scope)."""
ETH_HEADERS = ("x-eth-address", "x-eth-signature", "x-eth-message")
BEARER = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class Identity:
    owner: str
    method: str
    """``admin``, ``api_key`` or ``eth``."""
    scopes: tuple[str, ...]
    credential: str
    """The key's id, the address, or ``bootstrap``."""

    def as_json(self) -> dict:
        return {
            "owner": self.owner,
            "method": self.method,
            "scopes": list(self.scopes),
            "credential": self.credential,
        }


@dataclass
class Authenticator:
    admin_key: str
    keys: KeyStore
    addresses: eth.EthStore
    max_lifetime: int

    def identify(self, request: Request) -> Identity:
        headers = request.headers
        authorization = headers.get("authorization")
        present = [name for name in ETH_HEADERS if name in headers]
        if authorization is not None and present:
            raise HTTPException(400, "send either Authorization or the X-ETH-* headers, not both")
        if present:
            return self._eth(request, present)
        if authorization is None:
            raise HTTPException(
                401,
                "missing credentials: send Authorization: Bearer <api-key>, or X-ETH-Address, "
                "X-ETH-Signature and X-ETH-Message",
                headers=BEARER,
            )
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(400, "Authorization: expected Bearer <api-key>", headers=BEARER)
        if hmac.compare_digest(token.encode(), self.admin_key.encode()):
            return Identity("admin", "admin", SCOPES, "bootstrap")
        record = self.keys.authenticate(token)
        if record is None:
            raise HTTPException(401, "invalid, expired or revoked API key", headers=BEARER)
        return Identity(record.owner, "api_key", record.scopes, record.id)

    def _eth(self, request: Request, present: list[str]) -> Identity:
        missing = [name for name in ETH_HEADERS if name not in present]
        if missing:
            raise HTTPException(
                400,
                f"Ethereum sign-in needs all three X-ETH-* headers; missing {', '.join(missing)}",
            )
        h = request.headers
        try:
            signed = eth.verify(
                h["x-eth-address"], h["x-eth-signature"], h["x-eth-message"], self.max_lifetime
            )
            registration = self.addresses.sign_in(signed)
        except eth.EthAuthError as error:
            raise HTTPException(error.status, str(error)) from None
        return Identity(registration.owner, "eth", registration.scopes, registration.address)


def require(authenticator: Authenticator, scope: str) -> Callable[[Request], Identity]:
    """A route dependency: the caller's identity, which must hold ``scope``."""
    assert scope in SCOPES

    def dependency(request: Request) -> Identity:
        identity = authenticator.identify(request)
        if scope not in identity.scopes:
            raise HTTPException(403, f"this credential lacks the {scope} scope")
        return identity

    return dependency
