"""`submission_revision` keeps the versions a submission has replaced, not the one in force again: a trigger on
`submission` writes the version an update supersedes, so that a new submission (every row of a month's national
file) is written once rather than twice

Revision ID: 0019_superseded
Revises: 0018_kkbpkusers
Create Date: 2026-12-03 17:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019_superseded"
down_revision: str | None = "0018_kkbpkusers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SUPERSEDED = """
    INSERT INTO submission_revision (submission_id, revision, payload, submitted_by, submitted_at)
    SELECT o.id, o.revision, o.payload, o.submitted_by, o.submitted_at
      FROM old_rows o JOIN new_rows n ON n.id = o.id
     WHERE n.revision IS DISTINCT FROM o.revision
"""


def upgrade() -> None:
    op.execute(
        f"CREATE FUNCTION submission_superseded() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {_SUPERSEDED}; "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER submission_update_superseded AFTER UPDATE ON submission "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION submission_superseded()"
    )
    op.execute(
        "DELETE FROM submission_revision r USING submission s WHERE r.submission_id = s.id AND r.revision = s.revision"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER submission_update_superseded ON submission")
    op.execute("DROP FUNCTION submission_superseded()")
    op.execute(
        "INSERT INTO submission_revision (submission_id, revision, payload, submitted_by, submitted_at) "
        "SELECT id, revision, payload, submitted_by, submitted_at FROM submission"
    )
