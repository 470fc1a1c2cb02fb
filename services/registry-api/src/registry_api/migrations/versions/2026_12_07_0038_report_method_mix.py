"""report method mix: each region's aggregates sum the users of each contraceptive method (`kb_iud`, ...) over the
same kkbpk in force as `kb_users`, which they add up to. The rows computed before are filled here from the narrow
copy of each kkbpk (`kkbpk_users`, 0018) over the Kampung KB counted in their period, each kecamatan's, then summed
up the levels as report-worker sums them, so that no report shows an empty mix until its period is rebuilt.

Revision ID: 0038_methodmix
Revises: 0037_webhookreplays
Create Date: 2026-12-07 20:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0038_methodmix"
down_revision: str | None = "0037_webhookreplays"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_METHODS = ["KB_IUD", "KB_MOW", "KB_MOP", "KB_KONDOM", "KB_IMPLAN", "KB_SUNTIK", "KB_PIL"]
"""The official methods (`kampungkb_shared.codes.Contraception`) as of this migration; a column each, lower case."""
_COLUMNS = [code.lower() for code in _METHODS]
_SET = ", ".join(f"{c} = s.{c}" for c in _COLUMNS)
_SUMS = ", ".join(f"sum(u.{c}) AS {c}" for c in _COLUMNS)
_CHILD_SUMS = ", ".join(f"sum(c.{c}) AS {c}" for c in _COLUMNS)

# The Kampung KB a period counts (active, formed by its last day, in a desa of the region list), each with its
# kkbpk in force (the newest at or before the period), as report-worker counts them.
_KECAMATAN = f"""
WITH per_kecamatan AS (
    SELECT p.period, k.kecamatan_code AS code, {_SUMS}
      FROM (SELECT DISTINCT period FROM report_aggregate) p
      JOIN kampung k ON k.active AND k.formed_on <= (p.period + interval '1 month' - interval '1 day')::date
      JOIN wilayah w ON w.code = k.desa_code
     CROSS JOIN LATERAL (
            SELECT * FROM kkbpk_users x WHERE x.kampung_id = k.id AND x.period <= p.period
             ORDER BY x.period DESC LIMIT 1
     ) u
     GROUP BY p.period, k.kecamatan_code
)
UPDATE report_aggregate a SET {_SET}
  FROM per_kecamatan s
 WHERE a.level = 'kecamatan' AND a.period = s.period AND a.code = s.code"""

_SUMMED = """
UPDATE report_aggregate a SET {set}
  FROM (SELECT c.period, c.ruleset, c.parent_code, {sums} FROM report_aggregate c
         WHERE c.level = '{children}' GROUP BY c.period, c.ruleset, c.parent_code) s
 WHERE a.level = '{level}' AND a.period = s.period AND a.ruleset = s.ruleset AND a.code = s.parent_code"""

_LEVELS = [("kecamatan", "kabupaten"), ("kabupaten", "provinsi"), ("provinsi", "nasional")]


def upgrade() -> None:
    for name in _COLUMNS:
        op.add_column("report_aggregate", sa.Column(name, sa.BigInteger(), nullable=False, server_default="0"))
    op.execute(_KECAMATAN)
    for children, level in _LEVELS:
        op.execute(_SUMMED.format(set=_SET, sums=_CHILD_SUMS, children=children, level=level))


def downgrade() -> None:
    for name in reversed(_COLUMNS):
        op.drop_column("report_aggregate", name)
