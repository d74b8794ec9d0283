"""Every field of the Responses contract has a written policy, and the server does what it says.

The contract is read from the openai SDK's own type definitions at run time: every parameter of
``ResponseCreateParams``, every ``type`` of ``ResponseInputItemParam`` and ``ToolParam``, every
value of ``ResponseIncludable``. A name the SDK gains later fails here until ``orrery.wire.policy``
gives it a policy. Then each policy is checked through the real server: a refused entry answers
a 400 with its code and param, an accepted one a 200 showing it, a passed one reaches the upstream.
"""

from __future__ import annotations

import asyncio
import types
import typing
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai.types.responses import ResponseIncludable, ResponseInputItemParam, ToolParam, response_create_params
from sqlalchemy import select

from conftest import Server, upstream_name
from orrery.store.database import create_engine
from orrery.store.schema import responses as responses_table
from orrery.tools.unsupported import UnsupportedTool
from orrery.wire import policy
from orrery.wire.responses import CreateResponseRequest
from wire import check_response, read_sse

README = Path(__file__).resolve().parent.parent / "README.md"


def literal_values(annotation: Any) -> set[str]:
    """The string values a ``Literal`` allows, through ``Required``, ``Optional`` and ``Annotated``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return {value for value in typing.get_args(annotation) if isinstance(value, str)}
    if origin is typing.Union or origin is types.UnionType:
        return set().union(*(literal_values(arg) for arg in typing.get_args(annotation)))
    args = typing.get_args(annotation)  # Required[X], NotRequired[X], Annotated[X, ...]
    return literal_values(args[0]) if args else set()


def sdk_parameters() -> set[str]:
    base = set(typing.get_type_hints(response_create_params.ResponseCreateParamsBase))
    return base | set(typing.get_type_hints(response_create_params.ResponseCreateParamsStreaming))


def sdk_types(union: Any) -> set[str]:
    """The ``type`` values of every TypedDict of a union (input items, tools)."""
    values: set[str] = set()
    for member in typing.get_args(union):
        hints = typing.get_type_hints(member, include_extras=True)
        assert "type" in hints, f"{member.__name__} has no type field"
        found = literal_values(hints["type"])
        assert found, f"{member.__name__}.type is not a Literal: {hints['type']!r}"
        values |= found
    return values


CONTRACT = {
    "parameter": (sdk_parameters, policy.PARAMETERS),
    "input item": (lambda: sdk_types(ResponseInputItemParam), policy.INPUT_ITEMS),
    "tool": (lambda: sdk_types(ToolParam), policy.TOOLS),
    "include": (lambda: set(typing.get_args(ResponseIncludable)), policy.INCLUDES),
}


@pytest.mark.parametrize("kind", CONTRACT)
def test_every_name_of_the_sdk_has_one_policy(kind: str) -> None:
    names, table = CONTRACT[kind]
    declared = names()
    assert declared, f"no {kind} found in the SDK's types: the walk is broken"
    assert not declared - set(table), f"{kind}s of the openai SDK without a policy in orrery.wire.policy"
    assert not set(table) - declared, f"{kind}s in orrery.wire.policy the openai SDK no longer declares"


def test_parameters_outside_the_sdk_are_really_outside_it() -> None:
    assert not set(policy.EXTRA_PARAMETERS) & sdk_parameters(), "the SDK declares them now: move them to PARAMETERS"


def test_the_request_model_declares_every_parameter_with_a_policy() -> None:
    fields = {info.alias or name for name, info in CreateResponseRequest.model_fields.items()}
    assert fields == set(policy.PARAMETERS) | set(policy.EXTRA_PARAMETERS)


def test_the_unsupported_tool_kind_takes_every_refused_tool_type() -> None:
    assert literal_values(UnsupportedTool.model_fields["type"].annotation) == set(policy.REFUSED_TOOL_TYPES)


def test_every_policy_is_one_of_four_with_a_reason() -> None:
    for _, table in policy.TABLES:
        for name, entry in table.items():
            assert entry.policy in typing.get_args(policy.Policy), name
            assert entry.reason and "|" not in entry.reason and "\n" not in entry.reason, name


def test_the_readme_table_is_the_policy_module() -> None:
    lines = README.read_text().splitlines()
    header = policy.markdown_table().splitlines()[0]
    assert header in lines, "the README has no policy table: paste policy.markdown_table() into it"
    start = lines.index(header)
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    assert "\n".join(lines[start:end]) + "\n" == policy.markdown_table(), (
        "the README's policy table differs from orrery.wire.policy; paste policy.markdown_table() into it")


# ---------------------------------------------------------------------------------------------
# the policies, through the real server

REFUSED_EXAMPLES: dict[str, dict[str, Any]] = {
    "parameter": {
        "moderation": {"model": "omni-moderation-latest", "policy": {"input": {"mode": "block"}}},
        "prompt": {"id": "pmpt_123", "version": "2", "variables": {"city": "Paris"}},
    },
    "tool": {
        "code_interpreter": {"type": "code_interpreter", "container": {"type": "auto", "memory_limit": "4g"}},
        "computer": {"type": "computer"},
        "computer_use_preview": {"type": "computer_use_preview", "display_width": 1024, "display_height": 768,
                                 "environment": "browser"},
        "image_generation": {"type": "image_generation", "quality": "high", "size": "1024x1024",
                             "output_format": "png"},
        "programmatic_tool_calling": {"type": "programmatic_tool_calling"},
    },
    "input item": {
        "additional_tools": {"type": "additional_tools", "role": "developer",
                             "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}]},
        "configuration_update": {"type": "configuration_update", "reasoning": {"effort": "low"}},
        "program": {"type": "program", "id": "prg_1", "call_id": "call_p1", "code": "return 1;",
                    "fingerprint": "fp"},
        "program_output": {"type": "program_output", "id": "prgo_1", "call_id": "call_p1", "result": "1",
                           "status": "completed"},
    },
}

ECHOED_PARAMETERS: dict[str, tuple[Any, Any]] = {
    # name: (value sent, value the response shows: the effective one, as OpenAI's response does)
    "access_programs": ({"cyber": "standard"}, {"cyber": "standard"}),
    "image": ({"context_compression": "auto"}, {"context_compression": "disabled"}),
    "prompt_cache_options": ({"ttl": "12h", "prewarm": False}, {"mode": "implicit", "ttl": "12h"}),
    "prompt_cache_retention": ("24h", "24h"),
    "service_tier": ("flex", "flex"),
}

ECHOED_ITEMS: dict[str, dict[str, Any]] = {
    "code_interpreter_call": {"type": "code_interpreter_call", "id": "ci_1", "code": "print(1)",
                              "container_id": "cntr_1", "outputs": [{"type": "logs", "logs": "1"}],
                              "status": "completed"},
    "computer_call": {"type": "computer_call", "id": "cu_1", "call_id": "call_c1",
                      "action": {"type": "screenshot"}, "pending_safety_checks": [], "status": "completed"},
    "computer_call_output": {"type": "computer_call_output", "call_id": "call_c1",
                             "output": {"type": "computer_screenshot", "image_url": "data:image/png;base64,AAAA"}},
    "image_generation_call": {"type": "image_generation_call", "id": "ig_1", "result": "aGk=", "status": "completed"},
}

PASSED_PARAMETERS: dict[str, Any] = {
    "frequency_penalty": -0.5,
    "presence_penalty": 0.75,
    "prompt_cache_key": "cache-key-1",
    "safety_identifier": "hashed-user-1",
    "temperature": 0.3,
    "top_logprobs": 3,
    "top_p": 0.8,
    "user": "user-1",
}

ERROR_CODES = {"parameter": "unsupported_parameter", "tool": "unsupported_tool", "input item": "unsupported_value"}


def entries(table: dict[str, policy.Entry], wanted: policy.Policy) -> list[str]:
    return sorted(name for name, entry in table.items() if entry.policy == wanted)


REFUSED = [(kind, name) for kind, table in policy.TABLES for name in entries(table, policy.REFUSED)]


def test_every_tested_policy_has_an_example() -> None:
    """A new refused, echoed or passed entry needs a value here for the tests below to send."""
    assert {(kind, name) for kind, name in REFUSED} == {(kind, name) for kind, names in REFUSED_EXAMPLES.items()
                                                         for name in names}
    parameters = {**policy.PARAMETERS, **policy.EXTRA_PARAMETERS}
    assert set(ECHOED_PARAMETERS) == set(entries(parameters, policy.ECHOED))
    assert set(ECHOED_ITEMS) == set(entries(policy.INPUT_ITEMS, policy.ECHOED))
    assert set(PASSED_PARAMETERS) == set(entries(parameters, policy.PASSED))
    assert not entries(policy.TOOLS, policy.ECHOED) + entries(policy.TOOLS, policy.PASSED)
    assert not entries(policy.INCLUDES, policy.REFUSED) + entries(policy.INCLUDES, policy.PASSED)


def request_with(kind: str, name: str, value: Any, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "input": "hi"}
    if kind == "parameter":
        body[name] = value
    elif kind == "tool":
        body["tools"] = [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}, value]
    else:
        body["input"] = [{"role": "user", "content": "hi"}, value]
    return body


@pytest.mark.parametrize(("kind", "name"), REFUSED, ids=[f"{kind}:{name}" for kind, name in REFUSED])
@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
def test_refused_entries_are_a_400_naming_them(server: Server, model: str, kind: str, name: str,
                                               streamed: bool) -> None:
    body = request_with(kind, name, REFUSED_EXAMPLES[kind][name], model)
    answer = httpx.post(f"{server.base_url}/responses", json={**body, "stream": streamed}, timeout=30)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    param = {"parameter": name, "tool": "tools[1]", "input item": "input[1]"}[kind]
    assert (error["code"], error["param"], error["type"]) == (ERROR_CODES[kind], param, "invalid_request_error")
    assert f"'{name}'" in error["message"], error
    assert dict(policy.TABLES)[kind][name].reason in error["message"], error


def test_background_false_is_accepted(server: Server, model: str) -> None:
    answer = httpx.post(f"{server.base_url}/responses", json={"model": model, "input": "hi", "background": False})
    assert answer.status_code == 200, answer.text
    assert answer.json()["background"] is False


@pytest.mark.parametrize("name", sorted(ECHOED_PARAMETERS))
def test_accepted_parameters_are_echoed(server: Server, model: str, name: str) -> None:
    sent, shown = ECHOED_PARAMETERS[name]
    answer = httpx.post(f"{server.base_url}/responses", json={"model": model, "input": "hi", name: sent})
    assert answer.status_code == 200, answer.text
    response = answer.json()
    check_response(response)
    assert response[name] == shown
    retrieved = httpx.get(f"{server.base_url}/responses/{response['id']}").json()
    assert retrieved[name] == shown


@pytest.mark.parametrize("name", sorted(ECHOED_ITEMS))
def test_accepted_input_items_are_kept_and_listed(server: Server, upstream, model: str, name: str) -> None:
    item = ECHOED_ITEMS[name]
    answer = httpx.post(f"{server.base_url}/responses", json=request_with("input item", name, item, model))
    assert answer.status_code == 200, answer.text
    listed = httpx.get(f"{server.base_url}/responses/{answer.json()['id']}/input_items").json()["data"]
    kept = [entry for entry in listed if entry["type"] == name]
    assert len(kept) == 1 and {key: kept[0][key] for key in item} == item, listed
    assert upstream.bodies(upstream_name(model))[-1]["messages"] == [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("name", sorted(PASSED_PARAMETERS))
def test_passed_parameters_reach_the_upstream(server: Server, upstream, model: str, name: str) -> None:
    value = PASSED_PARAMETERS[name]
    answer = httpx.post(f"{server.base_url}/responses", json={"model": model, "input": "hi", name: value})
    assert answer.status_code == 200, answer.text
    assert upstream.bodies(upstream_name(model))[-1][name] == value
    response = answer.json()
    check_response(response)
    assert response[name] == value


def test_stream_options_include_obfuscation_is_accepted(server: Server, model: str) -> None:
    for include in (True, False):
        answer = httpx.post(f"{server.base_url}/responses", json={
            "model": model, "input": "hi", "stream": True, "stream_options": {"include_obfuscation": include}})
        assert answer.status_code == 200, answer.text
        assert read_sse(answer.content)[-1]["type"] == "response.completed"


def stored_params(db_url: str, response_id: str) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        engine = create_engine(db_url)
        try:
            async with engine.connect() as connection:
                query = select(responses_table.c.params).where(responses_table.c.id == response_id)
                return (await connection.execute(query)).scalar_one()
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_client_metadata_is_stored_never_sent_upstream_nor_shown(server: Server, upstream, model: str) -> None:
    metadata = {"x-codex-installation-id": "0b6c0a4e", "x-codex-turn-metadata": '{"turn_id": "t1"}'}
    answer = httpx.post(f"{server.base_url}/responses", json={"model": model, "input": "hi",
                                                               "client_metadata": metadata})
    assert answer.status_code == 200, answer.text
    response = answer.json()
    assert "client_metadata" not in response
    assert "client_metadata" not in httpx.get(f"{server.base_url}/responses/{response['id']}").json()
    assert "client_metadata" not in upstream.bodies(upstream_name(model))[-1]
    assert stored_params(server.db_url, response["id"])["client_metadata"] == metadata
    bad = httpx.post(f"{server.base_url}/responses", json={"model": model, "input": "hi",
                                                            "client_metadata": {"k": 5}})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "client_metadata.k", bad.text
