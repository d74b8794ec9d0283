"""Conversations and their items.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("item_count", sa.Integer, nullable=False),
        sa.Column("active_response_id", sa.String(128)),
        sa.Column("active_since", sa.BigInteger),
        sa.Column("owner", sa.String(128)),
    )
    op.create_table(
        "conversation_items",
        sa.Column("conversation_id", sa.String(128), sa.ForeignKey("conversations.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_conversation_items_conversation_id_id", "conversation_items", ["conversation_id", "id"])


def downgrade() -> None:
    op.drop_table("conversation_items")
    op.drop_table("conversations")
