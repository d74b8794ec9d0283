"""The Conversations API, and responses whose context is a conversation's items."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from openai.types.conversations import Conversation, ConversationDeletedResource
from openai.types.conversations.conversation_item import ConversationItem
from pydantic import TypeAdapter

from conftest import SEEDS, upstream_name
from scripted_upstream import Reply, ToolCall
from wire import check_response, stream

ITEM = TypeAdapter(ConversationItem)
CONVERSATION_SEED = SEEDS / "2c7ef062cd359c27bf13edcc081b47d2d30f85486facb326c6566433a1a7937f.json"


def items_of(client: openai.OpenAI, conversation_id: str) -> list[dict]:
    data = [item.to_dict() for item in client.conversations.items.list(conversation_id, order="asc", limit=100)]
    for item in data:
        ITEM.validate_python(item)
    return data


def texts(items: list[dict]) -> list[tuple[str, str]]:
    return [(i["role"], "".join(p.get("text", "") for p in i["content"])) for i in items if i["type"] == "message"]


def test_create_retrieve_update_delete(client, server):
    conversation = client.conversations.create(items=[{"role": "user", "content": "hello"}],
                                               metadata={"topic": "demo"})
    Conversation.model_validate(conversation.to_dict())
    assert conversation.id.startswith("conv_") and conversation.metadata == {"topic": "demo"}
    assert client.conversations.retrieve(conversation.id).to_dict() == conversation.to_dict()
    updated = client.conversations.update(conversation.id, metadata={"topic": "changed"})
    assert updated.metadata == {"topic": "changed"} and updated.created_at == conversation.created_at
    deleted = client.conversations.delete(conversation.id)
    ConversationDeletedResource.model_validate(deleted.to_dict())
    assert (deleted.id, deleted.deleted, deleted.object) == (conversation.id, True, "conversation.deleted")
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conversation.id)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.list(conversation.id)
    with pytest.raises(openai.NotFoundError):
        client.conversations.delete(conversation.id)


def test_items_of_every_kind(client):
    conversation = client.conversations.create()
    created = client.conversations.items.create(conversation.id, items=[
        {"role": "user", "content": [
            {"type": "input_text", "text": "look"},
            {"type": "input_image", "image_url": "https://example.com/cat.png", "detail": "low"},
            {"type": "input_file", "file_id": "file-123"}]},
        {"role": "assistant", "content": [{"type": "output_text", "text": "a cat", "annotations": []},
                                          {"type": "refusal", "refusal": "no more"}]},
        {"role": "system", "content": "be brief"},
        {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "found"},
        {"type": "web_search_call", "id": "ws_1", "status": "completed",
         "action": {"type": "search", "query": "cats"}},
    ])
    assert len(created.data) == 6 and created.first_id == created.data[0].id
    assert created.last_id == created.data[-1].id and created.has_more is False
    listed = items_of(client, conversation.id)
    assert [i["id"] for i in listed] == [i.id for i in created.data]
    assert [i["type"] for i in listed] == ["message", "message", "message", "function_call", "function_call_output",
                                          "web_search_call"]
    assert listed[2]["content"] == [{"type": "input_text", "text": "be brief"}]
    assert listed[5]["id"] == "ws_1"
    one = client.conversations.items.retrieve(created.data[3].id, conversation_id=conversation.id)
    assert one.to_dict() == listed[3]


def test_items_pagination_and_delete(client):
    conversation = client.conversations.create(items=[{"role": "user", "content": f"m{i}"} for i in range(5)])
    page = client.conversations.items.list(conversation.id, limit=2)
    assert [i.content[0].text for i in page.data] == ["m4", "m3"] and page.has_more is True
    rest = client.conversations.items.list(conversation.id, limit=10, after=page.last_id)
    assert [i.content[0].text for i in rest.data] == ["m2", "m1", "m0"] and rest.has_more is False
    ascending = client.conversations.items.list(conversation.id, order="asc", limit=2, after=page.data[0].id)
    assert ascending.data == []
    removed = client.conversations.items.delete(rest.data[1].id, conversation_id=conversation.id)
    assert removed.id == conversation.id and removed.object == "conversation"
    assert [t for _, t in texts(items_of(client, conversation.id))] == ["m0", "m2", "m3", "m4"]
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(rest.data[1].id, conversation_id=conversation.id)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.delete(rest.data[1].id, conversation_id=conversation.id)


def test_at_most_twenty_items_per_call(server, client):
    conversation = client.conversations.create()
    items = [{"role": "user", "content": "x"}] * 21
    for path, body in ((f"/conversations/{conversation.id}/items", {"items": items}),
                       ("/conversations", {"items": items})):
        answer = httpx.post(f"{server.base_url}{path}", json=body)
        assert answer.status_code == 400 and answer.json()["error"]["param"] == "items"


def test_responses_in_a_conversation(client, upstream, model):
    name = upstream_name(model)
    upstream.script(name, Reply(text="Hi there."), Reply(text="Goodbye."))
    conversation = client.conversations.create(items=[{"role": "system", "content": "Be kind."}])
    first = client.responses.create(model=model, input="Hello", conversation=conversation.id)
    check_response(first.to_dict())
    assert first.conversation.id == conversation.id
    assert client.responses.retrieve(first.id).conversation.id == conversation.id
    second = client.responses.create(model=model, input=[{"role": "user", "content": "Bye"}],
                                     conversation={"id": conversation.id})
    assert second.output_text == "Goodbye."
    assert upstream.bodies(name)[-1]["messages"] == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": [{"type": "text", "text": "Hello"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Hi there."}]},
        {"role": "user", "content": "Bye"},
    ]
    items = items_of(client, conversation.id)
    assert texts(items) == [("system", "Be kind."), ("user", "Hello"), ("assistant", "Hi there."), ("user", "Bye"),
                            ("assistant", "Goodbye.")]
    assert items[2]["id"] == first.output[0].id and items[4]["id"] == second.output[0].id


def test_seed_conversation_body(client, upstream):
    """Conversation items reach the upstream as the seed recorded them (stream_options came later)."""
    recorded = json.loads(CONVERSATION_SEED.read_text())["request"]["body"]
    hello, answer, goodbye = recorded["messages"]
    conversation = client.conversations.create()
    upstream.script("gpt-4o", Reply(text=answer["content"][0]["text"]))
    client.responses.create(model="scripted/gpt-4o", input=hello["content"][0]["text"], conversation=conversation.id)
    events = stream(client.base_url.__str__().rstrip("/"),
                    {"model": "scripted/gpt-4o", "input": goodbye["content"], "conversation": conversation.id})
    sent = dict(upstream.bodies("gpt-4o")[-1])
    assert sent.pop("stream_options") == {"include_usage": True}
    assert sent == recorded
    assert events[-1]["response"]["conversation"] == {"id": conversation.id}


def test_conversation_items_change_what_the_next_response_sees(client, upstream, model):
    name = upstream_name(model)
    conversation = client.conversations.create(items=[{"role": "user", "content": "forget me"}])
    added = client.conversations.items.create(conversation.id, items=[{"role": "user", "content": "remember me"}])
    client.conversations.items.delete(items_of(client, conversation.id)[0]["id"], conversation_id=conversation.id)
    client.responses.create(model=model, input="what do you know?", conversation=conversation.id)
    assert upstream.bodies(name)[-1]["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "remember me"}]},
        {"role": "user", "content": "what do you know?"}]
    assert added.data[0].content[0].text == "remember me"


def test_function_calls_in_a_conversation(client, upstream, model):
    name = upstream_name(model)
    tools = [{"type": "function", "name": "f", "parameters": {"type": "object"}}]
    upstream.script(name, Reply(tool_calls=[ToolCall("f", "{}", id="call_9")]), Reply(text="done"))
    conversation = client.conversations.create()
    client.responses.create(model=model, input="call f", tools=tools, conversation=conversation.id)
    client.responses.create(model=model, tools=tools, conversation=conversation.id,
                            input=[{"type": "function_call_output", "call_id": "call_9", "output": "ok"}])
    assert upstream.bodies(name)[-1]["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "call f"}]},
        {"role": "assistant", "content": "", "tool_calls": [
            {"index": 0, "id": "call_9", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_9", "content": "ok"}]
    assert [i["type"] for i in items_of(client, conversation.id)] == [
        "message", "function_call", "function_call_output", "message"]


def test_store_false_does_not_write_to_the_conversation(client, model):
    conversation = client.conversations.create(items=[{"role": "user", "content": "kept"}])
    response = client.responses.create(model=model, input="not kept", conversation=conversation.id, store=False)
    assert response.conversation.id == conversation.id
    assert texts(items_of(client, conversation.id)) == [("user", "kept")]


def test_failed_response_leaves_the_conversation_as_it_was(client, upstream, model):
    name = upstream_name(model)
    upstream.script(name, Reply(status=500, error={"message": "down"}), Reply(text="back"))
    conversation = client.conversations.create()
    with pytest.raises(openai.APIStatusError):
        client.responses.create(model=model, input="first try", conversation=conversation.id)
    assert items_of(client, conversation.id) == []
    client.responses.create(model=model, input="second try", conversation=conversation.id)
    assert texts(items_of(client, conversation.id)) == [("user", "second try"), ("assistant", "back")]


@pytest.mark.parametrize(("body", "status", "param"), [
    ({"conversation": "conv_doesnotexist"}, 404, "conversation"),
    ({"conversation": {"id": "conv_doesnotexist"}}, 404, "conversation"),
    ({"conversation": "nonsense"}, 400, "conversation"),
    ({"conversation": "conv_x", "previous_response_id": "resp_x"}, 400, "conversation"),
])
def test_bad_conversation_is_refused_before_streaming(server, model, body, status, param):
    for flag in (False, True):
        answer = httpx.post(f"{server.base_url}/responses", json={"model": model, "input": "x", "stream": flag, **body})
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"].startswith("application/json")
        error = answer.json()["error"]
        assert error["param"] == param
        if "previous_response_id" in body:
            assert "conversation" in error["message"] and "previous_response_id" in error["message"]


def test_a_second_response_on_a_busy_conversation_gets_409(server, client, upstream, model):
    name = upstream_name(model)
    upstream.script(name, Reply(text="slow and steady", chunk=1, delay=0.03), Reply(text="peek"), Reply(text="next"))
    conversation = client.conversations.create()
    with httpx.Client(timeout=30) as http:
        with http.stream("POST", f"{server.base_url}/responses", json={
                "model": model, "input": "slow", "stream": True, "conversation": conversation.id}) as slow:
            lines = slow.iter_lines()
            next(line for line in lines if "output_text.delta" in line)
            busy = http.post(f"{server.base_url}/responses",
                             json={"model": model, "input": "impatient", "conversation": conversation.id})
            assert busy.status_code == 409, busy.text
            assert busy.json()["error"]["code"] == "conversation_locked"
            unstored = http.post(f"{server.base_url}/responses", json={
                "model": model, "input": "just reading", "conversation": conversation.id, "store": False})
            assert unstored.status_code == 200 and unstored.json()["output"][0]["content"][0]["text"] == "peek"
            for _ in lines:
                pass
    client.responses.create(model=model, input="now", conversation=conversation.id)
    assert [t for _, t in texts(items_of(client, conversation.id))] == ["slow", "slow and steady", "now", "next"]


def test_racing_writers_never_lose_or_interleave_items(client, model):
    """Many clients add items and run responses on one conversation at once."""
    conversation = client.conversations.create()
    barrier = threading.Barrier(12)

    def add_batch(n: int) -> int:
        barrier.wait()
        client.conversations.items.create(conversation.id, items=[
            {"role": "user", "content": f"batch{n}-{k}"} for k in range(3)])
        return 0

    def respond(n: int) -> int:
        barrier.wait()
        try:
            client.responses.create(model=model, input=f"turn{n}", conversation=conversation.id)
            return 1
        except openai.ConflictError:
            return 0

    with ThreadPoolExecutor(12) as pool:
        batches = [pool.submit(add_batch, n) for n in range(8)]
        turns = [pool.submit(respond, n) for n in range(4)]
        answered = sum(t.result() for t in turns)
        for b in batches:
            b.result()
    items = texts(items_of(client, conversation.id))
    assert answered >= 1
    assert len(items) == 8 * 3 + 2 * answered
    bodies = [t for _, t in items]
    for n in range(8):
        start = bodies.index(f"batch{n}-0")
        assert bodies[start:start + 3] == [f"batch{n}-{k}" for k in range(3)], "a batch stays contiguous"
    for position, (_role, text) in enumerate(items):
        if text.startswith("turn"):
            assert items[position + 1] == ("assistant", f"echo: {text}"), "a turn's answer follows its input"


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
def test_a_conversation_deleted_while_its_response_runs_leaves_the_response_as_its_client_saw_it(
        client, server, upstream, model, streamed):
    """The response is stored as answered (without a turn to append to the gone conversation)."""
    conversation = client.conversations.create()
    upstream.script(upstream_name(model), Reply(text="answered all the same", chunk=2, delay=0.05))
    deleter = threading.Timer(0.3, client.conversations.delete, args=(conversation.id,))
    deleter.start()
    if streamed:
        events = list(client.responses.create(model=model, input="x", conversation=conversation.id, stream=True))
        final = events[-1].response
    else:
        final = client.responses.create(model=model, input="x", conversation=conversation.id)
    deleter.join()
    assert final.status == "completed" and final.output_text == "answered all the same"
    stored = client.responses.retrieve(final.id)
    assert (stored.status, stored.output_text) == ("completed", "answered all the same")
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conversation.id)
