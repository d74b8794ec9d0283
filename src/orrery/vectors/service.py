"""The Vector Stores API: stores, their files and file batches, and search."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from orrery.embeddings import DEFAULT_MODEL
from orrery.embeddings.base import Embedder
from orrery.errors import InvalidRequest, NotFound
from orrery.files.service import FileService
from orrery.ids import new_id
from orrery.store.common import Order, now_us
from orrery.store.vector_stores import StoredStoreFile, StoredVectorStore, VectorStoreStore
from orrery.vectors.filters import matches
from orrery.vectors.index import Hit, PostgresIndex, SqliteIndex, reciprocal_rank_fusion
from orrery.vectors.ingestion import DEFAULT_CHUNKING, Ingester
from orrery.wire import objects
from orrery.wire.shapes import ListPage
from orrery.wire.vector_stores import (
    ChunkingStrategy,
    CreateFileBatchRequest,
    CreateVectorStoreFileRequest,
    CreateVectorStoreRequest,
    SearchMode,
    SearchRequest,
    UpdateVectorStoreRequest,
)

FUSION_DEPTH = 50
ACTIVITY_RESOLUTION = 60
"""Seconds: a search records a store's ``last_active_at`` only when the stored one is older, so
searches do not each cost a write (expiry counts in days)."""


def _chunking(strategy: ChunkingStrategy | None) -> dict[str, Any]:
    if strategy is None or strategy.type == "auto":
        return DEFAULT_CHUNKING
    return strategy.model_dump()


def store_view(stored: StoredVectorStore) -> dict[str, Any]:
    expires_at = stored.last_active_at + stored.expires_after_days * 86400 if stored.expires_after_days else None
    if expires_at is not None and expires_at < time.time():
        status = "expired"
    else:
        status = "in_progress" if stored.file_counts["in_progress"] else "completed"
    return {
        "id": stored.id, "object": "vector_store", "created_at": stored.created_at_us // 1_000_000,
        "name": stored.name, "usage_bytes": stored.usage_bytes, "file_counts": stored.file_counts, "status": status,
        "expires_after": {"anchor": "last_active_at", "days": stored.expires_after_days}
        if stored.expires_after_days else None,
        "expires_at": expires_at, "last_active_at": stored.last_active_at, "metadata": stored.metadata,
    }


def store_file_view(row: StoredStoreFile) -> dict[str, Any]:
    return {
        "id": row.file_id, "object": "vector_store.file", "usage_bytes": row.usage_bytes,
        "created_at": row.created_at_us // 1_000_000, "vector_store_id": row.vector_store_id, "status": row.status,
        "last_error": row.last_error, "chunking_strategy": row.chunking_strategy, "attributes": row.attributes,
    }


def batch_view(batch_id: str, store_id: str, created_at_us: int, cancelled: bool,
               counts: dict[str, int]) -> dict[str, Any]:
    if cancelled:
        status = "cancelled"
    elif counts["in_progress"]:
        status = "in_progress"
    elif counts["total"] and counts["failed"] == counts["total"]:
        status = "failed"
    else:
        status = "completed"
    return {"id": batch_id, "object": "vector_store.files_batch", "created_at": created_at_us // 1_000_000,
            "vector_store_id": store_id, "status": status, "file_counts": counts}


class VectorStoreService:
    def __init__(self, store: VectorStoreStore, files: FileService, index: SqliteIndex | PostgresIndex,
                 ingester: Ingester, embedder_for: Callable[[str], Embedder]) -> None:
        self.store = store
        self.files = files
        self.index = index
        self.ingester = ingester
        self.embedder_for = embedder_for

    async def _existing(self, store_id: str) -> StoredVectorStore:
        stored = await self.store.get(store_id)
        if stored is None:
            raise NotFound(f"No vector store found with id '{store_id[:140]}'.", param="vector_store_id")
        return stored

    async def _check_files(self, file_ids: list[str], param: str) -> None:
        found = await self.files.store.get_many(file_ids)
        missing = [file_id for file_id in file_ids if file_id not in found]
        if missing:
            raise NotFound(f"No file found with id '{missing[0][:140]}'.", param=param)

    def _file_rows(self, store_id: str, files: list[tuple[str, dict[str, Any], dict[str, Any]]],
                   batch_id: str | None = None) -> list[dict[str, Any]]:
        created = now_us()
        return [{"vector_store_id": store_id, "file_id": file_id, "created_at": created + position,
                 "status": "in_progress", "attributes": attributes, "chunking_strategy": chunking,
                 "usage_bytes": 0, "last_error": None, "batch_id": batch_id, "claimed_at": None}
                for position, (file_id, attributes, chunking) in enumerate(files)]

    # stores

    async def create(self, request: CreateVectorStoreRequest) -> dict[str, Any]:
        file_ids = list(dict.fromkeys(request.file_ids or []))
        await self._check_files(file_ids, "file_ids")
        model = request.embedding_model or DEFAULT_MODEL
        self.embedder_for(model)
        store_id = new_id("vs")
        row = {"id": store_id, "created_at": now_us(), "name": request.name or "", "metadata": request.metadata or {},
               "embedding_model": model, "embedding_dimensions": None,
               "expires_after_days": request.expires_after.days if request.expires_after else None,
               "last_active_at": int(time.time()), "chunk_version": 0}
        chunking = _chunking(request.chunking_strategy)
        await self.store.create(row, self._file_rows(store_id, [(f, {}, chunking) for f in file_ids]))
        self.ingester.wake()
        return store_view(await self._existing(store_id))

    async def retrieve(self, store_id: str) -> dict[str, Any]:
        return store_view(await self._existing(store_id))

    async def update(self, store_id: str, request: UpdateVectorStoreRequest) -> dict[str, Any]:
        await self._existing(store_id)
        values: dict[str, Any] = {}
        if "name" in request.model_fields_set:
            values["name"] = request.name or ""
        if "metadata" in request.model_fields_set:
            values["metadata"] = request.metadata or {}
        if "expires_after" in request.model_fields_set:
            values["expires_after_days"] = request.expires_after.days if request.expires_after else None
        if values:
            await self.store.update(store_id, values)
        return store_view(await self._existing(store_id))

    async def delete(self, store_id: str) -> dict[str, Any]:
        if not await self.store.delete(store_id):
            raise NotFound(f"No vector store found with id '{store_id[:140]}'.", param="vector_store_id")
        return {"id": store_id, "object": "vector_store.deleted", "deleted": True}

    async def list_page(self, *, after: str | None, limit: int, order: Order) -> ListPage:
        rows, has_more = await self.store.list_page(after=after, limit=limit, order=order)
        return objects.list_page([store_view(row) for row in rows], has_more)

    # files

    async def add_file(self, store_id: str, request: CreateVectorStoreFileRequest) -> dict[str, Any]:
        await self._existing(store_id)
        await self._check_files([request.file_id], "file_id")
        rows = self._file_rows(store_id, [(request.file_id, request.attributes or {},
                                           _chunking(request.chunking_strategy))])
        await self.store.add_files(rows)
        self.ingester.wake()
        return await self.retrieve_file(store_id, request.file_id)

    async def _existing_file(self, store_id: str, file_id: str) -> StoredStoreFile:
        await self._existing(store_id)
        row = await self.store.get_file(store_id, file_id)
        if row is None:
            raise NotFound(f"No file found with id '{file_id[:140]}' in vector store '{store_id}'.", param="file_id")
        return row

    async def retrieve_file(self, store_id: str, file_id: str) -> dict[str, Any]:
        return store_file_view(await self._existing_file(store_id, file_id))

    async def list_files(self, store_id: str, *, after: str | None, limit: int, order: Order,
                         status: str | None, batch_id: str | None = None) -> ListPage:
        await self._existing(store_id)
        rows, has_more = await self.store.files_page(store_id, after=after, limit=limit, order=order, status=status,
                                                     batch_id=batch_id)
        return objects.list_page([store_file_view(row) for row in rows], has_more)

    async def update_file(self, store_id: str, file_id: str, attributes: dict[str, Any]) -> dict[str, Any]:
        await self._existing_file(store_id, file_id)
        await self.store.update_file_attributes(store_id, file_id, attributes)
        return await self.retrieve_file(store_id, file_id)

    async def remove_file(self, store_id: str, file_id: str) -> dict[str, Any]:
        await self._existing_file(store_id, file_id)
        await self.store.remove_file(store_id, file_id)
        return {"id": file_id, "object": "vector_store.file.deleted", "deleted": True}

    async def file_content(self, store_id: str, file_id: str) -> dict[str, Any]:
        await self._existing_file(store_id, file_id)
        texts = await self.store.chunk_texts(store_id, file_id)
        return {"object": "vector_store.file_content.page", "data": [{"type": "text", "text": t} for t in texts],
                "has_more": False, "next_page": None}

    # batches

    async def create_batch(self, store_id: str, request: CreateFileBatchRequest) -> dict[str, Any]:
        await self._existing(store_id)
        if (request.file_ids is None) == (request.files is None):
            raise InvalidRequest("Provide exactly one of 'file_ids' and 'files'.", param="file_ids",
                                 code="invalid_value")
        chunking = _chunking(request.chunking_strategy)
        if request.files is not None:
            files = [(f.file_id, f.attributes if f.attributes is not None else request.attributes or {},
                      _chunking(f.chunking_strategy) if f.chunking_strategy else chunking) for f in request.files]
        else:
            files = [(file_id, request.attributes or {}, chunking) for file_id in dict.fromkeys(request.file_ids or [])]
        await self._check_files([file_id for file_id, _, _ in files], "file_ids")
        batch_id = new_id("vsfb")
        await self.store.create_batch(batch_id, store_id, self._file_rows(store_id, files, batch_id))
        self.ingester.wake()
        return await self.retrieve_batch(store_id, batch_id)

    async def retrieve_batch(self, store_id: str, batch_id: str) -> dict[str, Any]:
        await self._existing(store_id)
        found = await self.store.get_batch(store_id, batch_id)
        if found is None:
            raise NotFound(f"No file batch found with id '{batch_id[:140]}'.", param="batch_id")
        return batch_view(batch_id, store_id, *found)

    async def cancel_batch(self, store_id: str, batch_id: str) -> dict[str, Any]:
        await self.retrieve_batch(store_id, batch_id)
        await self.store.cancel_batch(store_id, batch_id)
        return await self.retrieve_batch(store_id, batch_id)

    async def list_batch_files(self, store_id: str, batch_id: str, **page: Any) -> ListPage:
        await self.retrieve_batch(store_id, batch_id)
        return await self.list_files(store_id, batch_id=batch_id, **page)

    # search

    async def search_hits(self, store_ids: list[str], queries: list[str], *, filters: dict[str, Any] | None,
                          max_results: int, mode: SearchMode, score_threshold: float | None) -> list[Hit]:
        """The best chunks of the stores for the queries, best first (also used by file_search)."""
        stores = [await self._existing(store_id) for store_id in store_ids]
        allowed = {pair for pair, attributes in (await self.store.attributes(store_ids)).items()
                   if matches(filters, attributes)}
        best: dict[tuple[str, str, int], Hit] = {}
        for query in queries:
            for hit in await self._search_one(stores, query, allowed, max_results, mode):
                key = (hit.vector_store_id, hit.file_id, hit.position)
                if key not in best or best[key].score < hit.score:
                    best[key] = hit
        hits = sorted(best.values(), key=lambda hit: hit.score, reverse=True)
        if score_threshold is not None:
            hits = [hit for hit in hits if hit.score >= score_threshold]
        now = int(time.time())
        for store in stores:
            if store.last_active_at < now - ACTIVITY_RESOLUTION:
                await self.store.touch(store.id)
        return hits[:max_results]

    async def _search_one(self, stores: list[StoredVectorStore], query: str, allowed: set[tuple[str, str]],
                          k: int, mode: SearchMode) -> list[Hit]:
        store_ids = [store.id for store in stores]
        if mode == "keyword":
            return await self.index.keyword_search(store_ids, query, allowed, k)
        rankings = []
        for model in dict.fromkeys(store.embedding_model for store in stores):
            same_model = [store.id for store in stores if store.embedding_model == model]
            vector = (await self.embedder_for(model).embed([query]))[0]
            rankings.append(await self.index.vector_search(same_model, vector, allowed,
                                                           k if mode == "vector" else FUSION_DEPTH))
        vector_hits = sorted((hit for ranking in rankings for hit in ranking), key=lambda h: h.score, reverse=True)
        if mode == "vector":
            return vector_hits[:k]
        keyword_hits = await self.index.keyword_search(store_ids, query, allowed, FUSION_DEPTH)
        return reciprocal_rank_fusion([vector_hits[:FUSION_DEPTH], keyword_hits], k)

    async def search(self, store_id: str, request: SearchRequest) -> dict[str, Any]:
        queries = [request.query] if isinstance(request.query, str) else request.query
        hits = await self.search_hits(
            [store_id], queries, filters=request.filters.model_dump() if request.filters else None,
            max_results=request.max_num_results, mode=request.search_mode,
            score_threshold=request.ranking_options.score_threshold if request.ranking_options else None)
        return {"object": "vector_store.search_results.page", "search_query": queries,
                "data": await self.results(hits), "has_more": False, "next_page": None}

    async def results(self, hits: list[Hit]) -> list[dict[str, Any]]:
        """Search results as OpenAI shows them: file, filename, score, attributes, content."""
        files = await self.files.store.get_many(list({hit.file_id for hit in hits}))
        attributes = await self.store.attributes(list({hit.vector_store_id for hit in hits}))
        return [{"file_id": hit.file_id, "filename": files[hit.file_id].filename if hit.file_id in files else "",
                 "score": hit.score, "attributes": attributes.get((hit.vector_store_id, hit.file_id), {}),
                 "content": [{"type": "text", "text": hit.text}]} for hit in hits]
