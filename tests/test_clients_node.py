"""Node clients against orrery: the openai Node SDK and the Vercel AI SDK, run with ``node``."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import upstream_name
from orrery.responses.compaction import SUMMARY_PREFIX
from scripted_upstream import Reply, ToolCall

CLIENTS = Path(__file__).resolve().parent / "clients"

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def run_node(script: str, *args: str) -> dict[str, Any]:
    """Run one of the client scripts and return the JSON it printed."""
    done = subprocess.run(["node", str(CLIENTS / script), *args], capture_output=True, text=True, timeout=60,
                          cwd=CLIENTS)
    assert done.stdout.strip(), done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0, result
    return result


def test_openai_node_sdk_text(server, upstream, model):
    """responses.create with a string input."""
    upstream.script(upstream_name(model), Reply(text="Saturn has rings."))
    result = run_node("openai_sdk.mjs", "text", server.base_url, model)
    assert result["status"] == "completed" and result["id"].startswith("resp_")
    assert result["output_text"] == "Saturn has rings."
    assert result["output_types"] == ["message"]
    assert result["usage"]["total_tokens"] > 0


def test_openai_node_sdk_streaming(server, upstream, model):
    """responses.stream and create({stream: true}) both see OpenAI's event order."""
    upstream.script(upstream_name(model), Reply(text="Hello there"), Reply(text="Hello again"))
    result = run_node("openai_sdk.mjs", "stream", server.base_url, model)
    assert result["output_text"] == "Hello there" and result["status"] == "completed"
    for events in (result["events"], result["raw_events"]):
        assert events[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                              "response.content_part.added"]
        assert "response.output_text.delta" in events
        assert events[-4:] == ["response.output_text.done", "response.content_part.done",
                               "response.output_item.done", "response.completed"]


def test_openai_node_sdk_function_tool_round_trip(server, upstream, model):
    """The model calls a function; its output goes back with previous_response_id."""
    name = upstream_name(model)
    upstream.script(name, Reply(tool_calls=[ToolCall("get_weather", '{"city": "Paris"}', id="call_w1")]),
                    Reply(text="It is sunny in Paris."))
    result = run_node("openai_sdk.mjs", "tool", server.base_url, model)
    assert result["call"] == {"name": "get_weather", "arguments": '{"city": "Paris"}', "call_id": "call_w1"}
    assert result["first_status"] == "completed"
    assert result["output_text"] == "It is sunny in Paris." and result["status"] == "completed"
    assert upstream.bodies(name)[-1]["messages"][-1] == {"role": "tool", "tool_call_id": "call_w1",
                                                         "content": '{"sky":"sunny"}'}


def test_openai_node_sdk_compacts_and_counts(server, upstream, model):
    """responses.compact, then its output as input to inputTokens.count and create."""
    name = upstream_name(model)
    upstream.script(name, Reply(text="Trip to Lisbon, length unknown."), Reply(text="See Belem."))
    result = run_node("openai_sdk.mjs", "compact", server.base_url, model)
    assert (result["object"], result["output_types"]) == ("response.compaction", ["compaction"])
    assert result["usage"]["total_tokens"] > 0 and result["input_tokens"] > 0
    assert result["output_text"] == "See Belem."
    assert upstream.bodies(name)[-1]["messages"] == [
        {"role": "user", "content": "I am planning a trip to Lisbon."},
        {"role": "user", "content": SUMMARY_PREFIX + "Trip to Lisbon, length unknown."},
        {"role": "user", "content": "Three days. What should I see?"}]


def test_openai_node_sdk_resumes_and_cancels_background_responses(server, upstream, model):
    """responses.retrieve(id, {stream: true}) yields the run's events (it yielded none when the
    server answered JSON), from ``starting_after`` on; responses.cancel stops a run."""
    name = upstream_name(model)
    upstream.script(name, Reply(text="from the background"), Reply(text="z" * 300, chunk=1, delay=0.02))
    result = run_node("openai_sdk.mjs", "background", server.base_url, model)
    types = [event["type"] for event in result["resumed"]]
    assert types[:3] == ["response.created", "response.queued", "response.in_progress"]
    assert types[-1] == "response.completed"
    assert [event["sequence_number"] for event in result["resumed"]] == list(range(len(types)))
    assert result["after"] == list(range(3, len(types)))
    assert (result["queued_status"], result["output_text"]) == ("queued", "from the background")
    assert result["cancelled_status"] == "cancelled"


def test_openai_node_sdk_websocket_mode(server, upstream, model):
    """The SDK's ResponsesWS (over the ``ws`` package): a store: false chain on one connection,
    then the error event for a response the connection does not have."""
    name = upstream_name(model)
    upstream.script(name, Reply(text="one"), Reply(text="two"))
    result = run_node("openai_sdk.mjs", "websocket", server.base_url, model)
    assert [turn["output_text"] for turn in result["turns"]] == ["one", "two"]
    assert all(turn["types"][:2] == ["response.created", "response.in_progress"] for turn in result["turns"])
    assert upstream.bodies(name)[-1]["messages"] == [
        {"role": "user", "content": "First turn."}, {"role": "assistant", "content": "one"},
        {"role": "user", "content": "Second turn."}]
    assert result["error"]["code"] == "previous_response_not_found" and result["error_status"] == 400


@pytest.mark.parametrize("reasoning", [False, True], ids=["plain", "reasoning"])
def test_ai_sdk_tool_loop(server, upstream, model, reasoning):
    """generateText over openai.responses() runs a zod tool, then answers, in two steps."""
    name = upstream_name(model)
    upstream.script(name,
                    Reply(reasoning="I need the weather." if reasoning else "",
                          tool_calls=[ToolCall("get_weather", '{"city": "Paris"}', id="call_ai1")]),
                    Reply(reasoning="The tool said sunny." if reasoning else "", text="It is sunny in Paris."))
    result = run_node("ai_sdk.mjs", server.base_url, model)
    assert result["text"] == "It is sunny in Paris." and result["finish_reason"] == "stop"
    first, second = result["steps"]
    assert first["finish_reason"] == "tool-calls"
    assert first["tool_calls"] == [{"name": "get_weather", "input": {"city": "Paris"}}]
    assert first["tool_results"] == [{"name": "get_weather", "output": {"city": "Paris", "sky": "sunny"}}]
    assert second["tool_calls"] == [] and second["text"] == "It is sunny in Paris."
    # The AI SDK shows reasoning summaries as text; orrery's reasoning items carry the upstream's text as
    # content, so each step has one reasoning part, and the next request refers to it by id.
    assert (first["reasoning_parts"], second["reasoning_parts"]) == ((1, 1) if reasoning else (0, 0))
    references = [item for item in result["requests"][1]["input"] if item.get("type") == "item_reference"]
    assert len(references) == (1 if reasoning else 0)
    assert all(item["id"].startswith("rs_") for item in references)
    messages = upstream.bodies(name)[-1]["messages"]
    assert messages[0] == {"role": "user", "content": [{"type": "text", "text": "What is the weather in Paris?"}]}
    assert [c["id"] for c in messages[-2]["tool_calls"]] == ["call_ai1"]
    assert messages[-1]["role"] == "tool" and messages[-1]["tool_call_id"] == "call_ai1"
    assert json.loads(messages[-1]["content"]) == {"city": "Paris", "sky": "sunny"}
