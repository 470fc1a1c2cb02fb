from pydantic import BaseModel, Field


class WilayahRead(BaseModel):
    code: str = Field(description="The Kemendagri code: `PP`, `PP.KK`, `PP.KK.CC` or `PP.KK.CC.DDDD`.")
    name: str = Field(description="The region's name.")
    level: str = Field(description="provinsi, kabupaten, kecamatan or desa.")
    kind: str | None = Field(description="kabupaten or kota at kabupaten level, desa or kelurahan at desa level.")
    parent_code: str | None = Field(description="The region one level up; null for a provinsi.")


class WilayahCounts(BaseModel):
    """How many regions lie below one region, by level and kind."""

    kabupaten: int = Field(default=0, description="Kabupaten below it.")
    kota: int = Field(default=0, description="Kota below it.")
    kecamatan: int = Field(default=0, description="Kecamatan below it.")
    desa: int = Field(default=0, description="Desa below it.")
    kelurahan: int = Field(default=0, description="Kelurahan below it.")


class WilayahDetail(WilayahRead):
    counts: WilayahCounts = Field(description="How many regions of each level and kind lie below it.")


class WilayahPage(BaseModel):
    items: list[WilayahRead] = Field(description="This page's items.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last one.")


class WilayahImportResult(BaseModel):
    rows: int = Field(description="Rows in the file.")
    inserted: int = Field(description="New regions.")
    updated: int = Field(description="Regions whose name, level, kind or parent changed.")
    unchanged: int = Field(description="Regions already as in the file.")
