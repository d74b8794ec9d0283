"""Retrieve, list, delete and input items of stored responses, with keyset pagination."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai.types.responses import ResponseItem
from pydantic import TypeAdapter

from conftest import upstream_name
from wire import check_response

ITEM = TypeAdapter(ResponseItem)


def test_retrieve_and_delete(client, model):
    response = client.responses.create(model=model, input="keep me")
    retrieved = client.responses.retrieve(response.id)
    assert retrieved.to_dict() == response.to_dict()
    client.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(response.id)


def test_delete_answers_a_deletion_object(server, client, model):
    response = client.responses.create(model=model, input="bye")
    deleted = httpx.delete(f"{server.base_url}/responses/{response.id}")
    assert deleted.status_code == 200
    assert deleted.json() == {"id": response.id, "object": "response", "deleted": True}


def test_deleting_an_ancestor_keeps_descendants_readable(client, upstream, model):
    first = client.responses.create(model=model, input="one")
    second = client.responses.create(model=model, input="two", previous_response_id=first.id)
    client.responses.delete(first.id)
    assert client.responses.retrieve(second.id).previous_response_id == first.id
    client.responses.create(model=model, input="three", previous_response_id=second.id)
    assert upstream.bodies(upstream_name(model))[-1]["messages"][0] == {"role": "user", "content": "two"}


def test_input_items_pagination(client, model):
    items = [{"role": "user", "content": f"m{i}"} for i in range(7)]
    response = client.responses.create(model=model, input=items)
    page = client.responses.input_items.list(response.id, order="asc", limit=3)
    assert [i.content[0].text for i in page.data] == ["m0", "m1", "m2"]
    assert page.has_more is True and page.first_id == page.data[0].id and page.last_id == page.data[-1].id
    nxt = client.responses.input_items.list(response.id, order="asc", limit=3, after=page.last_id)
    assert [i.content[0].text for i in nxt.data] == ["m3", "m4", "m5"]
    rest = client.responses.input_items.list(response.id, order="asc", limit=3, after=nxt.last_id)
    assert [i.content[0].text for i in rest.data] == ["m6"] and rest.has_more is False
    desc = client.responses.input_items.list(response.id)
    assert [i.content[0].text for i in desc.data] == [f"m{i}" for i in reversed(range(7))]
    every = [i.to_dict() for i in client.responses.input_items.list(response.id, order="asc")]
    assert len({i["id"] for i in every}) == 7
    for item in every:
        ITEM.validate_python(item)
        assert item["type"] == "message" and item["role"] == "user" and item["status"] == "completed"


def test_input_items_keep_given_ids_and_show_every_kind(client, model):
    response = client.responses.create(model=model, input=[
        {"type": "message", "id": "msg_given", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {"role": "assistant", "content": "earlier answer"},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "ok"},
    ])
    data = [i.to_dict() for i in client.responses.input_items.list(response.id, order="asc")]
    for item in data:
        ITEM.validate_python(item)
    assert data[0]["id"] == "msg_given"
    assert data[1]["content"] == [{"type": "output_text", "text": "earlier answer", "annotations": [],
                                   "logprobs": []}]
    assert [d["type"] for d in data] == ["message", "message", "function_call", "function_call_output"]


def test_input_items_of_unknown_response_is_404(client):
    with pytest.raises(openai.NotFoundError):
        client.responses.input_items.list("resp_nope")


def test_list_responses_newest_first_with_keyset_pages(server, client, model):
    ids = [client.responses.create(model=model, input=f"n{i}").id for i in range(5)]
    listing = httpx.get(f"{server.base_url}/responses", params={"model": model, "limit": 2}).json()
    assert [r["id"] for r in listing["data"]] == ids[::-1][:2]
    assert listing["has_more"] is True and listing["object"] == "list"
    for response in listing["data"]:
        check_response(response)
    seen = [r["id"] for r in listing["data"]]
    after = listing["last_id"]
    while True:
        page = httpx.get(f"{server.base_url}/responses",
                         params={"model": model, "limit": 2, "after": after}).json()
        seen += [r["id"] for r in page["data"]]
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert seen == ids[::-1]
    ascending = httpx.get(f"{server.base_url}/responses", params={"model": model, "order": "asc"}).json()
    assert [r["id"] for r in ascending["data"]] == ids
    assert ascending["data"][0]["output"][0]["content"][0]["text"] == "echo: n0"
