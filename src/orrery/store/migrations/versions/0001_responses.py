"""Responses and their items.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Json = sa.JSON()


def upgrade() -> None:
    op.create_table(
        "responses",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("completed_at", sa.BigInteger),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("previous_response_id", sa.String(128)),
        sa.Column("conversation_id", sa.String(128)),
        sa.Column("params", Json, nullable=False),
        sa.Column("usage", Json),
        sa.Column("error", Json),
        sa.Column("incomplete_details", Json),
        sa.Column("owner", sa.String(128)),
    )
    op.create_index("ix_responses_previous_response_id", "responses", ["previous_response_id"])
    op.create_index("ix_responses_conversation_id", "responses", ["conversation_id"])
    op.create_index("ix_responses_created_at_id", "responses", ["created_at", "id"])
    op.create_table(
        "response_items",
        sa.Column("response_id", sa.String(128), sa.ForeignKey("responses.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("role", sa.String(8), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("data", Json, nullable=False),
    )
    op.create_index("ix_response_items_id", "response_items", ["id"])


def downgrade() -> None:
    op.drop_table("response_items")
    op.drop_table("responses")
