"""Upstream failures end a response as failed, stored that way, with the right HTTP answer."""

from __future__ import annotations

import json
import socket
import time

import httpx
import openai
import pytest

from conftest import upstream_name
from scripted_upstream import Reply
from wire import check_response, stream

FAILURES = [
    pytest.param(Reply(status=429, error={"message": "Rate limit reached", "type": "requests"}),
                 429, "rate_limit_exceeded", "Rate limit reached", id="upstream-429"),
    pytest.param(Reply(status=400, error={"message": "context too long", "type": "invalid_request_error"}),
                 400, "invalid_prompt", "context too long", id="upstream-400"),
    pytest.param(Reply(status=500, error={"message": "kaboom"}), 502, "server_error", "kaboom", id="upstream-500"),
    pytest.param(Reply(text="partial answer", break_after=3), 502, "server_error", "broke", id="broken-stream"),
    pytest.param(Reply(text="too slow", delay=3), 504, "server_error", "timed out", id="timeout"),
]


@pytest.mark.parametrize(("reply", "status", "code", "message"), FAILURES)
def test_non_streaming_failure(server, upstream, model, reply, status, code, message):
    upstream.script(upstream_name(model), reply)
    answer = httpx.post(f"{server.base_url}/responses", json={"model": model, "input": "x"}, timeout=30)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert message in error["message"] or message in error["message"].lower()
    response_id = answer.headers["x-response-id"]
    assert response_id in error["message"]
    stored = httpx.get(f"{server.base_url}/responses/{response_id}").json()
    check_response(stored)
    assert stored["status"] == "failed"
    assert stored["error"]["code"] == code


@pytest.mark.parametrize(("reply", "status", "code", "message"), FAILURES)
def test_streaming_failure_ends_with_response_failed(server, upstream, model, reply, status, code, message):
    upstream.script(upstream_name(model), reply)
    events = stream(server.base_url, {"model": model, "input": "x"})
    final = events[-1]
    assert final["type"] == "response.failed"
    assert final["response"]["status"] == "failed" and final["response"]["error"]["code"] == code
    stored = httpx.get(f"{server.base_url}/responses/{final['response']['id']}").json()
    assert stored["status"] == "failed" and stored["error"] == final["response"]["error"]
    assert stored["output"] == final["response"]["output"]


def test_broken_stream_keeps_the_partial_output_as_incomplete(server, upstream, model):
    upstream.script(upstream_name(model), Reply(text="abcdefghijkl", chunk=2, break_after=4))
    events = stream(server.base_url, {"model": model, "input": "x"})
    output = events[-1]["response"]["output"]
    assert output[0]["status"] == "incomplete"
    assert output[0]["content"][0]["text"] == "abcdef"


def test_refused_connection_is_502(server, client):
    with pytest.raises(openai.APIStatusError) as raised:
        client.responses.create(model="down/anything", input="x")
    assert raised.value.status_code == 502
    response_id = raised.value.response.headers["x-response-id"]
    assert client.responses.retrieve(response_id).status == "failed"


def test_failed_response_can_be_chained_on(client, upstream, model):
    name = upstream_name(model)
    upstream.script(name, Reply(status=500, error={"message": "down"}))
    with pytest.raises(openai.APIStatusError) as raised:
        client.responses.create(model=model, input="first")
    failed_id = raised.value.response.headers["x-response-id"]
    client.responses.create(model=model, input="second", previous_response_id=failed_id)
    assert upstream.bodies(name)[-1]["messages"] == [{"role": "user", "content": "first"},
                                                     {"role": "user", "content": "second"}]


def test_unknown_provider_is_404_model_not_found(server):
    for stream_flag in (False, True):
        answer = httpx.post(f"{server.base_url}/responses",
                            json={"model": "nowhere/x", "input": "x", "stream": stream_flag})
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "model_not_found"
        assert answer.json()["error"]["param"] == "model"


def test_client_disconnect_leaves_a_consistent_stored_response(server, upstream, model):
    upstream.script(upstream_name(model), Reply(text="x" * 200, chunk=1, delay=0.02))
    with httpx.Client(timeout=30) as http:
        with http.stream("POST", f"{server.base_url}/responses",
                         json={"model": model, "input": "x", "stream": True}) as answer:
            response_id = answer.headers["x-response-id"]
            for line in answer.iter_lines():
                if "output_text.delta" in line:
                    break
    status = None
    for _ in range(50):
        status = httpx.get(f"{server.base_url}/responses/{response_id}").json()["status"]
        if status != "in_progress":
            break
        time.sleep(0.1)
    assert status == "cancelled"
    stored = httpx.get(f"{server.base_url}/responses/{response_id}").json()
    check_response(stored)


@pytest.mark.parametrize("streamed", [True, False])
def test_a_client_gone_before_the_first_byte_leaves_nothing_in_progress(server, upstream, model, streamed):
    upstream.script(upstream_name(model), Reply(text="never read", delay=0.5))
    conversation = httpx.post(f"{server.base_url}/conversations", json={}).json()["id"]
    body = json.dumps({"model": model, "input": "x", "stream": streamed, "conversation": conversation}).encode()
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(b"POST /v1/responses HTTP/1.1\r\nhost: orrery\r\ncontent-type: application/json\r\n"
                     b"content-length: %d\r\n\r\n%s" % (len(body), body))
    deadline = time.monotonic() + 10
    while True:
        stored = httpx.get(f"{server.base_url}/responses", params={"model": model}).json()["data"]
        if stored and stored[0]["status"] != "in_progress":
            break
        assert time.monotonic() < deadline, stored
        time.sleep(0.05)
    assert stored[0]["status"] == "cancelled"
    upstream.script(upstream_name(model), Reply(text="next turn"))
    answer = httpx.post(f"{server.base_url}/responses", json={"model": model, "input": "y",
                                                             "conversation": conversation})
    assert answer.status_code == 200, "the conversation is not left locked"
