"""Checkpoints of a run, as JSON in a local directory or under an S3 prefix.

After every generation, three small objects are written, so a generation's checkpoint
costs the same at generation 1,000 as at generation 10:

- ``history/<generation, 8 digits>.json``: that generation's solutions and fitnesses,
  written once and never rewritten (the append-only history).
- ``checkpoint.json``: the run's configuration and how many generations are complete,
  rewritten after the generation's history object, so it never counts one not yet stored.
  Together they are the CMA-ES state: resuming reads ``checkpoint.json`` and its
  ``generations_completed`` history objects, rebuilds the strategy with the same seed and
  options and replays ``ask()``/``tell()`` with the stored values, which gives the state
  an uninterrupted run would have. A checkpoint of the first format
  (``cmaes-checkpoint/1``, every generation inside ``checkpoint.json``) still loads; the
  first save after resuming it writes its history objects once. No pickle: anyone who can
  write to the bucket (every worker role that can write there) could otherwise make the
  coordinator run code.
- ``summary.json``: for people and dashboards: generation, best fitness and parameters so
  far, sigma, evaluations and timings.

``--output`` takes ``s3://bucket/prefix`` or a directory path.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError

CHECKPOINT = "checkpoint.json"
SUMMARY = "summary.json"
FORMAT = "cmaes-checkpoint/2"
FORMAT_V1 = "cmaes-checkpoint/1"
WRITTEN = "_history_written"
"""In-memory key of a loaded or saved checkpoint: generations already in the history."""


def history_name(generation: int) -> str:
    return f"history/{generation:08d}.json"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the text says which and why."""


class Store(Protocol):
    def read(self, name: str) -> bytes | None: ...

    def write(self, name: str, data: bytes) -> None: ...

    def describe(self, name: str) -> str: ...


class LocalStore:
    """Files in a directory, each replaced atomically."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def read(self, name: str) -> bytes | None:
        path = self.directory / name
        return path.read_bytes() if path.exists() else None

    def write(self, name: str, data: bytes) -> None:
        target = self.directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temp, target)

    def describe(self, name: str) -> str:
        return str(self.directory / name)


class S3Store:
    """Objects under ``s3://bucket/prefix/``; a PutObject replaces an object atomically."""

    def __init__(self, s3: Any, bucket: str, prefix: str):
        self.s3 = s3
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def read(self, name: str) -> bytes | None:
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=self.key(name))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise
        return response["Body"].read()

    def write(self, name: str, data: bytes) -> None:
        self.s3.put_object(
            Bucket=self.bucket, Key=self.key(name), Body=data, ContentType="application/json"
        )

    def describe(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.key(name)}"


def parse_output(output: str) -> tuple[str, str] | None:
    """``(bucket, prefix)`` for an ``s3://`` output, ``None`` for a local path."""
    if not output.startswith("s3://"):
        return None
    bucket, _, prefix = output[len("s3://") :].partition("/")
    if not bucket:
        raise CheckpointError(f"--output: expected s3://bucket/prefix, got {output!r}")
    return bucket, prefix


def open_store(output: str, s3_client: Any = None) -> Store:
    """The store ``--output`` names; ``s3_client()`` makes the S3 client when needed."""
    parsed = parse_output(output)
    if parsed is None:
        return LocalStore(output)
    return S3Store(s3_client(), *parsed)


def load(store: Store) -> dict[str, Any] | None:
    """The stored checkpoint, checked for shape, or ``None`` if there is none."""
    raw = store.read(CHECKPOINT)
    if raw is None:
        return None
    where = store.describe(CHECKPOINT)
    try:
        data = json.loads(raw)
    except ValueError as error:
        raise CheckpointError(f"{where}: not JSON ({error})") from None
    if not isinstance(data, dict) or data.get("format") not in {FORMAT, FORMAT_V1}:
        raise CheckpointError(f"{where}: expected format {FORMAT!r}")
    if data["format"] == FORMAT:
        data["generations"] = _history(store, data.get("generations_completed"), where)
        data[WRITTEN] = len(data["generations"])
    else:
        data["format"], data[WRITTEN] = FORMAT, 0
    run, generations = data.get("run"), data.get("generations")
    if not isinstance(run, dict) or not isinstance(generations, list):
        raise CheckpointError(f"{where}: expected 'run' and 'generations'")
    dimension, size = run.get("dimension"), run.get("population_size")
    for i, generation in enumerate(generations):
        solutions = generation.get("solutions") if isinstance(generation, dict) else None
        fitness = generation.get("fitness") if isinstance(generation, dict) else None
        ok = (
            isinstance(solutions, list)
            and isinstance(fitness, list)
            and len(solutions) == len(fitness) == size
            and all(isinstance(x, list) and len(x) == dimension for x in solutions)
            and generation.get("generation") == i
        )
        if not ok:
            raise CheckpointError(f"{where}: generation {i} does not match the run's shape")
    return data


def _history(store: Store, count: Any, where: str) -> list[Any]:
    if not isinstance(count, int) or count < 0:
        raise CheckpointError(f"{where}: expected 'generations_completed', an integer >= 0")
    out = []
    for generation in range(count):
        raw = store.read(history_name(generation))
        if raw is None:
            raise CheckpointError(f"{store.describe(history_name(generation))}: missing")
        try:
            out.append(json.loads(raw))
        except ValueError as error:
            raise CheckpointError(f"{store.describe(history_name(generation))}: {error}") from None
    return out


def save(store: Store, checkpoint: dict[str, Any], summary: dict[str, Any]) -> None:
    """Write the generations not yet in the history, then the checkpoint that counts them,
    then the summary (which only ever describes a saved state)."""
    generations = checkpoint["generations"]
    for generation in range(checkpoint.get(WRITTEN, 0), len(generations)):
        body = json.dumps(generations[generation], separators=(",", ":")).encode()
        store.write(history_name(generation), body)
    checkpoint[WRITTEN] = len(generations)
    header = {k: v for k, v in checkpoint.items() if k not in {"generations", WRITTEN}}
    header |= {"format": FORMAT, "generations_completed": len(generations)}
    store.write(CHECKPOINT, json.dumps(header, separators=(",", ":")).encode())
    store.write(SUMMARY, json.dumps(summary, indent=2).encode())
