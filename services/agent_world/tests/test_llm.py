"""llm-integration: the echo provider, the allow-list, provider loading, and Bedrock with a
stubbed bedrock-runtime client (botocore Stubber; no network)."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from agent_world.app import create_app
from agent_world.llm import BedrockProvider, EchoProvider, load_provider
from agent_world.settings import ConfigError, Settings
from botocore.response import StreamingBody
from botocore.stub import Stubber
from fastapi.testclient import TestClient

CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"


def llm_app(**settings) -> TestClient:
    return TestClient(create_app(Settings(role="llm-integration", **settings)))


def test_the_default_echo_provider_is_deterministic_and_offline(llm_client):
    body = {"model_id": "any.model", "prompt": "one two three", "max_tokens": 2}

    first = llm_client.post("/completions", json=body)
    again = llm_client.post("/completions", json=body)

    assert first.status_code == 200 and first.json() == again.json()
    assert first.json()["provider"] == "echo"
    assert first.json()["text"].endswith("one two")
    assert first.json()["stop_reason"] == "max_tokens"


@pytest.mark.parametrize(
    "body",
    [
        {"prompt": "x"},
        {"model_id": "m", "prompt": ""},
        {"model_id": "m", "prompt": "x", "max_tokens": 0},
        {"model_id": "m", "prompt": "x", "temperature": 2},
        {"model_id": "bad model", "prompt": "x"},
    ],
)
def test_bad_completion_requests_are_422(llm_client, body):
    assert llm_client.post("/completions", json=body).status_code == 422


def test_a_model_outside_the_allow_list_is_403():
    client = llm_app(model_ids=(CLAUDE,))

    refused = client.post("/completions", json={"model_id": "other.model", "prompt": "x"})
    allowed = client.post("/completions", json={"model_id": CLAUDE, "prompt": "x"})

    assert refused.status_code == 403 and "BEDROCK_MODEL_IDS" in refused.json()["detail"]
    assert allowed.status_code == 200


def test_llm_integration_serves_no_world_or_agent_paths(llm_client):
    assert llm_client.get("/worlds/w1").status_code == 404
    assert llm_client.get("/agents/a1").status_code == 404
    assert llm_client.get("/health").json() == {"status": "ok", "role": "llm-integration"}


def test_providers_are_loaded_by_module_and_attr():
    assert isinstance(load_provider(Settings(role="llm-integration")), EchoProvider)
    with pytest.raises(ConfigError, match="LLM_PROVIDER: cannot load"):
        load_provider(Settings(role="llm-integration", llm_provider="agent_world.llm:Nope"))
    with pytest.raises(ConfigError, match="is not a provider"):
        load_provider(Settings(role="llm-integration", llm_provider="agent_world.llm:log"))
    with pytest.raises(ConfigError, match="failed to start"):
        load_provider(Settings(role="llm-integration", llm_provider="json:dumps"))
    with pytest.raises(ConfigError, match="BEDROCK_MODEL_IDS: required"):
        load_provider(
            Settings(role="llm-integration", llm_provider="agent_world.llm:BedrockProvider")
        )


def stream(document: dict) -> StreamingBody:
    raw = json.dumps(document).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


@pytest.fixture
def bedrock():
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_bedrock_invokes_the_model_with_the_messages_api_and_reads_the_answer(bedrock):
    client, stubber = bedrock
    provider = BedrockProvider(Settings(role="llm-integration", model_ids=(CLAUDE,)), client)
    expected_body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 64,
        "temperature": 0.2,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
    }
    stubber.add_response(
        "invoke_model",
        {
            "body": stream(
                {
                    "content": [{"type": "text", "text": "Hi there"}],
                    "stop_reason": "end_turn",
                    "usage": {"input_tokens": 3, "output_tokens": 2},
                }
            ),
            "contentType": "application/json",
        },
        {
            "modelId": CLAUDE,
            "body": json.dumps(expected_body).encode(),
            "contentType": "application/json",
            "accept": "application/json",
        },
    )
    app = TestClient(
        create_app(Settings(role="llm-integration", model_ids=(CLAUDE,)), provider=provider)
    )

    answer = app.post(
        "/completions",
        json={"model_id": CLAUDE, "prompt": "hello", "max_tokens": 64, "temperature": 0.2},
    )

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "model_id": CLAUDE,
        "provider": "bedrock",
        "text": "Hi there",
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 3, "output_tokens": 2},
    }


def test_bedrock_titan_models_use_their_own_body(bedrock):
    client, stubber = bedrock
    titan = "amazon.titan-text-express-v1"
    provider = BedrockProvider(Settings(role="llm-integration", model_ids=(titan,)), client)
    stubber.add_response(
        "invoke_model",
        {
            "body": stream(
                {
                    "inputTextTokenCount": 1,
                    "results": [
                        {"outputText": "ok", "tokenCount": 1, "completionReason": "FINISH"}
                    ],
                }
            ),
            "contentType": "application/json",
        },
    )

    done = provider.complete(titan, "hi", 10, 0.5)

    assert (done.text, done.stop_reason, done.output_tokens) == ("ok", "finish", 1)


@pytest.mark.parametrize(
    ("code", "status"), [("ThrottlingException", 502), ("ValidationException", 422)]
)
def test_bedrock_errors_become_502_or_422_never_500(bedrock, code, status):
    client, stubber = bedrock
    stubber.add_client_error("invoke_model", service_error_code=code, http_status_code=400)
    settings = Settings(role="llm-integration", model_ids=(CLAUDE,))
    app = TestClient(create_app(settings, provider=BedrockProvider(settings, client)))

    answer = app.post("/completions", json={"model_id": CLAUDE, "prompt": "x"})

    assert answer.status_code == status and code in answer.json()["detail"]


def test_bedrock_refuses_a_model_family_it_does_not_speak(bedrock):
    client, _ = bedrock
    settings = Settings(role="llm-integration", model_ids=("meta.llama3-8b-instruct-v1:0",))
    app = TestClient(create_app(settings, provider=BedrockProvider(settings, client)))

    answer = app.post(
        "/completions", json={"model_id": "meta.llama3-8b-instruct-v1:0", "prompt": "x"}
    )

    assert answer.status_code == 422 and "only Anthropic and Titan" in answer.json()["detail"]
