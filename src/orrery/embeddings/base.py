"""What every embedder offers: unit-length vectors for texts, in the texts' order."""

from __future__ import annotations

import math
from typing import Protocol


class Embedder(Protocol):
    @property
    def model(self) -> str:
        """The model's name as a vector store records it, e.g. ``sentence-transformers/all-MiniLM-L6-v2``."""

    @property
    def dimensions(self) -> int | None:
        """The vectors' length; None until a remote model whose length was not given has answered."""

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One L2-normalised vector per text, in input order."""


def normalise(vector: list[float]) -> list[float]:
    """``vector`` scaled to length 1; an all-zero vector stays as it is."""
    norm = math.sqrt(math.fsum(x * x for x in vector))
    return [x / norm for x in vector] if norm else vector
