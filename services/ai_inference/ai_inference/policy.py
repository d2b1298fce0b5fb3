"""Choosing a move: score every legal move, then pick among the best by difficulty.

Scores come from the model for the game's ``board_type`` and ``num_players`` when one is
loaded and every legal move carries ``features`` it can read; otherwise from the fallback
heuristic: a move's own ``score`` if it has a number there, else the sum of its
``features``, else 0 (a move given as a plain string scores 0). A sum beyond a double's
range scores ``±inf`` (ranked first or last), never an error.

Selection is the same for both. Moves are ranked by score (ties by their JSON text, so the
order does not depend on how the caller listed them), and the move is taken from the top
``k``, where ``k`` shrinks with difficulty: all moves at difficulty 1, only the best at 10
(``k = max(1, ceil(n × (10 − difficulty) / 9))``). Which of the ``k`` is taken is decided by
a SHA-256 of the request (game state, player, difficulty): the same request always gets the
same move, and there is no random state to seed, share or leak between requests.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ai_inference.model_store import HeuristicModel, ModelStore, dot

MAX_DIFFICULTY = 10
FALLBACK = "fallback"

Move = Mapping[str, Any] | str


@dataclass(frozen=True)
class Choice:
    index: int
    """Position of the chosen move in ``legal_moves``."""
    policy: str
    """The model's name, or ``fallback``."""
    reason: str = ""
    """Why a loaded model was not used, when it was not."""


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def features(move: Move) -> tuple[float, ...] | None:
    """The move's ``features``, when it has a non-empty list of finite numbers there."""
    raw = move.get("features") if isinstance(move, Mapping) else None
    if not isinstance(raw, list) or not raw:
        return None
    numbers = tuple(_number(value) for value in raw)
    return None if any(n is None for n in numbers) else numbers  # type: ignore[return-value]


def fallback_score(move: Move) -> float:
    if isinstance(move, Mapping):
        own = _number(move.get("score"))
        if own is not None:
            return own
        found = features(move)
        if found is not None:
            return dot([1.0] * len(found), found)
    return 0.0


def model_scores(model: HeuristicModel, moves: Sequence[Move]) -> tuple[list[float] | None, str]:
    """The model's score of every move, or ``None`` and why the model cannot score them."""
    scores = []
    for position, move in enumerate(moves):
        found = features(move)
        if found is None or len(found) != len(model.weights):
            return None, (f"legal_moves[{position}] has no features of length {len(model.weights)}")
        scores.append(model.score(found))
    return scores, ""


def candidates(count: int, difficulty: int) -> int:
    """How many of the best-ranked moves the choice is made among."""
    return max(1, math.ceil(count * (MAX_DIFFICULTY - difficulty) / (MAX_DIFFICULTY - 1)))


def choose(
    game_state: Mapping[str, Any],
    moves: Sequence[Move],
    player_number: int,
    difficulty: int,
    store: ModelStore,
) -> Choice:
    model = store.find(game_state.get("board_type"), game_state.get("num_players"))
    scores, reason = model_scores(model, moves) if model else (None, "")
    policy = model.name if model and scores is not None else FALLBACK
    if scores is None:
        scores = [fallback_score(move) for move in moves]
    texts = [canonical(move) for move in moves]
    ranked = sorted(range(len(moves)), key=lambda i: (-scores[i], texts[i], i))
    request = {"game_state": game_state, "player_number": player_number, "difficulty": difficulty}
    digest = hashlib.sha256(canonical(request).encode()).digest()
    pick = int.from_bytes(digest, "big") % candidates(len(moves), difficulty)
    return Choice(index=ranked[pick], policy=policy, reason=reason)
