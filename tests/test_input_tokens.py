"""``POST /v1/responses/input_tokens``: what a create would send upstream, counted, with no generation."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from conftest import Server, sqlite_server, upstream_name
from orrery.inference.tokens import estimate
from scripted_upstream import Reply, ToolCall

TOOLS = [{"type": "function", "name": "weather", "description": "The weather of a city.",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]


def count(server: Server, body: dict) -> httpx.Response:
    with httpx.Client(timeout=30) as http:
        return http.post(f"{server.base_url}/responses/input_tokens", json=body)


def test_the_sdk_counts_what_a_create_sends(client, upstream, model):
    name = upstream_name(model)
    upstream.script(name, Reply(text="Sunny."), Reply(text="Still sunny."))
    first = client.responses.create(model=model, input="Weather in Oslo?", instructions="Be brief.", tools=TOOLS)
    counted = client.responses.input_tokens.count(model=model, input="And tomorrow?", instructions="Be brief.",
                                                  tools=TOOLS, previous_response_id=first.id)
    assert counted.object == "response.input_tokens"
    assert len(upstream.bodies(name)) == 1, "counting calls no generation"
    client.responses.create(model=model, input="And tomorrow?", instructions="Be brief.", tools=TOOLS,
                            previous_response_id=first.id)
    sent = upstream.bodies(name)[-1]
    assert counted.input_tokens == estimate(sent).tokens
    alone = client.responses.input_tokens.count(model=model, input="And tomorrow?")
    assert alone.input_tokens < counted.input_tokens


def test_a_count_reads_a_busy_conversation_and_holds_it_not(server, client, upstream, model):
    name = upstream_name(model)
    upstream.script(name, Reply(text="slow answer", chunk=1, delay=0.02), Reply(text="next"))
    conversation = client.conversations.create(items=[{"type": "message", "role": "user", "content": "Pluto?"}])
    with httpx.Client(timeout=30) as http:
        with http.stream("POST", f"{server.base_url}/responses", json={
                "model": model, "input": "slow", "stream": True, "conversation": conversation.id}) as slow:
            lines = slow.iter_lines()
            next(line for line in lines if "output_text.delta" in line)
            during = count(server, {"model": model, "input": "hi", "conversation": conversation.id})
            assert during.status_code == 200, during.text
            for _ in lines:
                pass
    after = client.responses.input_tokens.count(model=model, input="hi", conversation=conversation.id)
    assert after.input_tokens > during.json()["input_tokens"], "the finished turn is in the conversation now"
    assert client.responses.create(model=model, input="go", conversation=conversation.id).output_text == "next"


def test_server_side_tools_are_counted_with_their_functions(client, upstream, model):
    plain = client.responses.input_tokens.count(model=model, input="search")
    searching = client.responses.input_tokens.count(model=model, input="search", tools=[{"type": "web_search"}])
    assert searching.input_tokens > plain.input_tokens
    assert upstream.bodies(upstream_name(model)) == []


@pytest.mark.parametrize("body, param", [
    ({"input": "hi"}, "model"),
    ({"model": "scripted/x", "input": "hi", "stream": True}, "stream"),
    ({"model": "scripted/x", "previous_response_id": "resp_nope"}, "previous_response_id"),
    ({"model": "nowhere/x", "input": "hi"}, "model"),
])
def test_bad_counts_are_openai_shaped_4xx(server, body, param):
    answer = count(server, body)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["error"]["param"] == param


@pytest.fixture(scope="module")
def vllm_like(upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with sqlite_server(tmp_path_factory.mktemp("tokenize"),
                       {"providers": [{"id": "vllm", "base_url": upstream.vllm_url}]}) as server:
        yield server


def test_an_upstream_with_tokenize_counts_with_its_own_tokenizer(vllm_like, upstream):
    client = openai.OpenAI(base_url=vllm_like.base_url, api_key="k", max_retries=0)
    with httpx.Client(timeout=30) as http:
        answer = http.post(f"{vllm_like.base_url}/responses/input_tokens", json={
            "model": "vllm/m-tokenize", "input": "one two three", "instructions": "Be brief."})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"object": "response.input_tokens", "input_tokens": 3 + 2 + 4 * 2}
    assert answer.headers["x-orrery-token-count"] == "the upstream's /tokenize"
    assert upstream.tokenized[-1] == {"model": "m-tokenize", "messages": [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "one two three"}]}
    upstream.script("m-tokenize", Reply(tool_calls=[ToolCall("weather", '{"city": "Oslo"}')]))
    assert client.responses.create(model="vllm/m-tokenize", input="x", tools=TOOLS).output[0].type == "function_call"
