"""State pools read from S3 and cached in the scratch directory by ETag.

A pool is the object ``s3://<bucket>/<prefix><name>``; the worker only ever reads under
that prefix. The first read of a pool downloads it to ``<scratch>/state-pools/<name>@<etag>``;
every later read asks S3 for it with ``If-None-Match: <etag>`` and, on ``304 Not Modified``,
serves the cached file, so a pool is transferred once per worker and version. A pool that
does not exist reads as ``None``, and that answer is cached too: for ``missing_ttl`` seconds
(default 60) the pool is not asked for again, so a run without pools costs one GetObject per
pool and minute instead of one per task; a pool uploaded meanwhile is seen within that time.
At most ``MAX_MISSES`` missing names are remembered (the oldest forgotten first).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

log = logging.getLogger(__name__)

_MISSING = {"NoSuchKey", "404", "NotFound"}
_NOT_MODIFIED = {"304", "NotModified"}
MISSING_TTL = 60.0
"""Seconds a missing pool reads as ``None`` without asking S3 again."""
MAX_MISSES = 1024


class StatePools:
    """Reads state pools through the scratch cache. Safe to share between threads.

    ``hits`` and ``downloads`` count reads served from the cache and from S3, ``misses``
    reads of a missing pool (asked for or cached).
    """

    def __init__(
        self,
        s3: Any,
        bucket: str,
        prefix: str,
        scratch_dir: str | Path,
        missing_ttl: float = MISSING_TTL,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._s3 = s3
        self._bucket = bucket
        self._prefix = prefix
        self._dir = Path(scratch_dir) / "state-pools"
        self._dir.mkdir(parents=True, exist_ok=True)
        self._etags: dict[str, str] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._missing: OrderedDict[str, float] = OrderedDict()  # name -> when it expires
        self._missing_ttl = missing_ttl
        self._clock = clock
        self.hits = 0
        self.downloads = 0
        self.misses = 0

    def key(self, name: str) -> str:
        return f"{self._prefix}{name}"

    def get(self, name: str) -> bytes | None:
        """The content of pool ``name``, or ``None`` if there is no such object."""
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        # One download per pool at a time: concurrent evaluations of one pool wait for it.
        with lock:
            return self._get(name)

    def _get(self, name: str) -> bytes | None:
        with self._guard:
            expires = self._missing.get(name)
            if expires is not None and self._clock() < expires:
                self.misses += 1
                return None
            self._missing.pop(name, None)
        etag = self._etags.get(name) or self._cached_etag(name)
        request = {"Bucket": self._bucket, "Key": self.key(name)}
        if etag is not None:
            request["IfNoneMatch"] = f'"{etag}"'
        try:
            response = self._s3.get_object(**request)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in _NOT_MODIFIED and etag is not None:
                with self._guard:
                    self.hits += 1
                self._etags[name] = etag
                return self._path(name, etag).read_bytes()
            if code in _MISSING:
                log.info("state pool missing", extra={"pool": name, "key": self.key(name)})
                self._etags.pop(name, None)
                with self._guard:
                    self.misses += 1
                    self._missing[name] = self._clock() + self._missing_ttl
                    while len(self._missing) > MAX_MISSES:
                        self._missing.popitem(last=False)
                return None
            raise
        body = response["Body"].read()
        new_etag = _clean(response["ETag"])
        self._store(name, new_etag, body)
        self._etags[name] = new_etag
        with self._guard:
            self.downloads += 1
        log.info(
            "state pool downloaded", extra={"pool": name, "etag": new_etag, "bytes": len(body)}
        )
        return body

    def _path(self, name: str, etag: str) -> Path:
        return self._dir / f"{name}@{etag}"

    def _cached_etag(self, name: str) -> str | None:
        # Pool names are protocol-checked file names without glob characters or "@".
        # A restarted worker with the same scratch volume reuses what it downloaded before.
        cached = sorted(self._dir.glob(f"{name}@*"), key=lambda p: p.stat().st_mtime)
        return cached[-1].name.rpartition("@")[2] if cached else None

    def _store(self, name: str, etag: str, body: bytes) -> None:
        fd, temp = tempfile.mkstemp(dir=self._dir, prefix=".download-")
        with os.fdopen(fd, "wb") as out:
            out.write(body)
        os.replace(temp, self._path(name, etag))
        for old in self._dir.glob(f"{name}@*"):
            if old.name != f"{name}@{etag}":
                old.unlink(missing_ok=True)


def _clean(etag: str) -> str:
    # ETags are quoted hex digests, "-<parts>" for multipart uploads: safe in a file name.
    return re.sub(r"[^A-Za-z0-9-]", "", etag)
