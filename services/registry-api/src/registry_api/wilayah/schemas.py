from pydantic import BaseModel


class WilayahRead(BaseModel):
    code: str
    name: str
    level: str
    kind: str | None
    parent_code: str | None


class WilayahCounts(BaseModel):
    """How many regions lie below one region, by level and kind."""

    kabupaten: int = 0
    kota: int = 0
    kecamatan: int = 0
    desa: int = 0
    kelurahan: int = 0


class WilayahDetail(WilayahRead):
    counts: WilayahCounts


class WilayahPage(BaseModel):
    items: list[WilayahRead]
    next_cursor: str | None


class WilayahImportResult(BaseModel):
    rows: int
    inserted: int
    updated: int
    unchanged: int
