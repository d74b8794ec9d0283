"""Vector stores: ingestion in the background, files and batches, and search with filters."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest
from openai.types import VectorStore, VectorStoreDeleted
from openai.types.vector_stores import VectorStoreFile, VectorStoreFileBatch

DOCUMENTS = {
    "saturn.txt": ("Saturn is the sixth planet from the Sun. Its rings are made of ice and rock.",
                   {"topic": "astronomy", "year": 2020, "public": True}),
    "bread.md": ("# Baking bread\nKnead the dough, let it rise for an hour, then bake at 220 degrees.",
                 {"topic": "cooking", "year": 2018, "public": True}),
    "llama.html": ("<html><head><style>p {color: red}</style><script>var x = 1;</script></head><body>"
                   "<p>The Llama 4 Maverick model has 128 experts in its mixture of experts architecture.</p>"
                   "</body></html>", {"topic": "ai", "year": 2025, "public": False}),
}


def wait_ingested(client: openai.OpenAI, store_id: str, timeout: float = 90) -> VectorStore:
    deadline = time.monotonic() + timeout
    while True:
        store = client.vector_stores.retrieve(store_id)
        if store.file_counts.in_progress == 0:
            return store
        assert time.monotonic() < deadline, f"ingestion did not finish: {store.file_counts}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def library(server) -> dict:
    """A store holding the three documents, each with attributes."""
    client = server.client()
    uploaded = {name: client.files.create(file=(name, text.encode()), purpose="assistants").id
                for name, (text, _) in DOCUMENTS.items()}
    store = client.vector_stores.create(name="library", metadata={"owner": "tests"})
    for name, (_, attributes) in DOCUMENTS.items():
        client.vector_stores.files.create(store.id, file_id=uploaded[name], attributes=attributes)
    return {"store": wait_ingested(client, store.id), "files": uploaded}


def test_store_object_and_counts(client, library):
    store = client.vector_stores.retrieve(library["store"].id)
    VectorStore.model_validate(store.to_dict())
    assert store.name == "library" and store.metadata == {"owner": "tests"} and store.status == "completed"
    assert store.file_counts.completed == 3 and store.file_counts.total == 3
    assert store.usage_bytes > 0
    files = client.vector_stores.files.list(store.id)
    for f in files.data:
        VectorStoreFile.model_validate(f.to_dict())
        assert f.status == "completed" and f.usage_bytes > 0
    assert {f.id for f in files.data} == set(library["files"].values())


def test_search_finds_the_right_document(client, library):
    results = client.vector_stores.search(library["store"].id, query="How many experts does Llama 4 Maverick have?")
    top = results.data[0]
    assert top.file_id == library["files"]["llama.html"] and top.filename == "llama.html"
    assert "128 experts" in top.content[0].text and "var x" not in top.content[0].text
    assert top.attributes == {"topic": "ai", "year": 2025, "public": False}
    assert all(0 <= r.score <= 1 for r in results.data)
    assert [r.score for r in results.data] == sorted((r.score for r in results.data), reverse=True)


@pytest.mark.parametrize(("filters", "expected"), [
    ({"type": "eq", "key": "topic", "value": "cooking"}, {"bread.md"}),
    ({"type": "ne", "key": "topic", "value": "cooking"}, {"saturn.txt", "llama.html"}),
    ({"type": "gt", "key": "year", "value": 2019}, {"saturn.txt", "llama.html"}),
    ({"type": "lte", "key": "year", "value": 2020}, {"saturn.txt", "bread.md"}),
    ({"type": "in", "key": "topic", "value": ["ai", "astronomy"]}, {"saturn.txt", "llama.html"}),
    ({"type": "nin", "key": "topic", "value": ["ai", "astronomy"]}, {"bread.md"}),
    ({"type": "and", "filters": [{"type": "eq", "key": "public", "value": True},
                                 {"type": "gte", "key": "year", "value": 2020}]}, {"saturn.txt"}),
    ({"type": "or", "filters": [{"type": "eq", "key": "public", "value": False},
                                {"type": "lt", "key": "year", "value": 2019}]}, {"bread.md", "llama.html"}),
])
@pytest.mark.parametrize("mode", ["vector", "keyword", "hybrid"])
def test_search_filters(server, library, filters, expected, mode):
    names = {file_id: name for name, file_id in library["files"].items()}
    answer = httpx.post(f"{server.base_url}/vector_stores/{library['store'].id}/search",
                        json={"query": "planet rings dough bread experts model", "filters": filters,
                              "search_mode": mode}, timeout=30)
    assert answer.status_code == 200, answer.text
    found = {names[r["file_id"]] for r in answer.json()["data"]}
    assert found <= expected and (found == expected or mode == "keyword")


def test_search_options(client, server, library):
    store_id = library["store"].id
    one = client.vector_stores.search(store_id, query="bread", max_num_results=1)
    assert len(one.data) == 1 and one.data[0].filename == "bread.md"
    strict = client.vector_stores.search(store_id, query="bread", ranking_options={"score_threshold": 0.99})
    assert strict.data == []
    keyword = httpx.post(f"{server.base_url}/vector_stores/{store_id}/search",
                         json={"query": "knead", "search_mode": "keyword"}).json()
    assert [r["filename"] for r in keyword["data"]] == ["bread.md"]
    assert keyword["object"] == "vector_store.search_results.page" and keyword["search_query"] == ["knead"]
    both = client.vector_stores.search(store_id, query=["Saturn rings", "bake bread"])
    assert {r.filename for r in both.data[:2]} == {"saturn.txt", "bread.md"}


def test_file_attributes_update_content_and_removal(client):
    file_id = client.files.create(file=("notes.txt", b"Mercury is the closest planet to the Sun."),
                                  purpose="assistants").id
    store = client.vector_stores.create(name="scratch", file_ids=[file_id])
    wait_ingested(client, store.id)
    updated = client.vector_stores.files.update(file_id, vector_store_id=store.id, attributes={"k": "v"})
    assert updated.attributes == {"k": "v"}
    hits = client.vector_stores.search(store.id, query="closest planet",
                                       filters={"type": "eq", "key": "k", "value": "v"})
    assert hits.data[0].attributes == {"k": "v"}
    content = client.vector_stores.files.content(file_id, vector_store_id=store.id)
    assert "".join(part.text for part in content) == "Mercury is the closest planet to the Sun."
    removed = client.vector_stores.files.delete(file_id, vector_store_id=store.id)
    assert removed.deleted is True and removed.object == "vector_store.file.deleted"
    assert client.vector_stores.search(store.id, query="closest planet").data == []
    assert client.vector_stores.retrieve(store.id).file_counts.total == 0
    deleted = client.vector_stores.delete(store.id)
    VectorStoreDeleted.model_validate(deleted.to_dict())
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.retrieve(store.id)


def test_file_batches(client):
    ids = [client.files.create(file=(f"b{i}.txt", f"Batch document number {i}.".encode()), purpose="assistants").id
           for i in range(3)]
    store = client.vector_stores.create(name="batches")
    batch = client.vector_stores.file_batches.create(store.id, file_ids=ids, attributes={"batch": True})
    VectorStoreFileBatch.model_validate(batch.to_dict())
    assert batch.file_counts.total == 3
    wait_ingested(client, store.id)
    done = client.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id)
    assert done.status == "completed" and done.file_counts.completed == 3
    listed = client.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id, filter="completed")
    assert {f.id for f in listed.data} == set(ids) and all(f.attributes == {"batch": True} for f in listed.data)
    late = client.files.create(file=("late.txt", b"late"), purpose="assistants").id
    other = client.vector_stores.file_batches.create(store.id, files=[{"file_id": late, "attributes": {"n": 1}}])
    cancelled = client.vector_stores.file_batches.cancel(other.id, vector_store_id=store.id)
    assert cancelled.status in ("cancelled", "completed")


def test_every_format_is_parsed_and_bad_files_fail(client):
    uploads = {
        "data.json": json.dumps({"planet": "Jupiter", "moons": 95}).encode(),
        "table.csv": b"planet,moons\nJupiter,95\nMars,2\n",
        "binary.bin": bytes(range(256)) * 4,
    }
    ids = {name: client.files.create(file=(name, data), purpose="assistants").id for name, data in uploads.items()}
    store = client.vector_stores.create(name="formats", file_ids=list(ids.values()))
    wait_ingested(client, store.id)
    statuses = {f.id: f for f in client.vector_stores.files.list(store.id).data}
    assert statuses[ids["data.json"]].status == "completed" and statuses[ids["table.csv"]].status == "completed"
    failed = statuses[ids["binary.bin"]]
    assert failed.status == "failed" and failed.last_error.code == "unsupported_file"
    hit = client.vector_stores.search(store.id, query="How many moons does Mars have?").data[0]
    assert "Mars" in hit.content[0].text
    assert client.vector_stores.retrieve(store.id).file_counts.failed == 1


def test_unknown_files_and_stores_are_404(client):
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.create(file_ids=["file-doesnotexist"])
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.search("vs_nope", query="x")
    store = client.vector_stores.create(name="empty")
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.create(store.id, file_id="file-doesnotexist")
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.retrieve("file-doesnotexist", vector_store_id=store.id)
    assert client.vector_stores.search(store.id, query="anything").data == []


def test_store_listing_and_update(client):
    ids = [client.vector_stores.create(name=f"list-{i}").id for i in range(3)]
    page = client.vector_stores.list(limit=2)
    assert [s.id for s in page.data] == ids[::-1][:2] and page.has_more
    updated = client.vector_stores.update(ids[0], name="renamed", expires_after={"anchor": "last_active_at",
                                                                                  "days": 7})
    assert updated.name == "renamed" and updated.expires_after.days == 7 and updated.expires_at is not None


def test_embeddings_from_a_provider(client, upstream):
    file_id = client.files.create(file=("short.txt", b"abc"), purpose="assistants").id
    store = client.vector_stores.create(name="remote", file_ids=[file_id],
                                        extra_body={"embedding_model": "scripted/embedder"})
    wait_ingested(client, store.id)
    assert client.vector_stores.files.retrieve(file_id, vector_store_id=store.id).status == "completed"
    result = client.vector_stores.search(store.id, query="xyz")
    assert result.data[0].file_id == file_id
    assert any(r.path == "embeddings" and r.body["model"] == "embedder" for r in upstream.requests)
