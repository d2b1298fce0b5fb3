"""The llm-integration role: ``POST /completions`` behind a pluggable provider.

A provider has a ``name`` and ``complete(model_id, prompt, max_tokens, temperature) ->
Completion``; it raises ``ProviderError`` for what the caller can fix (422) and
``UpstreamError`` when the model service fails (502). ``LLM_PROVIDER=module:attr`` names
an instance, or a class or factory called with the ``Settings``. The default, ``EchoProvider``,
is offline and deterministic; ``BedrockProvider`` calls ``bedrock-runtime`` InvokeModel.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter, HTTPException, status

from agent_world.models import CompletionRequest
from agent_world.settings import ConfigError, Settings

log = logging.getLogger(__name__)


class ProviderError(ValueError):
    """A request the provider cannot serve as asked (422)."""


class UpstreamError(RuntimeError):
    """The model service failed (502)."""


@dataclass(frozen=True)
class Completion:
    text: str
    model_id: str
    stop_reason: str = "end"
    input_tokens: int | None = None
    output_tokens: int | None = None


class Provider(Protocol):
    name: str

    def complete(
        self, model_id: str, prompt: str, max_tokens: int, temperature: float
    ) -> Completion: ...


class EchoProvider:
    """Offline and deterministic: answers with the prompt's first words, for tests and
    development. One token is one whitespace-separated word here."""

    name = "echo"

    def __init__(self, settings: Settings | None = None) -> None:
        del settings

    def complete(
        self, model_id: str, prompt: str, max_tokens: int, temperature: float
    ) -> Completion:
        words = prompt.split()
        digest = hashlib.sha256(f"{model_id}\0{prompt}".encode()).hexdigest()[:12]
        kept = words[:max_tokens]
        return Completion(
            text=f"[echo {digest}] " + " ".join(kept),
            model_id=model_id,
            stop_reason="max_tokens" if len(words) > max_tokens else "end",
            input_tokens=len(words),
            output_tokens=len(kept),
        )


class BedrockProvider:
    """Amazon Bedrock through ``InvokeModel``, for the Anthropic (messages API) and Amazon
    Titan text families; the allow-list (``BEDROCK_MODEL_IDS``) must not be empty."""

    name = "bedrock"

    def __init__(self, settings: Settings, client: Any = None) -> None:
        if not settings.model_ids:
            raise ConfigError("BEDROCK_MODEL_IDS: required by the Bedrock provider")
        self.model_ids = settings.model_ids
        self.client = client or boto3.client("bedrock-runtime", region_name=settings.region)

    @staticmethod
    def request_body(model_id: str, prompt: str, max_tokens: int, temperature: float) -> dict:
        # Cross-region inference profiles prefix the id with a geography ("us.anthropic…").
        if model_id.startswith("anthropic.") or ".anthropic." in model_id:
            return {
                "anthropic_version": "bedrock-2023-05-31",
                "max_tokens": max_tokens,
                "temperature": temperature,
                "messages": [{"role": "user", "content": [{"type": "text", "text": prompt}]}],
            }
        if model_id.startswith("amazon.titan-text"):
            return {
                "inputText": prompt,
                "textGenerationConfig": {"maxTokenCount": max_tokens, "temperature": temperature},
            }
        raise ProviderError(f"model {model_id!r}: only Anthropic and Titan text models are wired")

    @staticmethod
    def parse(model_id: str, answer: dict[str, Any]) -> Completion:
        if "content" in answer:
            text = "".join(p.get("text", "") for p in answer["content"] if p.get("type") == "text")
            usage = answer.get("usage", {})
            return Completion(
                text=text,
                model_id=model_id,
                stop_reason=answer.get("stop_reason") or "end",
                input_tokens=usage.get("input_tokens"),
                output_tokens=usage.get("output_tokens"),
            )
        if answer.get("results"):
            first = answer["results"][0]
            return Completion(
                text=first.get("outputText", ""),
                model_id=model_id,
                stop_reason=(first.get("completionReason") or "end").lower(),
                input_tokens=answer.get("inputTextTokenCount"),
                output_tokens=first.get("tokenCount"),
            )
        raise UpstreamError("the model's answer has neither content nor results")

    def complete(
        self, model_id: str, prompt: str, max_tokens: int, temperature: float
    ) -> Completion:
        body = self.request_body(model_id, prompt, max_tokens, temperature)
        try:
            answer = self.client.invoke_model(
                modelId=model_id,
                body=json.dumps(body).encode(),
                contentType="application/json",
                accept="application/json",
            )
            parsed = json.loads(answer["body"].read())
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code == "ValidationException":
                raise ProviderError(f"Bedrock refused the request: {code}") from None
            raise UpstreamError(f"Bedrock failed: {code}") from None
        except (BotoCoreError, ValueError) as error:
            raise UpstreamError(f"Bedrock failed: {type(error).__name__}") from None
        return self.parse(model_id, parsed)


def load_provider(settings: Settings) -> Provider:
    """The provider ``settings.llm_provider`` names; ``ConfigError`` when it cannot be made."""
    module_name, _, attr = settings.llm_provider.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"LLM_PROVIDER: cannot load {settings.llm_provider!r}: {error}") from None
    provider = found if hasattr(found, "complete") and not isinstance(found, type) else None
    if provider is None and callable(found):
        try:
            provider = found(settings)
        except ConfigError:
            raise
        except Exception as error:
            raise ConfigError(
                f"LLM_PROVIDER: {settings.llm_provider!r} failed to start: {error}"
            ) from None
    if not (hasattr(provider, "complete") and isinstance(getattr(provider, "name", None), str)):
        raise ConfigError(f"LLM_PROVIDER: {settings.llm_provider!r} is not a provider")
    return provider


def router(provider: Provider, model_ids: tuple[str, ...]) -> APIRouter:
    api = APIRouter(tags=["llm"])

    @api.post("/completions")
    def complete(body: CompletionRequest) -> dict[str, Any]:
        if model_ids and body.model_id not in model_ids:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"model {body.model_id!r} is not allowed (BEDROCK_MODEL_IDS)",
            )
        try:
            done = provider.complete(body.model_id, body.prompt, body.max_tokens, body.temperature)
        except ProviderError as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
        except UpstreamError as error:
            log.warning("completion failed", extra={"model_id": body.model_id, "error": str(error)})
            raise HTTPException(status.HTTP_502_BAD_GATEWAY, str(error)) from None
        log.info(
            "completion",
            extra={
                "model_id": body.model_id,
                "provider": provider.name,
                "input_tokens": done.input_tokens,
                "output_tokens": done.output_tokens,
            },
        )
        return {
            "model_id": done.model_id,
            "provider": provider.name,
            "text": done.text,
            "stop_reason": done.stop_reason,
            "usage": {"input_tokens": done.input_tokens, "output_tokens": done.output_tokens},
        }

    return api
