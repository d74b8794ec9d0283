"""Two principals on one server (SQLite and PostgreSQL): another project's responses and
conversations do not exist for you, read, listed, changed, deleted or used as a reference,
over HTTP, in the background and over the WebSocket mode; an admin key reads them all."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from websockets.sync.client import connect

from conftest import Server, provider_config, start_server, stop_server

KEYS = {"alice": "sk-alice-0123456789", "bob": "sk-bob-9876543210", "root": "sk-root-1111111111"}
MODEL = "scripted/scripted-model"


@pytest.fixture(params=["sqlite", "postgres"], scope="module")
def guarded(request: pytest.FixtureRequest, upstream: Any,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("owners")
    db_url = f"sqlite:///{directory / 'owners.db'}" if request.param == "sqlite" \
        else request.getfixturevalue("postgres_url")
    api_keys = [{"key": KEYS["alice"], "project": "alice"}, {"key": KEYS["bob"], "project": "bob"},
                {"key": KEYS["root"], "project": "ops", "admin": True}]
    process, url = start_server({"providers": provider_config(upstream), "db": db_url, "data_dir": str(directory),
                                 "api_keys": api_keys}, log_path=directory / "server.log")
    try:
        yield Server(url=url, backend=request.param, db_url=db_url, pid=process.pid)
    finally:
        stop_server(process)


def as_(who: str, server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, timeout=30, headers={"authorization": f"Bearer {KEYS[who]}"})


def check_missing(answer: httpx.Response, status: int = 404) -> None:
    assert answer.status_code == status, (answer.request.method, answer.request.url, answer.text)
    assert answer.json()["error"]["type"] == "invalid_request_error"


def wait_done(http: httpx.Client, response_id: str) -> dict[str, Any]:
    for _ in range(500):
        stored = http.get(f"/responses/{response_id}").json()
        if stored["status"] not in ("queued", "in_progress"):
            return stored
        time.sleep(0.02)
    raise AssertionError(stored)


def test_another_projects_response_does_not_exist(guarded: Server) -> None:
    with as_("alice", guarded) as alice, as_("bob", guarded) as bob, as_("root", guarded) as root:
        mine = alice.post("/responses", json={"model": MODEL, "input": "alice's secret"}).json()
        item_id = mine["output"][0]["id"]
        theirs = bob.post("/responses", json={"model": MODEL, "input": "bob's"}).json()
        for method, path in (("GET", f"/responses/{mine['id']}"), ("DELETE", f"/responses/{mine['id']}"),
                             ("GET", f"/responses/{mine['id']}/input_items"),
                             ("POST", f"/responses/{mine['id']}/cancel"),
                             ("GET", f"/responses/{mine['id']}?stream=true")):
            check_missing(bob.request(method, path))
        assert mine["id"] not in {entry["id"] for entry in bob.get("/responses?limit=100").json()["data"]}
        assert theirs["id"] not in {entry["id"] for entry in alice.get("/responses?limit=100").json()["data"]}
        chained = bob.post("/responses", json={"model": MODEL, "input": "x", "previous_response_id": mine["id"]})
        check_missing(chained)
        assert chained.json()["error"]["code"] == "previous_response_not_found"
        referenced = bob.post("/responses", json={"model": MODEL, "input": [{"type": "item_reference",
                                                                               "id": item_id}]})
        check_missing(referenced, 400)
        assert referenced.json()["error"]["code"] == "item_not_found"
        # still there for alice, and an admin reads both
        assert alice.get(f"/responses/{mine['id']}").status_code == 200
        assert root.get(f"/responses/{mine['id']}").json()["output"][0]["content"][0]["text"] == "echo: alice's secret"
        listed = {entry["id"] for entry in root.get("/responses?limit=100").json()["data"]}
        assert {mine["id"], theirs["id"]} <= listed
        assert alice.post("/responses", json={"model": MODEL, "previous_response_id": mine["id"],
                                               "input": [{"type": "item_reference", "id": item_id}]}).status_code == 200


def test_another_projects_background_response_does_not_exist(guarded: Server) -> None:
    with as_("alice", guarded) as alice, as_("bob", guarded) as bob:
        first = alice.post("/responses", json={"model": MODEL, "input": "one"}).json()
        queued = alice.post("/responses", json={"model": MODEL, "input": "two", "background": True,
                                                "previous_response_id": first["id"]}).json()
        for method, path in (("GET", f"/responses/{queued['id']}?stream=true"),
                             ("POST", f"/responses/{queued['id']}/cancel"), ("GET", f"/responses/{queued['id']}")):
            check_missing(bob.request(method, path))
        done = wait_done(alice, queued["id"])
        assert done["status"] == "completed", "the run read alice's chain as alice"
        check_missing(bob.get(f"/responses/{queued['id']}?stream=true"))
        assert alice.get(f"/responses/{queued['id']}?stream=true").status_code == 200


def test_another_projects_conversation_does_not_exist(guarded: Server) -> None:
    with as_("alice", guarded) as alice, as_("bob", guarded) as bob, as_("root", guarded) as root:
        conversation = alice.post("/conversations", json={"items": [{"role": "user", "content": "private"}]}).json()
        conversation_id = conversation["id"]
        item_id = alice.get(f"/conversations/{conversation_id}/items").json()["data"][0]["id"]
        for method, path, body in (
                ("GET", f"/conversations/{conversation_id}", None),
                ("POST", f"/conversations/{conversation_id}", {"metadata": {"k": "v"}}),
                ("DELETE", f"/conversations/{conversation_id}", None),
                ("GET", f"/conversations/{conversation_id}/items", None),
                ("POST", f"/conversations/{conversation_id}/items", {"items": [{"role": "user", "content": "x"}]}),
                ("GET", f"/conversations/{conversation_id}/items/{item_id}", None),
                ("DELETE", f"/conversations/{conversation_id}/items/{item_id}", None)):
            check_missing(bob.request(method, path, json=body))
        for store in (True, False):
            answer = bob.post("/responses", json={"model": MODEL, "input": "x", "conversation": conversation_id,
                                                  "store": store})
            check_missing(answer)
            assert answer.json()["error"]["param"] == "conversation"
        referenced = bob.post("/responses", json={"model": MODEL, "input": [{"type": "item_reference", "id": item_id}]})
        check_missing(referenced, 400)
        assert root.get(f"/conversations/{conversation_id}/items").json()["data"][0]["id"] == item_id
        items = alice.get(f"/conversations/{conversation_id}/items").json()["data"]
        assert [item["content"][0]["text"] for item in items] == ["private"], "bob changed nothing"
        assert alice.post("/responses", json={"model": MODEL, "input": "mine",
                                               "conversation": conversation_id}).status_code == 200


def test_a_socket_cannot_continue_another_projects_response(guarded: Server) -> None:
    with as_("alice", guarded) as alice:
        mine = alice.post("/responses", json={"model": MODEL, "input": "alice's"}).json()
    url = guarded.base_url.replace("http://", "ws://") + "/responses"
    with connect(url, additional_headers={"Authorization": f"Bearer {KEYS['bob']}"}) as socket:
        socket.send(orjson.dumps({"type": "response.create", "model": MODEL, "input": "x",
                                  "previous_response_id": mine["id"]}).decode())
        error = orjson.loads(socket.recv(timeout=30))
    assert error["type"] == "error" and error["error"]["code"] == "previous_response_not_found"


def test_the_owner_of_each_row_is_its_project(guarded: Server, stored_bytes) -> None:
    """Stored under the key's project, never the key."""
    with as_("alice", guarded) as alice:
        owned = alice.post("/responses", json={"model": MODEL, "input": "owned"}).json()
    data = stored_bytes(guarded.db_url, owned["id"].encode())
    assert all(key.encode() not in data for key in KEYS.values())


def test_another_projects_files_and_vector_stores_do_not_exist(guarded: Server) -> None:
    with as_("alice", guarded) as alice, as_("bob", guarded) as bob, as_("root", guarded) as root:
        uploaded = alice.post("/files", files={"file": ("notes.txt", b"alice's private notes")},
                              data={"purpose": "assistants"}).json()
        file_id = uploaded["id"]
        store = alice.post("/vector_stores", json={"name": "alice's", "file_ids": [file_id]}).json()
        store_id = store["id"]
        batch = alice.post(f"/vector_stores/{store_id}/file_batches", json={"file_ids": [file_id]}).json()
        for method, path, body in (
                ("GET", f"/files/{file_id}", None), ("GET", f"/files/{file_id}/content", None),
                ("DELETE", f"/files/{file_id}", None),
                ("GET", f"/vector_stores/{store_id}", None),
                ("POST", f"/vector_stores/{store_id}", {"name": "bob's now"}),
                ("DELETE", f"/vector_stores/{store_id}", None),
                ("GET", f"/vector_stores/{store_id}/files", None),
                ("POST", f"/vector_stores/{store_id}/files", {"file_id": file_id}),
                ("GET", f"/vector_stores/{store_id}/files/{file_id}", None),
                ("DELETE", f"/vector_stores/{store_id}/files/{file_id}", None),
                ("POST", f"/vector_stores/{store_id}/search", {"query": "notes"}),
                ("GET", f"/vector_stores/{store_id}/file_batches/{batch['id']}", None),
                ("POST", f"/vector_stores/{store_id}/file_batches/{batch['id']}/cancel", None)):
            check_missing(bob.request(method, path, json=body))
        assert file_id not in {entry["id"] for entry in bob.get("/files?limit=100").json()["data"]}
        assert store_id not in {entry["id"] for entry in bob.get("/vector_stores?limit=100").json()["data"]}
        with_their_file = bob.post("/vector_stores", json={"name": "mine", "file_ids": [file_id]})
        assert with_their_file.status_code in (400, 404) and file_id in with_their_file.json()["error"]["message"]
        searching = bob.post("/responses", json={"model": MODEL, "input": "find",
                                                 "tools": [{"type": "file_search", "vector_store_ids": [store_id]}]})
        check_missing(searching)
        assert searching.json()["error"]["code"] == "vector_store_not_found"
        assert root.get(f"/vector_stores/{store_id}").status_code == 200
        assert root.get(f"/files/{file_id}/content").content == b"alice's private notes"
        assert alice.get(f"/files/{file_id}/content").content == b"alice's private notes"
        assert alice.get(f"/vector_stores/{store_id}").json()["name"] == "alice's"
