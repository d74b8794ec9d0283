"""A response's input within its model's context window: 400 ``context_length_exceeded`` before
any stream, or ``truncation: "auto"`` dropping the oldest messages, over long chains and
conversations."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from conftest import Server, sqlite_server
from orrery.inference.tokens import estimate
from scripted_upstream import Reply, ToolCall

WINDOW = 400
TOOLS = [{"type": "function", "name": "roll", "parameters": {"type": "object"}}]
FILLER = "the quick brown fox jumps over the lazy dog " * 3


@pytest.fixture(scope="module")
def windowed(upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    providers = [{"id": "small", "base_url": upstream.url, "models": [{"name": "tiny", "context_window": WINDOW}]},
                 {"id": "vllm", "base_url": upstream.vllm_url}]
    with sqlite_server(tmp_path_factory.mktemp("window"), {"providers": providers}) as server:
        yield server


def post(server: Server, body: dict) -> httpx.Response:
    with httpx.Client(timeout=60) as http:
        return http.post(f"{server.base_url}/responses", json=body)


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "streamed"])
def test_too_long_an_input_is_a_400_before_any_stream(windowed, upstream, streamed):
    answer = post(windowed, {"model": "small/tiny", "input": FILLER * 20, "stream": streamed})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["param"]) == ("context_length_exceeded", "input")
    assert str(WINDOW) in error["message"]
    assert upstream.bodies("tiny") == []


def test_max_output_tokens_takes_its_share_of_the_window(windowed, upstream):
    upstream.script("tiny", Reply(text="fits"))
    text = " ".join(["word"] * 100)
    assert post(windowed, {"model": "small/tiny", "input": text}).status_code == 200
    answer = post(windowed, {"model": "small/tiny", "input": text, "max_output_tokens": WINDOW - 20})
    assert answer.json()["error"]["code"] == "context_length_exceeded"


def test_a_300_turn_chain_stays_answerable_with_truncation_auto(windowed, upstream):
    client = openai.OpenAI(base_url=windowed.base_url, api_key="k", max_retries=0)
    upstream.script("tiny", Reply(tool_calls=[ToolCall("roll", "{}", id="call_first")]),
                    *(Reply(text=f"answer {turn}") for turn in range(300)))
    first = client.responses.create(model="small/tiny", input="Roll first.", instructions="Be brief.", tools=TOOLS,
                                    truncation="auto")
    previous = client.responses.create(
        model="small/tiny", previous_response_id=first.id, instructions="Be brief.", tools=TOOLS, truncation="auto",
        input=[{"type": "function_call_output", "call_id": "call_first", "output": "6"}]).id
    for turn in range(299):
        previous = client.responses.create(model="small/tiny", input=f"turn {turn}: {FILLER}", tools=TOOLS,
                                           instructions="Be brief.", previous_response_id=previous,
                                           truncation="auto").id
    body = upstream.bodies("tiny")[-1]
    assert estimate(body).tokens <= WINDOW
    messages = body["messages"]
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert messages[1]["role"] != "tool"
    assert messages[-1] == {"role": "user", "content": f"turn 298: {FILLER}"}
    assert len(messages) < 40


def test_a_300_item_conversation_stays_answerable_with_truncation_auto(windowed, upstream):
    client = openai.OpenAI(base_url=windowed.base_url, api_key="k", max_retries=0)
    conversation = client.conversations.create()
    for batch in range(15):
        client.conversations.items.create(conversation.id, items=[
            {"type": "message", "role": "user" if n % 2 == 0 else "assistant", "content": f"item {batch}.{n} {FILLER}"}
            for n in range(20)])
    upstream.script("tiny", Reply(text="still here"))
    answer = client.responses.create(model="small/tiny", input="And now?", conversation=conversation.id,
                                     truncation="auto")
    assert answer.output_text == "still here" and answer.truncation == "auto"
    body = upstream.bodies("tiny")[-1]
    assert estimate(body).tokens <= WINDOW
    assert body["messages"][-1] == {"role": "user", "content": "And now?"}
    assert len(client.conversations.items.list(conversation.id, limit=100).data) == 100


def test_a_truncated_response_says_so_in_context_edits(windowed, upstream):
    """Open Responses' ``context_edits``: what was left out, in the response and the stored one."""
    client = openai.OpenAI(base_url=windowed.base_url, api_key="k", max_retries=0)
    upstream.script("tiny", Reply(tool_calls=[ToolCall("roll", "{}", id="call_old")]), Reply(text="rolled"),
                    Reply(text="fits"))
    first = client.responses.create(model="small/tiny", input="Roll.", tools=TOOLS)
    second = client.responses.create(model="small/tiny", previous_response_id=first.id, tools=TOOLS, input=[
        {"type": "function_call_output", "call_id": "call_old", "output": FILLER * 7}])
    untouched = client.responses.create(model="small/tiny", input="short", truncation="auto")
    assert untouched.model_extra is not None and "context_edits" not in untouched.model_extra
    answer = post(windowed, {"model": "small/tiny", "previous_response_id": second.id, "tools": TOOLS,
                             "input": FILLER * 7, "truncation": "auto"}).json()
    with httpx.Client(timeout=30) as http:
        stored = http.get(f"{windowed.base_url}/responses/{answer['id']}").json()
    for shown in (answer, stored):
        [edit] = shown["context_edits"]
        assert edit["type"] == "truncation" and str(WINDOW) in edit["summary"]
        assert edit["details"]["cleared_input_tokens"] > 0
        assert edit["details"]["cleared_tool_call_ids"] == ["call_old"]
    assert upstream.bodies("tiny")[-1]["messages"] == [{"role": "assistant", "content": "rolled"},
                                                      {"role": "user", "content": FILLER * 7}]


def test_a_truncated_background_response_stores_its_context_edits(windowed, upstream):
    """Its run, not its creation, learns what was left out; the stored response says it too."""
    upstream.script("tiny", Reply(text="first"), Reply(text="fits in the background"))
    first = post(windowed, {"model": "small/tiny", "input": FILLER * 9}).json()
    queued = post(windowed, {"model": "small/tiny", "previous_response_id": first["id"], "input": FILLER * 9,
                             "truncation": "auto", "background": True}).json()
    assert queued["status"] == "queued" and "context_edits" not in queued
    with httpx.Client(timeout=30) as http:
        for _ in range(300):
            stored = http.get(f"{windowed.base_url}/responses/{queued['id']}").json()
            if stored["status"] == "completed":
                break
            time.sleep(0.02)
    assert stored["output"][0]["content"][0]["text"] == "fits in the background"
    [edit] = stored["context_edits"]
    assert edit["type"] == "truncation" and edit["details"]["cleared_input_tokens"] > 0


def test_a_body_is_counted_once_to_decide_on_compaction_and_on_fitting(windowed, upstream):
    """Under ``compact_threshold`` and within the window, yet too long to skip counting for either."""
    upstream.script("m-tokenize", Reply(text="short"), Reply(text="counted once"))
    compacting = {"model": "vllm/m-tokenize", "context_management": [{"type": "compaction", "compact_threshold": 5000}]}
    first = post(windowed, {**compacting, "input": "hi"}).json()
    before = len(upstream.tokenized)
    answer = post(windowed, {**compacting, "previous_response_id": first["id"], "input": "word " * 2000})
    assert answer.status_code == 200, answer.text
    assert [item["type"] for item in answer.json()["output"]] == ["message"]
    assert len(upstream.tokenized) == before + 1


def test_a_window_the_upstream_lists_is_found_when_truncating(windowed, upstream):
    """vLLM's listing says the window (``max_model_len`` 120) and its ``/tokenize`` counts."""
    long = " ".join(["word"] * 150)
    upstream.script("m-short", Reply(text="truncated"), Reply(text="refused upstream"))
    answer = post(windowed, {"model": "vllm/m-short", "input": [
        {"role": "user", "content": long}, {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "short question"}], "truncation": "auto"})
    assert answer.status_code == 200, answer.text
    assert upstream.bodies("m-short")[-1]["messages"] == [{"role": "assistant", "content": "ok"},
                                                          {"role": "user", "content": "short question"}]
    assert upstream.tokenized[-1]["messages"][-1] == {"role": "user", "content": "short question"}
    refused = post(windowed, {"model": "vllm/m-short", "input": long})
    assert refused.json()["error"]["code"] == "context_length_exceeded"
