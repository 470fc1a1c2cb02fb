from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from registry_api.db import Base


class Wilayah(Base):
    """A Kemendagri region: provinsi, kabupaten/kota, kecamatan or desa/kelurahan."""

    __tablename__ = "wilayah"

    code: Mapped[str] = mapped_column(String(13), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str | None] = mapped_column(String(10))
    parent_code: Mapped[str | None] = mapped_column(String(13), index=True)

    __table_args__ = (
        Index("ix_wilayah_code_prefix", "code", postgresql_ops={"code": "text_pattern_ops"}),
        Index("ix_wilayah_level", "level"),
    )
