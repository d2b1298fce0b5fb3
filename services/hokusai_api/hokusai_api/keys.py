"""API keys: their format, their salted hash, and the store of them in PostgreSQL.

A key reads ``hk_<id>_<secret>``: ``id`` is 16 hex digits (the public handle used to list
and revoke it), ``secret`` 43 URL-safe base64 characters (256 random bits). The key is shown
once, in the creation's answer; the database keeps the id, a random 16-byte salt and
HMAC-SHA256(salt, secret). A slow hash (scrypt, bcrypt) protects guessable passwords; a
256-bit random secret cannot be guessed, so the fast keyed hash loses nothing and costs a
microsecond per request instead of tens of milliseconds. The comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hokusai_api.db import api_keys

KEY_PREFIX = "hk_"
KEY_PATTERN = re.compile(r"hk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
LAST_USED_RESOLUTION = timedelta(seconds=60)
"""``last_used_at`` is written at most once a minute per key, so a busy key does not turn
every read into a write."""


def new_key() -> tuple[str, str, str]:
    """A fresh ``(key, id, secret)``."""
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    return f"{KEY_PREFIX}{key_id}_{secret}", key_id, secret


def parse_key(key: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a well-formed key, else None."""
    match = KEY_PATTERN.fullmatch(key)
    return (match.group(1), match.group(2)) if match else None


def secret_hash(salt: bytes, secret: str) -> bytes:
    return hmac.new(salt, secret.encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class KeyRecord:
    id: str
    owner: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "owner": self.owner,
            "scopes": list(self.scopes),
            "created_at": _iso(self.created_at),
            "expires_at": _iso(self.expires_at),
            "last_used_at": _iso(self.last_used_at),
            "revoked_at": _iso(self.revoked_at),
            "active": self.revoked_at is None
            and (self.expires_at is None or self.expires_at > datetime.now(UTC)),
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


_COLUMNS = (
    api_keys.c.id,
    api_keys.c.owner,
    api_keys.c.scopes,
    api_keys.c.created_at,
    api_keys.c.expires_at,
    api_keys.c.last_used_at,
    api_keys.c.revoked_at,
)


def _record(row) -> KeyRecord:
    return KeyRecord(
        id=row.id,
        owner=row.owner,
        scopes=tuple(row.scopes),
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class KeyStore:
    """The ``api_keys`` table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self, owner: str, scopes: tuple[str, ...], expires_at: datetime | None
    ) -> tuple[str, KeyRecord]:
        """A new key for ``owner``: the key itself (never stored) and its record."""
        key, key_id, secret = new_key()
        salt = secrets.token_bytes(16)
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            connection.execute(
                api_keys.insert().values(
                    id=key_id,
                    owner=owner,
                    scopes=list(scopes),
                    salt=salt,
                    secret_hash=secret_hash(salt, secret),
                    created_at=now,
                    expires_at=expires_at,
                )
            )
        return key, KeyRecord(key_id, owner, scopes, now, expires_at, None, None)

    def authenticate(self, key: str) -> KeyRecord | None:
        """The record of a valid, unrevoked, unexpired ``key`` (its last use noted), else
        None. The same work is done for an unknown id as for a wrong secret."""
        parsed = parse_key(key)
        if parsed is None:
            return None
        key_id, secret = parsed
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(*_COLUMNS, api_keys.c.salt, api_keys.c.secret_hash).where(
                    api_keys.c.id == key_id
                )
            ).first()
        salt, stored = (row.salt, row.secret_hash) if row else (b"\0" * 16, b"\0" * 32)
        matches = hmac.compare_digest(secret_hash(salt, secret), stored)
        if row is None or not matches:
            return None
        record = _record(row)
        now = datetime.now(UTC)
        if record.revoked_at is not None or (record.expires_at and record.expires_at <= now):
            return None
        if record.last_used_at is None or now - record.last_used_at >= LAST_USED_RESOLUTION:
            with self.engine.begin() as connection:
                connection.execute(
                    api_keys.update().where(api_keys.c.id == key_id).values(last_used_at=now)
                )
        return record

    def get(self, key_id: str) -> KeyRecord | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(*_COLUMNS).where(api_keys.c.id == key_id)).first()
        return _record(row) if row else None

    def list(
        self, owner: str | None, limit: int, after: str | None
    ) -> tuple[list[KeyRecord], str | None]:
        """Keys in id order, ``limit`` at a time after id ``after``; and the next page's
        token (the last id), or None on the last page."""
        query = sa.select(*_COLUMNS).order_by(api_keys.c.id).limit(limit + 1)
        if owner is not None:
            query = query.where(api_keys.c.owner == owner)
        if after is not None:
            query = query.where(api_keys.c.id > after)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        records = [_record(row) for row in rows[:limit]]
        return records, (records[-1].id if len(rows) > limit else None)

    def revoke(self, key_id: str) -> KeyRecord | None:
        """Revokes the key (kept, for the audit trail); None if there is no such key. A
        revoked key stays revoked: revoking again changes nothing."""
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            connection.execute(
                api_keys.update()
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return self.get(key_id)
