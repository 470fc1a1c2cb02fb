"""the change feed: `change_log`, written by statement triggers on every table a client follows, ordered by the
writing transaction's id; `change_log_horizon`, the position up to which the feed has been pruned

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# One function per followed table, run once per statement over its transition tables: set-based, so an import that
# writes 80,000 rows adds one INSERT ... SELECT, and no write path can forget to record what it changed.
_FUNCTIONS = {
    "change_log_kampung_inserted": """
        INSERT INTO change_log (kind, action, kampung_id, desa_code, revision, tier)
        SELECT 'kampung', 'created', n.id, n.desa_code, n.version, n.tier FROM new_rows n ORDER BY n.id
    """,
    "change_log_kampung_updated": """
        INSERT INTO change_log (kind, action, kampung_id, desa_code, revision, tier)
        SELECT 'kampung',
               CASE WHEN o.active AND NOT n.active THEN 'deactivated'
                    WHEN n.tier IS DISTINCT FROM o.tier THEN 'tier_changed'
                    ELSE 'updated' END,
               n.id, n.desa_code, n.version, n.tier
          FROM new_rows n JOIN old_rows o ON o.id = n.id ORDER BY n.id
    """,
    "change_log_submission_written": """
        INSERT INTO change_log (kind, action, kampung_id, desa_code, module, period, revision)
        SELECT 'submission', CASE WHEN n.revision = 1 THEN 'created' ELSE 'updated' END, n.kampung_id, k.desa_code,
               n.module, n.period, n.revision
          FROM new_rows n JOIN kampung k ON k.id = n.kampung_id ORDER BY n.kampung_id, n.module, n.period
    """,
    "change_log_kegiatan_inserted": """
        INSERT INTO change_log (kind, action, kampung_id, desa_code, period, kegiatan_id)
        SELECT 'kegiatan', 'created', n.kampung_id, k.desa_code, date_trunc('month', n.date)::date, n.id
          FROM new_rows n JOIN kampung k ON k.id = n.kampung_id ORDER BY n.id
    """,
    "change_log_classification_written": """
        INSERT INTO change_log (kind, action, kampung_id, desa_code, period, ruleset, tier)
        SELECT 'classification', 'classified', n.kampung_id, k.desa_code, n.period, n.ruleset, n.tier
          FROM new_rows n JOIN kampung k ON k.id = n.kampung_id ORDER BY n.kampung_id, n.period, n.ruleset
    """,
}
_TRIGGERS = [
    ("kampung", "INSERT", "change_log_kampung_inserted", "NEW TABLE AS new_rows"),
    ("kampung", "UPDATE", "change_log_kampung_updated", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    ("submission", "INSERT", "change_log_submission_written", "NEW TABLE AS new_rows"),
    ("submission", "UPDATE", "change_log_submission_written", "NEW TABLE AS new_rows"),
    ("kegiatan", "INSERT", "change_log_kegiatan_inserted", "NEW TABLE AS new_rows"),
    ("classification", "INSERT", "change_log_classification_written", "NEW TABLE AS new_rows"),
    ("classification", "UPDATE", "change_log_classification_written", "NEW TABLE AS new_rows"),
]


def upgrade() -> None:
    op.create_table(
        "change_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "txid", sa.BigInteger(), server_default=sa.text("(pg_current_xact_id()::text::bigint)"), nullable=False
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("kampung_id", sa.BigInteger(), nullable=False),
        sa.Column("desa_code", sa.String(length=13), nullable=False),
        sa.Column("module", sa.String(length=16), nullable=True),
        sa.Column("period", sa.Date(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=True),
        sa.Column("ruleset", sa.String(length=32), nullable=True),
        sa.Column("tier", sa.String(length=24), nullable=True),
        sa.Column("kegiatan_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "changed_at", sa.DateTime(timezone=True), server_default=sa.text("clock_timestamp()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_log")),
    )
    op.create_index("ix_change_log_position", "change_log", ["txid", "id"], unique=False)
    op.create_table(
        "change_log_horizon",
        sa.Column("single", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("single", name=op.f("ck_change_log_horizon_single")),
        sa.PrimaryKeyConstraint("single", name=op.f("pk_change_log_horizon")),
    )
    for name, body in _FUNCTIONS.items():
        op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body}; RETURN NULL; END $$")
    for table, event, function, referencing in _TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {table}_{event.lower()}_change_log AFTER {event} ON {table} REFERENCING {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )


def downgrade() -> None:
    for table, event, _, _ in _TRIGGERS:
        op.execute(f"DROP TRIGGER {table}_{event.lower()}_change_log ON {table}")
    for name in _FUNCTIONS:
        op.execute(f"DROP FUNCTION {name}()")
    op.drop_table("change_log_horizon")
    op.drop_index("ix_change_log_position", table_name="change_log")
    op.drop_table("change_log")
