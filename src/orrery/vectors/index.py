"""Search backends: exact cosine search with numpy plus FTS5 on SQLite, pgvector plus tsvector on
PostgreSQL. Both answer the best chunks of some stores, limited to allowed (store, file) pairs."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from pgvector.sqlalchemy import Vector
from sqlalchemy import bindparam, cast, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from orrery.store.schema import vector_chunks, vector_stores

Pair = tuple[str, str]
EF_SEARCH = 100
"""HNSW candidate list size: pgvector's default of 40 gave recall@10 of about 0.9 at 100k chunks in
bench/vectors.py; 100 gives about 0.94 for a millisecond more."""
WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Hit:
    vector_store_id: str
    file_id: str
    position: int
    text: str
    score: float


def encode_vector(vector: list[float], dialect: str) -> Any:
    """How an embedding is written: a float32 blob on SQLite, a list for pgvector."""
    return np.asarray(vector, dtype=np.float32).tobytes() if dialect == "sqlite" else vector


def _keyword_score(raw: float) -> float:
    """A keyword rank (higher is better, unbounded) squashed into [0, 1)."""
    raw = max(raw, 0.0)
    return raw / (1.0 + raw)


@dataclass
class _Matrix:
    version: int
    ids: np.ndarray
    files: list[str]
    """The store's distinct file ids; ``file_of_row`` indexes into it."""
    file_of_row: np.ndarray
    vectors: np.ndarray

    def allowed_rows(self, store_id: str, allowed: set[Pair]) -> np.ndarray:
        """A boolean mask of the rows whose file is allowed."""
        codes = [code for code, file_id in enumerate(self.files) if (store_id, file_id) in allowed]
        return np.isin(self.file_of_row, codes)


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` best scores, best first, without sorting them all."""
    if k < len(scores):
        best = np.argpartition(-scores, k)[:k]
        return best[np.argsort(-scores[best])]
    return np.argsort(-scores)


class SqliteIndex:
    """Exact search: each store's normalized vectors are kept in memory, reloaded when the store's
    ``chunk_version`` moves (so several worker processes stay coherent)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._matrices: dict[str, _Matrix] = {}

    async def ensure_index(self, dimensions: int) -> None:
        """Nothing to build: search is exact."""

    async def _matrix(self, connection: Any, store_id: str, version: int) -> _Matrix:
        cached = self._matrices.get(store_id)
        if cached is not None and cached.version == version:
            return cached
        rows = (await connection.execute(
            select(vector_chunks.c.id, vector_chunks.c.file_id, vector_chunks.c.embedding)
            .where(vector_chunks.c.vector_store_id == store_id).order_by(vector_chunks.c.id))).all()
        vectors = np.frombuffer(b"".join(row.embedding for row in rows), dtype=np.float32)
        dims = len(rows[0].embedding) // 4 if rows else 1
        codes: dict[str, int] = {}
        file_of_row = np.array([codes.setdefault(row.file_id, len(codes)) for row in rows], dtype=np.int32)
        matrix = _Matrix(version, np.array([row.id for row in rows], dtype=np.int64), list(codes), file_of_row,
                         vectors.reshape(len(rows), dims))
        self._matrices[store_id] = matrix
        return matrix

    async def vector_search(self, store_ids: list[str], query: list[float], allowed: set[Pair], k: int) -> list[Hit]:
        probe = np.asarray(query, dtype=np.float32)
        probe /= np.linalg.norm(probe) or 1.0
        candidates: list[tuple[float, int]] = []
        async with self.engine.connect() as connection:
            versions = dict((await connection.execute(
                select(vector_stores.c.id, vector_stores.c.chunk_version)
                .where(vector_stores.c.id.in_(store_ids)))).all())
            for store_id, version in versions.items():
                matrix = await self._matrix(connection, store_id, version)
                if not len(matrix.ids) or matrix.vectors.shape[1] != len(probe):
                    continue
                scores = await asyncio.to_thread(np.dot, matrix.vectors, probe)
                scores = np.where(matrix.allowed_rows(store_id, allowed), scores, -np.inf)
                top = _top(scores, k)
                candidates += [(float(scores[i]), int(matrix.ids[i])) for i in top if np.isfinite(scores[i])]
            candidates = sorted(candidates, reverse=True)[:k]
            return await self._hits(connection, candidates, lambda raw: min(1.0, max(0.0, raw)))

    async def keyword_search(self, store_ids: list[str], query: str, allowed: set[Pair], k: int) -> list[Hit]:
        words = WORD.findall(query)
        if not words:
            return []
        match = " OR ".join(f'"{word}"' for word in words)
        statement = text(
            "SELECT c.id, c.vector_store_id, c.file_id, -bm25(vector_chunks_fts) AS rank "
            "FROM vector_chunks_fts JOIN vector_chunks c ON c.id = vector_chunks_fts.rowid "
            "WHERE vector_chunks_fts MATCH :match AND c.vector_store_id IN :stores "
            "ORDER BY bm25(vector_chunks_fts) LIMIT :limit"
        ).bindparams(bindparam("stores", expanding=True))
        async with self.engine.connect() as connection:
            rows = (await connection.execute(statement, {"match": match, "stores": store_ids,
                                                         "limit": k * 4 + 50})).all()
            ranked = [(float(row.rank), int(row.id)) for row in rows
                      if (row.vector_store_id, row.file_id) in allowed][:k]
            return await self._hits(connection, ranked, _keyword_score)

    @staticmethod
    async def _hits(connection: Any, ranked: list[tuple[float, int]], score: Any) -> list[Hit]:
        if not ranked:
            return []
        rows = (await connection.execute(
            select(vector_chunks.c.id, vector_chunks.c.vector_store_id, vector_chunks.c.file_id,
                   vector_chunks.c.position, vector_chunks.c.text)
            .where(vector_chunks.c.id.in_([chunk_id for _, chunk_id in ranked])))).all()
        by_id = {row.id: row for row in rows}
        return [Hit(by_id[i].vector_store_id, by_id[i].file_id, by_id[i].position, by_id[i].text, score(raw))
                for raw, i in ranked if i in by_id]


class PostgresIndex:
    """pgvector's cosine distance over an HNSW index, and a generated, GIN-indexed tsvector.

    Stores may use embeddings of any size, so the column is an untyped ``vector``; each size gets
    its own partial HNSW index over ``embedding::vector(N)``, made when the first chunks of that
    size are written. Filtered searches use pgvector's iterative scans, so a filter that keeps
    few chunks still finds its k nearest.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._indexed_sizes: set[int] = set()

    async def ensure_index(self, dimensions: int) -> None:
        if dimensions in self._indexed_sizes:
            return
        async with self.engine.begin() as connection:
            await connection.execute(text(
                f"CREATE INDEX IF NOT EXISTS ix_vector_chunks_hnsw_{int(dimensions)} ON vector_chunks "
                f"USING hnsw ((embedding::vector({int(dimensions)})) vector_cosine_ops) "
                f"WHERE vector_dims(embedding) = {int(dimensions)}"))
        self._indexed_sizes.add(dimensions)

    async def vector_search(self, store_ids: list[str], query: list[float], allowed: set[Pair], k: int) -> list[Hit]:
        if not allowed:
            return []
        embedding = cast(vector_chunks.c.embedding, Vector(len(query)))
        distance = embedding.cosine_distance(query)
        statement = (select(vector_chunks.c.vector_store_id, vector_chunks.c.file_id, vector_chunks.c.position,
                            vector_chunks.c.text, distance.label("distance"))
                     .where(func.vector_dims(vector_chunks.c.embedding) == len(query),
                            vector_chunks.c.vector_store_id.in_(store_ids),
                            tuple_(vector_chunks.c.vector_store_id, vector_chunks.c.file_id).in_(list(allowed)))
                     .order_by(distance).limit(k))
        async with self.engine.begin() as connection:
            await connection.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
            await connection.execute(text(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, 2 * int(k))}"))
            rows = (await connection.execute(statement)).all()
        rows = sorted(rows, key=lambda row: row.distance)
        return [Hit(row.vector_store_id, row.file_id, row.position, row.text,
                    min(1.0, max(0.0, 1.0 - float(row.distance)))) for row in rows]

    async def keyword_search(self, store_ids: list[str], query: str, allowed: set[Pair], k: int) -> list[Hit]:
        words = WORD.findall(query)
        if not words or not allowed:
            return []
        statement = text(
            "SELECT vector_store_id, file_id, position, text, "
            "ts_rank_cd(tsv, to_tsquery('english', :query)) AS rank "
            "FROM vector_chunks WHERE tsv @@ to_tsquery('english', :query) AND vector_store_id IN :stores "
            "ORDER BY rank DESC LIMIT :limit"
        ).bindparams(bindparam("stores", expanding=True))
        query_text = " | ".join(words)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(statement, {"query": query_text, "stores": store_ids,
                                                         "limit": k * 4 + 50})).all()
        return [Hit(row.vector_store_id, row.file_id, row.position, row.text, _keyword_score(float(row.rank) * 10))
                for row in rows if (row.vector_store_id, row.file_id) in allowed][:k]


def index_for(engine: AsyncEngine) -> SqliteIndex | PostgresIndex:
    return SqliteIndex(engine) if engine.dialect.name == "sqlite" else PostgresIndex(engine)


def reciprocal_rank_fusion(rankings: list[list[Hit]], k: int, constant: int = 60) -> list[Hit]:
    """Fuse ranked lists by reciprocal rank; scores scaled so a first place in every list is 1."""
    fused: dict[tuple[str, str, int], float] = {}
    hits: dict[tuple[str, str, int], Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking):
            key = (hit.vector_store_id, hit.file_id, hit.position)
            fused[key] = fused.get(key, 0.0) + 1.0 / (constant + rank + 1)
            hits.setdefault(key, hit)
    best = len(rankings) / (constant + 1)
    ordered = sorted(fused.items(), key=lambda entry: entry[1], reverse=True)[:k]
    return [Hit(hits[key].vector_store_id, hits[key].file_id, hits[key].position, hits[key].text, score / best)
            for key, score in ordered]
