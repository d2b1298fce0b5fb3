"""The task and result messages exchanged over SQS, and their validation.

A task asks for one candidate of one generation of one run to be evaluated; the result
carries the same key ``(run_id, generation, candidate)`` back, so the coordinator can match
it, and drop duplicates and results of other runs or generations. Both are JSON objects
with a ``version``; anything else on a queue is rejected with a ``ProtocolError`` that names
the offending field, never a crash.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from typing import Any

VERSION = 1
MAX_DIMENSION = 4096
"""Largest parameter vector: 4096 floats keep a task well under SQS's 256 KiB limit."""
MAX_PLAYERS = 4
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}")
BOARD_PATTERN = re.compile(r"[a-z0-9][a-z0-9_]{0,39}")
# A pool name becomes an S3 key under the pool prefix and a file name in the scratch
# directory, so it may hold no path separator and cannot start with a dot.
POOL_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


class ProtocolError(ValueError):
    """A message that is not a valid task or result; the text names the field."""


@dataclass(frozen=True)
class Task:
    """One candidate to evaluate.

    ``seed`` is the run's seed: the evaluator seeds its noise from ``(seed, generation,
    candidate)``, so evaluating the same task twice gives the same fitness. ``pool`` is the
    state pool's object name under the worker's ``STATE_POOL_PREFIX`` (``None``: no pool).
    """

    run_id: str
    generation: int
    candidate: int
    params: tuple[float, ...]
    games: int
    board: str
    num_players: int
    seed: int
    pool: str | None

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.run_id, self.generation, self.candidate)

    @property
    def dimension(self) -> int:
        return len(self.params)


@dataclass(frozen=True)
class Result:
    """The fitness of one task (higher is better), and who computed it how fast."""

    run_id: str
    generation: int
    candidate: int
    fitness: float
    worker: str
    eval_seconds: float

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.run_id, self.generation, self.candidate)


def pool_name(board: str, num_players: int) -> str:
    """The state pool a board and player count use, e.g. ``square8_2p.json``."""
    return f"{board}_{num_players}p.json"


def encode_task(task: Task) -> str:
    body = asdict(task)
    body["params"] = list(task.params)
    body["dimension"] = task.dimension
    return json.dumps({"version": VERSION, **body}, separators=(",", ":"))


def encode_result(result: Result) -> str:
    return json.dumps({"version": VERSION, **asdict(result)}, separators=(",", ":"))


def parse_task(body: str) -> Task:
    """A task from a message body, or ``ProtocolError`` naming what is wrong."""
    data = _object(body)
    run_id = _text(data, "run_id", RUN_ID_PATTERN, "1-80 letters, digits or _.:- ")
    generation = _integer(data, "generation", 0)
    candidate = _integer(data, "candidate", 0)
    dimension = _integer(data, "dimension", 1, MAX_DIMENSION)
    params = data.get("params")
    if not isinstance(params, list):
        raise ProtocolError(f"params: expected a list of {dimension} numbers")
    if len(params) != dimension:
        raise ProtocolError(f"params: expected {dimension} numbers (dimension), got {len(params)}")
    for i, value in enumerate(params):
        if not _is_number(value) or not math.isfinite(value):
            raise ProtocolError(f"params[{i}]: expected a finite number, got {value!r}")
    games = _integer(data, "games", 1, 100_000)
    board = _text(data, "board", BOARD_PATTERN, "lower-case letters, digits and _")
    num_players = _integer(data, "num_players", 2, MAX_PLAYERS)
    seed = _integer(data, "seed", 0, 2**63 - 1)
    pool = data.get("pool")
    if pool is not None:
        pool = _text(data, "pool", POOL_PATTERN, "a file name: letters, digits and _.-")
    return Task(
        run_id=run_id,
        generation=generation,
        candidate=candidate,
        params=tuple(float(v) for v in params),
        games=games,
        board=board,
        num_players=num_players,
        seed=seed,
        pool=pool,
    )


def parse_result(body: str) -> Result:
    """A result from a message body, or ``ProtocolError`` naming what is wrong."""
    data = _object(body)
    fitness = data.get("fitness")
    if not _is_number(fitness) or not math.isfinite(fitness):
        raise ProtocolError(f"fitness: expected a finite number, got {fitness!r}")
    seconds = data.get("eval_seconds")
    if not _is_number(seconds) or not math.isfinite(seconds) or seconds < 0:
        raise ProtocolError(f"eval_seconds: expected a number >= 0, got {seconds!r}")
    worker = data.get("worker")
    if not isinstance(worker, str) or not 0 < len(worker) <= 200:
        raise ProtocolError(f"worker: expected a string of 1-200 characters, got {worker!r}")
    return Result(
        run_id=_text(data, "run_id", RUN_ID_PATTERN, "1-80 letters, digits or _.:- "),
        generation=_integer(data, "generation", 0),
        candidate=_integer(data, "candidate", 0),
        fitness=float(fitness),
        worker=worker,
        eval_seconds=float(seconds),
    )


def _object(body: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (TypeError, ValueError) as error:
        raise ProtocolError(f"body: not JSON ({error})") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"body: expected a JSON object, got {type(data).__name__}")
    if data.get("version") != VERSION:
        raise ProtocolError(f"version: expected {VERSION}, got {data.get('version')!r}")
    return data


def _is_number(value: Any) -> bool:
    # bool is an int in Python but never a meaningful number here.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _integer(data: dict[str, Any], field: str, low: int, high: int | None = None) -> int:
    value = data.get(field)
    in_range = isinstance(value, int) and value >= low and (high is None or value <= high)
    if isinstance(value, bool) or not in_range:
        bound = f"from {low} to {high}" if high is not None else f">= {low}"
        raise ProtocolError(f"{field}: expected an integer {bound}, got {value!r}")
    return value


def _text(data: dict[str, Any], field: str, pattern: re.Pattern[str], form: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ProtocolError(f"{field}: expected {form.strip()}, got {value!r}")
    return value
