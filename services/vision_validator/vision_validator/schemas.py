"""The ``/validate`` request and response bodies (the seed's field names, camelCase on the wire).

Unknown fields are ignored, not refused: the callers (the Fabrikator backend) may add
context this service does not use, and refusing it would break them for no safety gain.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, AnyUrl, BaseModel, ConfigDict, Field, UrlConstraints

SESSION_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
"""Session ids are logged, so they are kept to characters that cannot forge a log line."""


def _no_credentials(url: AnyUrl) -> AnyUrl:
    if url.username or url.password:
        raise ValueError("URL must not carry a user name or password")
    return url


HttpsUrl = Annotated[
    AnyUrl,
    UrlConstraints(allowed_schemes=["https"], max_length=2048, host_required=True),
    AfterValidator(_no_credentials),
]

_WIRE = ConfigDict(str_strip_whitespace=True, validate_by_name=True, validate_by_alias=True)


class ValidationContext(BaseModel):
    model_config = _WIRE

    session_id: str = Field(alias="sessionId", min_length=1, max_length=128, pattern=SESSION_ID)
    artifacts_url: HttpsUrl = Field(alias="artifactsUrl")
    """Where the step's artefacts are: an image or a JSON listing of image URLs, fetched by
    the vision analyzers through ``vision_validator.fetch``; never logged whole: presigned
    URLs carry signatures."""
    step: int = Field(ge=1, le=100_000, strict=True)


class ValidationArgs(BaseModel):
    model_config = _WIRE

    part: str = Field(min_length=1, max_length=128)
    part_description: str = Field(alias="partDescription", min_length=1, max_length=4000)


class ValidationRequest(BaseModel):
    model_config = _WIRE

    context: ValidationContext
    args: ValidationArgs


class IssueOut(BaseModel):
    code: str
    message: str


class ValidationResponse(BaseModel):
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    session_id: str = Field(alias="sessionId")
    step: int
    part: str
    valid: bool
    score: float = Field(ge=0.0, le=1.0)
    issues: list[IssueOut]
    reasons: list[str] = []
    """What the vision model saw, in its words (empty for an analyzer that gives none)."""
    analyzer: str
