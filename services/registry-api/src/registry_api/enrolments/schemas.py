import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from registry_api.auth.schemas import Name
from registry_api.db import BIGINT_MAX


class EnrolmentCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"kampung_id": 1, "name": "HP kader Posyandu Melati"}]})

    kampung_id: Annotated[int, Field(ge=1, le=BIGINT_MAX, description="the Kampung KB the phone will write for")]
    name: Annotated[Name, Field(description="whose phone, for the officer's records")]


class EnrolmentCreated(BaseModel):
    code: str = Field(description="the one-time code the phone posts to `POST /v1/enrol`")
    """One use, until `expires_at`; stored only as a hash."""
    expires_at: dt.datetime = Field(description="when the code stops working (24 hours)")
    qr_svg_url: str = Field(description="the code as a QR image to scan")


class EnrolRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"code": "Xk3v9Qm2LpR7", "device_name": "Samsung A05"}]})

    code: Annotated[
        str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$", description="the code an officer gave")
    ]
    device_name: Annotated[Name, Field(description="the phone's name, for the officer's records")]


class Enrolled(BaseModel):
    key: str = Field(description="the phone's key, scoped `kampung:<id>`: shown this once")
    expires_at: dt.datetime | None = Field(description="when it expires")
    kampung_id: int = Field(description="the Kampung KB it writes for")
