"""The file_search tool: the model searches vector stores and cites files, as the seed shows it."""

from __future__ import annotations

import ast
import json
import re
import time

import httpx
import pytest

from conftest import SEEDS, upstream_name
from orrery.tools.file_search import KNOWLEDGE_SEARCH, tool_result_parts
from scripted_upstream import Reply, ToolCall
from wire import check_events, check_response, output_text, stream

FILE_SEARCH_SEED = SEEDS / "816a62894f78f439f800f50431b565c19c73f68de45ec7f96b1c1fd4a7beb4bc.json"
CHUNK = re.compile(r"^\[(\d+)\] document_id: (\S+), score: (\S+), attributes: (\{.*\}) \(cite as <\|\S+\|>\)\n(.*)\n$",
                   re.DOTALL)


def seed_tool_messages() -> list[dict]:
    body = json.loads(FILE_SEARCH_SEED.read_text())["request"]["body"]
    return [m for m in body["messages"] if m["role"] == "tool"]


def test_seed_tool_definition_and_messages_are_reproduced():
    body = json.loads(FILE_SEARCH_SEED.read_text())["request"]["body"]
    assert body["tools"] == [KNOWLEDGE_SEARCH]
    for message in seed_tool_messages():
        parts = message["content"]
        query = re.search(r'query: "(.*)"\. Use them', parts[-1]["text"]).group(1)
        results = []
        for part in parts[1:-2]:
            _, file_id, score, attributes, text = CHUNK.match(part["text"]).groups()
            results.append({"file_id": file_id, "score": float(score), "attributes": ast.literal_eval(attributes),
                            "text": text})
        assert tool_result_parts(query, results) == parts


@pytest.fixture(scope="module")
def knowledge(server) -> dict:
    client = server.client()
    file_id = client.files.create(file=("llama4.txt", b"The Llama 4 Maverick model has 128 experts in its "
                                        b"mixture of experts architecture."), purpose="assistants").id
    other = client.files.create(file=("bread.txt", b"Knead the dough and bake it at 220 degrees."),
                                purpose="assistants").id
    store = client.vector_stores.create(name="kb")
    client.vector_stores.files.create(store.id, file_id=file_id, attributes={"kind": "model-card"})
    client.vector_stores.files.create(store.id, file_id=other, attributes={"kind": "recipe"})
    deadline = time.monotonic() + 90
    while client.vector_stores.retrieve(store.id).file_counts.in_progress:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return {"store": store.id, "file": file_id, "other": other}


def scripted_answer(upstream, model: str, file_id: str, *, chunk: int = 1) -> None:
    upstream.script(upstream_name(model),
                    Reply(tool_calls=[ToolCall("knowledge_search", '{"query":"Llama 4 Maverick experts"}',
                                               id="call_search1")]),
                    Reply(text=f"The Llama 4 Maverick model has 128 experts <|{file_id}|>. It is a mixture "
                               f"of experts <|{file_id}|>.", chunk=chunk))


def test_search_and_cite_streamed(server, upstream, model, knowledge):
    scripted_answer(upstream, model, knowledge["file"])
    tools = [{"type": "file_search", "vector_store_ids": [knowledge["store"]]}]
    events = stream(server.base_url, {"model": model, "input": "How many experts?", "tools": tools})
    final = events[-1]["response"]
    search, message = final["output"]
    assert search["type"] == "file_search_call" and search["status"] == "completed"
    assert search["queries"] == ["Llama 4 Maverick experts"] and search["results"] is None
    kinds = [e["type"] for e in events]
    start = kinds.index("response.file_search_call.in_progress")
    assert kinds[start - 1:start + 4] == [
        "response.output_item.added", "response.file_search_call.in_progress", "response.file_search_call.searching",
        "response.file_search_call.completed", "response.output_item.done"]
    text = "The Llama 4 Maverick model has 128 experts. It is a mixture of experts."
    assert output_text(final) == text
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert "".join(deltas) == text and not any("<" in d or "|" in d for d in deltas)
    annotations = message["content"][0]["annotations"]
    citation = {"type": "file_citation", "file_id": knowledge["file"], "filename": "llama4.txt"}
    assert annotations == [{**citation, "index": text.index(". It")}, {**citation, "index": len(text) - 1}]
    added = [e for e in events if e["type"] == "response.output_text.annotation.added"]
    assert [e["annotation"] for e in added] == annotations and [e["annotation_index"] for e in added] == [0, 1]
    done = next(e for e in events if e["type"] == "response.content_part.done")
    assert done["part"]["annotations"] == annotations

    first, second = upstream.bodies(upstream_name(model))[-2:]
    assert first["tools"] == [KNOWLEDGE_SEARCH]
    assert second["messages"][1] == {"role": "assistant", "content": "", "tool_calls": [
        {"index": 0, "id": "call_search1", "type": "function",
         "function": {"name": "knowledge_search", "arguments": '{"query":"Llama 4 Maverick experts"}'}}]}
    tool_message = second["messages"][2]
    assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "call_search1"
    assert tool_message["content"][0]["text"].startswith("knowledge_search tool found ")
    assert f"(cite as <|{knowledge['file']}|>)" in tool_message["content"][1]["text"]
    assert "128 experts" in tool_message["content"][1]["text"]
    stored = httpx.get(f"{server.base_url}/responses/{final['id']}").json()
    assert stored["output"] == final["output"]


def test_results_included_and_chain_shows_the_search_again(client, upstream, model, knowledge):
    scripted_answer(upstream, model, knowledge["file"], chunk=5)
    tools = [{"type": "file_search", "vector_store_ids": [knowledge["store"]], "max_num_results": 1,
              "filters": {"type": "eq", "key": "kind", "value": "model-card"}}]
    response = client.responses.create(model=model, input="How many experts?", tools=tools,
                                       include=["file_search_call.results"])
    check_response(response.to_dict())
    results = response.output[0].results
    assert len(results) == 1 and results[0].file_id == knowledge["file"] and results[0].filename == "llama4.txt"
    assert results[0].attributes == {"kind": "model-card"} and 0 <= results[0].score <= 1
    assert client.responses.retrieve(response.id).output[0].results[0].file_id == knowledge["file"]

    client.responses.create(model=model, input="Tell me more.", previous_response_id=response.id, tools=tools)
    history = upstream.bodies(upstream_name(model))[-1]["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "assistant", "user"]
    assert history[3]["content"] == (f"The Llama 4 Maverick model has 128 experts <|{knowledge['file']}|>. "
                                     f"It is a mixture of experts <|{knowledge['file']}|>.")
    assert history[2]["content"] == upstream.bodies(upstream_name(model))[-2]["messages"][2]["content"]


def test_a_chain_shows_the_search_again_even_without_results_included(client, upstream, model, knowledge):
    scripted_answer(upstream, model, knowledge["file"], chunk=50)
    tools = [{"type": "file_search", "vector_store_ids": [knowledge["store"]]}]
    first = client.responses.create(model=model, input="How many experts?", tools=tools)
    assert first.output[0].results is None
    assert client.responses.retrieve(first.id).output[0].results is None
    client.responses.create(model=model, input="More?", previous_response_id=first.id, tools=tools)
    shown, again = upstream.bodies(upstream_name(model))[-3:][1:]
    assert again["messages"][2] == shown["messages"][2]
    assert "128 experts" in again["messages"][2]["content"][1]["text"]


def test_unknown_vector_store_is_404_before_streaming(server, model):
    answer = httpx.post(f"{server.base_url}/responses", json={
        "model": model, "input": "x", "stream": True,
        "tools": [{"type": "file_search", "vector_store_ids": ["vs_doesnotexist"]}]})
    assert answer.status_code == 404 and answer.json()["error"]["param"] == "tools[0].vector_store_ids"


def test_file_search_next_to_a_function_tool(client, upstream, model, knowledge):
    name = upstream_name(model)
    upstream.script(name, Reply(tool_calls=[ToolCall("knowledge_search", '{"query":"bread"}', id="call_a"),
                                            ToolCall("notify", '{"who":"me"}', id="call_b")]))
    tools = [{"type": "function", "name": "notify", "parameters": {"type": "object"}},
             {"type": "file_search", "vector_store_ids": [knowledge["store"]]}]
    events = [e.to_dict() for e in client.responses.create(model=model, input="x", tools=tools, stream=True)]
    final = check_events(events)
    assert [item["type"] for item in final["output"]] == ["function_call", "file_search_call"]
    assert final["output"][0]["name"] == "notify"
    assert len(upstream.bodies(name)) == 1, "a client tool call ends the response for the client to answer"
    assert upstream.bodies(name)[0]["tools"][1] == KNOWLEDGE_SEARCH


def test_a_failing_search_is_a_failed_call_not_a_failed_response(server, client, upstream, model):
    store = client.vector_stores.create(name="unreachable", extra_body={"embedding_model": "down/embedder"})
    name = upstream_name(model)
    upstream.script(name, Reply(tool_calls=[ToolCall("knowledge_search", '{"query":"x"}', id="call_f")]),
                    Reply(text="I could not search."))
    events = stream(server.base_url, {"model": model, "input": "search", "include": ["file_search_call.results"],
                                      "tools": [{"type": "file_search", "vector_store_ids": [store.id]}]})
    final = events[-1]["response"]
    assert final["status"] == "completed" and output_text(final) == "I could not search."
    assert final["output"][0]["status"] == "failed" and final["output"][0]["results"] == []
    assert "response.file_search_call.completed" not in [e["type"] for e in events]
    assert "found 0 chunks" in upstream.bodies(name)[-1]["messages"][2]["content"][0]["text"]
