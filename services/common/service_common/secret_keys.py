"""The keys a client may present while a secret rotates: AWSCURRENT, AWSPREVIOUS and, while a
rotation is under way, AWSPENDING, read from Secrets Manager at run time.

An ECS ``secrets`` variable is fixed when the task starts, so a service that checked only its
``API_KEY`` would refuse the new key after a rotation until it restarts (and a restarted one
the old key clients still hold). A :class:`KeyRing` holds the accepted values, read with
``DescribeSecret`` (which stages exist) and one ``GetSecretValue`` per stage, and keeps them
``ttl`` seconds; a key it does not know makes it read again, at most once every
``min_refresh_seconds``, so a client sending wrong keys cannot turn each request into two
Secrets Manager calls. When Secrets Manager cannot be read, the ring keeps what it had (or,
before the first read, the ``fallback`` values: the task's ``API_KEY``), so an outage of
Secrets Manager does not refuse every client.

Stdlib only, and boto3 imported on first use (the Lambda runtime and every service image
have it): the ECS services and the WebSocket authorizer share this one implementation.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

STAGES = ("AWSCURRENT", "AWSPREVIOUS", "AWSPENDING")
"""The version stages whose values are accepted, in the order they are read."""
DEFAULT_TTL_SECONDS = 300.0
DEFAULT_MIN_REFRESH_SECONDS = 10.0


def secret_stages(secret_id: str, client=None) -> Callable[[], list[str]]:
    """A source of the secret's accepted values: one ``DescribeSecret``, then a
    ``GetSecretValue`` per stage of :data:`STAGES` that some version carries."""

    def read() -> list[str]:
        nonlocal client
        if client is None:
            import boto3

            client = boto3.client("secretsmanager")
        described = client.describe_secret(SecretId=secret_id)
        present = {s for stages in described.get("VersionIdsToStages", {}).values() for s in stages}
        values = []
        for stage in STAGES:
            if stage in present:
                value = client.get_secret_value(SecretId=secret_id, VersionStage=stage)
                values.append(value["SecretString"])
        return values

    return read


class KeyRing:
    """The accepted keys of one secret, cached; thread-safe.

    ``source`` returns the accepted values (:func:`secret_stages`); ``fallback`` the values
    accepted until the first successful read (default none); ``ttl`` how long a read is
    trusted (default 300 s: a key removed by a rotation stops being accepted within it);
    ``min_refresh_seconds`` the least time between two reads caused by unknown keys
    (default 10 s); ``clock`` a monotonic clock (tests)."""

    def __init__(
        self,
        source: Callable[[], Iterable[str]] | None,
        fallback: Iterable[str] = (),
        ttl: float = DEFAULT_TTL_SECONDS,
        min_refresh_seconds: float = DEFAULT_MIN_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._keys = tuple(k.encode() for k in fallback if k)
        self._ttl = ttl
        self._min_refresh = min_refresh_seconds
        self._clock = clock
        self._read_at: float | None = None
        self._tried_at: float | None = None
        self._lock = threading.Lock()
        self.reads = 0
        """How many times ``source`` was called (tests and logs)."""

    def matches(self, candidates: Iterable[bytes]) -> bool:
        """Whether any candidate is an accepted key, reading the secret when the cached
        values are older than ``ttl`` or, rate-limited, when no candidate matched."""
        candidates = list(candidates)
        if self._stale():
            self.refresh()
        if self._compare(candidates):
            return True
        if self._may_retry():
            self.refresh()
            return self._compare(candidates)
        return False

    def needs_read(self, candidates: Iterable[bytes]) -> bool:
        """Whether :meth:`matches` would read the secret for these candidates (an async
        caller then runs it in a thread)."""
        return self._stale() or (not self._compare(list(candidates)) and self._may_retry())

    def refresh(self) -> None:
        """Read the accepted values now; on failure keep the ones held."""
        if self._source is None:
            return
        with self._lock:
            self._tried_at = self._clock()
            try:
                values = tuple(v.encode() for v in self._source() if v)
            except Exception as error:  # any failure: keep serving with what we hold
                log.warning("secret keys not refreshed: %s", type(error).__name__)
                return
            finally:
                self.reads += 1
            if values:
                self._keys = values
                self._read_at = self._tried_at

    def _compare(self, candidates: list[bytes]) -> bool:
        keys = self._keys
        # Every pair is compared, so the time taken does not depend on which one matched.
        found = [hmac.compare_digest(c, k) for c in candidates for k in keys]
        return any(found)

    def _stale(self) -> bool:
        if self._source is None:
            return False
        now = self._clock()
        fresh = self._read_at is not None and now - self._read_at < self._ttl
        recently_tried = self._tried_at is not None and now - self._tried_at < self._min_refresh
        return not fresh and not recently_tried

    def _may_retry(self) -> bool:
        if self._source is None:
            return False
        return self._tried_at is None or self._clock() - self._tried_at >= self._min_refresh


def ring_for(secret_id: str | None, fallback_key: str, **options) -> KeyRing | None:
    """The ring of a service's ``API_KEY_SECRET_ID`` (None without one: ``API_KEY`` alone),
    falling back to its ``API_KEY`` until Secrets Manager has been read."""
    if not secret_id:
        return None
    # A service told to read its secret must be able to: without boto3 it would silently
    # keep its start-up key and refuse every client after the first rotation.
    import boto3  # noqa: F401

    return KeyRing(secret_stages(secret_id), fallback=[fallback_key], **options)
