"""principals own API keys (role and scope move from the key to its principal); keys expire and record when they
were last used; phone enrolments

Every existing key becomes the one key of an `integration` principal with the key's name, role and scope, and keeps
no expiry (as a key made on the command line without `--expires-in-days`).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "principal",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_principal")),
    )
    op.add_column("api_key", sa.Column("principal_id", sa.BigInteger(), nullable=True))
    op.add_column("api_key", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("api_key", sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("""
        INSERT INTO principal (id, kind, name, role, scope, created_at)
        OVERRIDING SYSTEM VALUE
        SELECT id, 'integration', name, role, scope, created_at FROM api_key
    """)
    op.execute(
        "SELECT setval(pg_get_serial_sequence('principal', 'id'), coalesce(max(id), 0) + 1, false) FROM principal"
    )
    op.execute("UPDATE api_key SET principal_id = id")
    op.alter_column("api_key", "principal_id", nullable=False)
    op.create_foreign_key(op.f("fk_api_key_principal_id_principal"), "api_key", "principal", ["principal_id"], ["id"])
    op.create_index("ix_api_key_principal_id", "api_key", ["principal_id"])
    op.drop_column("api_key", "role")
    op.drop_column("api_key", "scope")
    op.create_table(
        "enrolment",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("kampung_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("device_principal_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["kampung_id"], ["kampung.id"], name=op.f("fk_enrolment_kampung_id_kampung")),
        sa.ForeignKeyConstraint(
            ["device_principal_id"], ["principal.id"], name=op.f("fk_enrolment_device_principal_id_principal")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolment")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_enrolment_code_hash")),
    )


def downgrade() -> None:
    op.drop_table("enrolment")
    op.add_column("api_key", sa.Column("role", sa.String(length=16), nullable=True))
    op.add_column("api_key", sa.Column("scope", sa.String(length=32), nullable=True))
    op.execute("UPDATE api_key k SET role = p.role, scope = p.scope FROM principal p WHERE p.id = k.principal_id")
    op.alter_column("api_key", "role", nullable=False)
    op.alter_column("api_key", "scope", nullable=False)
    op.drop_index("ix_api_key_principal_id", table_name="api_key")
    op.drop_constraint(op.f("fk_api_key_principal_id_principal"), "api_key", type_="foreignkey")
    op.drop_column("api_key", "last_used_at")
    op.drop_column("api_key", "expires_at")
    op.drop_column("api_key", "principal_id")
    op.drop_table("principal")
