"""The request bodies, validated by pydantic: a bad one is a 422 naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from hokusai_api import eth

Scope = Literal["models:read", "keys:manage"]
OWNER = r"^[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}$"
MAX_KEY_LIFETIME = timedelta(days=5 * 366)


class NewKey(BaseModel):
    """``POST /v1/keys``."""

    model_config = ConfigDict(extra="forbid")
    owner: str = Field(pattern=OWNER, description="Who the key is for (1-128 characters).")
    scopes: list[Scope] = Field(min_length=1, max_length=8)
    expires_at: AwareDatetime | None = Field(
        None, description="ISO 8601 with a time zone; in the future, within 5 years. None: never."
    )

    @field_validator("scopes")
    @classmethod
    def _unique(cls, scopes: list[str]) -> list[str]:
        return list(dict.fromkeys(scopes))

    @field_validator("expires_at")
    @classmethod
    def _future(cls, moment: datetime | None) -> datetime | None:
        if moment is None:
            return None
        now = datetime.now(UTC)
        if moment <= now:
            raise ValueError("expires_at is in the past")
        if moment > now + MAX_KEY_LIFETIME:
            raise ValueError("expires_at is more than 5 years ahead")
        return moment


class NewAddress(BaseModel):
    """``POST /v1/eth-addresses``."""

    model_config = ConfigDict(extra="forbid")
    address: str = Field(max_length=42)
    owner: str = Field(pattern=OWNER)
    scopes: list[Scope] = Field(min_length=1, max_length=8)

    @field_validator("address")
    @classmethod
    def _address(cls, address: str) -> str:
        return eth.normalize_address(address)

    @field_validator("scopes")
    @classmethod
    def _unique(cls, scopes: list[str]) -> list[str]:
        return list(dict.fromkeys(scopes))
