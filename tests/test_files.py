"""The Files API: uploads streamed to disk, listing, download and deletion."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import httpx
import openai
import pytest
from openai.types import FileDeleted, FileObject


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_upload_retrieve_download_delete(client, server):
    created = client.files.create(file=("notes.txt", b"Saturn has rings.\n"), purpose="assistants")
    FileObject.model_validate(created.to_dict())
    assert created.id.startswith("file-") and created.bytes == 18 and created.filename == "notes.txt"
    assert created.purpose == "assistants" and created.status == "processed"
    assert client.files.retrieve(created.id).to_dict() == created.to_dict()
    assert client.files.content(created.id).content == b"Saturn has rings.\n"
    deleted = client.files.delete(created.id)
    FileDeleted.model_validate(deleted.to_dict())
    assert deleted.deleted is True and deleted.id == created.id
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.files.content(created.id)
    with pytest.raises(openai.NotFoundError):
        client.files.delete(created.id)


def test_list_with_purpose_and_pages(client):
    purpose = "user_data"
    ids = [client.files.create(file=(f"f{i}.txt", b"x" * i), purpose=purpose).id for i in range(5)]
    page = client.files.list(purpose=purpose, limit=2)
    assert [f.id for f in page.data] == ids[::-1][:2] and page.has_more is True
    seen = [f.id for f in client.files.list(purpose=purpose, limit=2)]
    assert seen[:5] == ids[::-1]
    ascending = client.files.list(purpose=purpose, order="asc", after=ids[1], limit=2)
    assert [f.id for f in ascending.data] == ids[2:4]
    assert all(f.purpose == purpose for f in client.files.list(purpose=purpose).data)


def test_expiry(client, server):
    created = client.files.create(file=("e.txt", b"e"), purpose="assistants",
                                  expires_after={"anchor": "created_at", "seconds": 3600})
    assert abs(created.expires_at - (time.time() + 3600)) < 60
    answer = httpx.post(f"{server.base_url}/files", files={"file": ("e.txt", b"e")},
                        data={"purpose": "assistants", "expires_after[anchor]": "created_at",
                              "expires_after[seconds]": "5"})
    assert answer.status_code == 400 and answer.json()["error"]["param"] == "expires_after.seconds"


@pytest.mark.parametrize(("files", "data", "param"), [
    ({"file": ("a.txt", b"a")}, {"purpose": "nonsense"}, "purpose"),
    ({"file": ("a.txt", b"a")}, {}, "purpose"),
    (None, {"purpose": "assistants"}, "file"),
])
def test_bad_uploads(server, files, data, param):
    answer = httpx.post(f"{server.base_url}/files", files=files, data=data) if files else \
        httpx.post(f"{server.base_url}/files", data=data, files={"other": ("x", b"x")})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == param


@pytest.mark.parametrize("content", [b'{"purpose": "assistants"}', b"garbage", b""])
def test_uploads_must_be_multipart(server, content):
    for content_type in ("application/json", "multipart/form-data; boundary=zzz", None):
        headers = {"content-type": content_type} if content_type else {}
        answer = httpx.post(f"{server.base_url}/files", content=content, headers=headers)
        assert answer.status_code == 400, answer.text
        assert set(answer.json()["error"]) == {"message", "type", "param", "code"}


def test_a_100_mb_upload_is_streamed_to_disk(client, server, tmp_path):
    path = tmp_path / "big.bin"
    block = hashlib.sha256(b"orrery").digest() * 32768
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(100):
            out.write(block)
            digest.update(block)
    size = path.stat().st_size
    assert size == 100 * 1024 * 1024
    before = peak_rss_kib(server.pid)
    with path.open("rb") as source:
        created = client.files.create(file=("big.bin", source), purpose="assistants")
    assert created.bytes == size
    assert peak_rss_kib(server.pid) - before < 40 * 1024, "the upload was held in memory"
    downloaded = hashlib.sha256()
    with httpx.stream("GET", f"{server.base_url}/files/{created.id}/content", timeout=60) as answer:
        for chunk in answer.iter_bytes():
            downloaded.update(chunk)
    assert downloaded.hexdigest() == digest.hexdigest()
    client.files.delete(created.id)
