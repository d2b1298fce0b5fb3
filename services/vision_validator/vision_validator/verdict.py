"""What the vision model is asked, and the strict reading of what it answers.

Both providers get the same instruction and the same JSON schema; the answer must be a
JSON object with exactly ``valid`` (a boolean), ``score`` (a number from 0 to 1) and
``reasons`` (1 to 10 non-empty strings). Anything else is a malformed answer
(:class:`MalformedVerdictError`, a 502): a verdict is never guessed from a partial one.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

MAX_REASONS = 10
MAX_REASON_CHARS = 500

SCHEMA = {
    "type": "object",
    "properties": {
        "valid": {"type": "boolean"},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "reasons": {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "maxItems": MAX_REASONS,
        },
    },
    "required": ["valid", "score", "reasons"],
    "additionalProperties": False,
}
"""The verdict's JSON schema, sent to the provider as its structured-output schema."""

INSTRUCTION = (
    "You inspect images of one step of a physical build. Decide whether the part shown "
    "matches the description. Answer only with a JSON object: "
    '{"valid": <true if the images show the described part>, '
    '"score": <your confidence that the part matches, from 0 to 1>, '
    '"reasons": [<one to ten short sentences saying what you saw>]}.'
)


class MalformedVerdictError(ValueError):
    """The model's answer is not a verdict of the schema above."""


@dataclass(frozen=True)
class Verdict:
    valid: bool
    score: float
    reasons: tuple[str, ...]


def prompt(part: str, description: str, images: int) -> str:
    """The user message's text for ``images`` attached images."""
    return (
        f"Part: {part}\nDescription: {description}\n"
        f"{images} image(s) of the step are attached. Does the part match the description?"
    )


def parse(text: str | None) -> Verdict:
    """The verdict in ``text``; ``MalformedVerdictError`` says what is wrong with it."""
    if not text:
        raise MalformedVerdictError("the model returned no text")
    try:
        data = json.loads(text)
    except ValueError:
        raise MalformedVerdictError("the model's answer is not JSON") from None
    if not isinstance(data, dict):
        raise MalformedVerdictError("the model's answer is not a JSON object")
    if set(data) != {"valid", "score", "reasons"}:
        raise MalformedVerdictError(
            f"expected exactly the keys reasons, score, valid (got {', '.join(sorted(data))})"
        )
    valid, score, reasons = data["valid"], data["score"], data["reasons"]
    if not isinstance(valid, bool):
        raise MalformedVerdictError("valid is not a boolean")
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        raise MalformedVerdictError("score is not a number")
    if not (math.isfinite(score) and 0 <= score <= 1):
        raise MalformedVerdictError("score is not from 0 to 1")
    if not isinstance(reasons, list) or not 1 <= len(reasons) <= MAX_REASONS:
        raise MalformedVerdictError(f"reasons is not a list of 1 to {MAX_REASONS} strings")
    if not all(isinstance(r, str) and r.strip() for r in reasons):
        raise MalformedVerdictError("reasons holds something other than non-empty strings")
    return Verdict(
        valid=valid,
        score=float(score),
        reasons=tuple(r.strip()[:MAX_REASON_CHARS] for r in reasons),
    )
