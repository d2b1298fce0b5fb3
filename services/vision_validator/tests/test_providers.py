"""The vision analyzers with the real ``openai`` and ``google-genai`` SDKs, against a local
server that speaks their APIs, and the artefacts from a real HTTPS server on 127.0.0.1:
the verdicts, and the 502/504/422/503 answers when no verdict can be had."""

from __future__ import annotations

import base64
import io
import json
import time

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from vision_validator.analyzers import NoAnalyzer
from vision_validator.app import create_app
from vision_validator.artifacts import ArtifactLoader
from vision_validator.fetch import ArtifactFetcher
from vision_validator.gpu import GpuStatus
from vision_validator.providers import GeminiAnalyzer, OpenAIAnalyzer, from_settings
from vision_validator.settings import Settings
from vv_support import (
    ArtifactServer,
    ProviderServer,
    Reply,
    Route,
    gemini_response,
    make_certificate,
    openai_completion,
    png,
)

API_KEY = "vv-test-key-4f1c9a0b7d2e"
OPENAI_KEY = "sk-test-openai-0123456789"
GEMINI_KEY = "AIza-test-gemini-0123456789"
GOOD = {"valid": True, "score": 0.92, "reasons": ["a cylinder on a flat base, as described"]}
BAD = {"valid": False, "score": 0.1, "reasons": ["the part is a cube", "no cylinder visible"]}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def artifacts(certificate):
    running = ArtifactServer(*certificate)
    yield running
    running.close()


@pytest.fixture
def provider():
    running = ProviderServer()
    yield running
    running.close()


def answer_with(provider: ProviderServer, kind: str, text: str | None = None, **reply):
    """The provider's next answers: ``kind`` openai or gemini, content ``text``."""
    body = openai_completion(text) if kind == "openai" else gemini_response(text or "")
    provider.reply = lambda path: Reply(**{"status": 200, "body": body, **reply})


def loader(certificate) -> ArtifactLoader:
    fetcher = ArtifactFetcher(allow_addresses=["127.0.0.1"], ca_file=str(certificate[0]), timeout=3)
    return ArtifactLoader(fetcher, max_images=3, max_side=256)


def analyzer_for(kind: str, provider: ProviderServer, certificate, timeout: float = 2.0):
    if kind == "openai":
        return OpenAIAnalyzer(
            loader(certificate), api_key=OPENAI_KEY, base_url=provider.base_url, timeout=timeout
        )
    return GeminiAnalyzer(
        loader(certificate), api_key=GEMINI_KEY, base_url=provider.base_url, timeout=timeout
    )


def client_for(analyzer) -> TestClient:
    app = create_app(
        Settings(api_key=API_KEY), gpu_probe=lambda: GpuStatus(available=False), analyzer=analyzer
    )
    return TestClient(app)


def body(url: str) -> dict:
    return {
        "context": {"sessionId": "s-1", "artifactsUrl": url, "step": 1},
        "args": {"part": "base", "partDescription": "A cylindrical base, 40 mm across"},
    }


def post(client: TestClient, url: str):
    return client.post("/validate", json=body(url), headers={"X-API-Key": API_KEY})


def sent_images(kind: str, request: dict) -> list[Image.Image]:
    """The images one recorded provider request carried, decoded."""
    if kind == "openai":
        parts = request["json"]["messages"][1]["content"]
        urls = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
        raw = [base64.b64decode(u.split(",", 1)[1]) for u in urls]
    else:
        parts = request["json"]["contents"][0]["parts"]
        # The SDK sends bytes as URL-safe base64.
        raw = [
            base64.urlsafe_b64decode(p["inlineData"]["data"]) for p in parts if "inlineData" in p
        ]
    return [Image.open(io.BytesIO(r)) for r in raw]


KINDS = ["openai", "gemini"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_matching_part_gets_the_models_verdict(kind, provider, artifacts, certificate):
    answer_with(provider, kind, json.dumps(GOOD))
    url = artifacts.image(f"/{kind}/good.png", png(40, 30))

    response = post(client_for(analyzer_for(kind, provider, certificate)), url)

    assert response.status_code == 200
    assert response.json() == {
        "sessionId": "s-1",
        "step": 1,
        "part": "base",
        "valid": True,
        "score": 0.92,
        "issues": [],
        "reasons": GOOD["reasons"],
        "analyzer": kind,
    }
    (request,) = provider.requests
    [image] = sent_images(kind, request)
    assert image.size == (40, 30) and image.format == "PNG"


def test_openai_gets_the_key_the_model_the_schema_and_the_description(
    provider, artifacts, certificate
):
    answer_with(provider, "openai", json.dumps(GOOD))
    url = artifacts.image("/openai/shape.png")

    post(client_for(analyzer_for("openai", provider, certificate)), url)

    (request,) = provider.requests
    assert request["path"] == "/chat/completions"
    assert request["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
    sent = request["json"]
    assert sent["model"] == "gpt-4o-mini"
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["strict"] is True
    assert sent["response_format"]["json_schema"]["schema"]["required"] == [
        "valid",
        "score",
        "reasons",
    ]
    assert "A cylindrical base, 40 mm across" in sent["messages"][1]["content"][0]["text"]


def test_gemini_gets_the_key_the_model_path_and_the_schema(provider, artifacts, certificate):
    answer_with(provider, "gemini", json.dumps(GOOD))
    url = artifacts.image("/gemini/shape.png")

    post(client_for(analyzer_for("gemini", provider, certificate)), url)

    (request,) = provider.requests
    assert request["path"] == "/v1/models/gemini-2.5-flash:generateContent"  # SDK default
    assert request["headers"]["x-goog-api-key"] == GEMINI_KEY
    config = request["json"]["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"]["required"] == ["valid", "score", "reasons"]
    text = request["json"]["contents"][0]["parts"][0]["text"]
    assert "A cylindrical base, 40 mm across" in text


@pytest.mark.parametrize("kind", KINDS)
def test_a_mismatch_is_invalid_with_the_models_reasons_as_issues(
    kind, provider, artifacts, certificate
):
    answer_with(provider, kind, json.dumps(BAD))
    url = artifacts.image(f"/{kind}/bad.png")

    response = post(client_for(analyzer_for(kind, provider, certificate)), url)

    assert response.status_code == 200
    assert response.json()["valid"] is False
    assert response.json()["score"] == 0.1
    assert response.json()["issues"] == [
        {"code": "part_mismatch", "message": "the part is a cube"},
        {"code": "part_mismatch", "message": "no cylinder visible"},
    ]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "text",
    [
        "yes, it matches",
        '{"valid": true, "score": 0.9',
        "[]",
        '{"valid": true, "score": 0.9}',
        '{"valid": "true", "score": 0.9, "reasons": ["x"]}',
        '{"valid": true, "score": 1.5, "reasons": ["x"]}',
        '{"valid": true, "score": true, "reasons": ["x"]}',
        '{"valid": true, "score": 0.9, "reasons": []}',
        '{"valid": true, "score": 0.9, "reasons": [""]}',
        '{"valid": true, "score": 0.9, "reasons": ["x"], "extra": 1}',
    ],
    ids=[
        "prose",
        "truncated",
        "array",
        "no-reasons",
        "valid-string",
        "score-range",
        "score-bool",
        "reasons-empty",
        "reason-blank",
        "extra-key",
    ],
)
def test_a_malformed_answer_is_a_502_never_a_pass(kind, text, provider, artifacts, certificate):
    answer_with(provider, kind, text)
    url = artifacts.image(f"/{kind}/malformed.png")

    response = post(client_for(analyzer_for(kind, provider, certificate)), url)

    assert response.status_code == 502
    assert "malformed answer from the model" in response.json()["detail"]


def test_an_openai_answer_without_content_is_a_502(provider, artifacts, certificate):
    answer_with(provider, "openai", None)
    url = artifacts.image("/openai/empty.png")

    response = post(client_for(analyzer_for("openai", provider, certificate)), url)

    assert response.status_code == 502
    assert response.json()["detail"].endswith("the model returned no text")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", [500, 401, 429])
def test_a_provider_error_is_a_502_after_one_attempt(
    kind, status, provider, artifacts, certificate
):
    provider.reply = lambda path: Reply(status=status, body={"error": {"message": "boom"}})
    url = artifacts.image(f"/{kind}/error.png")

    response = post(client_for(analyzer_for(kind, provider, certificate)), url)

    assert response.status_code == 502
    assert response.json() == {"detail": f"{kind}: the provider answered {status}"}
    assert len(provider.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_provider_timeout_is_a_504(kind, provider, artifacts, certificate):
    answer_with(provider, kind, json.dumps(GOOD), delay=2.5)
    url = artifacts.image(f"/{kind}/slow.png")

    response = post(client_for(analyzer_for(kind, provider, certificate, timeout=1.0)), url)

    assert response.status_code == 504
    assert response.json() == {"detail": f"{kind}: the provider did not answer in time"}


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest",
        "https://10.0.0.1/a.png",
        "https://172.16.0.1/a.png",
        "https://192.168.1.1/a.png",
        "https://[::1]/a.png",
    ],
)
def test_refused_artefacts_are_a_422_and_the_provider_is_not_asked(url, provider, certificate):
    answer_with(provider, "openai", json.dumps(GOOD))

    response = post(client_for(analyzer_for("openai", provider, certificate)), url)

    assert response.status_code == 422
    assert response.json()["detail"].startswith("artifacts refused: ")
    assert provider.requests == []


def test_an_artefact_server_error_is_a_502(provider, artifacts, certificate):
    answer_with(provider, "openai", json.dumps(GOOD))
    artifacts.routes["/gone.png"] = Route(status=500, body=b"down")

    response = post(
        client_for(analyzer_for("openai", provider, certificate)), artifacts.url("/gone.png")
    )

    assert response.status_code == 502
    assert response.json() == {"detail": "artifacts: the artefact server answered 500"}
    assert provider.requests == []


def test_a_file_that_is_not_an_image_is_a_422(provider, artifacts, certificate):
    answer_with(provider, "openai", json.dumps(GOOD))
    url = artifacts.image("/fake.png", b"not a png at all")

    response = post(client_for(analyzer_for("openai", provider, certificate)), url)

    assert response.status_code == 422
    assert response.json()["detail"] == "artifacts refused: the artefact is not a decodable image"


@pytest.mark.parametrize("kind", KINDS)
def test_a_listing_sends_each_image_scaled_to_the_longest_side(
    kind, provider, artifacts, certificate
):
    answer_with(provider, kind, json.dumps(GOOD))
    artifacts.image(f"/{kind}/views/front.png", png(1000, 500))
    artifacts.image(f"/{kind}/views/top.jpg", _jpeg(100, 80), "image/jpeg")
    listing = json.dumps({"images": ["front.png", artifacts.url(f"/{kind}/views/top.jpg")]})
    artifacts.routes[f"/{kind}/views/"] = Route(
        body=listing.encode(), headers={"Content-Type": "application/json"}
    )

    response = post(
        client_for(analyzer_for(kind, provider, certificate)), artifacts.url(f"/{kind}/views/")
    )

    assert response.status_code == 200
    sizes = [image.size for image in sent_images(kind, provider.requests[0])]
    assert sizes == [(256, 128), (100, 80)]


def test_a_listing_naming_too_many_images_is_a_422(provider, artifacts, certificate):
    listing = json.dumps([f"/img{i}.png" for i in range(4)])
    artifacts.routes["/many/"] = Route(
        body=listing.encode(), headers={"Content-Type": "application/json"}
    )

    response = post(
        client_for(analyzer_for("openai", provider, certificate)), artifacts.url("/many/")
    )

    assert response.status_code == 422
    assert "at most 3" in response.json()["detail"]


def test_a_listing_that_points_inside_the_vpc_is_a_422(provider, artifacts, certificate):
    listing = json.dumps(["https://169.254.169.254/latest/meta-data/"])
    artifacts.routes["/evil/"] = Route(
        body=listing.encode(), headers={"Content-Type": "application/json"}
    )

    response = post(
        client_for(analyzer_for("openai", provider, certificate)), artifacts.url("/evil/")
    )

    assert response.status_code == 422
    assert "169.254.169.254" in response.json()["detail"]
    assert provider.requests == []


def test_with_a_backend_url_artefacts_elsewhere_are_refused(provider, artifacts, certificate):
    analyzer = analyzer_for("openai", provider, certificate)
    analyzer.backend_host = "backend.example.com"

    response = post(client_for(analyzer), artifacts.image("/elsewhere.png"))

    assert response.status_code == 422
    assert "backend.example.com" in response.json()["detail"]


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"openai_api_key": OPENAI_KEY}, OpenAIAnalyzer),
        ({"gemini_api_key": GEMINI_KEY}, GeminiAnalyzer),
        ({"openai_api_key": OPENAI_KEY, "gemini_api_key": GEMINI_KEY}, OpenAIAnalyzer),
        (
            {
                "openai_api_key": OPENAI_KEY,
                "gemini_api_key": GEMINI_KEY,
                "vision_provider": "gemini",
            },
            GeminiAnalyzer,
        ),
        ({}, NoAnalyzer),
    ],
    ids=["openai", "gemini", "both-default", "both-gemini", "neither"],
)
def test_the_configured_key_chooses_the_provider(keys, expected):
    assert type(from_settings(Settings(api_key=API_KEY, **keys))) is expected


def test_settings_read_the_provider_keys_from_the_environment_and_hide_them():
    settings = Settings.from_env(
        {"API_KEY": API_KEY, "GEMINI_API_KEY": GEMINI_KEY, "BACKEND_URL": "https://b.example.com"}
    )

    assert settings.chosen_provider() == "gemini"
    assert settings.backend_host() == "b.example.com"
    assert GEMINI_KEY not in repr(settings)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"BACKEND_URL": "http://backend.example.com"}, "BACKEND_URL"),
        ({"BACKEND_URL": "not a url"}, "BACKEND_URL"),
        ({"OPENAI_API_KEY": "short"}, "OPENAI_API_KEY"),
        ({"GEMINI_API_KEY": "with space inside"}, "GEMINI_API_KEY"),
        ({"VISION_PROVIDER": "claude"}, "VISION_PROVIDER"),
        ({"FETCH_TIMEOUT": "0"}, "FETCH_TIMEOUT"),
        ({"VALIDATE_DEADLINE_SECONDS": "0"}, "VALIDATE_DEADLINE_SECONDS"),
        ({"MAX_ARTIFACT_BYTES": "huge"}, "MAX_ARTIFACT_BYTES"),
    ],
)
def test_a_bad_provider_or_fetch_variable_stops_the_start_naming_it(env, named):
    from vision_validator.settings import ConfigError

    with pytest.raises(ConfigError, match=f"{named}: "):
        Settings.from_env({"API_KEY": API_KEY, **env})


def _jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 10)).save(out, format="JPEG")
    return out.getvalue()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "reply", ["a string", [], {"unexpected": True}], ids=["str", "list", "obj"]
)
def test_a_provider_200_that_is_not_its_apis_shape_is_a_502_not_a_500(
    kind, reply, provider, artifacts, certificate
):
    provider.reply = lambda path: Reply(status=200, body=reply)
    url = artifacts.image(f"/{kind}/shape-{type(reply).__name__}.png")

    response = post(client_for(analyzer_for(kind, provider, certificate)), url)

    assert response.status_code == 502, response.text


@pytest.mark.parametrize("url", ["https://a..b/x.png", f"https://{'a' * 64}.example.com/x.png"])
def test_a_host_name_getaddrinfo_cannot_encode_is_a_422_not_a_500(url, provider, certificate):
    answer_with(provider, "openai", json.dumps(GOOD))

    response = post(client_for(analyzer_for("openai", provider, certificate)), url)

    assert response.status_code == 422
    assert response.json()["detail"].endswith("is not a valid host name")
    assert provider.requests == []


@pytest.mark.parametrize(
    "entry",
    [
        "https://a..b/x.png",
        f"https://{'a' * 64}.example.com/x.png",
        "https://h.example.com:99999/x.png",
        "https://[::1/x.png",
        "https://user:pw@h.example.com/x.png",
    ],
)
def test_a_listing_naming_a_malformed_url_is_a_422_not_a_500(
    entry, provider, artifacts, certificate
):
    answer_with(provider, "openai", json.dumps(GOOD))
    artifacts.routes["/malformed/"] = Route(
        body=json.dumps([entry]).encode(), headers={"Content-Type": "application/json"}
    )

    response = post(
        client_for(analyzer_for("openai", provider, certificate)), artifacts.url("/malformed/")
    )

    assert response.status_code == 422
    assert response.json()["detail"].startswith("artifacts refused: ")
    assert provider.requests == []


def _slow_image(artifacts: ArtifactServer, path: str, seconds: float) -> str:
    """An image the server sends one byte at a time over about ``seconds``."""
    data = png()
    artifacts.routes[path] = Route(
        body=data, headers={"Content-Type": "image/png"}, trickle=seconds / len(data)
    )
    return artifacts.url(path)


@pytest.mark.parametrize("kind", KINDS)
def test_slow_fetches_and_a_slow_provider_within_their_own_limits_end_at_the_deadline(
    kind, provider, artifacts, certificate
):
    # Each step is within its own limit (fetch 3 s, provider 5 s), the sum is not: the one
    # deadline of the request ends it with the service's JSON 504, before the ALB would.
    answer_with(provider, kind, json.dumps(GOOD), delay=3.0)
    _slow_image(artifacts, f"/{kind}/deadline/a.png", 0.8)
    _slow_image(artifacts, f"/{kind}/deadline/b.png", 0.8)
    artifacts.routes[f"/{kind}/deadline/"] = Route(
        body=json.dumps(["a.png", "b.png"]).encode(), headers={"Content-Type": "application/json"}
    )
    analyzer = analyzer_for(kind, provider, certificate, timeout=5.0)
    analyzer.deadline = 2.5

    started = time.monotonic()
    response = post(client_for(analyzer), artifacts.url(f"/{kind}/deadline/"))
    took = time.monotonic() - started

    assert response.status_code == 504
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "detail": f"{kind}: the validation took longer than its deadline of 2.5 s "
        "(VALIDATE_DEADLINE_SECONDS)"
    }
    assert len(provider.requests) == 1
    assert 2.4 < took < 3.4


def test_fetches_past_the_deadline_end_it_and_the_provider_is_not_asked(
    provider, artifacts, certificate
):
    answer_with(provider, "openai", json.dumps(GOOD))
    _slow_image(artifacts, "/late/a.png", 2.0)
    _slow_image(artifacts, "/late/b.png", 2.0)
    artifacts.routes["/late/"] = Route(
        body=json.dumps(["a.png", "b.png"]).encode(), headers={"Content-Type": "application/json"}
    )
    analyzer = analyzer_for("openai", provider, certificate, timeout=5.0)
    analyzer.deadline = 2.5

    started = time.monotonic()
    response = post(client_for(analyzer), artifacts.url("/late/"))

    assert response.status_code == 504
    assert "deadline of 2.5 s" in response.json()["detail"]
    assert provider.requests == []
    assert time.monotonic() - started < 3.4


def test_the_deadline_is_read_from_the_environment():
    settings = Settings.from_env({"API_KEY": API_KEY, "VALIDATE_DEADLINE_SECONDS": "42"})

    assert settings.validate_deadline == 42
    assert from_settings(Settings(api_key=API_KEY, openai_api_key=OPENAI_KEY)).deadline == 110
