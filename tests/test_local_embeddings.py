"""The bundled embedder inside a real server: a chunk is embedded to its end, and without PyTorch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Server, sqlite_server
from orrery.embeddings.local import WINDOW_TOKENS
from orrery.files.chunking import count_tokens
from test_vector_stores import wait_ingested

# About 450 words of minutes before the last sentence: well past one window of the model, well
# within one 800-token chunk.
OPENING = " ".join(
    f"At meeting {n} the committee reviewed item {n} of the agenda, approved the minutes of the session "
    f"before, and asked the treasurer for a written summary of the accounts by the following week."
    for n in range(1, 16))
ENDINGS = {
    "saturn.txt": "Finally, the astronomer explained that Saturn's rings are made of ice and rock.",
    "bread.txt": "Finally, the baker explained how to knead the dough and let the bread rise.",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with sqlite_server(tmp_path_factory.mktemp("embeddings"), {}) as server:
        yield server


@pytest.fixture(scope="module")
def store(server: Server) -> str:
    client = server.client()
    file_ids = [client.files.create(file=(name, f"{OPENING} {ending}".encode()), purpose="assistants").id
                for name, ending in ENDINGS.items()]
    store = client.vector_stores.create(name="long chunks", file_ids=file_ids)
    wait_ingested(client, store.id)
    return store.id


def test_the_texts_are_one_chunk_each_and_longer_than_a_window() -> None:
    assert all(WINDOW_TOKENS < count_tokens(f"{OPENING} {ending}") < 800 for ending in ENDINGS.values())


def test_the_end_of_a_long_chunk_decides_its_ranking(server: Server, store: str) -> None:
    client = server.client()
    for query, expected in (("What are Saturn's rings made of?", "saturn.txt"),
                            ("How do you let bread dough rise?", "bread.txt")):
        hits = client.vector_stores.search(store, query=query).data
        assert [hit.filename for hit in hits] == [expected, *(set(ENDINGS) - {expected})]
        assert all(len(hit.content) == 1 and hit.content[0].text.startswith("At meeting 1 ") for hit in hits)
        # Read only to its first window, each chunk is the committee's minutes alone: both would
        # get the same vector and the same score.
        assert hits[0].score > hits[1].score + 0.01


def test_the_server_embeds_without_loading_torch(server: Server, store: str) -> None:
    client = server.client()
    assert client.vector_stores.search(store, query="Saturn's rings").data
    mapped = Path(f"/proc/{server.pid}/maps").read_text()
    assert "onnxruntime" in mapped  # the embedder did run in this process
    assert "torch" not in mapped

