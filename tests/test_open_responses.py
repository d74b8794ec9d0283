"""Open Responses compliance (the specification of 2026-04-24 and its OpenAPI document).

The required keys and their types below are read off the OpenAPI document's schemas
(``ResponseResource``, ``FunctionTool``, ``Usage``, the items of ``ItemField`` and every
``*StreamingEvent``) and the specification's text (HTTP and SSE framing, item lifecycle); every
response object and event the real server sends is checked against them, streamed and not, on
both stores.

WebSocket mode is checked the same way (its error envelope included), in the specification's
seven compliance scenarios.

Where the specification names an event differently from OpenAI (``response.reasoning.delta``
against OpenAI's ``response.reasoning_text.delta``), the server keeps OpenAI's name, which the
openai SDK validates, and its events carry every field the specification's event requires.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from conftest import Server, upstream_name
from scripted_upstream import Reply, ToolCall
from wire import check_events, read_sse

STRING, INTEGER, NUMBER, BOOLEAN, OBJECT, ARRAY = "string", "integer", "number", "boolean", "object", "array"


def nullable(kind: str) -> tuple[str, str]:
    return ("nullable", kind)


RESPONSE = {  # ResponseResource.required
    "id": STRING, "object": STRING, "created_at": INTEGER, "completed_at": nullable(INTEGER), "status": STRING,
    "incomplete_details": nullable(OBJECT), "model": STRING, "previous_response_id": nullable(STRING),
    "instructions": nullable(STRING), "output": ARRAY, "error": nullable(OBJECT), "tools": ARRAY,
    "tool_choice": (STRING, OBJECT), "truncation": STRING, "parallel_tool_calls": BOOLEAN, "text": OBJECT,
    "top_p": NUMBER, "presence_penalty": NUMBER, "frequency_penalty": NUMBER, "top_logprobs": INTEGER,
    "temperature": NUMBER, "reasoning": nullable(OBJECT), "usage": nullable(OBJECT),
    "max_output_tokens": nullable(INTEGER), "max_tool_calls": nullable(INTEGER), "store": BOOLEAN,
    "background": BOOLEAN, "service_tier": STRING, "metadata": OBJECT, "safety_identifier": nullable(STRING),
    "prompt_cache_key": nullable(STRING),
}
FUNCTION_TOOL = {"type": STRING, "name": STRING, "description": nullable(STRING), "parameters": nullable(OBJECT),
                 "strict": nullable(BOOLEAN)}
USAGE = {"input_tokens": INTEGER, "output_tokens": INTEGER, "total_tokens": INTEGER,
         "input_tokens_details": OBJECT, "output_tokens_details": OBJECT}
ERROR = {"code": STRING, "message": STRING}
ITEMS = {  # the members of ItemField
    "message": {"type": STRING, "id": STRING, "status": STRING, "role": STRING, "content": ARRAY},
    "function_call": {"type": STRING, "id": STRING, "call_id": STRING, "name": STRING, "arguments": STRING,
                      "status": STRING},
    "reasoning": {"type": STRING, "id": STRING, "summary": ARRAY},
}
PARTS = {
    "output_text": {"type": STRING, "text": STRING, "annotations": ARRAY},
    "refusal": {"type": STRING, "refusal": STRING},
    "reasoning_text": {"type": STRING, "text": STRING},
}
ITEM_EVENT = {"sequence_number": INTEGER, "item_id": STRING, "output_index": INTEGER}
PART_EVENT = {**ITEM_EVENT, "content_index": INTEGER}
EVENTS = {  # the *StreamingEvent schemas, each with its required keys (``type`` besides)
    **{f"response.{state}": {"sequence_number": INTEGER, "response": OBJECT}
       for state in ("created", "queued", "in_progress", "completed", "failed", "incomplete")},
    "response.output_item.added": {"sequence_number": INTEGER, "output_index": INTEGER, "item": OBJECT},
    "response.output_item.done": {"sequence_number": INTEGER, "output_index": INTEGER, "item": OBJECT},
    "response.content_part.added": {**PART_EVENT, "part": OBJECT},
    "response.content_part.done": {**PART_EVENT, "part": OBJECT},
    "response.output_text.delta": {**PART_EVENT, "delta": STRING},
    "response.output_text.done": {**PART_EVENT, "text": STRING},
    "response.refusal.delta": {**PART_EVENT, "delta": STRING},
    "response.refusal.done": {**PART_EVENT, "refusal": STRING},
    "response.reasoning_text.delta": {**PART_EVENT, "delta": STRING},  # the spec's response.reasoning.delta
    "response.reasoning_text.done": {**PART_EVENT, "text": STRING},  # the spec's response.reasoning.done
    "response.output_text.annotation.added": {**PART_EVENT, "annotation_index": INTEGER, "annotation": OBJECT},
    "response.function_call_arguments.delta": {**ITEM_EVENT, "delta": STRING},
    "response.function_call_arguments.done": {**ITEM_EVENT, "arguments": STRING},
    "error": {"sequence_number": INTEGER, "error": OBJECT},
}
TERMINAL = {"response.completed", "response.failed", "response.incomplete"}
COMPACT_RESOURCE = {"id": STRING, "object": STRING, "output": ARRAY, "created_at": INTEGER, "usage": OBJECT}
COMPACTION_ITEM = {"type": STRING, "id": STRING, "encrypted_content": STRING}  # CompactResource's example


def fits(value: Any, kind: Any) -> bool:
    if isinstance(kind, tuple) and kind[0] == "nullable":
        return value is None or fits(value, kind[1])
    if isinstance(kind, tuple):
        return any(fits(value, option) for option in kind)
    return {
        STRING: lambda: isinstance(value, str),
        INTEGER: lambda: isinstance(value, int) and not isinstance(value, bool),
        NUMBER: lambda: isinstance(value, (int, float)) and not isinstance(value, bool),
        BOOLEAN: lambda: isinstance(value, bool),
        OBJECT: lambda: isinstance(value, dict),
        ARRAY: lambda: isinstance(value, list),
    }[kind]()


def check_keys(value: dict[str, Any], schema: dict[str, Any], where: str) -> None:
    missing = sorted(set(schema) - set(value))
    assert not missing, f"{where} lacks required keys {missing}: {value}"
    wrong = {key: value[key] for key, kind in schema.items() if not fits(value[key], kind)}
    assert not wrong, f"{where} has keys of the wrong type {wrong}"


def check_item(item: dict[str, Any], where: str) -> None:
    if item["type"] in ITEMS:
        check_keys(item, ITEMS[item["type"]], where)
    for position, part in enumerate(item.get("content") or []):
        check_keys(part, PARTS[part["type"]], f"{where}.content[{position}]")


def check_response_resource(response: dict[str, Any]) -> None:
    check_keys(response, RESPONSE, "response")
    assert response["object"] == "response"
    assert response["truncation"] in ("auto", "disabled")
    assert "format" in response["text"]
    if response["reasoning"] is not None:
        assert {"effort", "summary"} <= set(response["reasoning"])
    if response["usage"] is not None:
        check_keys(response["usage"], USAGE, "response.usage")
        assert fits(response["usage"]["input_tokens_details"].get("cached_tokens"), INTEGER)
        assert fits(response["usage"]["output_tokens_details"].get("reasoning_tokens"), INTEGER)
    if response["error"] is not None:
        check_keys(response["error"], ERROR, "response.error")
    if response["incomplete_details"] is not None:
        assert fits(response["incomplete_details"].get("reason"), STRING)
    for position, tool in enumerate(response["tools"]):
        if tool["type"] == "function":
            check_keys(tool, FUNCTION_TOOL, f"response.tools[{position}]")
    for position, item in enumerate(response["output"]):
        check_item(item, f"response.output[{position}]")


def check_spec_event(event: dict[str, Any]) -> None:
    """A streaming event the specification defines, with its required keys and objects."""
    assert event["type"] in EVENTS, f"an event the specification does not define: {event['type']}"
    check_keys(event, EVENTS[event["type"]], event["type"])
    if "response" in event:
        check_response_resource(event["response"])
    if "item" in event:
        check_item(event["item"], f"{event['type']}.item")
    if "part" in event:
        check_keys(event["part"], PARTS[event["part"]["type"]], f"{event['type']}.part")


def check_stream(answer: httpx.Response) -> list[dict[str, Any]]:
    """The HTTP and SSE rules of the specification, then every event's schema."""
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/event-stream")
    raw = answer.content
    assert raw.endswith(b"\n\ndata: [DONE]\n\n"), "the terminal event is the literal [DONE]"
    assert b"\nid:" not in raw and not raw.startswith(b"id:"), "servers should not use id"
    events = read_sse(raw)  # each event: line matches its data's type
    for event in events:
        check_spec_event(event)
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    assert events[-1]["type"] in TERMINAL and sum(event["type"] in TERMINAL for event in events) == 1
    check_events(events)
    return events


def post(server: Server, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{server.base_url}/responses", json=body, timeout=30)


def test_a_response_has_every_required_key_with_the_defaults_as_numbers(server: Server, model: str) -> None:
    answer = post(server, {"model": model, "input": "Write a one-sentence project status update."})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
    response = answer.json()
    check_response_resource(response)
    assert response["status"] == "completed" and response["output"][0]["type"] == "message"
    sampling = ("temperature", "top_p", "top_logprobs", "presence_penalty", "frequency_penalty")
    assert [response[key] for key in sampling] == [1.0, 1.0, 0, 0.0, 0.0]
    retrieved = httpx.get(f"{server.base_url}/responses/{response['id']}").json()
    check_response_resource(retrieved)
    assert [retrieved[key] for key in sampling] == [1.0, 1.0, 0, 0.0, 0.0]
    listed = httpx.get(f"{server.base_url}/responses", params={"model": model}).json()["data"]
    for entry in listed:
        check_response_resource(entry)


def test_the_sampling_parameters_given_are_shown(server: Server, model: str) -> None:
    sampling = {"temperature": 0.4, "top_p": 0.9, "top_logprobs": 2, "presence_penalty": 0.5,
                "frequency_penalty": -0.25}
    response = post(server, {"model": model, "input": "x", **sampling}).json()
    check_response_resource(response)
    assert {key: response[key] for key in sampling} == sampling


def test_function_tools_keep_description_parameters_and_strict(server: Server, model: str) -> None:
    tools = [{"type": "function", "name": "bare"},
             {"type": "function", "name": "full", "description": "Fetches the report.", "strict": True,
              "parameters": {"type": "object", "properties": {"region": {"type": "string"}},
                             "required": ["region"], "additionalProperties": False}}]
    response = post(server, {"model": model, "input": "x", "tools": tools}).json()
    check_response_resource(response)
    assert response["tools"] == [{**tools[0], "description": None, "parameters": None, "strict": None}, tools[1]]


def test_a_streamed_text_response(server: Server, upstream, model: str) -> None:
    upstream.script(upstream_name(model), Reply(text="Here is the status update.", chunk=5))
    with httpx.Client(timeout=30) as http:
        events = check_stream(http.post(f"{server.base_url}/responses",
                                        json={"model": model, "input": "status?", "stream": True}))
    kinds = [event["type"] for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    added = events[kinds.index("response.output_item.added")]
    assert added["item"]["status"] == "in_progress" and added["item"]["role"] == "assistant"
    assert kinds.index("response.output_item.added") < kinds.index("response.content_part.added") < kinds.index(
        "response.output_text.delta") < kinds.index("response.output_text.done") < kinds.index(
        "response.content_part.done") < kinds.index("response.output_item.done")
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "Here is the status update."


def test_a_streamed_function_call(server: Server, upstream, model: str) -> None:
    upstream.script(upstream_name(model), Reply(tool_calls=[ToolCall("sendEmail", '{"to": "jane@example.com"}')]))
    tools = [{"type": "function", "name": "sendEmail", "parameters": {"type": "object"}}]
    with httpx.Client(timeout=30) as http:
        events = check_stream(http.post(f"{server.base_url}/responses", json={
            "model": model, "input": "remind Jane", "tools": tools, "stream": True}))
    added = next(event for event in events if event["type"] == "response.output_item.added")
    assert added["item"]["type"] == "function_call" and added["item"]["name"] == "sendEmail"
    call = events[-1]["response"]["output"][0]
    assert call["status"] == "completed" and call["arguments"] == '{"to": "jane@example.com"}'


def test_streamed_reasoning_and_refusal(server: Server, upstream, model: str) -> None:
    name = upstream_name(model)
    upstream.script(name, Reply(reasoning="Thinking it over.", text="Done."), Reply(refusal="I can't help."))
    with httpx.Client(timeout=30) as http:
        thought = check_stream(http.post(f"{server.base_url}/responses",
                                         json={"model": model, "input": "think", "stream": True}))
        refused = check_stream(http.post(f"{server.base_url}/responses",
                                         json={"model": model, "input": "no", "stream": True}))
    assert "response.reasoning_text.delta" in [event["type"] for event in thought]
    assert thought[-1]["response"]["output"][0]["type"] == "reasoning"
    assert "response.refusal.done" in [event["type"] for event in refused]


def test_an_item_cut_short_is_the_last_and_the_response_is_incomplete(server: Server, upstream, model: str) -> None:
    upstream.script(upstream_name(model), Reply(text="cut sho", finish_reason="length"))
    with httpx.Client(timeout=30) as http:
        events = check_stream(http.post(f"{server.base_url}/responses", json={
            "model": model, "input": "long story", "max_output_tokens": 16, "stream": True}))
    final = events[-1]
    assert final["type"] == "response.incomplete" and final["response"]["status"] == "incomplete"
    assert final["response"]["output"][-1]["status"] == "incomplete"
    assert final["response"]["incomplete_details"]["reason"] == "max_output_tokens"


def test_a_failed_response_has_an_error_with_code_and_message(server: Server) -> None:
    with httpx.Client(timeout=30) as http:
        events = check_stream(http.post(f"{server.base_url}/responses",
                                        json={"model": "down/m", "input": "x", "stream": True}))
    assert events[-1]["type"] == "response.failed"
    check_keys(events[-1]["response"]["error"], ERROR, "response.error")


def test_errors_are_structured(server: Server) -> None:
    answer = post(server, {"model": "fake/model", "input": "x"})
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["param"] == "model"
    answer = post(server, {"model": "scripted/m", "input": "x", "temperature": "hot", "stream": True})
    assert answer.status_code == 400 and answer.headers["content-type"].startswith("application/json")


def test_previous_response_id_continues_the_conversation(server: Server, upstream, model: str) -> None:
    """previous_response.input, then previous_response.output, then input."""
    name = upstream_name(model)
    upstream.script(name, Reply(text="Noted: blue."), Reply(text="Blue."))
    first = post(server, {"model": model, "input": "Remember: blue."}).json()
    second = post(server, {"model": model, "previous_response_id": first["id"],
                           "input": "What did I ask you to remember?"}).json()
    check_response_resource(second)
    assert second["previous_response_id"] == first["id"]
    assert upstream.bodies(name)[-1]["messages"] == [
        {"role": "user", "content": "Remember: blue."}, {"role": "assistant", "content": "Noted: blue."},
        {"role": "user", "content": "What did I ask you to remember?"}]


@pytest.mark.parametrize("helper", [False, True], ids=["iterate", "stream-helper"])
def test_the_openai_sdk_reads_the_stream_to_its_end(server: Server, upstream, model: str, helper: bool) -> None:
    """The SDK stops at ``[DONE]`` and still sees the terminal event."""
    upstream.script(upstream_name(model), Reply(text="read to the end"))
    client = server.client()
    if helper:
        with client.responses.stream(model=model, input="hi") as stream:
            kinds = [event.type for event in stream]
            assert stream.get_final_response().output_text == "read to the end"
    else:
        kinds = [event.type for event in client.responses.create(model=model, input="hi", stream=True)]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"


def test_a_compaction_is_a_compact_resource_and_continues_the_conversation(server: Server, upstream,
                                                                           model: str) -> None:
    """``POST /responses/compact`` with a ``CompactResponseMethodPublicBody`` answers a
    ``CompactResource``; its output, sent back as input, continues the conversation."""
    upstream.script(upstream_name(model), Reply(text="The user wants the launch checklist."),
                    Reply(text="1. Freeze the release branch."))
    history = [{"type": "message", "role": "user", "content": "Summarize our launch checklist from last week."},
               {"type": "message", "role": "assistant", "content": "It has five steps."}]
    answer = httpx.post(f"{server.base_url}/responses/compact", timeout=30,
                        json={"model": model, "input": history, "instructions": "Be brief."})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
    compacted = answer.json()
    check_keys(compacted, COMPACT_RESOURCE, "compact resource")
    assert compacted["object"] == "response.compaction"
    check_keys(compacted["usage"], USAGE, "compact resource.usage")
    check_keys(compacted["output"][-1], COMPACTION_ITEM, "compact resource.output[-1]")
    assert compacted["output"][-1]["type"] == "compaction"
    follow = post(server, {"model": model, "input": [
        *compacted["output"], {"type": "message", "role": "user", "content": "What is step one?"}]})
    assert follow.status_code == 200, follow.text
    check_response_resource(follow.json())
    assert follow.json()["output"][0]["content"][0]["text"] == "1. Freeze the release branch."


# ---------------------------------------------------------------------------------------------
# WebSocket mode (the specification's REQ-WS rules and its seven compliance scenarios)

WS_ERROR = {"status": INTEGER, "error": OBJECT}  # WebSocketErrorEvent


def check_ws_frame(raw: str | bytes) -> dict[str, Any]:
    """A server message: a streaming event of the specification, or its error envelope."""
    assert isinstance(raw, str), "events are text frames"
    event = orjson.loads(raw)
    if event["type"] == "error":
        check_keys(event, WS_ERROR, "websocket error")
        assert fits(event["error"].get("code"), STRING) and fits(event["error"].get("message"), STRING), event
        return event
    check_spec_event(event)
    return event


def ws_turn(socket: Any, **create: Any) -> dict[str, Any]:
    """One ``response.create`` (never ``stream``, ``stream_options`` or ``background``): its
    terminal response, or its error event."""
    socket.send(orjson.dumps({"type": "response.create", **create}).decode())
    events = []
    while True:
        event = check_ws_frame(socket.recv(timeout=30))
        if event["type"] == "error":
            assert not events, "an error ends a turn before its events, or is its only frame"
            return event
        events.append(event)
        if event["type"] in TERMINAL:
            check_events(events)
            return event["response"]


@pytest.fixture
def ws(server: Server) -> Any:
    from websockets.sync.client import connect

    def opened() -> Any:
        return connect(server.base_url.replace("http://", "ws://") + "/responses",
                       additional_headers={"Authorization": "Bearer test-key"})
    return opened


def test_ws_a_response_and_sequential_ones(ws: Any, model: str) -> None:
    with ws() as socket:
        first = ws_turn(socket, model=model, input=[{"type": "message", "role": "user",
                                                     "content": "Count from 1 to 3."}])
        assert first["status"] == "completed"
        for word in ("first", "second"):
            assert ws_turn(socket, model=model, store=False, input=f"Reply with exactly: {word}")["status"] == \
                "completed"


def test_ws_continuation_of_an_unstored_response(ws: Any, upstream, model: str) -> None:
    with ws() as socket:
        first = ws_turn(socket, model=model, store=False, input="Remember the code word: cobalt. Reply with OK.")
        second = ws_turn(socket, model=model, store=False, previous_response_id=first["id"],
                         input="What was the code word?")
        assert second["status"] == "completed"
    assert "cobalt" in upstream.bodies(upstream_name(model))[-1]["messages"][0]["content"]


def test_ws_an_unstored_response_is_gone_on_another_connection(ws: Any, model: str) -> None:
    with ws() as first_socket:
        first = ws_turn(first_socket, model=model, store=False, input="hello")
    with ws() as socket:
        gone = ws_turn(socket, model=model, store=False, previous_response_id=first["id"], input="again")
        assert gone["type"] == "error" and gone["error"]["code"] == "previous_response_not_found"
        assert ws_turn(socket, model=model, store=False, input="fresh start")["status"] == "completed"


def test_ws_a_missing_previous_response(ws: Any, model: str) -> None:
    with ws() as socket:
        missing = ws_turn(socket, model=model, store=False, previous_response_id="resp_openresponses_missing_1",
                          input="x")
        assert (missing["status"], missing["error"]["code"]) == (400, "previous_response_not_found")


def test_ws_a_failed_continuation_evicts_what_it_continued(ws: Any, model: str) -> None:
    with ws() as socket:
        first = ws_turn(socket, model=model, store=False, input="hello")
        failed = ws_turn(socket, model=model, store=False, previous_response_id=first["id"], input=[
            {"type": "function_call_output", "call_id": "call_openresponses_missing", "output": "{}"}])
        assert failed["type"] == "error" and failed["status"] == 400
        assert "call_openresponses_missing" in failed["error"]["message"]
        evicted = ws_turn(socket, model=model, store=False, previous_response_id=first["id"], input="again")
        assert evicted["error"]["code"] == "previous_response_not_found"


def test_ws_a_compacted_context_starts_a_new_chain(ws: Any, server: Server, upstream, model: str) -> None:
    upstream.script(upstream_name(model), Reply(text="The user likes cobalt."), Reply(text="Cobalt."))
    compacted = httpx.post(f"{server.base_url}/responses/compact", timeout=30, json={"model": model, "input": [
        {"type": "message", "role": "user", "content": "My favourite colour is cobalt."}]}).json()
    with ws() as socket:
        answer = ws_turn(socket, model=model, store=False, tools=[], input=[
            *compacted["output"], {"type": "message", "role": "user", "content": "Which colour?"}])
    assert answer["status"] == "completed" and answer["output"][0]["content"][0]["text"] == "Cobalt."
