"""How well does file_search's local embedder retrieve, by runtime and by how a chunk is embedded?

Run from the repository root with the project's virtualenv and the compare extra
(``pip install -e ".[compare]"``, for sentence-transformers as the reference)::

    python bench/retrieval.py [--queries 300] [--json PATH]

The retrieval set is built from public text this machine already has: the docstrings of a fixed
list of standard-library modules. A docstring's first paragraph is a query; the rest of it (its
body) is the passage that answers it. Each module is one document, the bodies of its functions,
classes and methods one after another under their names, cut by orrery's ``chunk_text`` as
file_search cuts an uploaded file. A chunk is relevant to a query when it holds at least half of
the query's body, or the body fills at least half of the chunk. Only docstrings whose first
paragraph is 4 to 40 words long and found once, and whose body has 40 words or more, give queries;
every body with 40 words or more is in the documents, so the others are distractors.

For each embedder and chunking, every chunk and query is embedded and each query ranks all chunks
by cosine: recall@10 (the relevant chunks in the first ten, over as many as could be there) and
nDCG@10 (binary gains), averaged over queries. The embedders:

* ``sentence-transformers``: all-MiniLM-L6-v2 through sentence-transformers and PyTorch, as
  orrery embedded before: it reads the first 256 word pieces of a chunk;
* ``onnx, first window``: orrery's ``LocalEmbedder(pool_windows=False)``, the same weights on ONNX
  Runtime, reading the same 256 pieces;
* ``onnx, pooled windows``: ``LocalEmbedder()``, the default: windows of 256 pieces over the whole
  chunk, their vectors averaged.

The agreement row gives the lowest and mean cosine between sentence-transformers' vectors and the
first-window ONNX vectors of the same chunks. Seconds are the wall time of embedding the chunks,
on whatever else the machine is doing.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import json
import math
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from orrery.embeddings.local import LocalEmbedder, model_dir
from orrery.files.chunking import chunk_text

MODULES = (
    "argparse", "asyncio", "base64", "bisect", "calendar", "collections", "concurrent.futures", "configparser",
    "contextlib", "copy", "csv", "dataclasses", "datetime", "decimal", "difflib", "email.message", "enum",
    "fnmatch", "fractions", "ftplib", "functools", "glob", "gzip", "hashlib", "heapq", "http.client",
    "http.cookiejar", "imaplib", "inspect", "ipaddress", "itertools", "json", "logging", "mailbox", "operator",
    "os", "pathlib", "pickle", "pprint", "queue", "random", "re", "sched", "secrets", "selectors", "shlex",
    "shutil", "smtplib", "socket", "socketserver", "sqlite3", "statistics", "string", "struct", "subprocess",
    "tarfile", "tempfile", "textwrap", "threading", "timeit", "tokenize", "traceback", "turtle", "typing",
    "unittest.case", "urllib.parse", "urllib.request", "uuid", "warnings", "weakref", "xml.dom.minidom",
    "zipfile",
)
MIN_QUERY_WORDS, MAX_QUERY_WORDS, MIN_BODY_WORDS = 4, 40, 40
K = 10
SEED = 20261202
CHUNKINGS = ((800, 400), (200, 100))
"""OpenAI's default static chunking, and chunks that fit one 256-piece window of the model."""


@dataclass(frozen=True)
class Passage:
    document: int
    start: int
    end: int
    query: str | None


@dataclass(frozen=True)
class Row:
    embedder: str
    chunking: str
    chunks: int
    queries: int
    recall_at_10: float
    ndcg_at_10: float
    seconds: float


# the retrieval set


def docstrings(module_name: str) -> Iterator[tuple[str, str]]:
    """``(qualified name, docstring)`` of the module's own functions, classes and their methods."""
    module = importlib.import_module(module_name)
    seen: set[int] = set()

    def walk(owner: Any, prefix: str) -> Iterator[tuple[str, str]]:
        for name, member in sorted(vars(owner).items()):
            if name.startswith("_") or id(member) in seen:
                continue
            target = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
            if not (inspect.isfunction(target) or inspect.isclass(target)):
                continue
            if getattr(target, "__module__", None) != module.__name__:
                continue
            seen.add(id(member))
            doc = inspect.getdoc(target)
            if doc:
                yield f"{prefix}{name}", doc
            if inspect.isclass(target):
                yield from walk(target, f"{prefix}{name}.")

    yield from walk(module, f"{module_name}.")


def split_doc(doc: str) -> tuple[str, str]:
    """The first paragraph on one line, and the rest."""
    summary, _, body = doc.partition("\n\n")
    return " ".join(summary.split()), body.strip()


def build_set() -> tuple[list[str], list[Passage]]:
    """The documents, and every passage in them (``query`` None for a distractor)."""
    entries: list[tuple[int, str, str, str]] = []
    for index, module_name in enumerate(MODULES):
        for name, doc in docstrings(module_name):
            summary, body = split_doc(doc)
            if len(body.split()) >= MIN_BODY_WORDS:
                entries.append((index, name, summary, body))
    summaries = [summary for _, _, summary, _ in entries]
    documents: list[list[str]] = [[] for _ in MODULES]
    lengths = [0] * len(MODULES)
    passages: list[Passage] = []
    for index, name, summary, body in entries:
        heading = f"{name}\n\n"
        start = lengths[index] + len(heading)
        documents[index].append(heading + body + "\n\n")
        lengths[index] += len(documents[index][-1])
        usable = MIN_QUERY_WORDS <= len(summary.split()) <= MAX_QUERY_WORDS and summaries.count(summary) == 1
        passages.append(Passage(index, start, start + len(body), summary if usable else None))
    return ["".join(parts) for parts in documents], passages


@dataclass(frozen=True)
class ChunkedSet:
    texts: list[str]
    relevant: list[set[int]]
    """Per query, the indices of its relevant chunks."""


def chunk_set(documents: list[str], queries: list[Passage], max_tokens: int, overlap: int) -> ChunkedSet:
    texts: list[str] = []
    spans: list[tuple[int, int, int]] = []
    for index, document in enumerate(documents):
        found = 0
        for chunk in chunk_text(document, max_tokens=max_tokens, overlap=overlap) if document else []:
            start = document.index(chunk.text, found)
            found = start + 1
            texts.append(chunk.text)
            spans.append((index, start, start + len(chunk.text)))
    relevant = []
    for passage in queries:
        hits = set()
        for position, (document, start, end) in enumerate(spans):
            if document != passage.document:
                continue
            shared = min(end, passage.end) - max(start, passage.start)
            if shared > 0 and shared >= 0.5 * min(passage.end - passage.start, end - start):
                hits.add(position)
        relevant.append(hits)
    return ChunkedSet(texts, relevant)


# metrics


def scores(query_vectors: np.ndarray, chunk_vectors: np.ndarray, relevant: list[set[int]]) -> tuple[float, float]:
    """Mean recall@10 and nDCG@10 over the queries."""
    similarity = query_vectors @ chunk_vectors.T
    top = np.argsort(-similarity, axis=1)[:, :K]
    recalls, ndcgs = [], []
    for ranked, hits in zip(top, relevant, strict=True):
        gains = [1.0 if int(position) in hits else 0.0 for position in ranked]
        ideal = min(len(hits), K)
        recalls.append(sum(gains) / ideal)
        dcg = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(gains))
        ndcgs.append(dcg / sum(1 / math.log2(rank + 2) for rank in range(ideal)))
    return float(np.mean(recalls)), float(np.mean(ndcgs))


# embedders


Embed = Callable[[list[str]], np.ndarray]


def orrery_embedder(embedder: LocalEmbedder) -> Embed:
    return lambda texts: np.array(asyncio.run(embedder.embed(texts)), dtype=np.float32)


def sentence_transformers_embedder() -> Embed:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir()), device="cpu", local_files_only=True)
    return lambda texts: model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True,
                                      show_progress_bar=False)


def benchmark(query_count: int) -> tuple[list[Row], dict[str, float]]:
    documents, passages = build_set()
    queries = [p for p in passages if p.query is not None]
    queries = sorted(random.Random(SEED).sample(queries, min(query_count, len(queries))),
                     key=lambda p: (p.document, p.start))
    query_texts = [p.query or "" for p in queries]
    embedders = {
        "sentence-transformers": sentence_transformers_embedder(),
        "onnx, first window": orrery_embedder(LocalEmbedder(pool_windows=False)),
        "onnx, pooled windows": orrery_embedder(LocalEmbedder()),
    }
    for embed in embedders.values():
        embed(["warm up"])
    rows: list[Row] = []
    agreement: dict[str, float] = {}
    for max_tokens, overlap in CHUNKINGS:
        chunked = chunk_set(documents, queries, max_tokens, overlap)
        vectors: dict[str, np.ndarray] = {}
        for name, embed in embedders.items():
            started = time.perf_counter()
            vectors[name] = embed(chunked.texts)
            seconds = time.perf_counter() - started
            recall, ndcg = scores(embed(query_texts), vectors[name], chunked.relevant)
            rows.append(Row(name, f"{max_tokens}/{overlap}", len(chunked.texts), len(queries), recall, ndcg, seconds))
            print(f"  {name}, {max_tokens}/{overlap}: {seconds:.0f} s", file=sys.stderr)
        cosines = np.sum(vectors["sentence-transformers"] * vectors["onnx, first window"], axis=1)
        agreement[f"{max_tokens}/{overlap} min cosine"] = float(cosines.min())
        agreement[f"{max_tokens}/{overlap} mean cosine"] = float(cosines.mean())
    return rows, agreement


def print_table(rows: list[Row], agreement: dict[str, float]) -> None:
    print(f"{'embedder':<24} {'chunking':>9} {'chunks':>7} {'queries':>8} {'recall@10':>10} {'nDCG@10':>8} "
          f"{'seconds':>8}")
    for row in rows:
        print(f"{row.embedder:<24} {row.chunking:>9} {row.chunks:>7} {row.queries:>8} {row.recall_at_10:>10.3f} "
              f"{row.ndcg_at_10:>8.3f} {row.seconds:>8.1f}")
    print("sentence-transformers vs onnx, first window: "
          + ", ".join(f"{name} {value:.6f}" for name, value in agreement.items()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=300, help="queries sampled from the set (default 300)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    rows, agreement = benchmark(args.queries)
    print_table(rows, agreement)
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"python": sys.version.split()[0], "rows": [asdict(r) for r in rows],
                       "agreement": agreement}, out, indent=2)


if __name__ == "__main__":
    main()
