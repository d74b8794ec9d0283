"""The mcp tool: a real MCP server's tools called by the model, with OpenAI's items, events and approvals."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from conftest import free_port, upstream_name
from orrery.tools.mcp import DECLINED
from scripted_upstream import Reply, ToolCall
from wire import check_events, check_response, stream

TOKEN = "mcp-secret-token-1234"
MCP_SERVER = Path(__file__).parent / "mcp_server.py"
TOOL_NAMES = ["add", "echo", "get_weather", "fail", "slow"]


def start_mcp_server(token: str | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(MCP_SERVER), "--port", str(port),
                                *(["--token", token] if token else [])], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "READY"
    return process, f"http://127.0.0.1:{port}/mcp"


def stop_mcp_server(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    """An MCP server that wants the bearer token."""
    process, url = start_mcp_server(TOKEN)
    yield url
    stop_mcp_server(process)


def tool(url: str, **options) -> dict:
    return {"type": "mcp", "server_label": "tools", "server_url": url, "authorization": TOKEN, **options}


def call(upstream, model: str, name: str, arguments: dict, answer: str, call_id: str = "call_m1") -> None:
    upstream.script(upstream_name(model),
                    Reply(tool_calls=[ToolCall(name, json.dumps(arguments, separators=(",", ":")), id=call_id)]),
                    Reply(text=answer))


def test_a_call_without_approval_streams_listing_and_call_events(server, upstream, model, mcp_url):
    call(upstream, model, "add", {"a": 2, "b": 3}, "2 + 3 = 5.")
    events = stream(server.base_url, {"model": model, "input": "Add 2 and 3.",
                                      "tools": [tool(mcp_url, require_approval="never")]})
    final = check_events(events)
    kinds = [e["type"] for e in events]
    assert kinds[:12] == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.mcp_list_tools.in_progress", "response.mcp_list_tools.completed",
        "response.output_item.done",
        "response.output_item.added", "response.mcp_call.in_progress", "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done", "response.mcp_call.completed", "response.output_item.done"]
    listing, mcp_call, message = final["output"]
    assert listing["type"] == "mcp_list_tools" and listing["server_label"] == "tools"
    assert [t["name"] for t in listing["tools"]] == TOOL_NAMES
    assert events[2]["item"]["tools"] == []
    add = listing["tools"][0]
    assert add["description"] == "Add two integers." and add["input_schema"]["required"] == ["a", "b"]
    assert mcp_call == {"id": "mcp_call_m1", "type": "mcp_call", "server_label": "tools", "name": "add",
                        "arguments": '{"a":2,"b":3}', "status": "completed", "output": "5", "error": None,
                        "approval_request_id": None}
    assert message["content"][0]["text"] == "2 + 3 = 5."

    first, second = upstream.bodies(upstream_name(model))
    assert [t["function"]["name"] for t in first["tools"]] == TOOL_NAMES
    assert first["tools"][0] == {"type": "function", "function": {
        "name": "add", "parameters": add["input_schema"], "description": "Add two integers."}}
    assert second["messages"][-1] == {"role": "tool", "tool_call_id": "call_m1", "content": "5"}


def test_calls_need_approval_by_default_and_run_once_approved(server, upstream, model, mcp_url):
    client = server.client()
    upstream.script(upstream_name(model), Reply(tool_calls=[ToolCall("get_weather", '{"city":"Oslo"}', id="call_w")]))
    asked = client.responses.create(model=model, input="Weather in Oslo?", tools=[tool(mcp_url)])
    check_response(asked.to_dict())
    assert asked.status == "completed"
    assert [item.type for item in asked.output] == ["mcp_list_tools", "mcp_approval_request"]
    request = asked.output[1]
    assert (request.id, request.name, request.arguments, request.server_label) == (
        "mcpr_call_w", "get_weather", '{"city":"Oslo"}', "tools")
    assert len(upstream.bodies(upstream_name(model))) == 1, "the response ends at the approval request"

    upstream.script(upstream_name(model), Reply(text="Sunny in Oslo."))
    events = stream(server.base_url, {"model": model, "previous_response_id": asked.id, "tools": [tool(mcp_url)],
                                      "input": [{"type": "mcp_approval_response", "approve": True,
                                                 "approval_request_id": request.id}]})
    final = check_events(events)
    mcp_call, message = final["output"]
    assert mcp_call["type"] == "mcp_call" and mcp_call["approval_request_id"] == "mcpr_call_w"
    assert mcp_call["output"] == "The weather in Oslo is sunny, 21°C."
    assert message["content"][0]["text"] == "Sunny in Oslo."
    messages = upstream.bodies(upstream_name(model))[-1]["messages"]
    assert messages[-2:] == [
        {"role": "assistant", "content": "", "tool_calls": [{"index": 0, "id": "call_w", "type": "function",
                                                             "function": {"name": "get_weather",
                                                                          "arguments": '{"city":"Oslo"}'}}]},
        {"role": "tool", "tool_call_id": "call_w", "content": "The weather in Oslo is sunny, 21°C."}]

    upstream.script(upstream_name(model), Reply(text="Still sunny."))
    later = client.responses.create(model=model, previous_response_id=final["id"], input="And now?",
                                    tools=[tool(mcp_url)])
    assert [item.type for item in later.output] == ["message"], "the listing in the history is reused"
    later_messages = upstream.bodies(upstream_name(model))[-1]["messages"]
    assert later_messages[-4:] == [*messages[-2:], {"role": "assistant", "content": "Sunny in Oslo."},
                                   {"role": "user", "content": "And now?"}]


def test_a_declined_call_is_shown_to_the_model_as_declined(server, upstream, model, mcp_url):
    client = server.client()
    upstream.script(upstream_name(model), Reply(tool_calls=[ToolCall("echo", '{"text":"hi"}', id="call_e")]),
                    Reply(text="Understood."))
    asked = client.responses.create(model=model, input="Echo hi.", tools=[tool(mcp_url)])
    answered = client.responses.create(model=model, previous_response_id=asked.id, tools=[tool(mcp_url)], input=[
        {"type": "mcp_approval_response", "approve": False, "approval_request_id": "mcpr_call_e"}])
    assert [item.type for item in answered.output] == ["message"]
    assert upstream.bodies(upstream_name(model))[-1]["messages"][-2:] == [
        {"role": "assistant", "content": "", "tool_calls": [{"index": 0, "id": "call_e", "type": "function",
                                                             "function": {"name": "echo",
                                                                          "arguments": '{"text":"hi"}'}}]},
        {"role": "tool", "tool_call_id": "call_e", "content": DECLINED}]


def test_allowed_tools_and_approval_filters(server, upstream, model, mcp_url):
    call(upstream, model, "add", {"a": 1, "b": 1}, "Two.")
    response = server.client().responses.create(model=model, input="1+1", tools=[tool(
        mcp_url, allowed_tools=["add", "echo"], require_approval={"never": {"tool_names": ["add"]}})])
    assert [item.type for item in response.output] == ["mcp_list_tools", "mcp_call", "message"]
    assert [t.name for t in response.output[0].tools] == TOOL_NAMES, "the listing shows every tool"
    first = upstream.bodies(upstream_name(model))[0]
    assert [t["function"]["name"] for t in first["tools"]] == ["add", "echo"]


def test_a_failing_tool_fails_its_call_and_the_model_hears_why(server, upstream, model, mcp_url):
    call(upstream, model, "fail", {"reason": "disk full"}, "It failed.")
    events = stream(server.base_url, {"model": model, "input": "Fail.",
                                      "tools": [tool(mcp_url, require_approval="never")]})
    final = check_events(events)
    mcp_call = final["output"][1]
    assert mcp_call["status"] == "failed"
    assert mcp_call["error"]["type"] == "mcp_tool_execution_error"
    assert "disk full" in mcp_call["error"]["content"][0]["text"]
    assert "response.mcp_call.failed" in [e["type"] for e in events]
    tool_message = upstream.bodies(upstream_name(model))[1]["messages"][-1]
    assert tool_message["content"].startswith("The tool call failed: ") and "disk full" in tool_message["content"]


@pytest.mark.parametrize("streamed", [False, True])
def test_an_unreachable_or_refusing_server_is_424_before_streaming(server, upstream, model, mcp_url, streamed):
    client = server.client()
    for bad, reason in ((tool(mcp_url, authorization="wrong-token-9876"), "401"),
                        (tool(f"http://127.0.0.1:{free_port()}/mcp"), "could not reach")):
        with pytest.raises(openai.APIStatusError) as raised:
            client.responses.create(model=model, input="q", tools=[bad], stream=streamed)
        error = raised.value
        assert error.status_code == 424
        assert error.body["type"] == "external_connector_error" and error.body["param"] == "tools[0]"
        assert "'tools'" in error.message and reason in error.message
        assert "wrong-token-9876" not in error.message
    assert upstream.bodies(upstream_name(model)) == []


def test_credentials_in_the_server_url_are_neither_stored_nor_shown(server, upstream, model, mcp_url, stored_bytes):
    """A query token (and user info) of ``server_url`` reach the MCP server only."""
    call(upstream, model, "echo", {"text": "y"}, "y")
    with_token = f"{mcp_url}?token=query-secret-2222&plain=visible-value"
    response = server.client().responses.create(model=model, input="echo", tools=[tool(with_token,
                                                                                        require_approval="never")])
    assert response.output[1].output == "y"
    for shown in (response.to_dict(), server.client().responses.retrieve(response.id).to_dict()):
        assert shown["tools"][0]["server_url"] == f"{mcp_url}?token=***&plain=***"
        assert "query-secret-2222" not in json.dumps(shown)
    unreachable = tool(mcp_url.replace("://", "://someone:userinfo-secret-3333@") + "x?sig=query-secret-4444")
    with pytest.raises(openai.APIStatusError) as error:
        server.client().responses.create(model=model, input="echo", tools=[unreachable])
    assert "userinfo-secret-3333" not in error.value.message and "query-secret-4444" not in error.value.message
    stored = stored_bytes(server.db_url, response.id.encode())
    assert b"query-secret-2222" not in stored and b"userinfo-secret-3333" not in stored


def test_secrets_are_neither_stored_nor_shown(server, upstream, model, mcp_url, stored_bytes):
    call(upstream, model, "echo", {"text": "x"}, "x")
    headers_tool = {"type": "mcp", "server_label": "tools", "server_url": mcp_url, "require_approval": "never",
                    "headers": {"Authorization": f"Bearer {TOKEN}", "X-Extra": "extra-secret-5678"}}
    response = server.client().responses.create(model=model, input="echo", tools=[headers_tool])
    assert response.output[1].output == "x"
    for shown in (response.to_dict(), server.client().responses.retrieve(response.id).to_dict()):
        assert shown["tools"] == [{"type": "mcp", "server_label": "tools", "server_url": mcp_url,
                                   "require_approval": "never"}]
        assert TOKEN not in json.dumps(shown) and "extra-secret-5678" not in json.dumps(shown)
    stored = stored_bytes(server.db_url, response.id.encode())
    assert TOKEN.encode() not in stored and b"extra-secret-5678" not in stored


@pytest.mark.parametrize("tools, input_items, param", [
    ([{"type": "mcp", "server_label": "a", "server_url": "http://x/mcp"},
      {"type": "mcp", "server_label": "a", "server_url": "http://y/mcp"}], "q", "tools[1].server_label"),
    ([{"type": "mcp", "server_label": "a"}], "q", "tools[0].server_url"),
    ([{"type": "mcp", "server_label": "a", "connector_id": "connector_gmail"}], "q", "tools[0].connector_id"),
    ([{"type": "mcp", "server_label": "a b", "server_url": "http://x/mcp"}], "q", "tools[0].server_label"),
    ([{"type": "mcp", "server_label": "a", "server_url": "ftp://x/mcp"}], "q", "tools[0].server_url"),
    ([], [{"type": "mcp_approval_response", "approve": True, "approval_request_id": "mcpr_x"}], "tools"),
    ([{"type": "mcp", "server_label": "a", "server_url": "http://x/mcp"}],
     [{"type": "mcp_approval_response", "approve": "yes", "approval_request_id": "mcpr_x"}], "input"),
])
def test_malformed_mcp_requests_are_400(server, tools, input_items, param):
    answer = httpx.post(f"{server.base_url}/responses", json={"model": "scripted/x", "input": input_items,
                                                             "tools": tools})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"].startswith(param)


def test_an_approval_for_an_unknown_request_is_400(server, upstream, model, mcp_url):
    with pytest.raises(openai.BadRequestError) as raised:
        server.client().responses.create(model=model, tools=[tool(mcp_url)], input=[
            {"type": "mcp_approval_response", "approve": True, "approval_request_id": "mcpr_nowhere"}])
    assert raised.value.body["param"] == "input[0].approval_request_id"
    assert upstream.bodies(upstream_name(model)) == []


def test_a_conversation_keeps_the_listing_and_the_calls(server, upstream, model, mcp_url):
    client = server.client()
    conversation = client.conversations.create()
    call(upstream, model, "add", {"a": 4, "b": 4}, "Eight.")
    first = client.responses.create(model=model, input="4+4", conversation=conversation.id,
                                    tools=[tool(mcp_url, require_approval="never")])
    assert [item.type for item in first.output] == ["mcp_list_tools", "mcp_call", "message"]
    upstream.script(upstream_name(model), Reply(text="Still eight."))
    second = client.responses.create(model=model, input="Sure?", conversation=conversation.id,
                                     tools=[tool(mcp_url, require_approval="never")])
    assert [item.type for item in second.output] == ["message"]
    items = client.conversations.items.list(conversation.id, order="asc").data
    assert [item.type for item in items] == ["message", "mcp_list_tools", "mcp_call", "message", "message", "message"]
    messages = upstream.bodies(upstream_name(model))[-1]["messages"]
    assert {"role": "tool", "tool_call_id": "call_m1", "content": "8"} in messages


def test_allowed_tools_choice_can_name_an_mcp_server(server, upstream, model, mcp_url):
    upstream.script(upstream_name(model), Reply(text="No tools needed."))
    server.client().responses.create(
        model=model, input="hi", tools=[tool(mcp_url), {"type": "function", "name": "local_fn"}],
        tool_choice={"type": "allowed_tools", "mode": "auto", "tools": [{"type": "mcp", "server_label": "tools"}]})
    body = upstream.bodies(upstream_name(model))[0]
    assert [t["function"]["name"] for t in body["tools"]] == TOOL_NAMES and body["tool_choice"] == "auto"


def test_a_stateless_client_sends_the_approval_request_back_itself(server, upstream, model, mcp_url):
    client = server.client()
    upstream.script(upstream_name(model), Reply(tool_calls=[ToolCall("add", '{"a":1,"b":2}', id="call_s")]))
    asked = client.responses.create(model=model, input="1+2", tools=[tool(mcp_url)], store=False)
    listing, request = (item.to_dict() for item in asked.output)
    upstream.script(upstream_name(model), Reply(text="Three."))
    answered = client.responses.create(model=model, store=False, tools=[tool(mcp_url)], input=[
        {"role": "user", "content": "1+2"}, listing, request,
        {"type": "mcp_approval_response", "approve": True, "approval_request_id": request["id"]}])
    assert [item.type for item in answered.output] == ["mcp_call", "message"]
    assert answered.output[0].output == "3"


def test_a_server_url_ending_in_sse_uses_the_sse_transport(server, upstream, model, mcp_url):
    call(upstream, model, "echo", {"text": "over sse"}, "Done.")
    response = server.client().responses.create(model=model, input="echo", tools=[
        tool(mcp_url.removesuffix("/mcp") + "/sse", require_approval="never")])
    listing, mcp_call, _ = response.output
    assert [t.name for t in listing.tools] == TOOL_NAMES
    assert (mcp_call.status, mcp_call.output) == ("completed", "over sse")
