"""The ``/move`` request and response bodies.

``game_state`` is the game server's state object, passed through whole (unknown keys are
kept: they feed the choice's seed); this service reads only ``legal_moves``, ``board_type``
and ``num_players`` from it. Unknown top-level fields are ignored.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

MoveText = Annotated[str, StringConstraints(min_length=1, max_length=256)]
MAX_DEPTH = 32
"""Nesting levels a game state may have (itself is level 1). Real states are a handful deep;
a pathological one would otherwise reach the serialiser's recursion limit (a 500)."""


def nesting_depth(value: Any, limit: int) -> int:
    """How deeply ``value`` nests objects and arrays, counted without recursion and only
    until it exceeds ``limit``."""
    deepest = 0
    pending = [(value, 1)]
    while pending and deepest <= limit:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in children)
    return deepest


class GameState(BaseModel):
    model_config = ConfigDict(extra="allow")

    legal_moves: list[dict[str, Any] | MoveText] = Field(min_length=1, max_length=4096)
    """The moves the player may make now, as the game server describes them: objects
    (optionally with ``features``, a list of numbers, and ``score``, a number) or strings.
    One of them is returned unchanged."""
    board_type: str | None = Field(default=None, min_length=1, max_length=64)
    """Selects the model, with ``num_players``; e.g. ``square8``."""
    num_players: int | None = Field(default=None, ge=2, le=4, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _not_too_deep(cls, data: Any) -> Any:
        if nesting_depth(data, MAX_DEPTH) > MAX_DEPTH:
            raise ValueError(f"game_state nests deeper than {MAX_DEPTH} levels")
        return data


class MoveRequest(BaseModel):
    game_state: GameState
    player_number: int = Field(ge=1, le=4, strict=True)
    difficulty: int = Field(ge=1, le=10, strict=True)

    @model_validator(mode="after")
    def _player_is_in_the_game(self) -> MoveRequest:
        players = self.game_state.num_players
        if players is not None and self.player_number > players:
            raise ValueError(
                f"player_number {self.player_number} is not a player of a {players}-player game"
            )
        return self


class MoveResponse(BaseModel):
    # A NaN or infinite number in the chosen move is written back as the literal it came as.
    model_config = ConfigDict(ser_json_inf_nan="constants")

    move: dict[str, Any] | str
    player_number: int
    difficulty: int
    policy: str
    """The model's name, or ``fallback``."""
    thinking_ms: float
