"""Compaction: ``POST /v1/responses/compact``, ``compaction`` items in later input, chains and
conversations, ``compaction_trigger``, and ``context_management`` compacting a long session
before its model's turn, with the upstream bodies asserted exactly."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest
from openai.types.conversations import ConversationItem
from openai.types.responses import CompactedResponse
from pydantic import TypeAdapter

from conftest import Server, sqlite_server
from orrery.inference.tokens import estimate
from orrery.responses.compaction import COMPACTION_PROMPT, SUMMARY_PREFIX
from scripted_upstream import Reply, ToolCall
from wire import check_events, check_response, create, stream

CONVERSATION_ITEM: TypeAdapter[ConversationItem] = TypeAdapter(ConversationItem)
WINDOW = 4000
STREAM = {"stream": True, "stream_options": {"include_usage": True}}
TOOLS = [{"type": "function", "name": "roll", "parameters": {"type": "object"}}]


@pytest.fixture(scope="module")
def compacting(upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    providers = [{"id": "small", "base_url": upstream.url, "models": [{"name": "compactor", "context_window": WINDOW}]}]
    with sqlite_server(tmp_path_factory.mktemp("compaction"), {"providers": providers}) as server:
        yield server


@pytest.fixture
def client(compacting: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=compacting.base_url, api_key="k", max_retries=0)


def post(server: Server, path: str, body: dict) -> httpx.Response:
    with httpx.Client(timeout=60) as http:
        return http.post(f"{server.base_url}/{path}", json=body)


def compact(server: Server, body: dict) -> dict:
    answer = post(server, "responses/compact", body)
    assert answer.status_code == 200, answer.text
    CompactedResponse.model_validate(answer.json(), strict=False)
    return answer.json()


def test_compact_returns_one_sealed_compaction_item_from_one_upstream_call(compacting, upstream, client):
    upstream.script("compactor", Reply(text="The user is planning a trip to Lisbon.",
                                  usage={"prompt_tokens": 41, "completion_tokens": 9, "total_tokens": 50}))
    compacted = client.responses.compact(model="small/compactor", instructions="Be brief.", input=[
        {"role": "user", "content": "I am going to Lisbon."},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Nice!"}]},
    ])
    assert compacted.object == "response.compaction" and compacted.id.startswith("resp_")
    assert [item.type for item in compacted.output] == ["compaction"]
    assert compacted.output[-1].id.startswith("cmp_") and compacted.output[-1].encrypted_content
    assert "Lisbon" not in compacted.output[-1].encrypted_content
    assert (compacted.usage.input_tokens, compacted.usage.output_tokens, compacted.usage.total_tokens) == (41, 9, 50)
    assert upstream.bodies("compactor")[-1] == {"model": "compactor", **STREAM, "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "I am going to Lisbon."},
        {"role": "assistant", "content": "Nice!"},
        {"role": "user", "content": COMPACTION_PROMPT},
    ]}


def test_a_compaction_item_stands_for_everything_before_it(compacting, upstream, client):
    upstream.script("compactor", Reply(text="Lisbon trip, three days."), Reply(text="Take the 28 tram."))
    history = [{"role": "user", "content": "I am going to Lisbon."},
               {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "For how long?"}]},
               {"role": "user", "content": "Three days."}]
    compacted = client.responses.compact(model="small/compactor", input=history)
    answer = client.responses.create(model="small/compactor", instructions="Be brief.", input=[
        *history, *[item.model_dump(exclude_none=True) for item in compacted.output],
        {"role": "user", "content": "What should I ride?"}])
    assert answer.output_text == "Take the 28 tram."
    assert upstream.bodies("compactor")[-1]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "I am going to Lisbon."},
        {"role": "user", "content": "Three days."},
        {"role": "user", "content": SUMMARY_PREFIX + "Lisbon trip, three days."},
        {"role": "user", "content": "What should I ride?"},
    ]


def test_compact_continues_a_chain_and_keeps_calls_waiting_for_their_outputs(compacting, upstream, client):
    upstream.script("compactor", Reply(tool_calls=[ToolCall("roll", "{}", id="call_wait")]),
                    Reply(text="A die is being rolled."), Reply(text="You rolled a six."))
    first = client.responses.create(model="small/compactor", input="Roll a die.", tools=TOOLS)
    compacted = client.responses.compact(model="small/compactor", previous_response_id=first.id)
    assert upstream.bodies("compactor")[-1]["messages"][-1] == {"role": "user", "content": COMPACTION_PROMPT}
    client.responses.create(model="small/compactor", tools=TOOLS, input=[
        *[item.model_dump(exclude_none=True) for item in compacted.output],
        {"type": "function_call_output", "call_id": "call_wait", "output": "6"}])
    assert upstream.bodies("compactor")[-1]["messages"] == [
        {"role": "user", "content": "Roll a die."},
        {"role": "user", "content": SUMMARY_PREFIX + "A die is being rolled."},
        {"role": "assistant", "content": "", "tool_calls": [
            {"index": 0, "id": "call_wait", "type": "function", "function": {"name": "roll", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_wait", "content": "6"},
    ]


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "streamed"])
def test_a_compaction_trigger_compacts_instead_of_answering(compacting, upstream, streamed):
    upstream.script("compactor", Reply(text="Two greetings so far."), Reply(text="Hello again."))
    response = create(compacting.base_url, {
        "model": "small/compactor", "stream": streamed,
        "input": [{"role": "user", "content": "Hello."}, {"type": "compaction_trigger"}]}, streamed)
    assert [item["type"] for item in response["output"]] == ["compaction"]
    assert response["status"] == "completed"
    with httpx.Client(timeout=30) as http:
        listed = http.get(f"{compacting.base_url}/responses/{response['id']}/input_items").json()["data"]
    assert [item["type"] for item in listed] == ["message"], "the trigger is a request, not an item kept"
    assert upstream.bodies("compactor")[-1]["messages"] == [{"role": "user", "content": "Hello."},
                                                       {"role": "user", "content": COMPACTION_PROMPT}]
    follow = create(compacting.base_url, {"model": "small/compactor", "previous_response_id": response["id"],
                                          "input": "And now?"}, streamed)
    assert follow["output"][0]["content"][0]["text"] == "Hello again."
    assert upstream.bodies("compactor")[-1]["messages"] == [
        {"role": "user", "content": "Hello."},
        {"role": "user", "content": SUMMARY_PREFIX + "Two greetings so far."},
        {"role": "user", "content": "And now?"}]


def test_context_management_compacts_once_past_the_threshold_and_streams_it(compacting, upstream):
    filler = "word " * 80
    upstream.script("compactor", Reply(text=f"first answer {filler}"), Reply(text="Summary: a long talk."),
                    Reply(text="second answer"), Reply(text="third answer"))
    body = {"model": "small/compactor", "instructions": "Be brief.",
            "context_management": [{"type": "compaction", "compact_threshold": 150}]}
    first = create(compacting.base_url, {**body, "input": f"first {filler}"}, streamed=False)
    assert [item["type"] for item in first["output"]] == ["message"]
    events = stream(compacting.base_url, {**body, "stream": True, "previous_response_id": first["id"],
                                          "input": "second question"})
    final = check_events(events)
    assert [e["type"] for e in events[2:6]] == ["response.output_item.added", "response.compaction.compacting",
                                                "response.output_item.done", "response.output_item.added"]
    assert [item["type"] for item in final["output"]] == ["compaction", "message"]
    assert final["output"][0]["encrypted_content"]
    summary_call, answer_call = upstream.bodies("compactor")[-2:]
    assert summary_call["messages"] == [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": f"first {filler}"},
        {"role": "assistant", "content": f"first answer {filler}"}, {"role": "user", "content": COMPACTION_PROMPT}]
    assert answer_call["messages"] == [  # the first message is longer than the threshold keeps
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": SUMMARY_PREFIX + "Summary: a long talk."},
        {"role": "user", "content": "second question"}]
    assert final["usage"]["output_tokens"] > 0
    with httpx.Client(timeout=30) as http:
        stored = http.get(f"{compacting.base_url}/responses/{final['id']}").json()
    check_response(stored)
    assert stored["output"] == final["output"]
    third = create(compacting.base_url, {**body, "previous_response_id": final["id"], "input": "third"}, False)
    assert [item["type"] for item in third["output"]] == ["message"], "one compaction, not one per turn"
    assert upstream.bodies("compactor")[-1]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": SUMMARY_PREFIX + "Summary: a long talk."},
        {"role": "user", "content": "second question"}, {"role": "assistant", "content": "second answer"},
        {"role": "user", "content": "third"}]


def test_a_failed_summary_fails_the_response_and_leaves_nothing_to_expand(compacting, upstream):
    upstream.script("compactor", Reply(text="first answer"), Reply(status=500), Reply(text="plain answer"))
    first = create(compacting.base_url, {"model": "small/compactor", "input": "word " * 40}, False)
    events = stream(compacting.base_url, {
        "model": "small/compactor", "stream": True, "previous_response_id": first["id"], "input": "second",
        "context_management": [{"type": "compaction", "compact_threshold": 5}]})
    final = check_events(events)
    assert final["status"] == "failed" and final["output"][0]["encrypted_content"] == ""
    answer = create(compacting.base_url, {"model": "small/compactor", "previous_response_id": final["id"],
                                          "input": "again"}, False)
    assert answer["status"] == "completed"
    assert upstream.bodies("compactor")[-1]["messages"] == [
        {"role": "user", "content": "word " * 40}, {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "second"}, {"role": "user", "content": "again"}]


def test_a_single_input_over_the_threshold_has_nothing_earlier_to_compact(compacting, upstream):
    upstream.script("compactor", Reply(text="answered whole"))
    answer = create(compacting.base_url, {"model": "small/compactor", "input": "word " * 40,
                                          "context_management": [{"type": "compaction", "compact_threshold": 5}]},
                    False)
    assert [item["type"] for item in answer["output"]] == ["message"]
    assert upstream.bodies("compactor")[-1]["messages"] == [{"role": "user", "content": "word " * 40}]


def test_compact_passes_an_upstream_failure_through(compacting, upstream):
    upstream.script("compactor", Reply(status=503, error={"message": "overloaded", "type": "server_error"}))
    answer = post(compacting, "responses/compact", {"model": "small/compactor", "input": "hello"})
    assert answer.status_code == 503
    assert answer.json()["error"]["message"] == "overloaded"


@pytest.mark.parametrize(("item", "param"), [
    ({"type": "compaction", "encrypted_content": "not-ours"}, "input[1].encrypted_content"),
    ({"type": "compaction", "encrypted_content": ""}, "input[1].encrypted_content"),
])
def test_a_compaction_item_this_server_did_not_seal_is_a_400(compacting, upstream, item, param):
    answer = post(compacting, "responses", {"model": "small/compactor",
                                            "input": [{"role": "user", "content": "hi"}, item]})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == param


def test_sealed_reasoning_is_not_a_compaction(compacting, upstream):
    upstream.script("compactor", Reply(reasoning="thinking", text="done"))
    first = post(compacting, "responses", {"model": "small/compactor", "input": "hi", "store": False,
                                           "include": ["reasoning.encrypted_content"]}).json()
    sealed = first["output"][0]["encrypted_content"]
    answer = post(compacting, "responses", {"model": "small/compactor", "input": [
        {"type": "compaction", "encrypted_content": sealed}]})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_encrypted_content"


def test_a_compaction_trigger_must_be_the_last_item(compacting):
    answer = post(compacting, "responses", {"model": "small/compactor", "input": [
        {"type": "compaction_trigger"}, {"role": "user", "content": "hi"}]})
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "input[0]"


def test_compact_checks_its_body(compacting):
    assert post(compacting, "responses/compact", {"input": "hi"}).json()["error"]["param"] == "model"
    unknown = post(compacting, "responses/compact", {"model": "small/compactor", "input": "hi", "stream": True})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, "unknown_parameter")
    empty = post(compacting, "responses/compact", {"model": "small/compactor"})
    assert empty.status_code == 400 and empty.json()["error"]["param"] == "input"


def test_compact_accepts_what_the_codex_cli_sends(compacting, upstream):
    upstream.script("compactor", Reply(text="Codex summary."))
    compacted = compact(compacting, {
        "model": "small/compactor", "instructions": "You are Codex.", "input": [{"type": "message", "role": "user",
                                                                            "content": [{"type": "input_text",
                                                                                         "text": "fix the bug"}]}],
        "tools": TOOLS, "parallel_tool_calls": False, "reasoning": {"effort": "medium", "summary": "auto"},
        "text": {"verbosity": "low"}, "prompt_cache_key": "session-1"})
    assert compacted["output"][-1]["type"] == "compaction"


THRESHOLD = 1200
FILLER = "the quick brown fox jumps over the lazy dog " * 2


def test_a_300_turn_chain_stays_answerable_with_context_management(compacting, upstream, client):
    previous = None
    compactions = 0
    for turn in range(300):
        response = client.responses.create(
            model="small/compactor", input=f"turn {turn}: {FILLER}", instructions="Be brief.",
            previous_response_id=previous, context_management=[{"type": "compaction", "compact_threshold": THRESHOLD}])
        assert response.status == "completed"
        compactions += response.output[0].type == "compaction"
        previous = response.id
    assert 3 <= compactions <= 40
    bodies = upstream.bodies("compactor")[-20:]
    assert all(estimate(body).tokens <= WINDOW for body in bodies)
    assert bodies[-1]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert bodies[-1]["messages"][-1] == {"role": "user", "content": f"turn 299: {FILLER}"}


def test_a_300_item_conversation_stays_answerable_with_context_management(compacting, upstream, client):
    conversation = client.conversations.create()
    compactions = 0
    for turn in range(150):
        response = client.responses.create(
            model="small/compactor", input=f"turn {turn}: {FILLER}", conversation=conversation.id,
            context_management=[{"type": "compaction", "compact_threshold": THRESHOLD}])
        assert response.status == "completed"
        compactions += response.output[0].type == "compaction"
    with httpx.Client(timeout=30, base_url=compacting.base_url) as http:
        pages = [http.get(f"/conversations/{conversation.id}/items", params={"limit": 100, "order": "asc"}).json()]
        while pages[-1]["has_more"]:
            pages.append(http.get(f"/conversations/{conversation.id}/items",
                                  params={"limit": 100, "order": "asc", "after": pages[-1]["last_id"]}).json())
    items = [item for page in pages for item in page["data"]]
    for item in items:
        CONVERSATION_ITEM.validate_python(item)
    assert len(items) >= 300 and "compaction" in {item["type"] for item in items}
    assert 3 <= compactions <= 40
    bodies = upstream.bodies("compactor")[-20:]
    assert all(estimate(body).tokens <= WINDOW for body in bodies)
    assert bodies[-1]["messages"][-1] == {"role": "user", "content": f"turn 149: {FILLER}"}
