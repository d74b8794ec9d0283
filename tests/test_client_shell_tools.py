"""Client-run shells, patches and tool search: local_shell, shell, apply_patch, tool_search
(execution "client"), round trips streamed and not, stored and not."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from openai.lib.responses_websocket import ResponsesWebSocketAccumulator
from openai.types.responses.responses_server_event import ResponsesServerEvent
from pydantic import TypeAdapter

from conftest import upstream_name
from scripted_upstream import Reply, ToolCall
from wire import create, stream

SERVER_EVENT = TypeAdapter(ResponsesServerEvent)

LOOKUP = {"type": "function", "name": "lookup_customer", "description": "Find a customer by email.",
          "defer_loading": True,
          "parameters": {"type": "object", "properties": {"email": {"type": "string"}}, "required": ["email"]}}
SEARCH_PARAMETERS = {"type": "object", "properties": {"goal": {"type": "string"}}, "required": ["goal"]}
TOOL_SEARCH = {"type": "tool_search", "execution": "client", "description": "Find tools for a task.",
               "parameters": SEARCH_PARAMETERS}
SHELL_OUTPUT = [{"stdout": "README.md\n", "stderr": "", "outcome": {"type": "exit", "exit_code": 0}},
                {"stdout": "", "stderr": "cat: secret: Permission denied\n",
                 "outcome": {"type": "exit", "exit_code": 1}},
                {"stdout": "", "stderr": "", "outcome": {"type": "timeout"}}]
LOCAL_OUTPUT = json.dumps({"output": "total 0\n", "metadata": {"exit_code": 0, "duration_seconds": 0.1}})
DIFF = "@@\n-Hello\n+Hello, world"


@dataclass
class Case:
    """One kind: its tool, the model's call, the call item it makes, the client's output and what
    the model reads of both again."""

    tools: list[dict[str, Any]]
    function: str
    arguments: dict[str, Any]
    item: dict[str, Any]
    """The call item's fields beyond id, type, call_id and status."""
    item_type: str
    output: dict[str, Any]
    replayed_arguments: dict[str, Any]
    tool_message: str


CASES = {
    "local_shell": Case(
        tools=[{"type": "local_shell"}], function="local_shell",
        arguments={"command": ["ls", "-la"], "working_directory": "/srv", "timeout_ms": 2000},
        item={"action": {"type": "exec", "command": ["ls", "-la"], "env": {}, "timeout_ms": 2000, "user": None,
                         "working_directory": "/srv"}},
        item_type="local_shell_call",
        output={"type": "local_shell_call_output", "id": "call_k", "output": LOCAL_OUTPUT},
        replayed_arguments={"command": ["ls", "-la"], "working_directory": "/srv", "timeout_ms": 2000},
        tool_message=LOCAL_OUTPUT),
    "shell": Case(
        tools=[{"type": "shell", "environment": {"type": "local"}}], function="shell",
        arguments={"commands": ["ls", "cat secret", "sleep 99"], "timeout_ms": 5000},
        item={"action": {"commands": ["ls", "cat secret", "sleep 99"], "timeout_ms": 5000, "max_output_length": None},
              "environment": {"type": "local"}},
        item_type="shell_call",
        output={"type": "shell_call_output", "call_id": "call_k", "output": SHELL_OUTPUT},
        replayed_arguments={"commands": ["ls", "cat secret", "sleep 99"], "timeout_ms": 5000},
        tool_message="$ ls\nREADME.md\n(exit code 0)\n\n$ cat secret\nstderr:\ncat: secret: Permission denied\n"
                     "(exit code 1)\n\n$ sleep 99\n(timed out)"),
    "apply_patch": Case(
        tools=[{"type": "apply_patch"}], function="apply_patch",
        arguments={"operation": {"type": "update_file", "path": "README.md", "diff": DIFF}},
        item={"operation": {"type": "update_file", "path": "README.md", "diff": DIFF}},
        item_type="apply_patch_call",
        output={"type": "apply_patch_call_output", "call_id": "call_k", "status": "completed",
                "output": "Updated README.md"},
        replayed_arguments={"operation": {"type": "update_file", "path": "README.md", "diff": DIFF}},
        tool_message="Updated README.md"),
    "tool_search": Case(
        tools=[TOOL_SEARCH, LOOKUP], function="tool_search",
        arguments={"goal": "find a customer"},
        item={"arguments": {"goal": "find a customer"}, "execution": "client"},
        item_type="tool_search_call",
        output={"type": "tool_search_output", "call_id": "call_k", "execution": "client", "tools": [LOOKUP]},
        replayed_arguments={"goal": "find a customer"},
        tool_message="These tools are now available to call:\n- lookup_customer: Find a customer by email."),
}


def offered(upstream, model: str, function: str) -> dict[str, Any]:
    [chat] = [tool for tool in upstream.bodies(upstream_name(model))[0]["tools"]
              if tool["function"]["name"] == function]
    return chat["function"]


@pytest.mark.parametrize("kind", list(CASES))
@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "json"])
@pytest.mark.parametrize("store", [True, False], ids=["stored", "unstored"])
def test_round_trip(server, upstream, model, kind, streamed, store):
    case = CASES[kind]
    name = upstream_name(model)
    upstream.script(name, Reply(tool_calls=[ToolCall(case.function, json.dumps(case.arguments), id="call_k")]),
                    Reply(text="All done."))
    first = create(server.base_url, {"model": model, "input": "Go.", "tools": case.tools, "store": store}, streamed)
    [call] = first["output"]
    assert call == {"id": call["id"], "type": case.item_type, "call_id": "call_k", "status": "completed",
                    **case.item}
    assert first["status"] == "completed"

    following = {"model": model, "tools": case.tools, "store": store}
    if store:
        following |= {"previous_response_id": first["id"], "input": [case.output]}
    else:
        following["input"] = [{"role": "user", "content": "Go."}, call, case.output]
    second = create(server.base_url, following, streamed)
    assert second["output"][0]["content"][0]["text"] == "All done."
    assert upstream.bodies(name)[-1]["messages"] == [
        {"role": "user", "content": "Go."},
        {"role": "assistant", "content": "", "tool_calls": [
            {"index": 0, "id": "call_k", "type": "function",
             "function": {"name": case.function, "arguments": json.dumps(case.replayed_arguments)}}]},
        {"role": "tool", "tool_call_id": "call_k", "content": case.tool_message},
    ]
    assert [tool["function"]["name"] for tool in upstream.bodies(name)[-1]["tools"]] == [
        tool["function"]["name"] for tool in upstream.bodies(name)[0]["tools"]]


def test_local_shell_offers_the_exec_action(server, upstream, model):
    upstream.script(upstream_name(model), Reply(text="ok"))
    response = create(server.base_url,
                      {"model": model, "input": "hi", "tools": [{"type": "local_shell"}]}, streamed=False)
    assert response["tools"] == [{"type": "local_shell"}]
    function = offered(upstream, model, "local_shell")
    assert function["parameters"]["required"] == ["command"]
    assert set(function["parameters"]["properties"]) == {"command", "env", "working_directory", "timeout_ms", "user"}
    assert function["parameters"]["properties"]["command"] == {
        "type": "array", "items": {"type": "string"}, "description": function["parameters"]["properties"]["command"][
            "description"]}


def test_local_shell_env_and_an_output_naming_its_call_by_call_id(server, upstream, model):
    """The SDK names the call by the output's ``id``; OpenAI's guide and most clients send ``call_id``."""
    name = upstream_name(model)
    arguments = {"command": ["env"], "env": {"DEBUG": "1"}, "user": "ci"}
    upstream.script(name, Reply(tool_calls=[ToolCall("local_shell", json.dumps(arguments), id="call_e")]),
                    Reply(text="ok"))
    first = create(server.base_url,
                   {"model": model, "input": "env?", "tools": [{"type": "local_shell"}]}, streamed=True)
    assert first["output"][0]["action"] == {"type": "exec", "command": ["env"], "env": {"DEBUG": "1"},
                                            "timeout_ms": None, "user": "ci", "working_directory": None}
    create(server.base_url, {"model": model, "tools": [{"type": "local_shell"}], "previous_response_id": first["id"],
                    "input": [{"type": "local_shell_call_output", "call_id": "call_e", "output": "DEBUG=1"}]},
           streamed=False)
    assert upstream.bodies(name)[-1]["messages"][1:] == [
        {"role": "assistant", "content": "", "tool_calls": [
            {"index": 0, "id": "call_e", "type": "function",
             "function": {"name": "local_shell", "arguments": json.dumps({"command": ["env"], "env": {"DEBUG": "1"},
                                                                          "user": "ci"})}}]},
        {"role": "tool", "tool_call_id": "call_e", "content": "DEBUG=1"},
    ]


def test_local_shell_output_naming_no_call_is_400(server, model):
    with httpx.Client(timeout=30) as http:
        answer = http.post(f"{server.base_url}/responses", json={
            "model": model, "tools": [{"type": "local_shell"}],
            "input": [{"type": "local_shell_call_output", "output": "x"}]})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"].startswith("input[0]")


def test_shell_call_streams_its_commands(server, upstream, model):
    commands = ["ls", "cat README.md"]
    upstream.script(upstream_name(model), Reply(text="Let me look.", tool_calls=[
        ToolCall("shell", json.dumps({"commands": commands, "max_output_length": 4096}))]))
    tools = [{"type": "shell", "environment": {"type": "local", "skills": [
        {"name": "pdf", "description": "Read PDF files.", "path": "/skills/pdf"}]}}]
    events = stream(server.base_url, {"model": model, "input": "What is here?", "tools": tools})
    [added] = [e for e in events if e["type"] == "response.output_item.added" and e["item"]["type"] == "shell_call"]
    assert added["output_index"] == 1 and added["item"]["action"]["commands"] == []
    assert added["item"]["status"] == "in_progress"
    shown = [(e["type"].rsplit(".", 1)[1], e["command_index"], e.get("command", e.get("delta")))
             for e in events if e["type"].startswith("response.shell_call_command.")]
    assert shown == [("added", 0, ""), ("delta", 0, "ls"), ("done", 0, "ls"),
                     ("added", 1, ""), ("delta", 1, "cat README.md"), ("done", 1, "cat README.md")]
    assert all(e["output_index"] == 1 for e in events if e["type"].startswith("response.shell_call_command."))
    call = events[-1]["response"]["output"][1]
    assert call["action"] == {"commands": commands, "timeout_ms": None, "max_output_length": 4096}
    assert events[-1]["response"]["tools"] == tools
    description = offered(upstream, model, "shell")["description"]
    assert "- pdf (/skills/pdf): Read PDF files." in description

    # The SDK's accumulator rebuilds the commands from the events alone, as OpenAI streams them.
    accumulator = ResponsesWebSocketAccumulator()
    done_at = next(i for i, e in enumerate(events) if e["type"] == "response.output_item.done"
                   and e["item"]["type"] == "shell_call")
    for event in events[:done_at]:
        accumulator.add_event(SERVER_EVENT.validate_python(event))
    [projected] = [row["item"] for row in accumulator.detailed_snapshot()["output"]
                   if row["item"].get("type") == "shell_call"]
    assert projected["action"]["commands"] == commands


@pytest.mark.parametrize("environment", [{"type": "container_auto"},
                                         {"type": "container_reference", "container_id": "cntr_1"}])
def test_shell_in_a_hosted_container_is_400(server, model, environment):
    with httpx.Client(timeout=30) as http:
        answer = http.post(f"{server.base_url}/responses", json={
            "model": model, "input": "hi", "tools": [{"type": "shell", "environment": environment}], "stream": True})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert (error["param"], error["code"]) == ("tools[0].environment", "unsupported_tool")
    assert environment["type"] in error["message"]


def test_shell_with_no_environment_is_the_clients(server, upstream, model):
    upstream.script(upstream_name(model), Reply(tool_calls=[ToolCall("shell", '{"commands": ["pwd"]}')]))
    response = create(server.base_url,
                      {"model": model, "input": "where?", "tools": [{"type": "shell"}]}, streamed=False)
    [call] = response["output"]
    assert call["type"] == "shell_call" and "environment" not in call
    assert call["action"]["commands"] == ["pwd"]


def test_apply_patch_offers_an_operation_and_shows_failures(server, upstream, model):
    name = upstream_name(model)
    create_file = {"type": "create_file", "path": "hello.txt", "diff": "+hello"}
    delete = {"type": "delete_file", "path": "old.txt"}
    upstream.script(name, Reply(tool_calls=[ToolCall("apply_patch", json.dumps({"operation": create_file}),
                                                     id="call_c"),
                                            ToolCall("apply_patch", json.dumps({"operation": delete}), id="call_d")]),
                    Reply(text="ok"))
    first = create(server.base_url,
                   {"model": model, "input": "edit", "tools": [{"type": "apply_patch"}]}, streamed=True)
    assert [item["operation"] for item in first["output"]] == [create_file, delete]
    operation = offered(upstream, model, "apply_patch")["parameters"]["properties"]["operation"]
    assert operation["properties"]["type"]["enum"] == ["create_file", "update_file", "delete_file"]
    assert operation["required"] == ["type", "path"]

    create(server.base_url, {"model": model, "tools": [{"type": "apply_patch"}], "previous_response_id": first["id"],
                    "input": [{"type": "apply_patch_call_output", "call_id": "call_c", "status": "completed"},
                              {"type": "apply_patch_call_output", "call_id": "call_d", "status": "failed",
                               "output": "old.txt: no such file"}]}, streamed=False)
    assert upstream.bodies(name)[-1]["messages"][2:] == [
        {"role": "tool", "tool_call_id": "call_c", "content": "The patch was applied."},
        {"role": "tool", "tool_call_id": "call_d", "content": "The patch failed: old.txt: no such file"},
    ]


def test_tool_choice_apply_patch_and_shell_select_their_function(server, upstream, model):
    name = upstream_name(model)
    tools = [{"type": "apply_patch"}, {"type": "shell", "environment": {"type": "local"}}]
    for choice in ("apply_patch", "shell"):
        upstream.script(name, Reply(text="ok"))
        with httpx.Client(timeout=30) as http:
            answer = http.post(f"{server.base_url}/responses", json={
                "model": model, "input": "hi", "tools": tools, "tool_choice": {"type": choice}})
        assert answer.status_code == 200, answer.text
        assert upstream.bodies(name)[-1]["tool_choice"] == {"type": "function", "function": {"name": choice}}


def test_tool_search_offers_its_parameters_and_every_tool(server, upstream, model):
    upstream.script(upstream_name(model), Reply(text="ok"))
    create(server.base_url, {"model": model, "input": "hi", "tools": [TOOL_SEARCH, LOOKUP]}, streamed=False)
    search = offered(upstream, model, "tool_search")
    assert (search["description"], search["parameters"]) == ("Find tools for a task.", SEARCH_PARAMETERS)
    assert offered(upstream, model, "lookup_customer")["parameters"] == LOOKUP["parameters"]


def test_tool_search_with_no_parameters_takes_a_query(server, upstream, model):
    upstream.script(upstream_name(model), Reply(tool_calls=[ToolCall("tool_search", '{"query": "crm"}')]))
    tools = [{"type": "tool_search", "execution": "client"}]
    response = create(server.base_url, {"model": model, "input": "hi", "tools": tools}, streamed=True)
    search = offered(upstream, model, "tool_search")
    assert search["parameters"] == {"type": "object", "properties": {"query": {"type": "string"}},
                                    "required": ["query"]}
    assert search["description"]
    assert response["output"][0]["arguments"] == {"query": "crm"}


def test_tool_search_output_lists_namespaces_and_answers_the_latest_search(server, upstream, model):
    name = upstream_name(model)
    upstream.script(name, Reply(tool_calls=[ToolCall("tool_search", '{"goal": "crm"}', id="call_s")]), Reply(text="ok"))
    first = create(server.base_url, {"model": model, "input": "hi", "tools": [TOOL_SEARCH]}, streamed=False)
    crm = {"type": "namespace", "name": "crm", "description": "Customer records.", "tools": [
        {"type": "function", "name": "lookup", "description": "Find a customer."},
        {"type": "custom", "name": "note"}]}
    create(server.base_url, {"model": model, "tools": [TOOL_SEARCH], "previous_response_id": first["id"],
                    "input": [{"type": "tool_search_output", "execution": "client", "tools": [crm]}]}, streamed=False)
    assert upstream.bodies(name)[-1]["messages"][-1] == {
        "role": "tool", "tool_call_id": "call_s",
        "content": "These tools are now available to call:\n- crm (a group of tools): Customer records.\n"
                   "  - crm__lookup: Find a customer.\n  - crm__note"}


@pytest.mark.parametrize("execution", ["server", None], ids=["server", "default"])
def test_tool_search_run_by_the_server_is_400(server, model, execution):
    tool = {"type": "tool_search"} | ({"execution": execution} if execution else {})
    with httpx.Client(timeout=30) as http:
        answer = http.post(f"{server.base_url}/responses", json={
            "model": model, "input": "hi", "tools": [LOOKUP, tool], "stream": True})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert (error["param"], error["code"], error["type"]) == ("tools[1].execution", "unsupported_tool",
                                                              "invalid_request_error")
    assert "execution 'client'" in error["message"]
