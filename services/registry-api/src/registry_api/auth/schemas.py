import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from registry_api.auth.service import PrincipalKind, Role

PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
"""Text without control characters (PostgreSQL holds no NUL in text)."""
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=PRINTABLE)]


class MeRead(BaseModel):
    principal_id: int | None = Field(description="the principal's id; null for a bearer token of the identity provider")
    subject: str | None = Field(default=None, description="a bearer token's `sub`: who the identity provider says")
    kind: PrincipalKind = Field(description="`person`, `device` or `integration`")
    name: str = Field(description="the principal's name")
    role: Role = Field(description="what it may do")
    scope: str = Field(description="where: `00`, a region code, or `kampung:<id>`")
    key_prefix: str | None = Field(description="the prefix of the key used for this call (null for a bearer token)")
    expires_at: dt.datetime | None = Field(description="when the key used expires (null: never)")


class KeyCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "PLKB Kec. Batuceper",
                    "kind": "person",
                    "role": "kecamatan",
                    "scope": "36.71.01",
                    "expires_in_days": 365,
                }
            ]
        }
    )

    name: Name = Field(description="who the key is for")
    kind: PrincipalKind = Field(description="`person`, `device` or `integration`")
    role: Role = Field(description="at or below the caller's own role")
    scope: Annotated[
        str, Field(min_length=2, max_length=32, pattern=PRINTABLE, description="00, a region code, or kampung:<id>")
    ]
    expires_in_days: Annotated[int, Field(ge=1, description="at most the maximum of the kind (settings)")]


class KeyRotate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"expires_in_days": 90}]})

    expires_in_days: Annotated[int | None, Field(ge=1, description="default: the maximum of the kind")] = None


class KeyCreated(BaseModel):
    prefix: str = Field(description="the key's public prefix: how it is listed and revoked")
    key: str = Field(description="the key itself: shown this once, stored only as a hash")
    expires_at: dt.datetime | None = Field(description="when it expires (null: never)")


class KeyRead(BaseModel):
    prefix: str = Field(description="the key's public prefix")
    name: str = Field(description="its principal's name")
    principal_id: int = Field(description="the principal it belongs to")
    kind: PrincipalKind = Field(description="`person`, `device` or `integration`")
    role: Role = Field(description="its principal's role")
    scope: str = Field(description="its principal's scope")
    created_at: dt.datetime = Field(description="when it was given")
    expires_at: dt.datetime | None = Field(description="when it expires (null: never)")
    last_used_at: dt.datetime | None = Field(description="its last use, to the minute")
    revoked_at: dt.datetime | None = Field(description="when it was revoked (null: it was not)")


class KeyPage(BaseModel):
    items: list[KeyRead] = Field(description="keys, oldest first")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last one")
