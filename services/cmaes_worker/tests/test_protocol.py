"""Task and result messages: round trips, and every way a message can be malformed."""

from __future__ import annotations

import json

import pytest
from cmaes_training.protocol import (
    ProtocolError,
    Result,
    Task,
    encode_result,
    encode_task,
    parse_result,
    parse_task,
    pool_name,
)

TASK = Task(
    run_id="square8-2p-20260101T000000Z-abc123",
    generation=3,
    candidate=7,
    params=(0.25, -1.5, 2.0),
    games=30,
    board="square8",
    num_players=2,
    seed=42,
    pool="square8_2p.json",
)


def task_body(**changes) -> str:
    body = json.loads(encode_task(TASK))
    for key, value in changes.items():
        if value is ...:
            del body[key]
        else:
            body[key] = value
    return json.dumps(body)


def test_a_task_survives_encoding():
    assert parse_task(encode_task(TASK)) == TASK


def test_the_pool_defaults_to_board_and_player_count():
    assert pool_name("square8", 2) == "square8_2p.json"
    assert pool_name("hexagonal", 3) == "hexagonal_3p.json"


def test_a_task_without_pool_has_none():
    assert parse_task(task_body(pool=...)).pool is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("not json", "body"),
        ("[1, 2]", "body"),
        (task_body(version=2), "version"),
        (task_body(version=...), "version"),
        (task_body(run_id=...), "run_id"),
        (task_body(run_id=""), "run_id"),
        (task_body(run_id="x\n"), "run_id"),
        (task_body(run_id="a/b"), "run_id"),
        (task_body(generation=-1), "generation"),
        (task_body(generation="3"), "generation"),
        (task_body(generation=True), "generation"),
        (task_body(generation=1.5), "generation"),
        (task_body(candidate=...), "candidate"),
        (task_body(dimension=0), "dimension"),
        (task_body(dimension=4), "params"),
        (task_body(params="0.1,0.2,0.3"), "params"),
        (task_body(params=[0.1, "x", 0.3]), "params[1]"),
        (task_body(params=[0.1, True, 0.3]), "params[1]"),
        (task_body(params=[0.1, None, 0.3]), "params[1]"),
        (task_body(games=0), "games"),
        (task_body(board="Square8"), "board"),
        (task_body(board="../etc"), "board"),
        (task_body(num_players=1), "num_players"),
        (task_body(num_players=5), "num_players"),
        (task_body(seed=-5), "seed"),
        (task_body(pool="../secrets.json"), "pool"),
        (task_body(pool="a/b.json"), "pool"),
        (task_body(pool=".hidden"), "pool"),
        (task_body(pool=3), "pool"),
    ],
)
def test_a_malformed_task_is_refused_naming_the_field(body, field):
    with pytest.raises(ProtocolError) as refused:
        parse_task(body)
    assert str(refused.value).startswith(f"{field}:")


def test_a_non_finite_parameter_is_refused():
    body = task_body().replace("0.25", "NaN")
    with pytest.raises(ProtocolError, match=r"params\[0\]: expected a finite number"):
        parse_task(body)


RESULT = Result(
    run_id=TASK.run_id,
    generation=3,
    candidate=7,
    fitness=-1.25,
    worker="ip-10-0-1-5:1",
    eval_seconds=0.5,
)


def test_a_result_survives_encoding_and_keeps_the_task_key():
    result = parse_result(encode_result(RESULT))
    assert result == RESULT
    assert result.key == TASK.key


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"fitness": None}, "fitness"),
        ({"fitness": "1.0"}, "fitness"),
        ({"fitness": float("inf")}, "fitness"),
        ({"eval_seconds": -1}, "eval_seconds"),
        ({"worker": ""}, "worker"),
        ({"candidate": -1}, "candidate"),
        ({"run_id": 5}, "run_id"),
        ({"version": 0}, "version"),
    ],
)
def test_a_malformed_result_is_refused_naming_the_field(changes, field):
    body = {**json.loads(encode_result(RESULT)), **changes}
    with pytest.raises(ProtocolError) as refused:
        parse_result(json.dumps(body))
    assert str(refused.value).startswith(f"{field}:")
