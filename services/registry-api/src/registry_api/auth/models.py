import datetime as dt

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from registry_api.db import Base


class PrincipalRecord(Base):
    """Who acts: a person, a device or an integration, with the role and region scope its keys carry."""

    __tablename__ = "principal"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(32))
    """A region code (`00` for the nation) or `kampung:<id>` for the operator or phone of one Kampung KB."""
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ApiKey(Base):
    """An API key of a principal: only a SHA-256 of its secret is stored; the key itself is shown once."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    principal_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("principal.id"))
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    """None only for keys made on the command line without `--expires-in-days`."""
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    """Written at most once a minute per key."""
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_api_key_principal_id", "principal_id"),)


class DashboardSession(Base):
    """A browser signed in to the dashboard with a key: the cookie holds a random token, of which only a SHA-256 is
    stored. It ends at `expires_at`, at sign-out (its row deleted) or with its key (revoked, expired or deleted)."""

    __tablename__ = "dashboard_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("api_key.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_dashboard_session_key_id", "key_id"),
        Index("ix_dashboard_session_expires_at", "expires_at"),
    )


class Enrolment(Base):
    """A one-time code that gives one phone a device key for one Kampung KB; only its SHA-256 is stored."""

    __tablename__ = "enrolment"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kampung_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("kampung.id"))
    name: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    device_principal_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("principal.id"))
