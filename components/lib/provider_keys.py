"""The AI providers' API keys the vision validator may be given (seed 001's
``openai_api_key`` / ``gemini_api_key``): one definition of their config keys, container
variables and secret names, read by the inference stack, the policy pack's
``secrets-rotate`` rule and the tests.

They are the one kind of secret the stack holds but cannot rotate: the value is issued by
the provider (OpenAI, Google AI Studio), and no API of theirs lets a Secrets Manager
rotation function mint a new key. The operator rotates it at the provider and sets the new
value (``pulumi config set --secret``; ``pulumi up`` writes a new secret version).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProviderKey:
    config_key: str
    """The config key (``mlplatform:<config_key>``) and the Settings field."""
    variable: str
    """The container's environment variable, an ECS ``secrets`` entry."""
    role: str
    """Logical names ``<stack>-<role>-secret`` and ``-value``; physical
    ``<prefix>/inference/<role>``."""


PROVIDER_KEYS = (
    ProviderKey("openai_api_key", "OPENAI_API_KEY", "openai-api-key"),
    ProviderKey("gemini_api_key", "GEMINI_API_KEY", "gemini-api-key"),
)

NOT_ROTATED = (
    "an AI provider's API key: issued by the provider, which offers no API to mint one, so "
    "no rotation function can replace it; the operator rotates it at the provider and sets "
    "the new value (README, configuration: openai_api_key / gemini_api_key)"
)
"""Why the ``secrets-rotate`` rule exempts these secrets (and only these)."""
NOT_ROTATED_TAG = ("Rotation", "at-the-provider")
"""The tag every provider key's secret carries; the rule exempts a secret only with both
this tag and a provider key's logical name."""


def secret_logical_name(stack: str, key: ProviderKey) -> str:
    return f"{stack}-{key.role}-secret"


def is_provider_key_secret(logical_name: str) -> bool:
    """True for the logical name of a provider key's secret in any stack."""
    return any(logical_name.endswith(f"-{key.role}-secret") for key in PROVIDER_KEYS)
