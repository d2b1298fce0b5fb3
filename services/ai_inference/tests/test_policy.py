"""The fallback policy: deterministic, and better moves at higher difficulty."""

from __future__ import annotations

import copy

import pytest
from ai_inference.model_store import ModelStore
from ai_inference.policy import candidates, choose, fallback_score


def moves_with_scores(*scores: float) -> list[dict]:
    return [{"id": f"m{i}", "score": score} for i, score in enumerate(scores)]


def state(moves: list, **extra) -> dict:
    return {"legal_moves": moves, "move_number": 1, **extra}


def test_the_same_request_always_gets_the_same_move(client, auth, body):
    answers = {
        client.post("/move", json=body, headers=auth).json()["move"]["to"]["x"] for _ in range(5)
    }

    assert len(answers) == 1


def test_the_choice_is_pinned_by_the_request_alone():
    # The choice comes from SHA-256 of the request, not from random state or hash
    # randomisation: the same request gets the same move in every process and release.
    moves = moves_with_scores(*([0] * 10))

    choice = choose(state(moves), moves, 1, 1, ModelStore())

    assert choice.index == 2
    assert choose(state(moves), copy.deepcopy(moves), 1, 1, ModelStore()) == choice
    assert choose(state(moves, move_number=2), moves, 1, 1, ModelStore()).index != 2


@pytest.mark.parametrize(
    ("count", "difficulty", "expected"),
    [(10, 1, 10), (10, 5, 6), (10, 9, 2), (10, 10, 1), (1, 1, 1), (3, 7, 1), (100, 2, 89)],
)
def test_the_number_of_candidates_shrinks_with_difficulty(count, difficulty, expected):
    assert candidates(count, difficulty) == expected


@pytest.mark.parametrize("move_number", range(20))
def test_difficulty_ten_always_plays_the_best_scored_move(move_number):
    moves = moves_with_scores(0.1, 0.9, -2.0, 0.5, 0.89)
    game = state(moves, move_number=move_number)

    choice = choose(game, moves, 1, 10, ModelStore())

    assert moves[choice.index]["id"] == "m1"
    assert choice.policy == "fallback"


def test_the_best_move_wins_whatever_order_the_moves_come_in():
    moves = moves_with_scores(0.1, 0.9, -2.0, 0.5)
    reordered = [moves[2], moves[1], moves[3], moves[0]]

    first = choose(state(moves), moves, 2, 10, ModelStore())
    second = choose(state(reordered), reordered, 2, 10, ModelStore())

    assert moves[first.index] == reordered[second.index] == moves[1]


def test_higher_difficulty_plays_better_on_average():
    moves = moves_with_scores(*range(20))

    def mean_score(difficulty: int) -> float:
        picked = [
            moves[choose(state(moves, move_number=n), moves, 1, difficulty, ModelStore()).index]
            for n in range(60)
        ]
        return sum(m["score"] for m in picked) / len(picked)

    means = [mean_score(d) for d in (1, 4, 7, 10)]

    assert means == sorted(means)
    assert means[-1] == 19
    assert means[0] < 14


def test_low_difficulty_spreads_its_choices_over_the_moves():
    moves = moves_with_scores(*([0.0] * 8))

    picked = {
        choose(state(moves, move_number=n), moves, 1, 1, ModelStore()).index for n in range(40)
    }

    assert len(picked) >= 5


@pytest.mark.parametrize(
    ("move", "expected"),
    [
        ({"score": 2.5, "features": [1, 1]}, 2.5),
        ({"features": [1, 2, 3.5]}, 6.5),
        ({"features": [1, "x"]}, 0.0),
        ({"score": True}, 0.0),
        ({"score": "high"}, 0.0),
        ({"type": "pass"}, 0.0),
        ("e2e4", 0.0),
    ],
)
def test_the_fallback_scores_a_move_by_its_score_then_its_features(move, expected):
    assert fallback_score(move) == expected
