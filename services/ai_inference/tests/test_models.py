"""Models from MODEL_DIR: JSON heuristic weights used when they fit, .pth listed as skipped."""

from __future__ import annotations

import pytest
from ai_inference.model_store import HeuristicModel, ModelStore, SkippedFile, load_models
from ai_inference.settings import DEFAULT_MODEL_DIR, Settings

SQUARE8_2P = {"board": "square8", "num_players": 2, "weights": [1.0, -1.0]}


def feature_moves() -> list[dict]:
    # By the model (1, -1): b is best (4). By the fallback (sum, or score): a is best (10).
    return [
        {"id": "a", "features": [5.0, 5.0]},
        {"id": "b", "features": [5.0, 1.0]},
        {"id": "c", "features": [0.0, 1.0]},
    ]


def move_body(moves: list, board: str = "square8", players: int = 2, difficulty: int = 10):
    game = {"board_type": board, "num_players": players, "legal_moves": moves}
    return {"game_state": game, "player_number": 1, "difficulty": difficulty}


def test_json_models_are_loaded_and_named_by_their_file(model_dir):
    directory = model_dir({"square8_2p.json": SQUARE8_2P, "README.md": "# models", ".gitkeep": ""})

    store = load_models(directory)

    assert store == ModelStore(
        models=(HeuristicModel("square8_2p", "square8", 2, (1.0, -1.0)),), skipped=()
    )


def test_the_model_for_the_board_and_player_count_picks_the_move(make_client, model_dir, auth):
    client = make_client(model_dir=model_dir({"square8_2p.json": SQUARE8_2P}))

    response = client.post("/move", json=move_body(feature_moves()), headers=auth)

    assert response.status_code == 200
    assert response.json()["policy"] == "square8_2p"
    assert response.json()["move"]["id"] == "b"
    assert client.get("/health").json()["models"] == ["square8_2p"]


@pytest.mark.parametrize(
    ("board", "players", "moves"),
    [
        ("hex8", 2, feature_moves()),
        ("square8", 3, feature_moves()),
        ("square8", 2, [{"id": "a", "features": [5.0, 5.0]}, {"id": "b", "features": [1.0]}]),
        ("square8", 2, [{"id": "a", "features": [5.0, 5.0]}, {"id": "b"}]),
    ],
    ids=["other-board", "other-player-count", "wrong-feature-length", "no-features"],
)
def test_the_fallback_plays_when_no_model_fits(make_client, model_dir, auth, board, players, moves):
    client = make_client(model_dir=model_dir({"square8_2p.json": SQUARE8_2P}))

    response = client.post("/move", json=move_body(moves, board, players), headers=auth)

    assert response.json()["policy"] == "fallback"
    assert response.json()["move"]["id"] == "a"


def test_pytorch_models_are_listed_as_skipped(make_client, model_dir):
    directory = model_dir(
        {
            "canonical_square8_2p.pth": b"\x80\x02torch-bytes",
            "hex8_3p.pt": b"\x80\x02",
            "square8_2p.json": SQUARE8_2P,
        }
    )

    health = make_client(model_dir=directory).get("/health").json()

    assert health["models"] == ["square8_2p"]
    assert health["skipped"] == [
        {"file": "canonical_square8_2p.pth", "reason": "PyTorch model: needs the torch build"},
        {"file": "hex8_3p.pt", "reason": "PyTorch model: needs the torch build"},
    ]
    assert health["device"] == "cpu"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "not JSON"),
        ([1, 2], "expected a JSON object"),
        ({"num_players": 2, "weights": [1]}, "board:"),
        ({"board": "Square 8", "num_players": 2, "weights": [1]}, "board:"),
        ({"board": "square8", "num_players": 5, "weights": [1]}, "num_players:"),
        ({"board": "square8", "num_players": True, "weights": [1]}, "num_players:"),
        ({"board": "square8", "num_players": 2, "weights": []}, "weights:"),
        ({"board": "square8", "num_players": 2, "weights": [1, "x"]}, "weights:"),
        ({"board": "square8", "num_players": 2, "weights": [1, None]}, "weights:"),
    ],
)
def test_a_bad_model_file_is_skipped_with_its_reason(model_dir, content, reason):
    store = load_models(model_dir({"bad.json": content, "square8_2p.json": SQUARE8_2P}))

    assert [m.name for m in store.models] == ["square8_2p"]
    assert [s.file for s in store.skipped] == ["bad.json"]
    assert store.skipped[0].reason.startswith(reason)


def test_a_second_model_for_the_same_game_is_skipped(model_dir):
    store = load_models(model_dir({"a_square8.json": SQUARE8_2P, "b_square8.json": SQUARE8_2P}))

    assert [m.name for m in store.models] == ["a_square8"]
    assert store.skipped == (
        SkippedFile("b_square8.json", "same board and num_players as a_square8, loaded first"),
    )


def test_an_absent_directory_has_no_models(tmp_path):
    assert load_models(tmp_path / "nowhere") == ModelStore()


def test_the_committed_models_directory_loads_cleanly():
    store = load_models(DEFAULT_MODEL_DIR)

    assert DEFAULT_MODEL_DIR.is_dir()
    assert store.skipped == ()


def test_model_dir_from_the_environment_is_where_models_come_from(model_dir, api_key, auth):
    from ai_inference.app import create_app
    from fastapi.testclient import TestClient

    directory = model_dir({"square8_2p.json": SQUARE8_2P})
    settings = Settings.from_env({"API_KEY": api_key, "MODEL_DIR": str(directory)})

    client = TestClient(create_app(settings))

    assert client.get("/health").json()["models"] == ["square8_2p"]
