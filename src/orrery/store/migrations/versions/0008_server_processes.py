"""Heartbeats of the server processes, and which process runs each in-progress response.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "server_processes",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("heartbeat_at", sa.BigInteger, nullable=False),
    )
    op.add_column("responses", sa.Column("runner", sa.String(128)))


def downgrade() -> None:
    op.drop_column("responses", "runner")
    op.drop_table("server_processes")
