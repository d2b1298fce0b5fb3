"""Numbers at the edges of a double: sums that overflow, NaN and infinite scores."""

from __future__ import annotations

import json
import math

import pytest
from ai_inference.model_store import dot

WEIGHTS = {"board": "square8", "num_players": 2, "weights": [1.0, 1.0]}


def raw_body(moves_json: str, difficulty: int = 10) -> str:
    # Written by hand: NaN and Infinity are not standard JSON, so no encoder would send them.
    return (
        '{"game_state": {"board_type": "square8", "num_players": 2, "legal_moves": '
        + moves_json
        + '}, "player_number": 1, "difficulty": '
        + str(difficulty)
        + "}"
    )


def post(client, auth, body: str):
    return client.post("/move", content=body, headers={**auth, "Content-Type": "application/json"})


@pytest.mark.parametrize("with_model", [False, True], ids=["fallback", "model"])
def test_features_whose_sum_overflows_rank_as_infinite_not_a_500(
    make_client, model_dir, auth, with_model
):
    client = (
        make_client(model_dir=model_dir({"square8_2p.json": WEIGHTS}))
        if with_model
        else make_client()
    )
    moves = [
        {"id": "small", "features": [1.0, 2.0]},
        {"id": "huge", "features": [1e308, 1e308]},
        {"id": "very-negative", "features": [-1e308, -1e308]},
    ]

    response = post(client, auth, raw_body(json.dumps(moves)))

    assert response.status_code == 200, response.text
    assert response.json()["move"] == moves[1]
    assert response.json()["policy"] == ("square8_2p" if with_model else "fallback")


def test_a_model_whose_products_overflow_with_opposite_signs_still_answers(
    make_client, model_dir, auth
):
    client = make_client(
        model_dir=model_dir({"square8_2p.json": {**WEIGHTS, "weights": [1e300, -1e300]}})
    )
    moves = [{"id": "a", "features": [1e10, 1e10]}, {"id": "b", "features": [1e10, 0.0]}]

    response = post(client, auth, raw_body(json.dumps(moves)))

    assert response.status_code == 200, response.text
    # a: 1e310 - 1e310 = 0 exactly; b: 1e310, overflows to +inf: b is best.
    assert response.json()["move"]["id"] == "b"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_a_move_with_a_non_finite_score_is_returned_unchanged(client, auth, literal):
    moves = '[{"id": "odd", "score": ' + literal + "}]"

    response = post(client, auth, raw_body(moves))

    assert response.status_code == 200, response.text
    assert '"score":' + literal in response.text.replace(" ", "")
    assert json.loads(response.text)["move"]["id"] == "odd"


@pytest.mark.parametrize(
    ("weights", "features", "expected"),
    [
        ([1.0, 1.0, 1.0], [1e308, 1e308, -1e308], 1e308),  # overflows midway, not at the end
        ([1.0] * 5, [1e308, 1e308, -1e308, -1e308, 1e-300], 1e-300),
        ([1e300, -1e300], [1e10, 1e10], 0.0),  # infinite products that cancel
        ([-2.0], [1e308], -math.inf),
        ([0.5, 0.25], [3.0, 4.0], 2.5),  # the ordinary case, math.fsum's answer
    ],
)
def test_the_dot_product_is_exact_then_rounded_or_infinite(weights, features, expected):
    assert dot(weights, features) == expected
