"""The embedded model's limits, for real: its default output cap, and its queue, which answers
503 with ``Retry-After`` to a request that waited too long for its turn."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from conftest import start_server, stop_server
from orrery.inference.gguf import bundled_model_path
from test_local_model import LONG as LONG_ANSWER
from test_local_model import MODEL, Local
from wire import check_events, check_response, read_sse

CAP = 12
MAX_WAIT = 2
LONG = {**LONG_ANSWER, "stream": True}


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    """The bundled model as a configured provider, with a small output cap and a short wait."""
    directory = tmp_path_factory.mktemp("capped")
    log = directory / "server.log"
    provider = {"id": "local", "base_url": f"gguf:{bundled_model_path()}", "max_output_tokens": CAP,
                "max_queue_wait": MAX_WAIT}
    process, url = start_server({"providers": [provider], "db": f"sqlite:///{directory / 'capped.db'}",
                                 "data_dir": str(directory / "data")}, log_path=log, extra_args=("--log-level", "info"))
    yield Local(f"{url}/v1", log)
    stop_server(process)


def test_an_answer_without_a_limit_stops_at_the_providers_cap(capped):
    answer = httpx.post(f"{capped.base_url}/responses", timeout=60, json={
        "model": MODEL, "input": "Write a very long story about a dragon.", "temperature": 0})
    response = check_response(answer.json())
    assert response.status == "incomplete"
    assert response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"
    assert response.usage is not None and response.usage.output_tokens == CAP


def test_a_request_limit_wins_over_the_cap(capped):
    completion = httpx.post(f"{capped.base_url}/chat/completions", timeout=60, json={
        "model": MODEL, "messages": [{"role": "user", "content": "Write a very long story about a dragon."}],
        "max_tokens": CAP + 8, "temperature": 0}).json()
    assert completion["usage"]["completion_tokens"] == CAP + 8


def _busy_error(answer: httpx.Response) -> dict:
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == str(MAX_WAIT)
    error = answer.json()["error"]
    assert error["type"] == "server_error" and "is busy" in error["message"]
    return error


def _sdk_create(base_url: str) -> Exception | None:
    sdk = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0)
    try:
        sdk.responses.create(model=MODEL, input="Say hello.", max_output_tokens=4)
    except openai.APIError as exc:
        return exc
    return None


def test_a_request_that_waits_too_long_is_answered_503_with_retry_after(capped):
    """While a long generation holds the model, requests wait their turn, the log says how many
    are ahead, and past ``max_queue_wait`` each is answered 503 with ``Retry-After`` before any
    byte, a streamed response too (it waits for its turn before its first event), and is stored
    ``failed``; the model is free again afterwards, for a stream as for the rest."""
    short = {"model": MODEL, "input": "Say hello.", "max_output_tokens": 4}
    chat = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    waiting = {
        "response": lambda: httpx.post(f"{capped.base_url}/responses", json=short, timeout=30),
        "another response": lambda: httpx.post(f"{capped.base_url}/responses", json=short, timeout=30),
        "streamed response": lambda: httpx.post(f"{capped.base_url}/responses", json={**short, "stream": True},
                                                timeout=30),
        "chat": lambda: httpx.post(f"{capped.base_url}/chat/completions", json=chat, timeout=30),
        "sdk": lambda: _sdk_create(capped.base_url),
    }
    answers: dict[str, object] = {}
    with httpx.Client(timeout=60) as http, http.stream("POST", f"{capped.base_url}/responses", json=LONG) as long:
        lines = long.iter_lines()
        while "response.output_text.delta" not in next(lines):
            pass  # the long generation holds the model

        def answer(name: str) -> None:
            answers[name] = waiting[name]()

        threads = [threading.Thread(target=answer, args=(name,)) for name in waiting]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert MAX_WAIT <= time.monotonic() - started < MAX_WAIT + 5

    for name in ("response", "another response", "streamed response"):
        refused = answers[name]
        assert isinstance(refused, httpx.Response)
        assert _busy_error(refused)["code"] == "server_error"
        assert refused.headers["x-response-id"].startswith("resp_")
        stored = httpx.get(f"{capped.base_url}/responses/{refused.headers['x-response-id']}", timeout=10).json()
        assert stored["status"] == "failed" and "is busy" in stored["error"]["message"]
    chat_answer = answers["chat"]
    assert isinstance(chat_answer, httpx.Response) and _busy_error(chat_answer)["code"] == "model_busy"
    raised = answers["sdk"]
    assert isinstance(raised, openai.InternalServerError)
    assert raised.status_code == 503 and raised.response.headers["retry-after"] == str(MAX_WAIT)
    log = capped.log.read_text()
    for ahead in range(1, len(waiting) + 1):
        assert f"waiting for the embedded model local/smollm2-135m-instruct: {ahead} ahead" in log

    served = httpx.post(f"{capped.base_url}/responses", json=short, timeout=30)
    assert served.status_code == 200, served.text
    streamed = httpx.post(f"{capped.base_url}/responses", json={**short, "stream": True}, timeout=30)
    assert streamed.status_code == 200 and check_events(read_sse(streamed.content))["status"] == "incomplete"
