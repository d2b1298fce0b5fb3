"""The authorization function behind the load balancer's sign-in (mlflow_entrypoint/alb_sso):
only tokens this load balancer signed are accepted, as the user their claim names; the
rest of the requests go to MLflow's basic auth."""

from __future__ import annotations

import json

import pytest
from alb_tokens import ALB_ARN, KID, OTHER_ALB_ARN, AlbSigner, b64
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from mlflow_entrypoint import alb_sso
from mlflow_entrypoint.alb_sso import (
    AlbTokenVerifier,
    InvalidTokenError,
    KeyUnavailableError,
    username_of,
)
from mlflow_support import MLFLOW_IMPORT_WARNINGS

# The auth store's migrations (MLflow's alembic config) warn on the pinned alembic; the round
# trips run them in the server process, this module in its own.
pytestmark = [
    *MLFLOW_IMPORT_WARNINGS,
    pytest.mark.filterwarnings("ignore:No path_separator found:DeprecationWarning"),
]
KEYS_URL = "https://public-keys.auth.elb.us-east-1.amazonaws.com"


@pytest.fixture
def alb() -> AlbSigner:
    return AlbSigner()


@pytest.fixture
def fetched() -> list[str]:
    return []


@pytest.fixture
def verifier(alb, fetched) -> AlbTokenVerifier:
    def fetch(url: str) -> bytes:
        fetched.append(url)
        return alb.public_pem()

    return AlbTokenVerifier(signer=ALB_ARN, keys_url=KEYS_URL, fetch=fetch)


def resigned(alb: AlbSigner, header: dict, claims: dict) -> str:
    """A token of exactly ``header`` and ``claims``, validly signed with ``alb``'s key."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    r, s = decode_dss_signature(alb.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


# --- the verifier ------------------------------------------------------------------------


def test_a_token_the_load_balancer_signed_gives_its_claims(alb, verifier, fetched):
    claims = verifier.verify(alb.token({"email": "grace@example.org"}))

    assert claims["email"] == "grace@example.org"
    assert fetched == [f"{KEYS_URL}/{KID}"]  # the regional endpoint, by the token's key ID


def test_the_key_is_fetched_once_per_key_id(alb, verifier, fetched):
    verifier.verify(alb.token())
    verifier.verify(alb.token())

    assert len(fetched) == 1


def test_a_token_another_load_balancer_signed_is_refused(alb, verifier, fetched):
    with pytest.raises(InvalidTokenError, match="another load balancer"):
        verifier.verify(alb.token(signer=OTHER_ALB_ARN))
    assert fetched == []  # refused before any key is fetched


def test_changed_claims_break_the_signature(alb, verifier):
    head, _body, signature = alb.token().split(".")
    forged = b64(json.dumps({"email": "admin@example.org", "exp": 4_000_000_000}).encode())

    with pytest.raises(InvalidTokenError, match="does not verify"):
        verifier.verify(f"{head}.{forged}.{signature}")


def test_a_token_signed_by_another_key_is_refused(verifier):
    with pytest.raises(InvalidTokenError, match="does not verify"):
        verifier.verify(AlbSigner().token())  # same kid and signer, another private key


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256", "ES384"])
def test_only_es256_is_accepted(alb, verifier, alg):
    with pytest.raises(InvalidTokenError, match="ES256"):
        verifier.verify(alb.token(alg=alg))


def test_an_unsigned_token_is_refused(alb, verifier):
    head, body, _ = alb.token().split(".")

    for unsigned in (f"{head}.{body}.", f"{head}.{body}", head):
        with pytest.raises(InvalidTokenError):
            verifier.verify(unsigned)


def test_an_expired_token_is_refused(alb, verifier):
    with pytest.raises(InvalidTokenError, match="expired"):
        verifier.verify(alb.token(lifetime=-120))


def test_a_token_without_expiry_is_refused(alb, verifier):
    header = {"alg": "ES256", "kid": KID, "signer": ALB_ARN}
    token = resigned(alb, header, {"email": "ada@example.org"})

    with pytest.raises(InvalidTokenError, match="no expiry"):
        verifier.verify(token)


@pytest.mark.parametrize("kid", ["../../evil", "a/b", "", "x" * 129])
def test_a_key_id_that_is_not_one_never_reaches_the_key_url(alb, verifier, fetched, kid):
    with pytest.raises(InvalidTokenError, match="key ID"):
        verifier.verify(alb.token(kid=kid))
    assert fetched == []


def test_a_key_that_is_not_p256_is_refused(alb):
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    pem = p384.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    verifier = AlbTokenVerifier(signer=ALB_ARN, keys_url=KEYS_URL, fetch=lambda url: pem)

    with pytest.raises(InvalidTokenError, match="P-256"):
        verifier.verify(alb.token())


def test_an_unreachable_key_endpoint_is_not_a_refusal(alb):
    def down(url: str) -> bytes:
        raise OSError("connection timed out")

    verifier = AlbTokenVerifier(signer=ALB_ARN, keys_url=KEYS_URL, fetch=down)

    with pytest.raises(KeyUnavailableError, match="timed out"):
        verifier.verify(alb.token())


def test_the_username_is_the_claim_and_never_the_basic_auth_admin():
    assert username_of({"email": "ada@example.org"}, "email", "admin") == "ada@example.org"
    for claims in ({}, {"email": ""}, {"email": ["a"]}, {"email": "admin"}):
        with pytest.raises(InvalidTokenError):
            username_of(claims, "email", "admin")


def test_the_verifier_reads_the_region_and_signer_from_the_environment(monkeypatch):
    monkeypatch.setattr(alb_sso, "_verifier", None)

    made = alb_sso.verifier({"MLFLOW_SSO_SIGNER": ALB_ARN, "AWS_REGION": "eu-west-1"})

    assert made.signer == ALB_ARN
    assert made.keys_url == "https://public-keys.auth.elb.eu-west-1.amazonaws.com"


# --- MLflow's authorization function ----------------------------------------------------


@pytest.fixture
def auth_store(tmp_path, monkeypatch):
    """MLflow's auth app with a store of its own (SQLite) and the verifier above."""
    from mlflow.server import auth
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore()
    store.init_db(f"sqlite:///{tmp_path / 'auth.db'}")
    monkeypatch.setattr(auth, "store", store)
    return store


@pytest.fixture
def signed_in(verifier, monkeypatch):
    monkeypatch.setattr(alb_sso, "_verifier", verifier)


def authenticate(headers: dict[str, str]):
    from mlflow.server import app

    with app.test_request_context(
        "/mlflow/ajax-api/2.0/mlflow/experiments/search", headers=headers
    ):
        return alb_sso.authenticate_request()


def test_a_signed_in_user_is_accepted_and_created_on_the_first_request(alb, auth_store, signed_in):
    token = alb.token({"email": "ada@example.org"})

    first = authenticate({"x-amzn-oidc-data": token})
    again = authenticate({"x-amzn-oidc-data": token})

    assert first.username == again.username == "ada@example.org"
    user = auth_store.get_user("ada@example.org")
    assert user.is_admin is False
    assert [u.username for u in auth_store.list_users()].count("ada@example.org") == 1


def test_the_username_claim_is_configurable(alb, auth_store, signed_in, monkeypatch):
    monkeypatch.setenv("MLFLOW_SSO_USERNAME_CLAIM", "sub")

    assert authenticate({"x-amzn-oidc-data": alb.token({"sub": "user-42"})}).username == "user-42"


def test_a_forged_header_is_refused_without_asking_for_a_password(alb, auth_store, signed_in):
    forged = AlbSigner().token({"email": "mallory@example.org"})

    response = authenticate({"x-amzn-oidc-data": forged})

    assert response.status_code == 401
    assert "WWW-Authenticate" not in response.headers
    assert not auth_store.has_user("mallory@example.org")


def test_a_forged_header_is_refused_even_with_a_password(alb, auth_store, signed_in):
    auth_store.create_user("ci-bot", "ci-bot-password-1234")
    basic = "Basic " + b64(b"ci-bot:ci-bot-password-1234")

    response = authenticate({"x-amzn-oidc-data": "not.a.token", "Authorization": basic})

    assert response.status_code == 401


def test_without_the_header_basic_auth_decides(auth_store, signed_in):
    auth_store.create_user("ci-bot", "ci-bot-password-1234")

    challenged = authenticate({})
    accepted = authenticate({"Authorization": "Basic " + b64(b"ci-bot:ci-bot-password-1234")})
    refused = authenticate({"Authorization": "Basic " + b64(b"ci-bot:wrong-password-000")})

    assert challenged.status_code == 401 and "Basic" in challenged.headers["WWW-Authenticate"]
    assert accepted.username == "ci-bot"
    assert refused.status_code == 401


def test_an_unreachable_key_endpoint_answers_503(alb, auth_store, monkeypatch):
    def down(url: str) -> bytes:
        raise OSError("no route to host")

    monkeypatch.setattr(alb_sso, "_verifier", AlbTokenVerifier(ALB_ARN, KEYS_URL, fetch=down))

    assert authenticate({"x-amzn-oidc-data": alb.token()}).status_code == 503
