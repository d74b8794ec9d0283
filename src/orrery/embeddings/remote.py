"""Embeddings from an OpenAI-compatible ``/embeddings`` endpoint, through a configured provider."""

from __future__ import annotations

from typing import Any

from orrery.embeddings.base import normalise
from orrery.inference.errors import UpstreamError
from orrery.inference.provider import Provider

# OpenAI takes at most 300,000 tokens in one request; 64 chunks of the largest size (4,096) fit.
BATCH_SIZE = 64


class ProviderEmbedder:
    def __init__(self, provider: Provider, model: str, dimensions: int | None = None) -> None:
        self.provider = provider
        self.model = model
        self.dimensions = dimensions

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """Vectors in input order; raises UpstreamError when the upstream fails or answers off-shape."""
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH_SIZE):
            vectors.extend(await self._embed_batch(texts[start:start + BATCH_SIZE]))
        return vectors

    async def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        answer = await self.provider.post_json("embeddings", {"model": self.model, "input": texts})
        vectors = [normalise(vector) for vector in self._vectors(answer, len(texts))]
        expected = self.dimensions if self.dimensions is not None else len(vectors[0])
        lengths = sorted({len(vector) for vector in vectors})
        if lengths != [expected]:
            found = ", ".join(map(str, lengths))
            raise self._off_shape(f"vectors of {found} dimensions where {expected} were expected")
        self.dimensions = expected
        return vectors

    def _vectors(self, answer: Any, count: int) -> list[list[float]]:
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, list) or len(data) != count:
            raise self._off_shape(f"expected {count} embeddings in 'data'")
        by_index: dict[int, list[float]] = {}
        for item in data:
            index = item.get("index") if isinstance(item, dict) else None
            vector = item.get("embedding") if isinstance(item, dict) else None
            if (not isinstance(index, int) or not 0 <= index < count or index in by_index
                    or not isinstance(vector, list) or not vector
                    or not all(isinstance(x, (int, float)) for x in vector)):
                raise self._off_shape("each embedding needs a distinct 'index' and a list of numbers")
            by_index[index] = [float(x) for x in vector]
        return [by_index[i] for i in range(count)]

    def _off_shape(self, detail: str) -> UpstreamError:
        return UpstreamError("protocol", f"upstream {self.provider.id} answered /embeddings off-shape: {detail}")
