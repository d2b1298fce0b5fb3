"""The vision model analyzers, through the providers' official SDKs: ``openai`` and
``google-genai``.

Each fetches the step's images (:mod:`vision_validator.artifacts`), sends them with the
part's description and asks for the structured verdict of :mod:`vision_validator.verdict`.
Failures become :class:`~vision_validator.analyzers.AnalysisError`: a provider error or a
malformed answer 502, a provider timeout 504; the SDKs' own retries are off (one attempt
within ``timeout``), so a slow provider costs the caller one timeout, not several.

Each validation also has ONE deadline, ``deadline`` seconds (``VALIDATE_DEADLINE_SECONDS``)
from its start, covering every fetch and the model call: each fetch ends by it, and the
model call gets what is left (at most ``timeout``). The per-step limits alone add up to more
(a listing and 4 images at 15 s each, then 60 s for the model) than the load balancer waits
for an answer (its idle timeout), which would then cut the connection with an HTML 504 of
its own instead of this service's JSON 504; the stack sets the deadline below that timeout.

:func:`from_settings` picks the analyzer by the configured key: OpenAI when
``OPENAI_API_KEY`` is set, Gemini when ``GEMINI_API_KEY`` is, the ``VISION_PROVIDER``
setting when both are (default ``openai``), and :class:`~vision_validator.analyzers.NoAnalyzer`
(every validation a 503) when neither is.
"""

from __future__ import annotations

import base64
import logging
import time
from typing import Any

import httpx2
import openai
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from vision_validator import verdict
from vision_validator.analyzers import (
    Analysis,
    Analyzer,
    ArtifactsRefusedError,
    Issue,
    NoAnalyzer,
    UpstreamFailedError,
    UpstreamTimeoutError,
)
from vision_validator.artifacts import ArtifactLoader, PreparedImage
from vision_validator.fetch import (
    ArtifactFetcher,
    FetchFailedError,
    FetchRefusedError,
    FetchTimeoutError,
)
from vision_validator.schemas import ValidationRequest
from vision_validator.settings import DEFAULT_VALIDATE_DEADLINE, Settings

log = logging.getLogger(__name__)


class VisionAnalyzer:
    """The steps every provider shares: images, the call, the strict verdict."""

    name = "vision"

    def __init__(
        self,
        loader: ArtifactLoader,
        model: str,
        backend_host: str | None = None,
        *,
        timeout: float = 60.0,
        deadline: float = DEFAULT_VALIDATE_DEADLINE,
    ):
        self.loader = loader
        self.model = model
        self.backend_host = backend_host
        self.timeout = timeout
        self.deadline = deadline

    def analyze(self, request: ValidationRequest) -> Analysis:
        ends = time.monotonic() + self.deadline
        url = str(request.context.artifacts_url)
        if self.backend_host and request.context.artifacts_url.host != self.backend_host:
            raise ArtifactsRefusedError(
                f"artifactsUrl must be on the backend's host {self.backend_host} (BACKEND_URL)"
            )
        try:
            images = self.loader.load(url, ends)
        except FetchRefusedError as error:
            raise ArtifactsRefusedError(f"artifacts refused: {error}") from None
        except FetchTimeoutError as error:
            if time.monotonic() >= ends:
                raise self._late() from None
            raise UpstreamTimeoutError(f"artifacts: {error}") from None
        except FetchFailedError as error:
            raise UpstreamFailedError(f"artifacts: {error}") from None
        text = verdict.prompt(request.args.part, request.args.part_description, len(images))
        left = ends - time.monotonic()
        if left <= 0:
            raise self._late()
        try:
            answer = self._ask(text, images, min(self.timeout, left))
        except UpstreamTimeoutError:
            if time.monotonic() >= ends:
                raise self._late() from None
            raise
        try:
            found = verdict.parse(answer)
        except verdict.MalformedVerdictError as error:
            raise UpstreamFailedError(
                f"{self.name}: malformed answer from the model: {error}"
            ) from None
        issues = () if found.valid else tuple(Issue("part_mismatch", r) for r in found.reasons)
        return Analysis(valid=found.valid, score=found.score, issues=issues, reasons=found.reasons)

    def _late(self) -> UpstreamTimeoutError:
        return UpstreamTimeoutError(
            f"{self.name}: the validation took longer than its deadline of {self.deadline:g} s "
            "(VALIDATE_DEADLINE_SECONDS)"
        )

    def _ask(self, text: str, images: list[PreparedImage], timeout: float) -> str | None:
        """The model's answer within ``timeout`` seconds (``UpstreamTimeoutError`` after)."""
        raise NotImplementedError


class OpenAIAnalyzer(VisionAnalyzer):
    """OpenAI's Chat Completions API with a strict ``json_schema`` response format."""

    name = "openai"

    def __init__(
        self,
        loader: ArtifactLoader,
        *,
        api_key: str,
        model: str = "gpt-4o-mini",
        timeout: float = 60.0,
        deadline: float = DEFAULT_VALIDATE_DEADLINE,
        base_url: str | None = None,
        backend_host: str | None = None,
    ):
        super().__init__(loader, model, backend_host, timeout=timeout, deadline=deadline)
        self.client = openai.OpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0
        )

    def _ask(self, text: str, images: list[PreparedImage], timeout: float) -> str | None:
        content: list[dict[str, Any]] = [{"type": "text", "text": text}]
        for image in images:
            encoded = base64.b64encode(image.data).decode()
            content.append(
                {
                    "type": "image_url",
                    "image_url": {"url": f"data:{image.mime_type};base64,{encoded}"},
                }
            )
        try:
            completion = self.client.chat.completions.create(
                model=self.model,
                messages=[
                    {"role": "system", "content": verdict.INSTRUCTION},
                    {"role": "user", "content": content},
                ],
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "verdict", "schema": verdict.SCHEMA, "strict": True},
                },
                timeout=timeout,
            )
        except openai.APITimeoutError:
            raise UpstreamTimeoutError("openai: the provider did not answer in time") from None
        except openai.APIStatusError as error:
            raise UpstreamFailedError(
                f"openai: the provider answered {error.status_code}"
            ) from None
        except openai.APIError as error:
            raise UpstreamFailedError(f"openai: {type(error).__name__}") from None
        # The SDK does not validate a 200's body against its types (a proxy or a stand-in
        # may answer anything), so each step is checked before it is used.
        choices = getattr(completion, "choices", None)
        if not isinstance(choices, list) or not choices:
            raise UpstreamFailedError("openai: malformed answer from the model: no choices")
        message = getattr(choices[0], "message", None)
        if getattr(message, "refusal", None):
            raise UpstreamFailedError("openai: the model refused to answer")
        content = getattr(message, "content", None)
        return content if isinstance(content, str) else None


class GeminiAnalyzer(VisionAnalyzer):
    """Gemini's ``generateContent`` with ``application/json`` and the verdict's schema."""

    name = "gemini"

    def __init__(
        self,
        loader: ArtifactLoader,
        *,
        api_key: str,
        model: str = "gemini-2.5-flash",
        timeout: float = 60.0,
        deadline: float = DEFAULT_VALIDATE_DEADLINE,
        base_url: str | None = None,
        backend_host: str | None = None,
    ):
        super().__init__(loader, model, backend_host, timeout=timeout, deadline=deadline)
        self.client = genai.Client(
            api_key=api_key,
            http_options=genai_types.HttpOptions(
                base_url=base_url,
                timeout=int(timeout * 1000),  # milliseconds
                retry_options=genai_types.HttpRetryOptions(attempts=1),
            ),
        )

    def _ask(self, text: str, images: list[PreparedImage], timeout: float) -> str | None:
        parts = [genai_types.Part.from_text(text=text)]
        parts += [genai_types.Part.from_bytes(data=i.data, mime_type=i.mime_type) for i in images]
        try:
            response = self.client.models.generate_content(
                model=self.model,
                contents=[genai_types.Content(role="user", parts=parts)],
                config=genai_types.GenerateContentConfig(
                    system_instruction=verdict.INSTRUCTION,
                    response_mime_type="application/json",
                    response_json_schema=verdict.SCHEMA,
                    # Milliseconds; what is left of the deadline, at most the client's.
                    http_options=genai_types.HttpOptions(timeout=max(1, int(timeout * 1000))),
                ),
            )
        except httpx2.TimeoutException:
            raise UpstreamTimeoutError("gemini: the provider did not answer in time") from None
        except genai_errors.APIError as error:
            raise UpstreamFailedError(f"gemini: the provider answered {error.code}") from None
        except (httpx2.HTTPError, ValueError) as error:
            raise UpstreamFailedError(f"gemini: {type(error).__name__}") from None
        try:
            text = response.text
        except (ValueError, AttributeError, TypeError):
            return None
        return text if isinstance(text, str) else None


def from_settings(settings: Settings) -> Analyzer:
    """The analyzer the configured keys choose (see the module docstring)."""
    loader = ArtifactLoader(
        ArtifactFetcher(
            max_bytes=settings.max_artifact_bytes,
            timeout=settings.fetch_timeout,
            max_redirects=settings.max_redirects,
        ),
        max_images=settings.max_images,
        max_side=settings.max_image_side,
    )
    provider = settings.chosen_provider()
    common = {
        "timeout": settings.provider_timeout,
        "deadline": settings.validate_deadline,
        "backend_host": settings.backend_host(),
    }
    if provider == "openai":
        return OpenAIAnalyzer(
            loader, api_key=settings.openai_api_key, model=settings.openai_model, **common
        )
    if provider == "gemini":
        return GeminiAnalyzer(
            loader, api_key=settings.gemini_api_key, model=settings.gemini_model, **common
        )
    log.warning("no provider key configured: every validation answers 503")
    return NoAnalyzer()
