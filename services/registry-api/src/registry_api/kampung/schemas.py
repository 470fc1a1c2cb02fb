import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

from kampungkb_shared.codes import FormationCriterion, Tier
from registry_api.db import BIGINT_MAX

KampungId = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="the Kampung KB's id")]
"""A Kampung KB id in a path: a positive bigint, so that no out-of-range number reaches the database."""

EARLIEST_FORMATION = dt.date(2016, 1, 1)
"""The programme's launch: the official site refuses an earlier tanggal pencanangan."""


class Scope(StrEnum):
    DESA_KELURAHAN = "DESA_KELURAHAN"
    RW = "RW"
    DUSUN = "DUSUN"


class _KampungFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("formed_on", check_fields=False)
    @classmethod
    def _formed_on_in_programme(cls, value: dt.date | None) -> dt.date | None:
        if value is None:
            return value
        if value < EARLIEST_FORMATION:
            raise ValueError("must not be before 2016-01-01, when the programme began")
        if value > dt.datetime.now(dt.UTC).date():
            raise ValueError("must not be in the future")
        return value


class KampungCreate(_KampungFields):
    name: str = Field(min_length=1, max_length=200)
    desa_code: str = Field(pattern=r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$", description="the desa/kelurahan code")
    formed_on: dt.date = Field(description="tanggal pencanangan")
    scope: Scope = Scope.DESA_KELURAHAN
    rw_dusun_name: str | None = Field(default=None, max_length=200)
    formation_criteria: list[FormationCriterion] = Field(default_factory=list)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class KampungUpdate(_KampungFields):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    formed_on: dt.date | None = None
    scope: Scope | None = None
    rw_dusun_name: str | None = Field(default=None, max_length=200)
    formation_criteria: list[FormationCriterion] | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    active: bool | None = None


class KampungRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    desa_code: str
    kecamatan_code: str
    kabupaten_code: str
    provinsi_code: str
    formed_on: dt.date
    scope: Scope
    rw_dusun_name: str | None
    formation_criteria: list[str]
    lat: float | None
    lon: float | None
    active: bool
    percontohan_kecamatan: bool
    percontohan_kabupaten: bool
    percontohan_provinsi: bool
    tier: Tier | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class KampungPage(BaseModel):
    items: list[KampungRead]
    next_cursor: str | None


PercontohanLevel = Literal["kecamatan", "kabupaten", "provinsi"]


class PercontohanSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: PercontohanLevel
