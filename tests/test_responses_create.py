"""Creating responses: text, streaming, tools, reasoning, logprobs, usage and parameters upstream."""

from __future__ import annotations

import json

import httpx
import pytest

from conftest import upstream_name
from scripted_upstream import Reply, ToolCall
from wire import check_events, check_response, output_text, stream


def test_non_streaming_text(client, upstream, model):
    upstream.script(upstream_name(model), Reply(text="Saturn has rings.", usage={
        "prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17,
        "prompt_tokens_details": {"cached_tokens": 3}, "completion_tokens_details": {"reasoning_tokens": 2}}))
    response = client.responses.create(model=model, input="Which planet has rings?")
    data = response.to_dict()
    check_response(data)
    assert response.status == "completed"
    assert response.output_text == "Saturn has rings."
    assert response.model == model
    assert response.id.startswith("resp_") and response.output[0].id.startswith("msg_")
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (12, 5, 17)
    assert usage.input_tokens_details.cached_tokens == 3
    assert usage.input_tokens_details.cache_write_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 2


def test_streaming_event_sequence(server, upstream, model):
    upstream.script(upstream_name(model), Reply(text="The quick brown fox", chunk=3))
    events = stream(server.base_url, {"model": model, "input": "go"})
    kinds = [e["type"] for e in events]
    deltas = kinds.count("response.output_text.delta")
    assert kinds == (["response.created", "response.in_progress", "response.output_item.added",
                      "response.content_part.added"] + ["response.output_text.delta"] * deltas
                     + ["response.output_text.done", "response.content_part.done",
                        "response.output_item.done", "response.completed"])
    assert deltas == 7
    final = events[-1]["response"]
    assert output_text(final) == "The quick brown fox"
    assert final["usage"]["total_tokens"] > 0


def test_streaming_with_the_sdk(client, upstream, model):
    name = upstream_name(model)
    upstream.script(name, Reply(text="streamed through the SDK"), Reply(text="and its helper"))
    events = [event.to_dict() for event in client.responses.create(model=model, input="hi", stream=True)]
    final = check_events(events)
    assert output_text(final) == "streamed through the SDK"
    with client.responses.stream(model=model, input="hi") as helper:
        kinds = [event.type for event in helper]
        assert helper.get_final_response().output_text == "and its helper"
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"


def test_stored_response_matches_stream(client, server, upstream, model):
    upstream.script(upstream_name(model), Reply(text="kept"))
    events = stream(server.base_url, {"model": model, "input": "store me", "metadata": {"k": "v"}})
    final = events[-1]["response"]
    retrieved = client.responses.retrieve(final["id"]).to_dict()
    check_response(retrieved)
    assert retrieved["output"] == final["output"]
    assert retrieved["usage"] == final["usage"]
    assert retrieved["status"] == "completed" and retrieved["metadata"] == {"k": "v"}


def test_function_tool_call_and_its_output(client, server, upstream, model):
    name = upstream_name(model)
    upstream.script(name, Reply(tool_calls=[ToolCall("get_weather", '{"city": "Paris"}', id="call_abc")]),
                    Reply(text="It is sunny in Paris."))
    tools = [{"type": "function", "name": "get_weather", "description": "Weather by city",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                             "required": ["city"]}, "strict": True}]
    events = stream(server.base_url, {"model": model, "input": "Weather in Paris?", "tools": tools})
    first = events[-1]["response"]
    call = first["output"][0]
    assert call["type"] == "function_call" and call["status"] == "completed"
    assert (call["name"], call["arguments"], call["call_id"]) == ("get_weather", '{"city": "Paris"}', "call_abc")
    assert call["id"].startswith("fc_")
    kinds = [e["type"] for e in events]
    assert "response.function_call_arguments.delta" in kinds and "response.function_call_arguments.done" in kinds

    second = client.responses.create(
        model=model, previous_response_id=first["id"], tools=tools,
        input=[{"type": "function_call_output", "call_id": "call_abc", "output": '{"sky": "sunny"}'}])
    assert second.output_text == "It is sunny in Paris."
    assert upstream.bodies(name)[-1]["messages"] == [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"index": 0, "id": "call_abc", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_abc", "content": '{"sky": "sunny"}'},
    ]
    assert upstream.bodies(name)[0]["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather by city", "parameters": tools[0]["parameters"],
        "strict": True}}]


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
def test_a_function_output_without_its_call_is_a_400(server, client, model, streamed):
    """As OpenAI answers it, before any stream: the call is in neither the input nor the chain."""
    first = client.responses.create(model=model, input="hello")
    answer = httpx.post(f"{server.base_url}/responses", timeout=30, json={
        "model": model, "previous_response_id": first.id, "stream": streamed,
        "input": [{"type": "function_call_output", "call_id": "call_nowhere", "output": "{}"}]})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == {"message": "No tool call found for function call output with call_id "
                                                 "call_nowhere.", "type": "invalid_request_error", "param": "input",
                                      "code": "invalid_value"}


def test_parallel_tool_calls_and_text(server, upstream, model):
    upstream.script(upstream_name(model), Reply(text="Let me check.", tool_calls=[
        ToolCall("a", '{"x": 1}'), ToolCall("b", '{"y": 2}')]))
    tools = [{"type": "function", "name": n, "parameters": {"type": "object"}} for n in ("a", "b")]
    events = stream(server.base_url, {"model": model, "input": "both", "tools": tools,
                                      "parallel_tool_calls": True})
    output = events[-1]["response"]["output"]
    assert [item["type"] for item in output] == ["message", "function_call", "function_call"]
    assert [(item.get("name"), item.get("arguments")) for item in output[1:]] == [("a", '{"x": 1}'), ("b", '{"y": 2}')]
    assert upstream.bodies(upstream_name(model))[0]["parallel_tool_calls"] is True


def test_function_call_items_given_as_input(client, upstream, model):
    name = upstream_name(model)
    client.responses.create(model=model, input=[
        {"role": "user", "content": [{"type": "input_text", "text": "add 1 and 2"}]},
        {"type": "function_call", "call_id": "c1", "name": "add", "arguments": '{"a":1,"b":2}'},
        {"type": "function_call", "call_id": "c2", "name": "add", "arguments": '{"a":3,"b":4}'},
        {"type": "function_call_output", "call_id": "c1", "output": "3"},
        {"type": "function_call_output", "call_id": "c2", "output": "7"},
    ])
    messages = upstream.bodies(name)[-1]["messages"]
    assert messages[0] == {"role": "user", "content": [{"type": "text", "text": "add 1 and 2"}]}
    assert [c["id"] for c in messages[1]["tool_calls"]] == ["c1", "c2"]
    assert messages[2:] == [{"role": "tool", "tool_call_id": "c1", "content": "3"},
                            {"role": "tool", "tool_call_id": "c2", "content": "7"}]


def test_reasoning_content_becomes_a_reasoning_item(server, upstream, model):
    upstream.script(upstream_name(model), Reply(reasoning="Think step by step.", text="42",
                                                usage={"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12,
                                                       "completion_tokens_details": {"reasoning_tokens": 6}}))
    events = stream(server.base_url, {"model": model, "input": "answer?", "reasoning": {"effort": "low"}})
    final = events[-1]["response"]
    reasoning, message = final["output"]
    assert reasoning["type"] == "reasoning" and reasoning["id"].startswith("rs_")
    assert reasoning["content"] == [{"type": "reasoning_text", "text": "Think step by step."}]
    assert output_text(final) == "42"
    kinds = [e["type"] for e in events]
    assert kinds.index("response.reasoning_text.done") < kinds.index("response.output_text.delta")
    assert final["usage"]["output_tokens_details"]["reasoning_tokens"] == 6
    assert final["reasoning"]["effort"] == "low"
    assert upstream.bodies(upstream_name(model))[0]["reasoning_effort"] == "low"


def test_refusal_becomes_a_refusal_part(client, server, upstream, model):
    name = upstream_name(model)
    upstream.script(name, Reply(refusal="I can't help with that.", chunk=5))
    events = stream(server.base_url, {"model": model, "input": "something bad"})
    kinds = [e["type"] for e in events]
    assert "response.refusal.delta" in kinds and "response.refusal.done" in kinds
    final = events[-1]["response"]
    assert final["output"][0]["content"] == [{"type": "refusal", "refusal": "I can't help with that."}]
    client.responses.create(model=model, input="and now?", previous_response_id=final["id"])
    assert upstream.bodies(name)[-1]["messages"][1] == {"role": "assistant", "content": "I can't help with that."}


def test_logprobs_when_included(client, upstream, model):
    upstream.script(upstream_name(model), Reply(text="abcdefgh", chunk=4, logprobs=True))
    response = client.responses.create(model=model, input="x", include=["message.output_text.logprobs"],
                                       top_logprobs=2)
    logprobs = response.output[0].content[0].logprobs
    assert [lp.token for lp in logprobs] == ["abcd", "efgh"]
    assert logprobs[0].top_logprobs[0].token == "abcd"
    body = upstream.bodies(upstream_name(model))[-1]
    assert body["logprobs"] is True and body["top_logprobs"] == 2


def test_no_upstream_usage_means_null_usage(client, upstream, model):
    upstream.script(upstream_name(model), Reply(text="no usage", send_usage=False))
    response = client.responses.create(model=model, input="x")
    assert response.usage is None
    assert client.responses.retrieve(response.id).usage is None


def test_max_output_tokens_makes_an_incomplete_response(client, server, upstream, model):
    name = upstream_name(model)
    upstream.script(name, Reply(text="cut sho", finish_reason="length"), Reply(text="cut sho", finish_reason="length"))
    response = client.responses.create(model=model, input="long story", max_output_tokens=16)
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.max_output_tokens == 16
    assert upstream.bodies(name)[-1]["max_tokens"] == 16
    events = stream(server.base_url, {"model": model, "input": "long story", "max_output_tokens": 16})
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["output"][0]["status"] == "incomplete"
    assert client.responses.retrieve(events[-1]["response"]["id"]).status == "incomplete"


def test_parameters_reach_upstream_exactly(client, upstream, model):
    name = upstream_name(model)
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"],
              "additionalProperties": False}
    response = client.responses.create(
        model=model, input="json please", instructions="Be terse.", temperature=0.25, top_p=0.5,
        max_output_tokens=64, user="u-1", safety_identifier="s-1", prompt_cache_key="pck",
        text={"format": {"type": "json_schema", "name": "out", "schema": schema, "strict": True}},
        reasoning={"effort": "medium"},
    )
    assert upstream.bodies(name)[-1] == {
        "model": name,
        "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "json please"}],
        "temperature": 0.25, "top_p": 0.5, "max_tokens": 64,
        "response_format": {"type": "json_schema", "json_schema": {"name": "out", "schema": schema, "strict": True}},
        "user": "u-1", "safety_identifier": "s-1", "prompt_cache_key": "pck", "reasoning_effort": "medium",
        "stream": True, "stream_options": {"include_usage": True},
    }
    data = response.to_dict()
    assert data["text"]["format"] == {"type": "json_schema", "name": "out", "schema": schema, "strict": True}
    assert (data["temperature"], data["top_p"], data["user"], data["instructions"]) == (0.25, 0.5, "u-1", "Be terse.")

    client.responses.create(model=model, input="obj", text={"format": {"type": "json_object"}})
    assert upstream.bodies(name)[-1]["response_format"] == {"type": "json_object"}
    client.responses.create(model=model, input="plain", text={"format": {"type": "text"}})
    assert "response_format" not in upstream.bodies(name)[-1]


TOOLS = [{"type": "function", "name": n, "parameters": {"type": "object", "properties": {}}} for n in ("f", "g")]


@pytest.mark.parametrize(("choice", "chat_choice", "offered"), [
    ("auto", "auto", ["f", "g"]),
    ("none", "none", ["f", "g"]),
    ("required", "required", ["f", "g"]),
    ({"type": "function", "name": "g"}, {"type": "function", "function": {"name": "g"}}, ["f", "g"]),
    ({"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "f"}]}, "required", ["f"]),
])
def test_tool_choice_forms(client, upstream, model, choice, chat_choice, offered):
    response = client.responses.create(model=model, input="x", tools=TOOLS, tool_choice=choice)
    body = upstream.bodies(upstream_name(model))[-1]
    assert body["tool_choice"] == chat_choice
    assert [t["function"]["name"] for t in body["tools"]] == offered
    assert response.to_dict()["tool_choice"] == choice


def test_unset_parameters_are_not_sent(client, upstream, model):
    client.responses.create(model=model, input="bare")
    assert upstream.bodies(upstream_name(model))[-1] == {
        "model": upstream_name(model), "messages": [{"role": "user", "content": "bare"}],
        "stream": True, "stream_options": {"include_usage": True}}


def test_content_parts_and_roles(client, upstream, model):
    client.responses.create(model=model, input=[
        {"role": "developer", "content": "Rules."},
        {"role": "user", "content": [{"type": "input_text", "text": "look"},
                                     {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "seen",
                                                               "annotations": []}]},
        {"role": "user", "content": "and?"},
    ])
    assert upstream.bodies(upstream_name(model))[-1]["messages"] == [
        {"role": "system", "content": "Rules."},
        {"role": "user", "content": [{"type": "text", "text": "look"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA",
                                                                         "detail": "auto"}}]},
        {"role": "assistant", "content": "seen"},
        {"role": "user", "content": "and?"},
    ]


def test_output_items_echoed_back_as_input(client, upstream, model):
    """Clients (the Agents SDK among them) send earlier output items back verbatim."""
    name = upstream_name(model)
    upstream.script(name, Reply(text="first", tool_calls=[ToolCall("f", "{}", id="call_1")]))
    first = client.responses.create(model=model, input="start", tools=TOOLS)
    echoed = [item.to_dict() for item in first.output]
    client.responses.create(model=model, tools=TOOLS, input=[
        {"role": "user", "content": "start"}, *echoed,
        {"type": "function_call_output", "call_id": "call_1", "output": "done"}])
    assert upstream.bodies(name)[-1]["messages"] == [
        {"role": "user", "content": "start"},
        {"role": "assistant", "content": "first"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "done"},
    ]


def test_store_false_is_not_retrievable(client, upstream, model):
    response = client.responses.create(model=model, input="ephemeral", store=False)
    assert response.status == "completed" and response.to_dict()["store"] is False
    with pytest.raises(Exception) as raised:
        client.responses.retrieve(response.id)
    assert getattr(raised.value, "status_code", None) == 404


def test_json_arguments_survive_unicode(server, upstream, model):
    arguments = json.dumps({"city": "Zürich 東京 🚀"}, ensure_ascii=False)
    upstream.script(upstream_name(model), Reply(tool_calls=[ToolCall("f", arguments)], chunk=1))
    events = stream(server.base_url, {"model": model, "input": "x", "tools": TOOLS})
    assert events[-1]["response"]["output"][0]["arguments"] == arguments
