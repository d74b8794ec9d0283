"""A lease on each in-progress response, renewed by the process running it.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

IN_PROGRESS = sa.text("status = 'in_progress'")


def upgrade() -> None:
    op.add_column("responses", sa.Column("lease_expires_at", sa.BigInteger))
    op.create_index("ix_responses_in_progress_lease", "responses", ["lease_expires_at"],
                    sqlite_where=IN_PROGRESS, postgresql_where=IN_PROGRESS)


def downgrade() -> None:
    op.drop_index("ix_responses_in_progress_lease", "responses")
    op.drop_column("responses", "lease_expires_at")
