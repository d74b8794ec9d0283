"""Vector stores, their files and batches, and the chunks with their embeddings.

On PostgreSQL this needs the pgvector extension; the keyword index is a generated tsvector with
a GIN index there, and an FTS5 table on SQLite.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "vector_stores",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("name", sa.String(1024), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("embedding_model", sa.String(256), nullable=False),
        sa.Column("embedding_dimensions", sa.Integer),
        sa.Column("expires_after_days", sa.Integer),
        sa.Column("last_active_at", sa.BigInteger, nullable=False),
        sa.Column("chunk_version", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(128)),
    )
    op.create_index("ix_vector_stores_created_at_id", "vector_stores", ["created_at", "id"])
    op.create_table(
        "vector_store_files",
        sa.Column("vector_store_id", sa.String(128), sa.ForeignKey("vector_stores.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("file_id", sa.String(128), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("chunking_strategy", sa.JSON(), nullable=False),
        sa.Column("usage_bytes", sa.BigInteger, nullable=False),
        sa.Column("last_error", sa.JSON()),
        sa.Column("batch_id", sa.String(128)),
        sa.Column("claimed_at", sa.BigInteger),
    )
    op.create_index("ix_vector_store_files_status", "vector_store_files", ["status"])
    op.create_index("ix_vector_store_files_batch_id", "vector_store_files", ["batch_id"])
    op.create_table(
        "vector_store_file_batches",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("vector_store_id", sa.String(128), sa.ForeignKey("vector_stores.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("cancelled", sa.Integer, nullable=False),
    )
    op.create_table(
        "vector_chunks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("vector_store_id", sa.String(128), sa.ForeignKey("vector_stores.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("file_id", sa.String(128), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("token_count", sa.Integer, nullable=False),
        sa.Column("embedding", sa.LargeBinary().with_variant(Vector(), "postgresql"), nullable=False),
    )
    op.create_index("ix_vector_chunks_store_file", "vector_chunks", ["vector_store_id", "file_id"])
    if postgres:
        op.execute("ALTER TABLE vector_chunks ADD COLUMN tsv tsvector "
                   "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED")
        op.execute("CREATE INDEX ix_vector_chunks_tsv ON vector_chunks USING gin (tsv)")
    else:
        op.execute("CREATE VIRTUAL TABLE vector_chunks_fts USING fts5(text, content='vector_chunks', "
                   "content_rowid='id', tokenize='porter unicode61')")
        op.execute("CREATE TRIGGER vector_chunks_fts_insert AFTER INSERT ON vector_chunks BEGIN "
                   "INSERT INTO vector_chunks_fts(rowid, text) VALUES (new.id, new.text); END")
        op.execute("CREATE TRIGGER vector_chunks_fts_delete AFTER DELETE ON vector_chunks BEGIN "
                   "INSERT INTO vector_chunks_fts(vector_chunks_fts, rowid, text) "
                   "VALUES ('delete', old.id, old.text); END")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TABLE IF EXISTS vector_chunks_fts")
    op.drop_table("vector_chunks")
    op.drop_table("vector_store_file_batches")
    op.drop_table("vector_store_files")
    op.drop_table("vector_stores")
