import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field

from registry_api.auth.schemas import Name
from registry_api.db import BIGINT_MAX


class EnrolmentCreate(BaseModel):
    kampung_id: Annotated[int, Field(ge=1, le=BIGINT_MAX)]
    name: Annotated[Name, Field(description="whose phone, for the officer's records")]


class EnrolmentCreated(BaseModel):
    code: str
    """One use, until `expires_at`; stored only as a hash."""
    expires_at: dt.datetime
    qr_svg_url: str


class EnrolRequest(BaseModel):
    code: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]
    device_name: Name


class Enrolled(BaseModel):
    key: str
    """The phone's key, scoped `kampung:<id>`: shown this once."""
    expires_at: dt.datetime | None
    kampung_id: int
