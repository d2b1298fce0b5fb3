"""Models: heuristic weights read from ``MODEL_DIR`` once, at start-up.

A model is a JSON file, one per board and player count, named by its file's stem::

    {"board": "square8", "num_players": 2, "weights": [0.12, -0.5, 0.33, ...]}

the shape of a CMA-ES training run's result (``weights`` = its ``best_params``). It scores a
legal move that carries ``features`` (as many numbers as there are weights) by their dot
product. PyTorch checkpoints (``.pth``, ``.pt``) need torch, which this CPU image leaves
out; they are listed as skipped, not loaded. A file that does not parse is skipped too, with
the reason: one bad file must not take the other models (or the service) down. Other files
(``README.md``, ``.gitkeep``) are not models and are ignored.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TORCH_SUFFIXES = (".pth", ".pt")
MAX_MODEL_BYTES = 4 * 1024 * 1024
MAX_WEIGHTS = 4096
BOARD = re.compile(r"^[a-z0-9_]{1,64}$")


def dot(weights: Iterable[float], features: Iterable[float]) -> float:
    """The correctly rounded dot product of finite numbers; ``±inf`` when it is beyond a
    double. ``math.fsum`` raises on an intermediate overflow (``[1e308, 1e308]``) and on a
    product that is already infinite, so those sums are done exactly, in integers."""
    pairs = list(zip(weights, features, strict=True))
    products = [w * f for w, f in pairs]
    if all(math.isfinite(p) for p in products):
        try:
            return math.fsum(products)
        except OverflowError:
            pass
    # Every double is n / 2**k: each product is exact as (nw * nf) / 2**(kw + kf), and so is
    # their sum over the largest power of two; int / int is correctly rounded (and raises
    # OverflowError beyond a double). Plain integers: a 1 MiB body of such features costs
    # milliseconds, where fractions.Fraction took seconds.
    terms = []
    for w, f in pairs:
        (nw, dw), (nf, df) = w.as_integer_ratio(), f.as_integer_ratio()
        terms.append((nw * nf, (dw * df).bit_length() - 1))
    shift = max(k for _, k in terms)
    total = sum(n << (shift - k) for n, k in terms)
    try:
        return total / (1 << shift)
    except OverflowError:
        return math.inf if total > 0 else -math.inf


class ModelError(ValueError):
    """A model file's content is not a model; the text says what is wrong."""


@dataclass(frozen=True)
class HeuristicModel:
    name: str
    """The file's stem, e.g. ``square8_2p``; reported as the ``policy`` of its moves."""
    board: str
    num_players: int
    weights: tuple[float, ...]

    def score(self, features: tuple[float, ...]) -> float:
        return dot(self.weights, features)


@dataclass(frozen=True)
class SkippedFile:
    file: str
    reason: str


@dataclass(frozen=True)
class ModelStore:
    models: tuple[HeuristicModel, ...] = ()
    skipped: tuple[SkippedFile, ...] = ()

    def find(self, board: str | None, num_players: int | None) -> HeuristicModel | None:
        """The model for this board and player count, if one was loaded."""
        for model in self.models:
            if model.board == board and model.num_players == num_players:
                return model
        return None


def parse_model(name: str, content: bytes) -> HeuristicModel:
    try:
        data: Any = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"not JSON: {error}") from error
    if not isinstance(data, dict):
        raise ModelError("expected a JSON object with board, num_players and weights")
    board = data.get("board")
    if not isinstance(board, str) or not BOARD.match(board):
        raise ModelError("board: expected 1-64 of a-z 0-9 _, e.g. square8")
    players = data.get("num_players")
    if isinstance(players, bool) or not isinstance(players, int) or not 2 <= players <= 4:
        raise ModelError("num_players: expected an integer from 2 to 4")
    weights = data.get("weights")
    if not isinstance(weights, list) or not 1 <= len(weights) <= MAX_WEIGHTS:
        raise ModelError(f"weights: expected a list of 1 to {MAX_WEIGHTS} numbers")
    if not all(_is_number(w) and math.isfinite(w) for w in weights):
        raise ModelError("weights: every weight must be a finite number")
    return HeuristicModel(
        name=name, board=board, num_players=players, weights=tuple(float(w) for w in weights)
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def load_models(directory: Path) -> ModelStore:
    """Every model in ``directory`` (not its subdirectories); an absent directory has none."""
    if not directory.is_dir():
        log.info(
            "no model directory: every move comes from the fallback policy",
            extra={"model_dir": str(directory)},
        )
        return ModelStore()
    models: list[HeuristicModel] = []
    skipped: list[SkippedFile] = []
    for path in sorted(directory.iterdir()):
        suffix = path.suffix.lower()
        if not path.is_file() or suffix not in (".json", *TORCH_SUFFIXES):
            continue
        if suffix in TORCH_SUFFIXES:
            skipped.append(SkippedFile(path.name, "PyTorch model: needs the torch build"))
            continue
        try:
            if path.stat().st_size > MAX_MODEL_BYTES:
                raise ModelError(f"larger than {MAX_MODEL_BYTES} bytes")
            model = parse_model(path.stem, path.read_bytes())
        except (OSError, ModelError) as error:
            skipped.append(SkippedFile(path.name, str(error)))
            continue
        twin = next(
            (m for m in models if (m.board, m.num_players) == (model.board, model.num_players)),
            None,
        )
        if twin is not None:
            skipped.append(
                SkippedFile(path.name, f"same board and num_players as {twin.name}, loaded first")
            )
            continue
        models.append(model)
    for model in models:
        log.info(
            "model loaded",
            extra={
                "model": model.name,
                "board": model.board,
                "num_players": model.num_players,
                "dimension": len(model.weights),
            },
        )
    for entry in skipped:
        log.warning("model skipped", extra={"file": entry.file, "reason": entry.reason})
    return ModelStore(models=tuple(models), skipped=tuple(skipped))
