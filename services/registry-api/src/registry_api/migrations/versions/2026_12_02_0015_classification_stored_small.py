"""a classification stored small: tier, sub-scores, indices and passes as columns, the explanation derived again from
the snapshot and the rule set's content, now kept by its hash (`ruleset_content`); the classification's feed rows
written by its own upsert, its statement triggers dropped

Revision ID: 0015_clstore
Revises: 0014
Create Date: 2026-12-02 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015_clstore"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The order of `kampungkb_shared.classification.Scores`, `Indices` and `Passed` (which the upsert and the reads use);
# a migration states it as it was when written.
_SCORES = [
    "i_pokja",
    "i_sumber_dana",
    "i_poktan",
    "i_sarana",
    "i_pkb_regulasi",
    "p_penggunaan_data",
    "p_mekop",
    "p_lintas_sektor",
    "o_poktan",
    "o_cpr",
    "o_mkjp",
    "o_unmet",
]
_GROUPS = ("input", "proses", "output")

_FEED_FUNCTION = """
    INSERT INTO change_log (kind, action, kampung_id, desa_code, period, ruleset, tier)
    SELECT 'classification', 'classified', n.kampung_id, k.desa_code, n.period, n.ruleset, n.tier
      FROM new_rows n JOIN kampung k ON k.id = n.kampung_id ORDER BY n.kampung_id, n.period, n.ruleset
"""


def _array(section: str, names: Sequence[str], sql_type: str) -> str:
    return "ARRAY[" + ", ".join(f"CAST(result->'{section}'->>'{name}' AS {sql_type})" for name in names) + "]"


def upgrade() -> None:
    op.create_table(
        "ruleset_content",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ruleset_content")),
    )
    op.create_index(op.f("ix_ruleset_content_hash"), "ruleset_content", ["hash"], unique=False)
    op.add_column("classification", sa.Column("scores", postgresql.ARRAY(sa.SmallInteger()), nullable=True))
    op.add_column("classification", sa.Column("indices", postgresql.ARRAY(sa.Numeric()), nullable=True))
    op.add_column("classification", sa.Column("passed", postgresql.ARRAY(sa.Boolean()), nullable=True))
    # One pass over the table; `numeric` keeps an index's text as the classifier wrote it (`3.0`, `2.67`).
    op.execute(f"""
        UPDATE classification
           SET scores = {_array("scores", _SCORES, "smallint")},
               indices = {_array("indices", _GROUPS, "numeric")},
               passed = {_array("passed", _GROUPS, "boolean")}
    """)
    for column in ("scores", "indices", "passed"):
        op.alter_column("classification", column, nullable=False)
    op.drop_column("classification", "result")
    op.execute("ALTER TABLE classification RESET (toast_tuple_target)")
    op.execute("DROP TRIGGER classification_insert_change_log ON classification")
    op.execute("DROP TRIGGER classification_update_change_log ON classification")
    op.execute("DROP FUNCTION change_log_classification_written()")


def downgrade() -> None:
    op.execute(
        f"CREATE FUNCTION change_log_classification_written() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"{_FEED_FUNCTION}; RETURN NULL; END $$"
    )
    for event in ("INSERT", "UPDATE"):
        op.execute(
            f"CREATE TRIGGER classification_{event.lower()}_change_log AFTER {event} ON classification "
            "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION change_log_classification_written()"
        )
    op.execute("ALTER TABLE classification SET (toast_tuple_target = 8160)")
    op.add_column("classification", sa.Column("result", postgresql.JSON(astext_type=sa.Text()), nullable=True))

    def section(column: str, names: Sequence[str]) -> str:
        return "json_build_object(" + ", ".join(f"'{n}', {column}[{i}]" for i, n in enumerate(names, 1)) + ")"

    # What the columns hold; the explanation (raw measures, missing data, next tier) is not kept in the database.
    op.execute(f"""
        UPDATE classification
           SET result = json_build_object('ruleset', ruleset, 'ruleset_hash', ruleset_hash,
                                          'period', to_char(period, 'YYYY-MM'), 'tier', tier,
                                          'scores', {section("scores", _SCORES)},
                                          'indices', {section("indices", _GROUPS)},
                                          'passed', {section("passed", _GROUPS)})
    """)
    op.alter_column("classification", "result", nullable=False)
    op.execute("ALTER TABLE classification ALTER COLUMN result SET STATISTICS 0")
    for column in ("passed", "indices", "scores"):
        op.drop_column("classification", column)
    op.drop_table("ruleset_content")
