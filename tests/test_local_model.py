"""The embedded local model, for real: ``orrery serve`` with no provider runs SmolLM2-135M-Instruct."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import httpx
import openai
import pytest

from conftest import start_server, stop_server
from orrery.inference.gguf import bundled_model_path
from wire import check_events, check_response, output_text, read_sse, stream

MODEL = "local/smollm2-135m-instruct"
LONG = {"model": MODEL, "input": "Write a very long story about a dragon, with many chapters. Each chapter is long.",
        "max_output_tokens": 2000, "temperature": 0}
"""About a minute of generation on a 2-core machine, unless it is cancelled."""


class Local(NamedTuple):
    base_url: str
    log: Path


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    """``orrery serve`` with no provider configured."""
    directory = tmp_path_factory.mktemp("local")
    log = directory / "server.log"
    process, url = start_server({"db": f"sqlite:///{directory / 'local.db'}", "data_dir": str(directory / "data")},
                                log_path=log, extra_args=("--log-level", "info"))
    yield Local(f"{url}/v1", log)
    stop_server(process)


@pytest.fixture
def sdk(local: Local) -> openai.OpenAI:
    return openai.OpenAI(base_url=local.base_url, api_key="unused", max_retries=0, timeout=60)


def test_start_up_says_which_model_answers(local):
    log = local.log.read_text()
    assert "no provider configured: answering with the embedded model local/smollm2-135m-instruct" in log
    assert "--provider ID=BASE_URL" in log


def test_models_lists_the_local_model(sdk):
    assert [m.id for m in sdk.models.list().data] == [MODEL]
    assert sdk.models.retrieve(MODEL).owned_by == "local"
    with pytest.raises(openai.NotFoundError):
        sdk.responses.create(model="local/another-model", input="hi")


def test_short_generation(sdk):
    response = sdk.responses.create(model=MODEL, input="Say hello.", max_output_tokens=16)
    check_response(response.model_dump(mode="json"))
    assert response.status in ("completed", "incomplete")
    assert response.output_text
    usage = response.usage
    assert usage.input_tokens > 10 and 0 < usage.output_tokens <= 16
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens


def test_streamed_generation(local):
    events = stream(local.base_url, {"model": MODEL, "input": "Say hello.", "max_output_tokens": 16})
    final = events[-1]["response"]
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert deltas and deltas == output_text(final)
    assert final["usage"]["input_tokens"] > 10 and 0 < final["usage"]["output_tokens"] <= 16
    if final["status"] == "incomplete":
        assert final["incomplete_details"] == {"reason": "max_output_tokens"}
        assert final["usage"]["output_tokens"] == 16


def test_json_object_output_is_json(sdk):
    response = sdk.responses.create(
        model=MODEL, input='Reply with a JSON object with one key "ok" set to true.', temperature=0,
        text={"format": {"type": "json_object"}}, max_output_tokens=64)
    assert response.status == "completed"
    assert isinstance(json.loads(response.output_text), dict)


def test_json_schema_output_follows_the_schema(sdk):
    schema = {"type": "object", "properties": {"answer": {"type": "boolean"}}, "required": ["answer"],
              "additionalProperties": False}
    response = sdk.responses.create(
        model=MODEL, input="Is the sky blue?", max_output_tokens=32,
        text={"format": {"type": "json_schema", "name": "yes_no", "schema": schema, "strict": True}})
    assert isinstance(json.loads(response.output_text)["answer"], bool)


def test_a_named_tool_choice_makes_a_call(local):
    tools = [{"type": "function", "name": "get_weather", "description": "The weather in a city",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
    events = stream(local.base_url, {"model": MODEL, "input": "What is the weather in Paris?", "tools": tools,
                                        "tool_choice": {"type": "function", "name": "get_weather"},
                                        "max_output_tokens": 40})
    call = events[-1]["response"]["output"][0]
    assert call["type"] == "function_call" and call["name"] == "get_weather"
    assert isinstance(json.loads(call["arguments"])["city"], str)


def test_a_regex_custom_tool_constrains_the_input(local):
    pattern = "^[0-9]{3}-[0-9]{4}$"
    tools = [{"type": "custom", "name": "dial", "description": "Dial a phone number.",
              "format": {"type": "grammar", "syntax": "regex", "definition": pattern}}]
    events = stream(local.base_url, {"model": MODEL, "input": "Call my friend.", "tools": tools,
                                        "tool_choice": "required", "max_output_tokens": 40})
    call = events[-1]["response"]["output"][0]
    assert call["type"] == "custom_tool_call" and call["name"] == "dial"
    assert re.fullmatch(pattern, call["input"]), call["input"]


@pytest.mark.parametrize("tools", [None, [{"type": "function", "name": "get_weather", "description": "Weather",
                                            "parameters": {"type": "object",
                                                           "properties": {"city": {"type": "string"}}}}]],
                         ids=["plain", "tools"])
def test_input_tokens_are_what_the_model_reads(sdk, tools):
    fields = {"model": MODEL, "instructions": "Answer in one word.", "input": "Which planet has rings?"}
    if tools:
        fields["tools"] = tools
    counted = sdk.responses.input_tokens.count(**fields)
    response = sdk.responses.create(**fields, max_output_tokens=1)
    assert counted.input_tokens == response.usage.input_tokens


def test_chat_completions_pass_through(sdk):
    messages = [{"role": "user", "content": "Say hello."}]
    completion = sdk.chat.completions.create(model=MODEL, messages=messages, max_tokens=8)
    assert completion.choices[0].message.content
    assert completion.usage.completion_tokens <= 8
    chunks = list(sdk.chat.completions.create(model=MODEL, messages=messages, max_tokens=8, stream=True,
                                                 stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].usage.total_tokens == chunks[-1].usage.prompt_tokens + chunks[-1].usage.completion_tokens
    with pytest.raises(openai.BadRequestError, match="reads text only"):
        sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}])
    with pytest.raises(openai.BadRequestError, match="does not serve /v1/embeddings"):
        sdk.embeddings.create(model=MODEL, input="hello")


@pytest.mark.parametrize("path", ["responses", "chat/completions"])
@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "not-streamed"])
def test_a_disconnect_cancels_its_generation(local, sdk, path, streamed):
    body = LONG if path == "responses" else {"model": MODEL, "messages": [{"role": "user", "content": LONG["input"]}],
                                             "max_tokens": LONG["max_output_tokens"], "temperature": 0}
    with httpx.Client(timeout=httpx.Timeout(30, read=1 if not streamed else 30)) as http:
        if streamed:
            with http.stream("POST", f"{local.base_url}/{path}", json={**body, "stream": True}) as answer:
                assert answer.status_code == 200
                for count, _ in enumerate(answer.iter_lines()):
                    if count == 20:
                        break
        else:
            with pytest.raises(httpx.ReadTimeout):
                http.post(f"{local.base_url}/{path}", json=body)
    started = time.monotonic()
    response = sdk.responses.create(model=MODEL, input="Say hello.", max_output_tokens=4)
    assert response.output_text
    assert time.monotonic() - started < 20, "the abandoned generation kept the model busy"


def test_requests_wait_their_turn(local):
    """Generations run one at a time; concurrent requests all get whole, valid answers."""
    results: list[list[dict]] = []

    def one() -> None:
        with httpx.Client(timeout=60) as http:
            answer = http.post(f"{local.base_url}/responses",
                               json={"model": MODEL, "input": "Name a colour.", "max_output_tokens": 8, "stream": True})
            results.append(read_sse(answer.content))

    threads = [threading.Thread(target=one) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3
    for events in results:
        check_events(events)
        assert events[-1]["response"]["status"] in ("completed", "incomplete")


def test_a_gguf_file_as_provider(tmp_path: Path):
    model = bundled_model_path()
    assert model is not None
    process, url = start_server({}, log_path=tmp_path / "gguf.log", extra_args=(
        "--provider", f"mine=gguf:{model}", "--db", f"sqlite:///{tmp_path / 'gguf.db'}"))
    try:
        models = httpx.get(f"{url}/v1/models").json()["data"]
        assert [m["id"] for m in models] == ["mine/smollm2-135m-instruct"]
        answer = httpx.post(f"{url}/v1/responses", timeout=60,
                            json={"model": "smollm2-135m-instruct", "input": "Say hello.", "max_output_tokens": 4})
        assert answer.status_code == 200, answer.text
        assert check_response(answer.json()).output_text
    finally:
        stop_server(process)


def test_a_missing_gguf_file_fails_clearly(tmp_path: Path):
    result = subprocess.run([sys.executable, "-m", "orrery", "serve", "--provider", f"x=gguf:{tmp_path / 'no.gguf'}"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "provider x: no GGUF model file at" in result.stderr


WEATHER = {"type": "function", "name": "get_weather", "description": "The weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "not-streamed"])
def test_a_forced_call_cut_by_max_output_tokens_is_incomplete(local, sdk, streamed):
    """llama.cpp ends a forced call with ``tool_calls`` whatever stopped it; cut at 6 tokens, its
    arguments are broken JSON, and the call and the response are ``incomplete``."""
    body = {"model": MODEL, "input": "What is the weather in Paris?", "tools": [WEATHER], "tool_choice": "required",
            "max_output_tokens": 6, "temperature": 0}
    if streamed:
        events = stream(local.base_url, body)
        assert events[-1]["type"] == "response.incomplete"
        response = events[-1]["response"]
    else:
        answer = httpx.post(f"{local.base_url}/responses", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        response = check_response(answer.json()).model_dump(mode="json")
    stored = sdk.responses.retrieve(response["id"]).model_dump(mode="json")
    for final in (response, stored):
        assert final["status"] == "incomplete"
        assert final["incomplete_details"] == {"reason": "max_output_tokens"}
        assert final["usage"]["output_tokens"] == 6
        [call] = final["output"]
        assert (call["type"], call["name"], call["status"]) == ("function_call", "get_weather", "incomplete")
        with pytest.raises(json.JSONDecodeError):
            json.loads(call["arguments"])


def test_a_forced_call_cut_short_says_length_in_chat_completions(sdk):
    fields = {"model": MODEL, "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
              "tools": [{"type": "function", "function": {k: v for k, v in WEATHER.items() if k != "type"}}],
              "tool_choice": "required", "max_tokens": 6, "temperature": 0}
    assert sdk.chat.completions.create(**fields).choices[0].finish_reason == "length"
    chunks = list(sdk.chat.completions.create(**fields, stream=True))
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["length"]
