"""each stored kkbpk's users by method kept narrow beside it (`kkbpk_users`), written by triggers on `submission`:
the data-quality pass reads a Kampung KB's 12 months before each month it checks as an index-only range of it rather
than parsing 12 payloads again every month

Revision ID: 0018_kkbpkusers
Revises: 0017_flaginputs
Create Date: 2026-12-03 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_kkbpkusers"
down_revision: str | None = "0017_flaginputs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_METHODS = ["KB_IUD", "KB_MOW", "KB_MOP", "KB_KONDOM", "KB_IMPLAN", "KB_SUNTIK", "KB_PIL"]
"""The official methods (`kampungkb_shared.codes.Contraception`) as of this migration; a column each, lower case."""
_COLUMNS = [code.lower() for code in _METHODS]
_USERS = ", ".join(f"coalesce((n.payload->'kb_users'->>'{code}')::integer, 0)" for code in _METHODS)
_WRITTEN = f"""
    INSERT INTO kkbpk_users (kampung_id, period, {", ".join(_COLUMNS)})
    SELECT n.kampung_id, n.period, {_USERS} FROM new_rows n WHERE n.module = 'kkbpk'
    ON CONFLICT (kampung_id, period) DO UPDATE SET {", ".join(f"{c} = excluded.{c}" for c in _COLUMNS)}
"""
_DELETED = """
    DELETE FROM kkbpk_users u USING old_rows o WHERE o.module = 'kkbpk' AND u.kampung_id = o.kampung_id
                                                 AND u.period = o.period
"""
_TRIGGERS = [
    ("INSERT", "kkbpk_users_written", "NEW TABLE AS new_rows"),
    ("UPDATE", "kkbpk_users_written", "NEW TABLE AS new_rows"),
    ("DELETE", "kkbpk_users_deleted", "OLD TABLE AS old_rows"),
]


def upgrade() -> None:
    op.create_table(
        "kkbpk_users",
        sa.Column("kampung_id", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        *(sa.Column(column, sa.Integer(), nullable=False) for column in _COLUMNS),
        sa.PrimaryKeyConstraint("kampung_id", "period", name=op.f("pk_kkbpk_users"), postgresql_include=_COLUMNS),
    )
    for name, body in (("kkbpk_users_written", _WRITTEN), ("kkbpk_users_deleted", _DELETED)):
        op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body}; RETURN NULL; END $$")
    for event, function, referencing in _TRIGGERS:
        op.execute(
            f"CREATE TRIGGER submission_{event.lower()}_kkbpk_users AFTER {event} ON submission "
            f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
    op.execute(
        f"INSERT INTO kkbpk_users (kampung_id, period, {', '.join(_COLUMNS)}) "
        f"SELECT n.kampung_id, n.period, {_USERS} FROM submission n WHERE n.module = 'kkbpk'"
    )


def downgrade() -> None:
    for event, _, _ in _TRIGGERS:
        op.execute(f"DROP TRIGGER submission_{event.lower()}_kkbpk_users ON submission")
    op.execute("DROP FUNCTION kkbpk_users_written()")
    op.execute("DROP FUNCTION kkbpk_users_deleted()")
    op.drop_table("kkbpk_users")
