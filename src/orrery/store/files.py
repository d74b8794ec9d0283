"""Stored file metadata, with keyset pages newest first."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orrery import principals
from orrery.store.common import Order, keyset_page, storable
from orrery.store.schema import files


@dataclass(frozen=True)
class StoredFile:
    id: str
    created_at_us: int
    bytes: int
    filename: str
    purpose: str
    expires_at: int | None


def _live(now_s: int) -> Any:
    return or_(files.c.expires_at.is_(None), files.c.expires_at > now_s)


def _stored(row: Any) -> StoredFile:
    return StoredFile(row.id, row.created_at, row.bytes, row.filename, row.purpose, row.expires_at)


class FileStore:
    """Expired files answer as if they were gone."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(self, stored: StoredFile) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(insert(files), [{
                "id": stored.id, "created_at": stored.created_at_us, "bytes": stored.bytes,
                "filename": stored.filename, "purpose": stored.purpose, "expires_at": stored.expires_at,
                "owner": principals.owner()}])

    async def get(self, file_id: str) -> StoredFile | None:
        if not storable(file_id):
            return None
        async with self.engine.connect() as connection:
            row = (await connection.execute(
                select(files).where(files.c.id == file_id, _live(int(time.time())),
                                    principals.owner_filter(files.c.owner)))).first()
        return _stored(row) if row else None

    async def get_many(self, file_ids: list[str]) -> dict[str, StoredFile]:
        ids = [i for i in file_ids if storable(i)]
        if not ids:
            return {}
        async with self.engine.connect() as connection:
            rows = (await connection.execute(
                select(files).where(files.c.id.in_(ids), _live(int(time.time())),
                                    principals.owner_filter(files.c.owner)))).all()
        return {row.id: _stored(row) for row in rows}

    async def delete(self, file_id: str) -> bool:
        if not storable(file_id):
            return False
        async with self.engine.begin() as connection:
            result = await connection.execute(delete(files).where(files.c.id == file_id,
                                                                  principals.owner_filter(files.c.owner)))
        return result.rowcount > 0

    async def list_page(self, *, after: str | None, limit: int, order: Order,
                        purpose: str | None) -> tuple[list[StoredFile], bool]:
        if purpose is not None and not storable(purpose):
            return [], False
        query = select(files).where(_live(int(time.time())), principals.owner_filter(files.c.owner))
        if purpose is not None:
            query = query.where(files.c.purpose == purpose)
        async with self.engine.connect() as connection:
            query = await keyset_page(connection, query, files, files.c.id, after, order)
            rows = (await connection.execute(query.limit(limit + 1))).all()
        return [_stored(row) for row in rows[:limit]], len(rows) > limit
