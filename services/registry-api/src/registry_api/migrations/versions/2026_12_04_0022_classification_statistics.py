"""No planner statistics for the figures of `classification` (`scores`, `indices`, `passed`): no query filters,
joins or groups on them, and their array statistics were half the time of every `ANALYZE` of the table (one after
each national import, in the import and again in the report worker)

Revision ID: 0022_classstats
Revises: 0021_classrefs
Create Date: 2026-12-04 18:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022_classstats"
down_revision: str | None = "0021_classrefs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FIGURES = ("scores", "indices", "passed")


def _statistics(target: int) -> None:
    columns = ", ".join(f"ALTER COLUMN {column} SET STATISTICS {target}" for column in _FIGURES)
    op.execute(f"ALTER TABLE classification {columns}")


def upgrade() -> None:
    _statistics(0)


def downgrade() -> None:
    _statistics(-1)  # the server's default_statistics_target
