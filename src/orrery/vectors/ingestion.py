"""Background ingestion: parse, chunk, embed and index files queued in vector stores.

Each process runs one ingester. Queued files are rows of ``vector_store_files`` still
``in_progress``; a file is claimed with a lease that is renewed while it is worked on, so a file
whose process died is picked up again by the next process that looks, and ingestion survives a
restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from orrery.embeddings.base import Embedder
from orrery.files.chunking import chunk_text
from orrery.files.parsing import UnsupportedFile, extract_text
from orrery.files.service import FileService
from orrery.inference.errors import UpstreamError
from orrery.store.vector_stores import CLAIM_SECONDS, StoredStoreFile, VectorStoreStore
from orrery.vectors.index import PostgresIndex, SqliteIndex, encode_vector

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 1.0
DEFAULT_CHUNKING: dict[str, Any] = {
    "type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}}


class Ingester:
    def __init__(self, store: VectorStoreStore, files: FileService, embedder_for: Callable[[str], Embedder],
                 index: SqliteIndex | PostgresIndex) -> None:
        self.store = store
        self.files = files
        self.embedder_for = embedder_for
        self.index = index
        self.dialect = index.engine.dialect.name
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="orrery-ingester")

    def wake(self) -> None:
        """New work was queued by this process: look now rather than at the next poll."""
        self._wakeup.set()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while True:
            try:
                queued = await self.store.claim()
            except Exception:
                log.exception("cannot read the ingestion queue")
                queued = None
            if queued is None:
                try:
                    await asyncio.wait_for(self._wakeup.wait(), IDLE_POLL_SECONDS)
                except TimeoutError:
                    pass
                self._wakeup.clear()
                continue
            await self._ingest_with_lease(queued)

    async def _ingest_with_lease(self, queued: StoredStoreFile) -> None:
        renew = asyncio.create_task(self._renew(queued))
        try:
            await self.ingest(queued)
        except Exception as exc:
            log.exception("ingestion of %s into %s failed", queued.file_id, queued.vector_store_id)
            await self.store.fail_file(queued.vector_store_id, queued.file_id, "server_error", str(exc))
        finally:
            renew.cancel()

    async def _renew(self, queued: StoredStoreFile) -> None:
        while True:
            await asyncio.sleep(CLAIM_SECONDS / 4)
            await self.store.renew_claim(queued.vector_store_id, queued.file_id)

    async def ingest(self, queued: StoredStoreFile) -> None:
        store = await self.store.get(queued.vector_store_id)
        stored_file = await self.files.store.get(queued.file_id)
        if store is None:
            return
        if stored_file is None:
            await self.store.fail_file(store.id, queued.file_id, "invalid_file", "the file no longer exists")
            return
        try:
            text = await asyncio.to_thread(extract_text, self.files.blobs.path(stored_file.id), stored_file.filename)
        except UnsupportedFile as exc:
            await self.store.fail_file(store.id, queued.file_id, "unsupported_file", str(exc))
            return
        sizes = (queued.chunking_strategy.get("static") or DEFAULT_CHUNKING["static"])
        chunks = await asyncio.to_thread(chunk_text, text, max_tokens=sizes["max_chunk_size_tokens"],
                                         overlap=sizes["chunk_overlap_tokens"])
        embedder = self.embedder_for(store.embedding_model)
        try:
            vectors = await embedder.embed([chunk.text for chunk in chunks]) if chunks else []
        except UpstreamError as exc:
            await self.store.fail_file(store.id, queued.file_id, "server_error",
                                       f"embedding with {store.embedding_model} failed: {exc.message}")
            return
        rows: list[dict[str, Any]] = [
            {"vector_store_id": store.id, "file_id": queued.file_id, "position": chunk.position, "text": chunk.text,
             "token_count": chunk.token_count, "embedding": encode_vector(vector, self.dialect)}
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]
        dimensions = len(vectors[0]) if vectors else embedder.dimensions or 0
        if vectors:
            await self.index.ensure_index(dimensions)
        await self.store.store_chunks(store.id, queued.file_id, rows, len(text.encode()), dimensions)
