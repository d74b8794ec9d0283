"""The relational schema, one SQLAlchemy Core metadata for SQLite and PostgreSQL.

A response row holds its own parameters and final state; its items (its own new input and its
output, nothing inherited) live in ``response_items``. History is rebuilt along
``previous_response_id``, which is deliberately not a foreign key: deleting an ancestor ends the
chain there instead of rewriting its descendants.
"""

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, MetaData, String, Table
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

Json = JSON().with_variant(JSONB(), "postgresql")

responses = Table(
    "responses",
    metadata,
    Column("id", String(80), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("completed_at", BigInteger),
    Column("status", String(16), nullable=False),
    Column("model", String(256), nullable=False),
    Column("previous_response_id", String(80), index=True),
    Column("conversation_id", String(80), index=True),
    Column("params", Json, nullable=False),
    Column("usage", Json),
    Column("error", Json),
    Column("incomplete_details", Json),
    Column("owner", String(128)),
    Index("ix_responses_created_at_id", "created_at", "id"),
)

response_items = Table(
    "response_items",
    metadata,
    Column("response_id", String(80), ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(8), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("id", String(128), nullable=False, index=True),
    Column("type", String(64), nullable=False),
    Column("data", Json, nullable=False),
)
