"""``item_reference`` input items: an earlier stored item, named by id, shown to the model in place."""

from __future__ import annotations

import httpx

from conftest import upstream_name
from scripted_upstream import Reply, ToolCall

TOOLS = [{"type": "function", "name": "roll", "parameters": {"type": "object"}}]


def test_references_to_a_stored_response_items_are_shown_in_place(client, server, upstream, model):
    name = upstream_name(model)
    upstream.script(name, Reply(text="Rolling.", tool_calls=[ToolCall("roll", "{}", id="call_r")]),
                    Reply(text="You rolled a four."))
    first = client.responses.create(model=model, input="Roll a die.", tools=TOOLS)
    message, call = first.output
    second = client.responses.create(model=model, tools=TOOLS, input=[
        {"role": "user", "content": "Roll a die."},
        {"type": "item_reference", "id": message.id},
        {"id": call.id},
        {"type": "function_call_output", "call_id": "call_r", "output": "4"}])
    assert second.output_text == "You rolled a four."
    assert upstream.bodies(name)[-1]["messages"] == [
        {"role": "user", "content": "Roll a die."},
        {"role": "assistant", "content": "Rolling."},
        {"role": "assistant", "content": "", "tool_calls": [
            {"index": 0, "id": "call_r", "type": "function", "function": {"name": "roll", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_r", "content": "4"},
    ]
    listed = client.responses.input_items.list(second.id, order="asc").data
    assert [item.type for item in listed] == ["message", "message", "function_call", "function_call_output"]
    assert listed[1].id == message.id and listed[2].id == call.id


def test_a_reference_to_a_conversation_item(client, upstream, model):
    name = upstream_name(model)
    upstream.script(name, Reply(text="Noted."))
    conversation = client.conversations.create(items=[{"type": "message", "role": "user", "content": "Pluto."}])
    [item] = client.conversations.items.list(conversation.id).data
    store_false = client.responses.create(model=model, conversation=conversation.id, store=False,
                                          input=[{"type": "item_reference", "id": item.id},
                                                 {"role": "user", "content": "Again?"}])
    assert store_false.output_text == "Noted."
    assert upstream.bodies(name)[-1]["messages"][-2:] == [
        {"role": "user", "content": [{"type": "text", "text": "Pluto."}]},
        {"role": "user", "content": "Again?"}]


def test_an_unknown_reference_is_a_400_naming_it(server, model):
    with httpx.Client(timeout=30) as http:
        answer = http.post(f"{server.base_url}/responses", json={"model": model, "input": [
            {"role": "user", "content": "hi"}, {"type": "item_reference", "id": "msg_nowhere"}]})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["param"] == "input[1].id" and "msg_nowhere" in error["message"]


def test_the_phase_of_assistant_messages_is_kept(client, upstream, model):
    """Clients are asked to resend ``phase`` on assistant messages; it is kept as they sent it."""
    name = upstream_name(model)
    upstream.script(name, Reply(text="Done."))
    response = client.responses.create(model=model, input=[
        {"role": "user", "content": "Go."},
        {"role": "assistant", "content": "Working on it.", "phase": "commentary"},
        {"role": "user", "content": "And?"}])
    listed = client.responses.input_items.list(response.id, order="asc").data
    assert [getattr(item, "phase", None) for item in listed] == [None, "commentary", None]
    assert upstream.bodies(name)[-1]["messages"][1] == {"role": "assistant", "content": "Working on it."}


def test_a_reference_with_a_null_type(client, upstream, model):
    name = upstream_name(model)
    upstream.script(name, Reply(text="first"), Reply(text="second"))
    first = client.responses.create(model=model, input="one")
    with httpx.Client(timeout=30) as http:
        answer = http.post(f"{client.base_url}responses", json={"model": model, "input": [
            {"role": "user", "content": "one"}, {"type": None, "id": first.output[0].id},
            {"role": "user", "content": "two"}]})
    assert answer.status_code == 200, answer.text
    assert upstream.bodies(name)[-1]["messages"][1] == {"role": "assistant", "content": "first"}
