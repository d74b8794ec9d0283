"""An upstream that answers 200 with something that is not a chat completion stream never breaks
the contract: the response ends ``failed`` with an error naming the upstream, streamed (a
``response.failed`` event, after well-formed events) and not (a 502 with ``x-response-id``), and is
stored so; an answer that ends as an answer should (``finish_reason`` or ``[DONE]``) is accepted.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from conftest import Server, upstream_name
from scripted_upstream import Reply
from wire import check_events, check_response, output_text, read_sse


def frames(*payloads: Any, done: bool = True) -> bytes:
    body = b"".join(b"data: " + (p if isinstance(p, bytes) else orjson.dumps(p)) + b"\n\n" for p in payloads)
    return body + (b"data: [DONE]\n\n" if done else b"")


def choice(delta: Any, finish_reason: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}


HELLO = choice({"content": "hel"})
FAULTS: dict[str, tuple[bytes, str, str]] = {
    # name: (body, content type, words the error has)
    "number": (frames(b"42"), "text/event-stream", "int, not an object"),
    "null": (frames(b"null"), "text/event-stream", "null, not an object"),
    "list": (frames(b"[1, 2]"), "text/event-stream", "list, not an object"),
    "choices-string": (frames({"choices": "abc"}), "text/event-stream", "'choices' is str"),
    "choice-number": (frames({"choices": [5]}), "text/event-stream", "'choices[0]' is int"),
    "delta-string": (frames(HELLO, choice("x")), "text/event-stream", "'choices[0].delta' is str"),
    "content-number": (frames(choice({"content": 5})), "text/event-stream", "'choices[0].delta.content' is int"),
    "tool-calls-string": (frames(choice({"tool_calls": "x"})), "text/event-stream",
                          "'choices[0].delta.tool_calls' is str"),
    "arguments-number": (frames(choice({"tool_calls": [{"index": 0, "id": "c", "function": {
        "name": "f", "arguments": 7}}]})), "text/event-stream",
        "'choices[0].delta.tool_calls[0].function.arguments' is int"),
    "usage-string": (frames(HELLO, {"choices": [], "usage": {"prompt_tokens": "3"}}), "text/event-stream",
                     "'usage.prompt_tokens' is str"),
    "finish-reason-number": (frames(choice({}, 3)), "text/event-stream", "'choices[0].finish_reason' is int"),
    "malformed-json": (frames(HELLO, b"{not json"), "text/event-stream", "malformed JSON"),
    "html-page": (b"<html><body>Bad gateway</body></html>", "text/html", "text/html"),
    "binary-noise": (bytes(range(256)) * 64, "application/octet-stream", "application/octet-stream"),
    "plain-completion": (orjson.dumps({"id": "x", "object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]}),
        "application/json", "application/json"),
    "cut-short": (frames(HELLO, done=False), "text/event-stream", "before finishing"),
    "endless-line": (b"data: " + b"x" * (17 * 1024 * 1024), "text/event-stream", "a line of more than"),
}


@pytest.mark.parametrize("fault", FAULTS, ids=FAULTS.keys())
@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
def test_a_faulty_answer_fails_the_response_and_is_stored_failed(server: Server, upstream, model: str, fault: str,
                                                                 streamed: bool) -> None:
    body, content_type, words = FAULTS[fault]
    upstream.script(upstream_name(model), Reply(raw=body, content_type=content_type))
    with httpx.Client(timeout=60) as http:
        answer = http.post(f"{server.base_url}/responses", json={"model": model, "input": "hi", "stream": streamed})
        response_id = answer.headers["x-response-id"]
        if streamed:
            assert answer.status_code == 200
            events = read_sse(answer.content)
            final = check_events(events)
            assert final["status"] == "failed" and events[-1]["type"] == "response.failed"
            error = final["error"]
            assert error["code"] == "server_error"
        else:
            assert answer.status_code == 502, answer.text
            error = answer.json()["error"]
            assert response_id in error["message"] and error["type"] == "server_error"
        assert words in error["message"] and "upstream scripted" in error["message"], error
        stored = http.get(f"{server.base_url}/responses/{response_id}").json()
    check_response(stored)
    assert stored["status"] == "failed" and words in stored["error"]["message"]


ENDINGS = {
    "finish-reason-without-done": frames(HELLO, choice({"content": "lo"}, "stop"), done=False),
    "done-without-finish-reason": frames(HELLO, choice({"content": "lo"})),
    "comments-and-blank-lines": b": keep-alive\n\n" + frames(HELLO, choice({"content": "lo"}, "stop")),
    "crlf-less-lines": frames(HELLO, choice({"content": "lo"}, "stop")).replace(b"\n\n", b"\n"),
}


@pytest.mark.parametrize("ending", ENDINGS, ids=ENDINGS.keys())
def test_an_answer_that_ends_as_answers_do_completes(client, upstream, model: str, ending: str) -> None:
    upstream.script(upstream_name(model), Reply(raw=ENDINGS[ending]))
    response = client.responses.create(model=model, input="hi")
    assert (response.status, response.output_text) == ("completed", "hello")
    assert output_text(client.responses.retrieve(response.id).model_dump(mode="json")) == "hello"
