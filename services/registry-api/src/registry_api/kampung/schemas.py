import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

from kampungkb_shared.codes import FormationCriterion, Tier
from kampungkb_shared.periods import within_programme
from registry_api.db import BIGINT_MAX

KampungId = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="the Kampung KB's id")]
"""A Kampung KB id in a path: a positive bigint, so that no out-of-range number reaches the database."""


class Scope(StrEnum):
    DESA_KELURAHAN = "DESA_KELURAHAN"
    RW = "RW"
    DUSUN = "DUSUN"


class _KampungFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("formed_on", check_fields=False)
    @classmethod
    def _formed_on_in_programme(cls, value: dt.date | None) -> dt.date | None:
        return value if value is None else within_programme(value)


class KampungCreate(_KampungFields):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Kampung KB Mawar",
                    "desa_code": "99.01.01.2005",
                    "formed_on": "2021-03-15",
                    "scope": "DESA_KELURAHAN",
                    "formation_criteria": ["PESERTA_KB_RENDAH"],
                    "lat": -6.2,
                    "lon": 106.8,
                }
            ]
        }
    )

    name: str = Field(description="The Kampung KB's name.", min_length=1, max_length=200)
    desa_code: str = Field(pattern=r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$", description="the desa/kelurahan code")
    formed_on: dt.date = Field(description="tanggal pencanangan")
    scope: Scope = Field(
        default=Scope.DESA_KELURAHAN, description="What it covers: the whole desa/kelurahan, an RW or a dusun."
    )
    rw_dusun_name: str | None = Field(description="The RW or dusun, when `scope` is one.", default=None, max_length=200)
    formation_criteria: list[FormationCriterion] = Field(
        description="Why it was formed (codes of `GET /v1/codes/formation_criterion`).", default_factory=list
    )
    lat: float | None = Field(description="Latitude, WGS 84.", default=None, ge=-90, le=90)
    lon: float | None = Field(description="Longitude, WGS 84.", default=None, ge=-180, le=180)


class KampungUpdate(_KampungFields):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Kampung KB Mawar Indah", "scope": "RW"}]})

    name: str | None = Field(description="The Kampung KB's name.", default=None, min_length=1, max_length=200)
    formed_on: dt.date | None = Field(
        default=None,
        description="Tanggal pencanangan: the day it was founded (2016-01-01 or later, not in the future).",
    )
    scope: Scope | None = Field(default=None, description="What it covers: the whole desa/kelurahan, an RW or a dusun.")
    rw_dusun_name: str | None = Field(description="The RW or dusun, when `scope` is one.", default=None, max_length=200)
    formation_criteria: list[FormationCriterion] | None = Field(
        default=None, description="Why it was formed (codes of `GET /v1/codes/formation_criterion`)."
    )
    lat: float | None = Field(description="Latitude, WGS 84.", default=None, ge=-90, le=90)
    lon: float | None = Field(description="Longitude, WGS 84.", default=None, ge=-180, le=180)
    active: bool | None = Field(default=None, description="False once deactivated: it no longer counts in reports.")


class KampungRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="The Kampung KB's id.")
    name: str = Field(description="The Kampung KB's name.")
    desa_code: str = Field(description="The desa/kelurahan it is in (`PP.KK.CC.DDDD`).")
    kecamatan_code: str = Field(description="Its kecamatan.")
    kabupaten_code: str = Field(description="Its kabupaten/kota.")
    provinsi_code: str = Field(description="Its provinsi.")
    formed_on: dt.date = Field(
        description="Tanggal pencanangan: the day it was founded (2016-01-01 or later, not in the future)."
    )
    scope: Scope = Field(description="What it covers: the whole desa/kelurahan, an RW or a dusun.")
    rw_dusun_name: str | None = Field(description="The RW or dusun, when `scope` is one.")
    formation_criteria: list[str] = Field(
        description="Why it was formed (codes of `GET /v1/codes/formation_criterion`)."
    )
    lat: float | None = Field(description="Latitude, WGS 84.")
    lon: float | None = Field(description="Longitude, WGS 84.")
    active: bool = Field(description="False once deactivated: it no longer counts in reports.")
    percontohan_kecamatan: bool = Field(description="The model (percontohan) Kampung KB of its kecamatan.")
    percontohan_kabupaten: bool = Field(description="The model (percontohan) Kampung KB of its kabupaten/kota.")
    percontohan_provinsi: bool = Field(description="The model (percontohan) Kampung KB of its provinsi.")
    tier: Tier | None = Field(
        description="Its tier under the primary rule set as of its newest classified period; null before any."
    )
    version: int = Field(description='Counts every change; the `ETag` is `"v<version>"`.')
    created_at: dt.datetime = Field(description="When it was registered.")
    updated_at: dt.datetime = Field(description="When it last changed.")


class KampungPage(BaseModel):
    items: list[KampungRead] = Field(description="This page's items.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last one.")


PercontohanLevel = Literal["kecamatan", "kabupaten", "provinsi"]


class PercontohanSet(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"level": "kabupaten"}]})

    level: PercontohanLevel = Field(
        description="Which region it becomes the model of: its kabupaten/kota or its provinsi."
    )
