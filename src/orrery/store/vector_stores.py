"""Stored vector stores, the files in them, file batches, and the ingestion queue."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from orrery import principals
from orrery.store.common import Order, keyset_page, now_us, storable
from orrery.store.schema import vector_chunks, vector_store_file_batches, vector_store_files, vector_stores

STATUSES = ("in_progress", "completed", "cancelled", "failed")
CLAIM_SECONDS = 20
"""How long a claim on a queued file lasts unless renewed; the ingesting process renews it
while it works, so a file whose process died is taken over this long after."""


@dataclass(frozen=True)
class StoredVectorStore:
    id: str
    created_at_us: int
    name: str
    metadata: dict[str, str]
    embedding_model: str
    embedding_dimensions: int | None
    expires_after_days: int | None
    last_active_at: int
    file_counts: dict[str, int]
    usage_bytes: int


@dataclass(frozen=True)
class StoredStoreFile:
    vector_store_id: str
    file_id: str
    created_at_us: int
    status: str
    attributes: dict[str, Any]
    chunking_strategy: dict[str, Any]
    usage_bytes: int
    last_error: dict[str, Any] | None


def _counts(rows: list[Any]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for status, count in rows:
        counts[status] = counts.get(status, 0) + count
    counts["total"] = sum(counts[s] for s in STATUSES)
    return counts


def _store_file(row: Any) -> StoredStoreFile:
    return StoredStoreFile(row.vector_store_id, row.file_id, row.created_at, row.status, row.attributes,
                           row.chunking_strategy, row.usage_bytes, row.last_error)


class VectorStoreStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # stores

    async def create(self, row: dict[str, Any], files: list[dict[str, Any]]) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(insert(vector_stores), [{**row, "owner": principals.owner()}])
            if files:
                await connection.execute(insert(vector_store_files), files)

    async def get(self, store_id: str) -> StoredVectorStore | None:
        if not storable(store_id):
            return None
        found = await self._with_counts([store_id])
        return found[0] if found else None

    async def _with_counts(self, ids: list[str]) -> list[StoredVectorStore]:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(select(vector_stores).where(
                vector_stores.c.id.in_(ids), principals.owner_filter(vector_stores.c.owner)))).all()
            counts = (await connection.execute(
                select(vector_store_files.c.vector_store_id, vector_store_files.c.status, func.count(),
                       func.coalesce(func.sum(vector_store_files.c.usage_bytes), 0))
                .where(vector_store_files.c.vector_store_id.in_(ids))
                .group_by(vector_store_files.c.vector_store_id, vector_store_files.c.status))).all()
        by_store: dict[str, list[Any]] = {}
        usage: dict[str, int] = {}
        for store_id, status, count, used in counts:
            by_store.setdefault(store_id, []).append((status, count))
            usage[store_id] = usage.get(store_id, 0) + int(used)
        order = {store_id: position for position, store_id in enumerate(ids)}
        return sorted((StoredVectorStore(
            row.id, row.created_at, row.name, row.metadata, row.embedding_model, row.embedding_dimensions,
            row.expires_after_days, row.last_active_at, _counts(by_store.get(row.id, [])), usage.get(row.id, 0))
            for row in rows), key=lambda s: order[s.id])

    async def list_page(self, *, after: str | None, limit: int, order: Order) -> tuple[list[StoredVectorStore], bool]:
        query = select(vector_stores.c.id).where(principals.owner_filter(vector_stores.c.owner))
        async with self.engine.connect() as connection:
            ordered = await keyset_page(connection, query, vector_stores, vector_stores.c.id, after, order)
            ids = list((await connection.execute(ordered.limit(limit + 1))).scalars().all())
        return await self._with_counts(ids[:limit]), len(ids) > limit

    async def update(self, store_id: str, values: dict[str, Any]) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(update(vector_stores).where(
                vector_stores.c.id == store_id, principals.owner_filter(vector_stores.c.owner)).values(**values))

    async def delete(self, store_id: str) -> bool:
        if not storable(store_id):
            return False
        async with self.engine.begin() as connection:
            owned = (await connection.execute(select(vector_stores.c.id).where(
                vector_stores.c.id == store_id, principals.owner_filter(vector_stores.c.owner)))).first()
            if owned is None:
                return False
            await connection.execute(delete(vector_chunks).where(vector_chunks.c.vector_store_id == store_id))
            await connection.execute(delete(vector_store_files).where(vector_store_files.c.vector_store_id == store_id))
            await connection.execute(delete(vector_store_file_batches)
                                     .where(vector_store_file_batches.c.vector_store_id == store_id))
            result = await connection.execute(delete(vector_stores).where(vector_stores.c.id == store_id))
        return result.rowcount > 0

    async def touch(self, store_id: str) -> None:
        await self.update(store_id, {"last_active_at": int(time.time())})

    # files in stores

    async def add_files(self, rows: list[dict[str, Any]]) -> None:
        """Add files, or queue them again when they are in the store already."""
        async with self.engine.begin() as connection:
            for row in rows:
                existing = await connection.execute(
                    delete(vector_chunks).where(vector_chunks.c.vector_store_id == row["vector_store_id"],
                                                vector_chunks.c.file_id == row["file_id"]))
                await connection.execute(delete(vector_store_files).where(
                    vector_store_files.c.vector_store_id == row["vector_store_id"],
                    vector_store_files.c.file_id == row["file_id"]))
                if existing.rowcount:
                    await self._bump_version(connection, row["vector_store_id"])
            await connection.execute(insert(vector_store_files), rows)

    async def get_file(self, store_id: str, file_id: str) -> StoredStoreFile | None:
        if not (storable(store_id) and storable(file_id)):
            return None
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(vector_store_files).where(
                vector_store_files.c.vector_store_id == store_id, vector_store_files.c.file_id == file_id))).first()
        return _store_file(row) if row else None

    async def files_page(self, store_id: str, *, after: str | None, limit: int, order: Order,
                         status: str | None, batch_id: str | None = None) -> tuple[list[StoredStoreFile], bool]:
        table = vector_store_files
        query = select(table).where(table.c.vector_store_id == store_id)
        if status is not None:
            query = query.where(table.c.status == status)
        if batch_id is not None:
            query = query.where(table.c.batch_id == batch_id)
        async with self.engine.connect() as connection:
            ordered = await keyset_page(connection, query, table, table.c.file_id, after, order,
                                        table.c.vector_store_id == store_id)
            rows = (await connection.execute(ordered.limit(limit + 1))).all()
        return [_store_file(row) for row in rows[:limit]], len(rows) > limit

    async def chunk_texts(self, store_id: str, file_id: str) -> list[str]:
        async with self.engine.connect() as connection:
            return list((await connection.execute(
                select(vector_chunks.c.text).where(vector_chunks.c.vector_store_id == store_id,
                                                   vector_chunks.c.file_id == file_id)
                .order_by(vector_chunks.c.position))).scalars().all())

    async def update_file_attributes(self, store_id: str, file_id: str, attributes: dict[str, Any]) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(update(vector_store_files).where(
                vector_store_files.c.vector_store_id == store_id, vector_store_files.c.file_id == file_id)
                .values(attributes=attributes))
            await self._bump_version(connection, store_id)

    async def remove_file(self, store_id: str, file_id: str) -> bool:
        if not (storable(store_id) and storable(file_id)):
            return False
        async with self.engine.begin() as connection:
            await connection.execute(delete(vector_chunks).where(
                vector_chunks.c.vector_store_id == store_id, vector_chunks.c.file_id == file_id))
            result = await connection.execute(delete(vector_store_files).where(
                vector_store_files.c.vector_store_id == store_id, vector_store_files.c.file_id == file_id))
            await self._bump_version(connection, store_id)
        return result.rowcount > 0

    async def attributes(self, store_ids: list[str]) -> dict[tuple[str, str], dict[str, Any]]:
        """The attributes of every completed file of the stores, by (store, file)."""
        async with self.engine.connect() as connection:
            rows = (await connection.execute(select(
                vector_store_files.c.vector_store_id, vector_store_files.c.file_id, vector_store_files.c.attributes)
                .where(vector_store_files.c.vector_store_id.in_(store_ids),
                       vector_store_files.c.status == "completed"))).all()
        return {(row.vector_store_id, row.file_id): row.attributes for row in rows}

    # batches

    async def create_batch(self, batch_id: str, store_id: str, rows: list[dict[str, Any]]) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(insert(vector_store_file_batches),
                                     [{"id": batch_id, "vector_store_id": store_id, "created_at": now_us(),
                                       "cancelled": 0}])
        await self.add_files(rows)

    async def get_batch(self, store_id: str, batch_id: str) -> tuple[int, bool, dict[str, int]] | None:
        """Created time, whether it was cancelled, and its file counts."""
        if not (storable(store_id) and storable(batch_id)):
            return None
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(vector_store_file_batches).where(
                vector_store_file_batches.c.id == batch_id,
                vector_store_file_batches.c.vector_store_id == store_id))).first()
            if row is None:
                return None
            counts = (await connection.execute(
                select(vector_store_files.c.status, func.count()).where(vector_store_files.c.batch_id == batch_id)
                .group_by(vector_store_files.c.status))).all()
        return row.created_at, bool(row.cancelled), _counts(list(counts))

    async def cancel_batch(self, store_id: str, batch_id: str) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(update(vector_store_file_batches)
                                     .where(vector_store_file_batches.c.id == batch_id).values(cancelled=1))
            await connection.execute(update(vector_store_files).where(
                vector_store_files.c.batch_id == batch_id, vector_store_files.c.status == "in_progress")
                .values(status="cancelled"))

    # ingestion queue

    async def claim(self) -> StoredStoreFile | None:
        """Take the oldest file waiting for ingestion, or one whose ingesting process vanished."""
        stale = now_us() - CLAIM_SECONDS * 1_000_000
        table = vector_store_files
        waiting = and_(table.c.status == "in_progress", or_(table.c.claimed_at.is_(None), table.c.claimed_at < stale))
        async with self.engine.begin() as connection:
            for row in (await connection.execute(
                    select(table).where(waiting).order_by(table.c.created_at).limit(8))).all():
                taken = await connection.execute(update(table).where(
                    table.c.vector_store_id == row.vector_store_id, table.c.file_id == row.file_id, waiting)
                    .values(claimed_at=now_us()))
                if taken.rowcount == 1:
                    return _store_file(row)
        return None

    async def ingestion_queue_depth(self) -> int:
        """Files waiting for ingestion or being ingested, in every store of every project."""
        async with self.engine.connect() as connection:
            return int((await connection.execute(select(func.count()).select_from(vector_store_files).where(
                vector_store_files.c.status == "in_progress"))).scalar_one())

    async def renew_claim(self, store_id: str, file_id: str) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(update(vector_store_files).where(
                vector_store_files.c.vector_store_id == store_id, vector_store_files.c.file_id == file_id,
                vector_store_files.c.status == "in_progress").values(claimed_at=now_us()))

    async def store_chunks(self, store_id: str, file_id: str, chunks: list[dict[str, Any]], usage_bytes: int,
                           dimensions: int) -> bool:
        """Write a file's chunks and mark it completed, unless it was cancelled or removed meanwhile."""
        async with self.engine.begin() as connection:
            done = await connection.execute(update(vector_store_files).where(
                vector_store_files.c.vector_store_id == store_id, vector_store_files.c.file_id == file_id,
                vector_store_files.c.status == "in_progress")
                .values(status="completed", usage_bytes=usage_bytes, claimed_at=None))
            if done.rowcount != 1:
                return False
            if chunks:
                await connection.execute(insert(vector_chunks), chunks)
            await connection.execute(update(vector_stores).where(vector_stores.c.id == store_id).values(
                chunk_version=vector_stores.c.chunk_version + 1,
                embedding_dimensions=case((vector_stores.c.embedding_dimensions.is_(None), dimensions),
                                          else_=vector_stores.c.embedding_dimensions)))
        return True

    async def fail_file(self, store_id: str, file_id: str, code: str, message: str) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(update(vector_store_files).where(
                vector_store_files.c.vector_store_id == store_id, vector_store_files.c.file_id == file_id,
                vector_store_files.c.status == "in_progress")
                .values(status="failed", claimed_at=None, last_error={"code": code, "message": message[:1000]}))

    @staticmethod
    async def _bump_version(connection: Any, store_id: str) -> None:
        await connection.execute(update(vector_stores).where(vector_stores.c.id == store_id)
                                 .values(chunk_version=vector_stores.c.chunk_version + 1))
