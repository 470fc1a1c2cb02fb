import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field

from registry_api.auth.service import PrincipalKind, Role

PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
"""Text without control characters (PostgreSQL holds no NUL in text)."""
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=PRINTABLE)]


class MeRead(BaseModel):
    principal_id: int | None
    """None for a bearer token of the identity provider: its `subject` names the caller."""
    subject: str | None = None
    kind: PrincipalKind
    name: str
    role: Role
    scope: str
    key_prefix: str | None
    expires_at: dt.datetime | None


class KeyCreate(BaseModel):
    name: Name
    kind: PrincipalKind
    role: Role
    scope: Annotated[
        str, Field(min_length=2, max_length=32, pattern=PRINTABLE, description="00, a region code, or kampung:<id>")
    ]
    expires_in_days: Annotated[int, Field(ge=1, description="at most the maximum of the kind (settings)")]


class KeyRotate(BaseModel):
    expires_in_days: Annotated[int | None, Field(ge=1, description="default: the maximum of the kind")] = None


class KeyCreated(BaseModel):
    prefix: str
    key: str
    """The key itself: shown this once, stored only as a hash."""
    expires_at: dt.datetime | None


class KeyRead(BaseModel):
    prefix: str
    name: str
    principal_id: int
    kind: PrincipalKind
    role: Role
    scope: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class KeyPage(BaseModel):
    items: list[KeyRead]
    next_cursor: str | None
