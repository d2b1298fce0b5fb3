"""POST /move: the seed's body, its validation (422, never 500), the body limit (413)."""

from __future__ import annotations

import json

import pytest
from ai_inference.model_store import ModelStore


def test_a_move_is_one_of_the_legal_moves_with_the_documented_fields(client, auth, body):
    response = client.post("/move", json=body, headers=auth)

    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"move", "player_number", "difficulty", "policy", "thinking_ms"}
    assert answer["move"] in body["game_state"]["legal_moves"]
    assert (answer["player_number"], answer["difficulty"]) == (1, 3)
    assert answer["policy"] == "fallback"
    assert answer["thinking_ms"] >= 0


def test_moves_given_as_strings_are_returned_as_strings(client, auth, body):
    body["game_state"]["legal_moves"] = ["e2e4", "d2d4"]

    response = client.post("/move", json=body, headers=auth)

    assert response.json()["move"] in ("e2e4", "d2d4")


def test_malformed_json_gets_422_not_500(client, auth):
    response = client.post(
        "/move", content=b'{"game_state": {', headers={**auth, "Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


@pytest.mark.parametrize("field", ["game_state", "player_number", "difficulty"])
def test_a_missing_field_gets_422_naming_it(client, auth, body, field):
    del body[field]

    response = client.post("/move", json=body, headers=auth)

    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", field]]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("player_number", 0),
        ("player_number", 5),
        ("player_number", "1"),
        ("player_number", True),
        ("difficulty", 0),
        ("difficulty", 11),
        ("difficulty", 2.5),
        ("difficulty", None),
        ("game_state", "not an object"),
        ("game_state", [1, 2]),
    ],
)
def test_an_out_of_range_or_mistyped_field_gets_422(client, auth, body, field, value):
    body[field] = value

    response = client.post("/move", json=body, headers=auth)

    assert response.status_code == 422
    assert [e["loc"][:2] for e in response.json()["detail"]] == [["body", field]]


@pytest.mark.parametrize(
    ("legal_moves", "expected"),
    [
        ("absent", "Field required"),
        ([], "List should have at least 1 item"),
        ("e2e4", "Input should be a valid list"),
        ([42], "Input should be a valid"),
        ([""], "String should have at least 1 character"),
    ],
    ids=["absent", "empty", "not-a-list", "a-number", "empty-string"],
)
def test_a_game_state_without_legal_moves_gets_422_with_the_reason(
    client, auth, body, legal_moves, expected
):
    if legal_moves == "absent":
        del body["game_state"]["legal_moves"]
    else:
        body["game_state"]["legal_moves"] = legal_moves

    response = client.post("/move", json=body, headers=auth)

    assert response.status_code == 422
    errors = response.json()["detail"]
    assert all(e["loc"][:3] == ["body", "game_state", "legal_moves"] for e in errors)
    assert any(e["msg"].startswith(expected) for e in errors)


def test_a_player_outside_the_game_gets_422(client, auth, body):
    body["player_number"] = 3  # of a 2-player game

    response = client.post("/move", json=body, headers=auth)

    assert response.status_code == 422
    assert "player_number 3 is not a player of a 2-player game" in response.text


@pytest.mark.parametrize("num_players", [1, 5, "2"])
def test_a_bad_num_players_gets_422(client, auth, body, num_players):
    body["game_state"]["num_players"] = num_players

    response = client.post("/move", json=body, headers=auth)

    assert response.status_code == 422


def test_unknown_fields_are_ignored(client, auth, body):
    body["ai_type"] = "mcts"

    assert client.post("/move", json=body, headers=auth).status_code == 200


def test_a_validation_error_does_not_echo_the_game_state(client, auth, body):
    body["game_state"]["legal_moves"] = []
    body["game_state"]["private_notes"] = "hidden strategy"

    response = client.post("/move", json=body, headers=auth)

    assert response.status_code == 422
    assert "hidden strategy" not in response.text


def test_a_body_over_the_limit_gets_413(make_client, auth, body):
    client = make_client(max_body_bytes=4096)
    body["game_state"]["board"] = ["." * 100] * 50

    response = client.post("/move", json=body, headers=auth)

    assert response.status_code == 413
    assert response.json() == {"detail": "request body larger than 4096 bytes"}


def test_a_chunked_body_over_the_limit_gets_413(make_client, auth):
    client = make_client(max_body_bytes=4096)

    response = client.post(
        "/move",
        content=(b"x" * 1000 for _ in range(5)),
        headers={**auth, "Content-Type": "application/json"},
    )

    assert response.status_code == 413


def test_the_default_limit_is_one_mebibyte(client, auth, body):
    body["game_state"]["history"] = "x" * (1024 * 1024)

    response = client.post("/move", json=body, headers=auth)

    assert response.status_code == 413
    assert len(json.dumps(body)) > 1024 * 1024


class BrokenStore(ModelStore):
    def find(self, board, num_players):
        raise RuntimeError("store internals: /opt/secret")


def test_an_unexpected_error_gets_a_bare_500_json(make_client, auth, body):
    client = make_client(store=BrokenStore())

    response = client.post("/move", json=body, headers=auth)

    assert response.status_code == 500
    assert response.json() == {
        "detail": "internal server error",
        "request_id": response.headers["X-Request-Id"],
    }
    assert "secret" not in response.text


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def post_raw(client, auth, game_state_json: str):
    """POST /move with ``game_state`` given as JSON text (which json.dumps could not write)."""
    content = '{"game_state": ' + game_state_json + ', "player_number": 1, "difficulty": 1}'
    return client.post(
        "/move", content=content.encode(), headers={**auth, "Content-Type": "application/json"}
    )


@pytest.mark.parametrize("where", ["game_state", "a_move"])
def test_a_game_state_nested_too_deeply_gets_422(client, auth, where):
    if where == "game_state":
        game = '{"legal_moves": ["a"], "board": ' + nested(40) + "}"
    else:
        game = '{"legal_moves": [{"path": ' + nested(40) + "}]}"

    response = post_raw(client, auth, game)

    assert response.status_code == 422
    assert "game_state nests deeper than 32 levels" in response.text


def test_a_game_state_at_the_depth_limit_is_accepted(client, auth):
    response = post_raw(client, auth, '{"legal_moves": ["a"], "board": ' + nested(31) + "}")

    assert response.status_code == 200


def test_json_nested_beyond_the_parsers_limit_gets_400_not_500(client, auth):
    response = post_raw(client, auth, '{"legal_moves": ["a"], "x": ' + nested(5000) + "}")

    assert response.status_code == 400
    assert response.json() == {"detail": "There was an error parsing the body"}
