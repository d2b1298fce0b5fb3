"""Ethereum-address sign-in: an EIP-191 (``personal_sign``) signature over a one-line message
that carries the address, a nonce and an expiry; and the registered addresses and used nonces.

The caller sends three headers:

- ``X-ETH-Address``: ``0x`` and 40 hex digits (all lower case, all upper case, or EIP-55
  mixed-case checksummed);
- ``X-ETH-Message``: exactly ``Hokusai API login address=<address> nonce=<nonce>
  expires=<YYYY-MM-DDTHH:MM:SSZ>`` — one line, because a header cannot carry a newline;
  ``nonce`` is 16 to 64 of ``A-Z a-z 0-9 _ -``, chosen by the client and never used before;
  ``expires`` is UTC, in the future and at most ``ETH_MAX_LIFETIME_SECONDS`` ahead;
- ``X-ETH-Signature``: the 65-byte signature as 130 hex digits (``0x`` optional), what
  ``personal_sign`` / ``Account.sign_message(encode_defunct(text=message))`` returns.

The address recovered from the signature must be the one sent, and registered (``POST
/api/v1/eth-addresses``, by a holder of ``keys:manage``): it authenticates as that
registration's owner with its scopes. The nonce is inserted into ``eth_nonces``, whose
primary key refuses the same nonce twice, and is kept until the message's expiry; after that
the message is refused as expired anyway, so the row can go.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine

from hokusai_api.db import eth_addresses, eth_nonces

# Importing eth-account imports py_ecc, which raises the interpreter's recursion limit to
# 100,000 for its own pairing code (not used here: recovery is eth-keys'). With that limit a
# deeply nested JSON body would overflow the C stack and kill the process instead of raising
# RecursionError (a 4xx); so the limit is put back.
_RECURSION_LIMIT = sys.getrecursionlimit()
from eth_account import Account  # noqa: E402
from eth_account.messages import encode_defunct  # noqa: E402
from eth_utils import is_checksum_address, to_checksum_address  # noqa: E402

sys.setrecursionlimit(_RECURSION_LIMIT)

ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
SIGNATURE = re.compile(r"(0x)?([0-9a-fA-F]{130})")
MESSAGE = re.compile(
    r"Hokusai API login address=(0x[0-9a-fA-F]{40}) nonce=([A-Za-z0-9_-]{16,64}) "
    r"expires=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"
)
MESSAGE_FORM = (
    "Hokusai API login address=<0x address> nonce=<16-64 of A-Z a-z 0-9 _ -> "
    "expires=<YYYY-MM-DDTHH:MM:SSZ>"
)
MAX_MESSAGE_LENGTH = 256
PURGE_INTERVAL_SECONDS = 60.0


class EthAuthError(Exception):
    """A refused sign-in: ``status`` 400 (malformed), 401 (not authentic) or 403 (not
    registered); the text says why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class SignIn:
    """A verified message: the (checksummed) address, its nonce and expiry."""

    address: str
    nonce: str
    expires_at: datetime


def normalize_address(raw: str) -> str:
    """The EIP-55 form of ``raw``; ValueError with the reason if it is not an address."""
    if not ADDRESS.fullmatch(raw):
        raise ValueError("expected 0x and 40 hex digits")
    digits = raw[2:]
    if digits != digits.lower() and digits != digits.upper() and not is_checksum_address(raw):
        raise ValueError("mixed-case address with a wrong EIP-55 checksum")
    return to_checksum_address(raw)


def message_text(address: str, nonce: str, expires_at: datetime) -> str:
    """The message a client signs (what :func:`verify` accepts)."""
    expires = expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"Hokusai API login address={address} nonce={nonce} expires={expires}"


def verify(
    address: str, signature: str, message: str, max_lifetime: int, now: datetime | None = None
) -> SignIn:
    """Checks the three header values; raises :class:`EthAuthError` with the reason."""
    now = now or datetime.now(UTC)
    try:
        address = normalize_address(address.strip())
    except ValueError as error:
        raise EthAuthError(400, f"X-ETH-Address: {error}") from None
    sig = SIGNATURE.fullmatch(signature.strip())
    if not sig:
        raise EthAuthError(
            400, "X-ETH-Signature: expected the 65-byte signature as 130 hex digits (0x optional)"
        )
    if len(message) > MAX_MESSAGE_LENGTH:
        raise EthAuthError(400, f"X-ETH-Message: longer than {MAX_MESSAGE_LENGTH} characters")
    parsed = MESSAGE.fullmatch(message)
    if not parsed:
        raise EthAuthError(400, f"X-ETH-Message: expected exactly {MESSAGE_FORM!r}")
    signed_address, nonce, expires = parsed.groups()
    if signed_address.lower() != address.lower():
        raise EthAuthError(400, "X-ETH-Message: its address is not X-ETH-Address")
    try:
        expires_at = datetime.strptime(expires, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise EthAuthError(400, "X-ETH-Message: expires is not a valid date and time") from None
    if expires_at <= now:
        raise EthAuthError(401, "X-ETH-Message: expired")
    if expires_at > now + timedelta(seconds=max_lifetime):
        raise EthAuthError(400, f"X-ETH-Message: expires more than {max_lifetime} s from now")
    try:
        recovered = Account.recover_message(
            encode_defunct(text=message), signature=bytes.fromhex(sig.group(2))
        )
    except Exception:  # eth-keys raises several types for an unusable signature
        raise EthAuthError(401, "X-ETH-Signature: not a valid signature") from None
    if recovered != address:
        raise EthAuthError(401, "X-ETH-Signature: not made by X-ETH-Address over X-ETH-Message")
    return SignIn(address=address, nonce=nonce, expires_at=expires_at)


@dataclass(frozen=True)
class Registration:
    address: str
    owner: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None

    def as_json(self) -> dict:
        def iso(moment):
            return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None

        return {
            "address": self.address,
            "owner": self.owner,
            "scopes": list(self.scopes),
            "created_at": iso(self.created_at),
            "last_used_at": iso(self.last_used_at),
        }


def _registration(row) -> Registration:
    return Registration(row.address, row.owner, tuple(row.scopes), row.created_at, row.last_used_at)


class EthStore:
    """The ``eth_addresses`` and ``eth_nonces`` tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._purged = 0.0

    def register(self, address: str, owner: str, scopes: tuple[str, ...]) -> Registration | None:
        """Registers ``address`` (EIP-55 form); None if it is registered already."""
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            done = connection.execute(
                insert(eth_addresses)
                .values(address=address, owner=owner, scopes=list(scopes), created_at=now)
                .on_conflict_do_nothing()
            )
        return Registration(address, owner, scopes, now, None) if done.rowcount else None

    def get(self, address: str) -> Registration | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(eth_addresses).where(eth_addresses.c.address == address)
            ).first()
        return _registration(row) if row else None

    def list(self, limit: int, after: str | None) -> tuple[list[Registration], str | None]:
        query = sa.select(eth_addresses).order_by(eth_addresses.c.address).limit(limit + 1)
        if after is not None:
            query = query.where(eth_addresses.c.address > after)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        found = [_registration(row) for row in rows[:limit]]
        return found, (found[-1].address if len(rows) > limit else None)

    def remove(self, address: str) -> bool:
        with self.engine.begin() as connection:
            done = connection.execute(
                eth_addresses.delete().where(eth_addresses.c.address == address)
            )
        return bool(done.rowcount)

    def sign_in(self, sign_in: SignIn) -> Registration:
        """The registration of a verified message's address, its nonce consumed; raises
        :class:`EthAuthError` (403 unregistered, 401 a nonce seen before)."""
        registration = self.get(sign_in.address)
        if registration is None:
            raise EthAuthError(403, "X-ETH-Address: not registered with this API")
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            if time.monotonic() - self._purged > PURGE_INTERVAL_SECONDS:
                self._purged = time.monotonic()
                connection.execute(eth_nonces.delete().where(eth_nonces.c.expires_at < now))
            done = connection.execute(
                insert(eth_nonces)
                .values(nonce=sign_in.nonce, address=sign_in.address, expires_at=sign_in.expires_at)
                .on_conflict_do_nothing()
            )
            if not done.rowcount:
                raise EthAuthError(401, "X-ETH-Message: nonce already used (a replay)")
            connection.execute(
                eth_addresses.update()
                .where(eth_addresses.c.address == sign_in.address)
                .values(last_used_at=now)
            )
        return registration
