"""The relational schema, one SQLAlchemy Core metadata for SQLite and PostgreSQL.

A response row holds its own parameters and final state; its items (its own new input and its
output, nothing inherited) live in ``response_items``. History is rebuilt along
``previous_response_id``, which is deliberately not a foreign key: deleting an ancestor ends the
chain there instead of rewriting its descendants.

JSON columns are plain JSON, not JSONB, on PostgreSQL: nothing queries inside them, and JSON
keeps any string a client sent, NUL characters included, which JSONB refuses.
"""

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

ID_LENGTH = 128
MODEL_LENGTH = 256

metadata = MetaData()

Json = JSON()

responses = Table(
    "responses",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("completed_at", BigInteger),
    Column("status", String(16), nullable=False),
    Column("model", String(MODEL_LENGTH), nullable=False),
    Column("previous_response_id", String(ID_LENGTH), index=True),
    Column("conversation_id", String(ID_LENGTH), index=True),
    Column("params", Json, nullable=False),
    Column("usage", Json),
    Column("error", Json),
    Column("incomplete_details", Json),
    Column("owner", String(128)),
    Column("lease_expires_at", BigInteger),
    Column("runner", String(ID_LENGTH)),
    Index("ix_responses_created_at_id", "created_at", "id"),
    Index("ix_responses_in_progress_lease", "lease_expires_at", sqlite_where=text("status = 'in_progress'"),
          postgresql_where=text("status = 'in_progress'")),
    Index("ix_responses_queued", "created_at", sqlite_where=text("status = 'queued'"),
          postgresql_where=text("status = 'queued'")),
)
"""An ``in_progress`` row holds a lease (µs) its process renews; one whose lease ran out was left
by a process that died, and is marked failed. A ``queued`` row is a background response no
process has taken yet."""

server_processes = Table(
    "server_processes",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column("heartbeat_at", BigInteger, nullable=False),
)
"""Each running server process and its latest heartbeat (µs): an in-progress response whose
``runner`` stopped beating is failed at once, rather than when its lease runs out."""

response_jobs = Table(
    "response_jobs",
    metadata,
    Column("response_id", String(ID_LENGTH), ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True),
    Column("request", Text, nullable=False),
    Column("sealed_by", String(32), nullable=False),
    Column("cancel_requested", Integer, nullable=False),
)
"""What a background response runs from: its create request, sealed under the state key (it may
hold secrets, such as MCP authorization), until the run ends. ``sealed_by`` names that key, so
only processes holding it take the job; ``cancel_requested`` tells the process running it to stop."""

response_events = Table(
    "response_events",
    metadata,
    Column("response_id", String(ID_LENGTH), ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True),
    Column("sequence_number", Integer, primary_key=True),
    Column("data", Json, nullable=False),
)
"""Every event of a background response, as it was streamed, so a stream can be resumed anywhere."""

response_items = Table(
    "response_items",
    metadata,
    Column("response_id", String(ID_LENGTH), ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(8), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("id", String(ID_LENGTH), nullable=False, index=True),
    Column("type", String(64), nullable=False),
    Column("data", Json, nullable=False),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("metadata", Json, nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("active_response_id", String(ID_LENGTH)),
    Column("active_since", BigInteger),
    Column("owner", String(128)),
)
"""``item_count`` is the next item position: appending bumps it first, which serializes appenders.
``active_response_id`` is the lease of the stored response now running on the conversation."""

conversation_items = Table(
    "conversation_items",
    metadata,
    Column("conversation_id", String(ID_LENGTH), ForeignKey("conversations.id", ondelete="CASCADE"),
           primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("id", String(ID_LENGTH), nullable=False),
    Column("type", String(64), nullable=False),
    Column("data", Json, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_conversation_items_conversation_id_id", "conversation_id", "id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column("name", String(256), nullable=False, index=True),
    Column("project", String(128), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("admin", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger),
)
"""Keys made with ``orrery keys create``: only their SHA-256 is kept (a key is 256 random bits,
so a plain hash is as good as a slow one), and the project they act for."""

files = Table(
    "files",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("filename", String(1024), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("expires_at", BigInteger),
    Column("owner", String(128)),
    Index("ix_files_created_at_id", "created_at", "id"),
)
"""Uploaded files' metadata; the bytes live in the blob directory under the file's id."""

vector_stores = Table(
    "vector_stores",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("name", String(1024), nullable=False),
    Column("metadata", Json, nullable=False),
    Column("embedding_model", String(MODEL_LENGTH), nullable=False),
    Column("embedding_dimensions", Integer),
    Column("expires_after_days", Integer),
    Column("last_active_at", BigInteger, nullable=False),
    Column("chunk_version", Integer, nullable=False),
    Column("owner", String(128)),
    Index("ix_vector_stores_created_at_id", "created_at", "id"),
)
"""``chunk_version`` grows whenever the store's chunks change, so per-process caches of its
vectors know when to reload."""

vector_store_files = Table(
    "vector_store_files",
    metadata,
    Column("vector_store_id", String(ID_LENGTH), ForeignKey("vector_stores.id", ondelete="CASCADE"),
           primary_key=True),
    Column("file_id", String(ID_LENGTH), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("attributes", Json, nullable=False),
    Column("chunking_strategy", Json, nullable=False),
    Column("usage_bytes", BigInteger, nullable=False),
    Column("last_error", Json),
    Column("batch_id", String(ID_LENGTH), index=True),
    Column("claimed_at", BigInteger),
)
"""A file in a store; ``in_progress`` rows are also the ingestion queue (``claimed_at`` is the
lease of the process ingesting it)."""

vector_store_file_batches = Table(
    "vector_store_file_batches",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column("vector_store_id", String(ID_LENGTH), ForeignKey("vector_stores.id", ondelete="CASCADE"),
           nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("cancelled", Integer, nullable=False),
)

vector_chunks = Table(
    "vector_chunks",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("vector_store_id", String(ID_LENGTH), ForeignKey("vector_stores.id", ondelete="CASCADE"),
           nullable=False),
    Column("file_id", String(ID_LENGTH), nullable=False),
    Column("position", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("token_count", Integer, nullable=False),
    Column("embedding", LargeBinary().with_variant(Vector(), "postgresql"), nullable=False),
    Index("ix_vector_chunks_store_file", "vector_store_id", "file_id"),
)
"""Embeddings are float32 blobs on SQLite (searched exactly with numpy) and pgvector vectors on
PostgreSQL. Keyword search uses an FTS5 table on SQLite and a generated tsvector on PostgreSQL
(both made by the migration)."""
