"""NUL characters in what clients send, on SQLite and PostgreSQL alike (PostgreSQL's text type
refuses NUL): a string a text column would hold is a 400 naming its parameter, and leaves nothing
behind; a filter or an id holding one matches nothing, as ids always have; JSON columns (metadata,
attributes) keep them as sent."""

from __future__ import annotations

import codecs
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from conftest import Server
from test_vector_stores import wait_ingested

NUL = "\u0000"
BOUNDARY = "nul-test-boundary"


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def expect_invalid(answer: httpx.Response, param: str) -> None:
    """An OpenAI-shaped 400 that names ``param`` and says what is wrong with it."""
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error == {"message": error["message"], "type": "invalid_request_error", "param": param,
                     "code": "invalid_value"}, error
    assert param in error["message"] and "NUL" in error["message"], error


def blobs(workdir: Path) -> set[str]:
    """The blobs (and partial blobs) in the server's data directory."""
    directory = workdir / "data" / "files"
    return set(os.listdir(directory)) if directory.exists() else set()


def multipart(filename: bytes, purpose: bytes = b"assistants") -> bytes:
    """An upload body written by hand: httpx and the openai SDK percent-encode a NUL in a filename."""
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n".encode() + purpose
            + f"\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"".encode() + filename
            + f"\"\r\nContent-Type: text/plain\r\n\r\nSaturn has rings.\r\n--{BOUNDARY}--\r\n".encode())


def upload(http: httpx.Client, body: bytes) -> httpx.Response:
    return http.post("/files", content=body, headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"})


def upload_text(http: httpx.Client, filename: str, content: bytes) -> str:
    answer = http.post("/files", files={"file": (filename, content)}, data={"purpose": "assistants"})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def create_store(http: httpx.Client, **body: Any) -> dict[str, Any]:
    answer = http.post("/vector_stores", json=body)
    assert answer.status_code == 200, answer.text
    created: dict[str, Any] = answer.json()
    return created


@pytest.mark.parametrize("filename", [b"a\x00b.txt", b"\x00", b"notes.txt\x00.pdf"])
def test_a_nul_in_a_filename_is_a_400_and_leaves_no_blob(http: httpx.Client, workdir: Path, filename: bytes) -> None:
    before = blobs(workdir)
    expect_invalid(upload(http, multipart(filename)), "file")
    assert blobs(workdir) == before
    assert upload(http, multipart(filename.replace(b"\x00", b"_"))).status_code == 200


@pytest.mark.parametrize("purpose", [b"assistants\x00", b"\x00"])
def test_a_nul_in_an_upload_purpose_is_a_400_and_leaves_no_blob(http: httpx.Client, workdir: Path,
                                                                 purpose: bytes) -> None:
    before = blobs(workdir)
    answer = upload(http, multipart(b"notes.txt", purpose))
    assert answer.status_code == 400 and answer.json()["error"]["param"] == "purpose", answer.text
    assert blobs(workdir) == before


@pytest.mark.parametrize("purpose", ["assistants\x00", NUL, "x" * 200 + NUL])
def test_a_nul_in_the_purpose_filter_matches_nothing(http: httpx.Client, purpose: str) -> None:
    upload_text(http, "listed.txt", b"listed")
    answer = http.get("/files", params={"purpose": purpose})
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"] == [] and answer.json()["has_more"] is False
    assert http.get("/files", params={"purpose": "assistants"}).json()["data"]


@pytest.mark.parametrize("name", [NUL, "library\x00", "a" * 1000 + NUL])
def test_a_nul_in_a_store_name_is_a_400(http: httpx.Client, name: str) -> None:
    expect_invalid(http.post("/vector_stores", json={"name": name}), "name")
    store = create_store(http, name="kept")
    expect_invalid(http.post(f"/vector_stores/{store['id']}", json={"name": name}), "name")
    assert http.get(f"/vector_stores/{store['id']}").json()["name"] == "kept"


@pytest.mark.parametrize(("path", "body", "param"), [
    ("/vector_stores", {"file_ids": [f"file-{NUL}"]}, "file_ids[0]"),
    ("/vector_stores", {"embedding_model": f"local/{NUL}"}, "embedding_model"),
    ("/vector_stores/{store}/files", {"file_id": f"file-{NUL}"}, "file_id"),
    ("/vector_stores/{store}/file_batches", {"file_ids": [NUL]}, "file_ids[0]"),
    ("/vector_stores/{store}/file_batches", {"files": [{"file_id": NUL}]}, "files[0].file_id"),
])
def test_a_nul_in_an_id_of_a_body_is_a_400(http: httpx.Client, path: str, body: dict[str, Any], param: str) -> None:
    store = create_store(http, name="ids")
    expect_invalid(http.post(path.format(store=store["id"]), json=body), param)


def test_nul_ids_in_paths_match_nothing(http: httpx.Client) -> None:
    store = create_store(http, name="ids")
    for path in ("/files/file-%00", "/files/file-%00/content", f"/vector_stores/{store['id']}%00",
                 f"/vector_stores/{store['id']}/files/file-%00", f"/vector_stores/{store['id']}/file_batches/vsfb_%00"):
        assert http.get(path).status_code == 404, path


def test_metadata_and_attributes_keep_nul(http: httpx.Client, client: openai.OpenAI) -> None:
    """Metadata and attributes live in JSON columns, which keep any string (PostgreSQL's ``json``,
    unlike ``jsonb``, takes ``\\u0000``), so they are stored as sent and filter as they were sent."""
    metadata = {f"k{NUL}": f"v{NUL}"}
    store = create_store(http, name="metadata", metadata=metadata)
    assert store["metadata"] == metadata
    assert http.post(f"/vector_stores/{store['id']}", json={"metadata": {NUL: NUL}}).json()["metadata"] == {NUL: NUL}
    file_id = upload_text(http, "moons.txt", b"Jupiter has ninety-five moons.")
    attributes = {f"a{NUL}": f"b{NUL}"}
    added = http.post(f"/vector_stores/{store['id']}/files", json={"file_id": file_id, "attributes": attributes})
    assert added.status_code == 200 and added.json()["attributes"] == attributes, added.text
    wait_ingested(client, store["id"])
    hits = http.post(f"/vector_stores/{store['id']}/search", json={
        "query": f"moons{NUL}", "filters": {"type": "eq", "key": f"a{NUL}", "value": f"b{NUL}"}})
    assert hits.status_code == 200, hits.text
    assert [hit["attributes"] for hit in hits.json()["data"]] == [attributes]
    updated = http.post(f"/vector_stores/{store['id']}/files/{file_id}", json={"attributes": {NUL: 1}})
    assert updated.status_code == 200 and updated.json()["attributes"] == {NUL: 1}, updated.text


@pytest.mark.parametrize(("filename", "content"), [
    ("utf16.txt", codecs.BOM_UTF16_LE + "Neptune\x00is blue.".encode("utf-16-le")),
    ("escaped.json", json.dumps({"planet": "Neptune\x00is blue."}).encode()),
])
def test_nul_in_a_files_text_is_dropped_from_its_chunks(http: httpx.Client, client: openai.OpenAI, filename: str,
                                                          content: bytes) -> None:
    """UTF-16 text can hold NUL, and JSON can escape one; chunks never hold one, so ingestion works on both
    stores."""
    file_id = upload_text(http, filename, content)
    store = create_store(http, name="chunks", file_ids=[file_id])
    wait_ingested(client, store["id"])
    ingested = http.get(f"/vector_stores/{store['id']}/files/{file_id}").json()
    assert ingested["status"] == "completed", ingested
    text = "".join(part["text"] for part in http.get(f"/vector_stores/{store['id']}/files/{file_id}/content")
                   .json()["data"])
    assert "Neptune" in text and NUL not in text
