"""User flows answered from committed recordings: the server runs in replay mode, offline.

The recordings in ``tests/recordings/`` were made against the scripted upstream. To make them
again (after a change to what orrery sends upstream), run::

    ORRERY_TEST_RECORDING_MODE=record python -m pytest tests/test_replayed_responses.py
    orrery recordings prune --dir tests/recordings

In record mode the scripted replies below are what the upstream answers; in replay mode the
upstream is a closed port and every answer comes from the recordings.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from conftest import free_port, start_server, stop_server
from scripted_upstream import Reply, ScriptedUpstream, ToolCall
from wire import check_events, check_response, output_text

RECORDINGS = Path(__file__).parent / "recordings"
MODE = os.environ.get("ORRERY_TEST_RECORDING_MODE", "replay")
MODEL = "scripted/replayed"
TOOLS = [{"type": "function", "name": "get_weather", "description": "Weather by city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]


@pytest.fixture(scope="module")
def replayed(upstream: ScriptedUpstream, tmp_path_factory) -> Iterator[openai.OpenAI]:
    tmp = tmp_path_factory.mktemp("replayed")
    base_url = upstream.url if MODE == "record" else f"http://127.0.0.1:{free_port()}/v1"
    search_url = upstream.search_url if MODE == "record" else f"http://127.0.0.1:{free_port()}"
    config = {"providers": [{"id": "scripted", "base_url": base_url}], "db": f"sqlite:///{tmp / 'r.db'}",
              "recording": {"mode": MODE, "dir": str(RECORDINGS)}, "web_search": {"base_url": search_url}}
    process, url = start_server(config, log_path=tmp / "replayed.log")
    yield openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)
    stop_server(process)


def script(upstream: ScriptedUpstream, *replies: Reply) -> None:
    """Queue replies for the recording run; a replay run never reaches the upstream."""
    if MODE == "record":
        upstream.script("replayed", *replies)


def test_text_answer_streamed_and_not(replayed, upstream):
    script(upstream, Reply(text="Saturn is the ringed planet."), Reply(text="Saturn, again.", chunk=2))
    response = replayed.responses.create(model=MODEL, input="Which planet has rings?")
    check_response(response.to_dict())
    assert response.output_text == "Saturn is the ringed planet."
    assert response.usage.total_tokens > 0
    events = [e.to_dict() for e in replayed.responses.create(model=MODEL, input="Once more?", stream=True)]
    assert output_text(check_events(events)) == "Saturn, again."
    assert sum(e["type"] == "response.output_text.delta" for e in events) == 7


def test_function_call_round_trip(replayed, upstream):
    script(upstream, Reply(tool_calls=[ToolCall("get_weather", '{"city": "Paris"}')]),
           Reply(text="Sunny in Paris."))
    first = replayed.responses.create(model=MODEL, input="Weather in Paris?", tools=TOOLS)
    call = first.output[0]
    assert (call.type, call.name, call.arguments) == ("function_call", "get_weather", '{"city": "Paris"}')
    second = replayed.responses.create(model=MODEL, previous_response_id=first.id, tools=TOOLS, input=[
        {"type": "function_call_output", "call_id": call.call_id, "output": '{"sky": "clear"}'}])
    assert second.output_text == "Sunny in Paris."


def test_chain_with_instructions(replayed, upstream):
    script(upstream, Reply(text="Bonjour."), Reply(text="Au revoir."))
    first = replayed.responses.create(model=MODEL, input="Greet me.", instructions="Answer in French.")
    second = replayed.responses.create(model=MODEL, input="Now say goodbye.", previous_response_id=first.id)
    assert (first.output_text, second.output_text) == ("Bonjour.", "Au revoir.")


def test_reasoning_and_logprobs(replayed, upstream):
    script(upstream, Reply(reasoning="Two plus two.", text="4", logprobs=True))
    response = replayed.responses.create(model=MODEL, input="2+2?", reasoning={"effort": "low"},
                                         include=["message.output_text.logprobs"])
    reasoning, message = response.output
    assert reasoning.content[0].text == "Two plus two."
    assert message.content[0].logprobs[0].token == "4"


def test_upstream_error_is_replayed(replayed, upstream):
    script(upstream, Reply(status=429, error={"message": "Rate limit reached", "type": "requests"}))
    with pytest.raises(openai.RateLimitError) as raised:
        replayed.responses.create(model=MODEL, input="Too fast.")
    assert "Rate limit reached" in raised.value.message


def test_chat_and_embeddings_pass_through(replayed, upstream):
    script(upstream, Reply(text="plain chat", chunk=3))
    chunks = list(replayed.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "plain chat"
    embedding = replayed.embeddings.create(model="scripted/embedder", input=["abc"])
    assert embedding.data[0].embedding == [3.0, 1.0, 0.5]


def test_web_search_answer_is_replayed(replayed, upstream):
    script(upstream, Reply(tool_calls=[ToolCall("web_search", '{"query":"largest moon of saturn"}')]),
           Reply(text="Titan [Titan](https://encyclopedia.example/largest-moon-of-saturn)."))
    events = [e.to_dict() for e in replayed.responses.create(
        model=MODEL, input="Largest moon of Saturn?", tools=[{"type": "web_search"}], stream=True,
        include=["web_search_call.action.sources"])]
    final = check_events(events)
    search, message = final["output"]
    assert search["status"] == "completed" and search["action"]["query"] == "largest moon of saturn"
    assert search["action"]["sources"][0]["url"] == "https://encyclopedia.example/largest-moon-of-saturn"
    assert message["content"][0]["annotations"][0]["type"] == "url_citation"
