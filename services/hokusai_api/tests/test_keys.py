"""API keys against the real PostgreSQL: created, listed and revoked through the API; the
key shown once and stored only as a salted hash; owner, scopes, expiry and last use; bad
requests answered with a 4xx and a reason."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from hokusai_api import keys
from hokusai_support import ADMIN_KEY


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_created_key_is_shown_once_and_authenticates_as_its_owner(client, make_key):
    key, created = make_key(owner="alice", scopes=["models:read"])
    assert keys.KEY_PATTERN.fullmatch(key) and created["id"] == key[3:19]
    assert created["owner"] == "alice" and created["scopes"] == ["models:read"]
    me = client.get("/api/v1/me", headers=bearer(key))
    assert me.status_code == 200
    assert me.json() == {
        "owner": "alice",
        "method": "api_key",
        "scopes": ["models:read"],
        "credential": created["id"],
    }
    # Never shown again: not by get, not by list.
    shown = client.get(f"/api/v1/keys/{created['id']}", headers=bearer(ADMIN_KEY)).json()
    assert "key" not in shown and key not in str(shown)
    listed = client.get("/api/v1/keys?owner=alice&limit=100", headers=bearer(ADMIN_KEY)).json()
    assert created["id"] in [k["id"] for k in listed["keys"]] and key not in str(listed)


def test_the_database_holds_only_the_id_a_salt_and_the_keyed_hash(client, make_key, postgres):
    key, created = make_key()
    secret = key.split("_", 2)[2]
    rows = postgres.query(
        "hokusai_api",
        "SELECT owner, salt, secret_hash, scopes FROM api_keys WHERE id = %s",
        created["id"],
    )
    [(owner, salt, stored, scopes)] = rows
    assert owner == "alice" and scopes == ["models:read"] and len(bytes(salt)) == 16
    assert bytes(stored) == hmac.new(bytes(salt), secret.encode(), hashlib.sha256).digest()
    everything = postgres.query("hokusai_api", "SELECT * FROM api_keys")
    assert secret not in repr(everything) and secret.encode() not in repr(everything).encode()


def test_two_keys_get_different_salts(make_key, postgres):
    _, first = make_key()
    _, second = make_key()
    salts = postgres.query(
        "hokusai_api",
        "SELECT salt FROM api_keys WHERE id IN (%s, %s)",
        first["id"],
        second["id"],
    )
    assert len({bytes(s) for (s,) in salts}) == 2


def test_last_use_is_recorded_on_first_use(client, make_key):
    key, created = make_key()
    assert created["last_used_at"] is None
    assert client.get("/api/v1/me", headers=bearer(key)).status_code == 200
    shown = client.get(f"/api/v1/keys/{created['id']}", headers=bearer(ADMIN_KEY)).json()
    used = datetime.fromisoformat(shown["last_used_at"])
    assert timedelta(0) <= datetime.now(UTC) - used < timedelta(minutes=1)


def test_a_revoked_key_is_refused_and_stays_listed_as_revoked(client, make_key):
    key, created = make_key()
    revoked = client.delete(f"/api/v1/keys/{created['id']}", headers=bearer(ADMIN_KEY))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert revoked.json()["active"] is False
    refused = client.get("/api/v1/me", headers=bearer(key))
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    again = client.delete(f"/api/v1/keys/{created['id']}", headers=bearer(ADMIN_KEY))
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]


def test_an_expired_key_is_refused(client, settings):
    from hokusai_api.db import engine_for

    engine = engine_for(settings)
    try:
        key, _ = keys.KeyStore(engine).create(
            "bob", ("models:read",), datetime.now(UTC) - timedelta(seconds=1)
        )
    finally:
        engine.dispose()
    refused = client.get("/api/v1/me", headers=bearer(key))
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]


def test_a_key_with_an_expiry_in_the_future_works_until_then(client, make_key):
    expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    key, created = make_key(expires_at=expires)
    assert created["expires_at"].startswith(expires[:19]) and created["active"] is True
    assert client.get("/api/v1/me", headers=bearer(key)).status_code == 200


def test_a_wrong_secret_for_a_real_id_is_refused(client, make_key):
    key, _ = make_key()
    forged = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert client.get("/api/v1/me", headers=bearer(forged)).status_code == 401


def test_a_key_without_the_scope_gets_403_and_cannot_manage_keys(client, make_key):
    key, _ = make_key(scopes=["models:read"])
    refused = client.get("/api/v1/keys", headers=bearer(key))
    assert refused.status_code == 403 and "keys:manage" in refused.json()["detail"]
    reader = client.post(
        "/api/v1/keys", json={"owner": "x", "scopes": ["models:read"]}, headers=bearer(key)
    )
    assert reader.status_code == 403


def test_a_manager_key_cannot_grant_a_scope_it_lacks(client, make_key):
    manager, _ = make_key(owner="ops", scopes=["keys:manage"])
    made = client.post(
        "/api/v1/keys", json={"owner": "x", "scopes": ["keys:manage"]}, headers=bearer(manager)
    )
    assert made.status_code == 201
    refused = client.post(
        "/api/v1/keys", json={"owner": "x", "scopes": ["models:read"]}, headers=bearer(manager)
    )
    assert refused.status_code == 403 and "models:read" in refused.json()["detail"]


def test_listing_pages_through_every_key_of_an_owner(client, make_key):
    made = {make_key(owner="paging")[1]["id"] for _ in range(5)}
    seen, token, pages = [], None, 0
    while True:
        query = "owner=paging&limit=2" + (f"&page_token={token}" if token else "")
        page = client.get(f"/api/v1/keys?{query}", headers=bearer(ADMIN_KEY)).json()
        seen += [k["id"] for k in page["keys"]]
        pages += 1
        token = page["next_page_token"]
        if token is None:
            break
    assert set(seen) == made and len(seen) == 5 and pages == 3 and seen == sorted(seen)


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [
        ({}, 401, "missing credentials"),
        ({"Authorization": "Basic YWRtaW46eA=="}, 400, "expected Bearer"),
        ({"Authorization": "Bearer"}, 400, "expected Bearer"),
        ({"Authorization": "Bearer not-a-key"}, 401, "invalid"),
        ({"Authorization": "Bearer hk_0123456789abcdef_" + "x" * 43}, 401, "invalid"),
        ({"Authorization": ("Bearer " + "é" * 20).encode("latin-1")}, 401, "invalid"),
    ],
)
def test_bad_credentials_get_a_4xx_with_a_reason(client, headers, status, reason):
    answer = client.get("/api/v1/keys", headers=headers)
    assert answer.status_code == status and reason in answer.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"owner": "a", "scopes": ["models:write"]}, "scopes"),
        ({"owner": "a", "scopes": []}, "scopes"),
        ({"owner": "", "scopes": ["models:read"]}, "owner"),
        ({"owner": "a b", "scopes": ["models:read"]}, "owner"),
        ({"owner": "a" * 129, "scopes": ["models:read"]}, "owner"),
        ({"owner": "a", "scopes": ["models:read"], "expires_at": "2020-01-01T00:00:00Z"}, "past"),
        (
            {"owner": "a", "scopes": ["models:read"], "expires_at": "2999-01-01T00:00:00Z"},
            "5 years",
        ),
        (
            {"owner": "a", "scopes": ["models:read"], "expires_at": "2030-01-01T00:00:00"},
            "timezone",
        ),
        ({"owner": "a", "scopes": ["models:read"], "expires_at": "tomorrow"}, "expires_at"),
        ({"owner": "a", "scopes": ["models:read"], "admin": True}, "admin"),
        ({"owner": "a"}, "scopes"),
    ],
)
def test_a_bad_key_request_gets_422_naming_the_problem(client, admin, body, field):
    answer = client.post("/api/v1/keys", json=body, headers=admin)
    assert answer.status_code == 422 and field in str(answer.json()["detail"])


def test_a_body_that_is_not_json_gets_422(client, admin):
    answer = client.post(
        "/api/v1/keys", content=b"{nope", headers={**admin, "Content-Type": "application/json"}
    )
    assert answer.status_code == 422


def test_a_huge_body_gets_413_before_it_is_parsed(client, admin):
    answer = client.post(
        "/api/v1/keys",
        content=b'{"owner": "' + b"a" * 100_000 + b'"}',
        headers={**admin, "Content-Type": "application/json"},
    )
    assert answer.status_code == 413 and "larger than" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/keys/0123456789abcdef", 404),
        ("/api/v1/keys/not-an-id", 422),
        ("/api/v1/keys?limit=0", 422),
        ("/api/v1/keys?limit=1000", 422),
        ("/api/v1/keys?page_token=zz", 422),
        ("/api/v1/keys?owner=a%20b", 422),
    ],
)
def test_bad_paths_and_parameters_get_a_4xx(client, admin, path, status):
    assert client.get(path, headers=admin).status_code == status


def test_revoking_an_unknown_key_is_404(client, admin):
    answer = client.delete("/api/v1/keys/0123456789abcdef", headers=admin)
    assert answer.status_code == 404 and "no API key" in answer.json()["detail"]


def test_health_needs_no_credentials(client):
    assert client.get("/api/health").json() == {"status": "ok"}
