"""Tools the client runs: custom tools and namespaces, round trips streamed and not, stored and not."""

from __future__ import annotations

import json

import pytest

from conftest import upstream_name
from scripted_upstream import Reply, ToolCall
from wire import create, stream

PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch"
LARK = 'start: "*** Begin Patch" /(.|\\n)*/ "*** End Patch"'
APPLY_PATCH = {"type": "custom", "name": "apply_patch", "description": "Edit files with a patch.",
               "format": {"type": "grammar", "syntax": "lark", "definition": LARK}}
CRM = {"type": "namespace", "name": "crm", "description": "Customer records.", "tools": [
    {"type": "function", "name": "lookup", "description": "Find a customer.", "strict": False,
     "parameters": {"type": "object", "properties": {"email": {"type": "string"}}, "required": ["email"]}},
    {"type": "custom", "name": "note", "description": "Write a note."}]}


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "json"])
@pytest.mark.parametrize("store", [True, False], ids=["stored", "unstored"])
def test_custom_tool_round_trip(server, upstream, model, streamed, store):
    name = upstream_name(model)
    upstream.script(name, Reply(tool_calls=[ToolCall("apply_patch", json.dumps({"input": PATCH}), id="call_p")]),
                    Reply(text="Patched."))
    first = create(server.base_url, {"model": model, "input": "Add hello.txt", "tools": [APPLY_PATCH], "store": store},
                   streamed)
    [call] = first["output"]
    assert call["type"] == "custom_tool_call"
    assert (call["name"], call["input"], call["call_id"]) == ("apply_patch", PATCH, "call_p")
    offered = upstream.bodies(name)[0]["tools"]
    assert offered[0]["function"]["name"] == "apply_patch"
    assert offered[0]["function"]["parameters"]["required"] == ["input"]
    assert LARK in offered[0]["function"]["description"]

    result = {"type": "custom_tool_call_output", "call_id": "call_p", "output": "Done: hello.txt added"}
    following = {"model": model, "tools": [APPLY_PATCH], "store": store}
    if store:
        following |= {"previous_response_id": first["id"], "input": [result]}
    else:
        following["input"] = [{"role": "user", "content": "Add hello.txt"}, call, result]
    second = create(server.base_url, following, streamed)
    assert second["output"][0]["content"][0]["text"] == "Patched."
    assert upstream.bodies(name)[-1]["messages"] == [
        {"role": "user", "content": "Add hello.txt"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"index": 0, "id": "call_p", "type": "function",
             "function": {"name": "apply_patch", "arguments": json.dumps({"input": PATCH})}}]},
        {"role": "tool", "tool_call_id": "call_p", "content": "Done: hello.txt added"},
    ]


def test_custom_tool_events(server, upstream, model):
    upstream.script(upstream_name(model),
                    Reply(text="Let me patch.", tool_calls=[ToolCall("apply_patch", json.dumps({"input": PATCH}))]))
    events = stream(server.base_url, {"model": model, "input": "patch", "tools": [APPLY_PATCH]})
    call = events[-1]["response"]["output"][1]
    inputs = [e for e in events if e["type"].startswith("response.custom_tool_call_input.")]
    assert [e["type"] for e in inputs] == ["response.custom_tool_call_input.delta",
                                           "response.custom_tool_call_input.done"]
    assert inputs[0]["delta"] == PATCH and inputs[1]["input"] == PATCH
    assert all(e["item_id"] == call["id"] and e["output_index"] == 1 for e in inputs)
    assert events[-1]["response"]["tools"] == [APPLY_PATCH]


def test_custom_input_that_is_not_the_asked_json_is_kept_whole(server, upstream, model):
    upstream.script(upstream_name(model), Reply(tool_calls=[ToolCall("apply_patch", PATCH)]))
    response = create(server.base_url, {"model": model, "input": "patch", "tools": [APPLY_PATCH]}, streamed=False)
    assert response["output"][0]["input"] == PATCH


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "json"])
def test_namespace_tools_are_offered_flat_and_called_by_namespace(server, upstream, model, streamed):
    name = upstream_name(model)
    lookup = ToolCall("crm__lookup", '{"email": "a@example.com"}', id="call_l")
    note = ToolCall("crm__note", json.dumps({"input": "called back"}), id="call_n")
    upstream.script(name, Reply(tool_calls=[lookup, note]), Reply(text="Ada, noted."))
    tools = [CRM, {"type": "function", "name": "lookup", "parameters": {"type": "object"}}]
    first = create(server.base_url, {"model": model, "input": "Who is a@example.com?", "tools": tools}, streamed)
    assert [f["function"]["name"] for f in upstream.bodies(name)[0]["tools"]] == ["crm__lookup", "crm__note",
                                                                                  "lookup"]
    function_call, custom_call = first["output"]
    assert function_call["type"] == "function_call" and function_call["status"] == "completed"
    assert (function_call["name"], function_call["namespace"], function_call["arguments"]) == (
        "lookup", "crm", '{"email": "a@example.com"}')
    assert (custom_call["type"], custom_call["name"], custom_call["namespace"], custom_call["input"]) == (
        "custom_tool_call", "note", "crm", "called back")

    second = create(server.base_url, {"model": model, "tools": tools, "previous_response_id": first["id"], "input": [
        {"type": "function_call_output", "call_id": "call_l", "output": "Ada Lovelace"},
        {"type": "custom_tool_call_output", "call_id": "call_n", "output": "saved"}]}, streamed)
    assert second["output"][0]["content"][0]["text"] == "Ada, noted."
    assert upstream.bodies(name)[-1]["messages"][1:] == [
        {"role": "assistant", "content": "", "tool_calls": [
            {"index": 0, "id": "call_l", "type": "function",
             "function": {"name": "crm__lookup", "arguments": '{"email": "a@example.com"}'}},
            {"index": 1, "id": "call_n", "type": "function",
             "function": {"name": "crm__note", "arguments": json.dumps({"input": "called back"})}}]},
        {"role": "tool", "tool_call_id": "call_l", "content": "Ada Lovelace"},
        {"role": "tool", "tool_call_id": "call_n", "content": "saved"},
    ]


def test_a_client_function_and_a_server_tool_of_the_same_name_never_shadow_each_other(server, upstream, model):
    """The server's tool keeps its name; the client's function is offered renamed, in every turn."""
    name = upstream_name(model)
    query = f"shadowing {model}"
    upstream.script(name, Reply(tool_calls=[ToolCall("web_search", json.dumps({"query": query}), id="call_s")]),
                    Reply(tool_calls=[ToolCall("web_search_2", '{"q": "mine"}', id="call_c")]),
                    Reply(text="Both searched."))
    tools = [{"type": "function", "name": "web_search", "parameters": {"type": "object"}}, {"type": "web_search"}]
    response = create(server.base_url, {"model": model, "input": "search", "tools": tools}, streamed=True)
    offered = [function["function"]["name"] for function in upstream.bodies(name)[0]["tools"]]
    assert offered == ["web_search_2", "web_search"]
    searched, called = response["output"]
    assert searched["type"] == "web_search_call" and searched["action"]["query"] == query
    assert upstream.searches(query)
    assert (called["type"], called["name"], called["arguments"]) == ("function_call", "web_search", '{"q": "mine"}')

    create(server.base_url, {"model": model, "tools": tools, "previous_response_id": response["id"],
                    "input": [{"type": "function_call_output", "call_id": "call_c", "output": "mine found"}]},
           streamed=False)
    calls = [call["function"]["name"] for message in upstream.bodies(name)[-1]["messages"]
             for call in message.get("tool_calls") or []]
    assert calls == ["web_search", "web_search_2"]


WEATHER = {"type": "function", "name": "get_weather", "description": "The weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
CUT_USAGE = {"prompt_tokens": 40, "completion_tokens": 6, "total_tokens": 46}


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "json"])
@pytest.mark.parametrize("finish_reason", ["length", "tool_calls"])
def test_a_call_cut_by_the_token_limit_is_incomplete(server, upstream, model, streamed, finish_reason):
    """Cut mid-arguments: the upstream says ``length``, or (as llama.cpp does for a forced call)
    ``tool_calls`` after writing every token it was allowed; either way the call and the
    response end ``incomplete``, and nothing reports the broken arguments ``completed``."""
    upstream.script(upstream_name(model), Reply(tool_calls=[ToolCall("get_weather", '{ "city": "Paris', id="call_w")],
                                                finish_reason=finish_reason, usage=CUT_USAGE))
    body = {"model": model, "input": "Weather in Paris?", "tools": [WEATHER], "tool_choice": "required",
            "max_output_tokens": 6}
    if streamed:
        events = stream(server.base_url, body)
        assert events[-1]["type"] == "response.incomplete"
        done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
        assert [item["status"] for item in done] == ["incomplete"]
        response = events[-1]["response"]
    else:
        response = create(server.base_url, body, streamed=False)
    stored = server.client().responses.retrieve(response["id"])
    for final in (response, stored.model_dump(mode="json")):
        assert final["status"] == "incomplete"
        assert final["incomplete_details"] == {"reason": "max_output_tokens"}
        [call] = final["output"]
        assert (call["type"], call["status"], call["arguments"]) == ("function_call", "incomplete", '{ "city": "Paris')


def test_a_call_that_fits_its_token_limit_exactly_is_completed(server, upstream, model):
    upstream.script(upstream_name(model), Reply(tool_calls=[ToolCall("get_weather", '{"city": "Paris"}')],
                                                usage=CUT_USAGE))
    response = create(server.base_url, {"model": model, "input": "Weather in Paris?", "tools": [WEATHER],
                                        "tool_choice": "required", "max_output_tokens": 6}, streamed=True)
    assert response["status"] == "completed"
    assert response["output"][0]["status"] == "completed"


def test_a_server_tool_call_cut_by_the_token_limit_is_not_run(server, upstream, model):
    query = f"cut search {model}"
    upstream.script(upstream_name(model), Reply(tool_calls=[ToolCall("web_search", json.dumps({"query": query})[:-4])],
                                                finish_reason="length", usage=CUT_USAGE))
    response = create(server.base_url, {"model": model, "input": "search", "tools": [{"type": "web_search"}],
                                        "max_output_tokens": 6}, streamed=True)
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}
    assert response["output"] == []
    assert not upstream.searches(query) and not upstream.searches(query[:-2])
    assert len(upstream.bodies(upstream_name(model))) == 1
