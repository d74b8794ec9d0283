"""Background responses: the queue of their sealed requests and the log of their events.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

QUEUED = sa.text("status = 'queued'")


def upgrade() -> None:
    op.create_index("ix_responses_queued", "responses", ["created_at"], sqlite_where=QUEUED, postgresql_where=QUEUED)
    op.create_table(
        "response_jobs",
        sa.Column("response_id", sa.String(128), sa.ForeignKey("responses.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("sealed_by", sa.String(32), nullable=False),
        sa.Column("cancel_requested", sa.Integer, nullable=False),
    )
    op.create_table(
        "response_events",
        sa.Column("response_id", sa.String(128), sa.ForeignKey("responses.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("sequence_number", sa.Integer, primary_key=True),
        sa.Column("data", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("response_events")
    op.drop_table("response_jobs")
    op.drop_index("ix_responses_queued", "responses")
