"""Background responses on one server (SQLite and PostgreSQL): queued at once, run by the
server's pool, streamed, resumed from any sequence number, cancelled, chained on.

Several processes on one store, and a process killed mid-run, are in test_background_processes.py.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest

from conftest import Server, upstream_name
from scripted_upstream import Reply
from wire import TERMINAL, check_events, check_response, output_text, read_sse, wait_for_status
from wire import resumed as resumed_stream

SLOW = Reply(text="one two three four five six seven eight nine ten", chunk=4, delay=0.15)


def wait_for(server: Server, response_id: str, *statuses: str, seconds: float = 20) -> dict[str, Any]:
    return wait_for_status(server.base_url, response_id, *statuses, seconds=seconds)


def resumed(server: Server, response_id: str, after: int | None = None) -> list[dict[str, Any]]:
    return resumed_stream(server.base_url, response_id, after)


def test_background_create_answers_queued_at_once_and_runs(server: Server, client: openai.OpenAI, upstream,
                                                           model: str) -> None:
    upstream.script(upstream_name(model), Reply(text="done in the background"))
    queued = client.responses.create(model=model, input="work on it", background=True)
    assert queued.status == "queued" and queued.background is True and queued.output == []
    final = wait_for(server, queued.id, "completed")
    assert final["background"] is True and output_text(final) == "done in the background"
    items = client.responses.input_items.list(queued.id)
    assert [item.type for item in items.data] == ["message"]
    assert upstream.bodies(upstream_name(model))[-1]["messages"][-1] == {"role": "user", "content": "work on it"}


def test_background_stream_opens_queued_then_runs(server: Server, client: openai.OpenAI, upstream,
                                                  model: str) -> None:
    upstream.script(upstream_name(model), Reply(text="streamed from the pool"))
    with httpx.Client(timeout=30) as http:
        answer = http.post(f"{server.base_url}/responses",
                           json={"model": model, "input": "go", "background": True, "stream": True})
    assert answer.status_code == 200, answer.text
    assert answer.content.endswith(b"data: [DONE]\n\n")
    events = read_sse(answer.content)
    final = check_events(events, background=True)
    assert final["status"] == "completed" and output_text(final) == "streamed from the pool"
    assert answer.headers["x-response-id"] == final["id"]
    # the whole log replays, event for event
    assert resumed(server, final["id"]) == events
    assert resumed(server, final["id"], after=4) == events[5:]
    stored = client.responses.retrieve(final["id"])
    assert stored.status == "completed" and stored.output_text == "streamed from the pool"


def test_sdk_stream_resumes_after_a_dropped_connection(server: Server, client: openai.OpenAI, upstream,
                                                       model: str) -> None:
    upstream.script(upstream_name(model), SLOW)
    first: list[Any] = []
    with client.responses.create(model=model, input="slowly", background=True, stream=True) as stream:
        for event in stream:
            first.append(event)
            if event.type == "response.output_text.delta":
                break  # the client goes away; the run goes on
    response_id = first[0].response.id
    cursor = first[-1].sequence_number
    rest = list(client.responses.retrieve(response_id, stream=True, starting_after=cursor))
    assert rest[0].sequence_number == cursor + 1
    assert rest[-1].type == "response.completed"
    events = [event.model_dump(mode="json", exclude_unset=True) for event in [*first, *rest]]
    final = check_events(events, background=True)
    assert output_text(final) == SLOW.text


def test_a_resumed_stream_follows_the_live_run(server: Server, upstream, model: str) -> None:
    upstream.script(upstream_name(model), SLOW)
    queued = httpx.post(f"{server.base_url}/responses", json={"model": model, "input": "x", "background": True})
    response_id = queued.json()["id"]
    events = resumed(server, response_id, after=-1)
    final = check_events(events, background=True)
    assert output_text(final) == SLOW.text


def test_stream_true_on_a_response_not_run_in_background_is_a_400(server: Server, client: openai.OpenAI) -> None:
    plain = client.responses.create(model="scripted/scripted-model", input="hi")
    answer = httpx.get(f"{server.base_url}/responses/{plain.id}", params={"stream": "true"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == "stream"
    missing = httpx.get(f"{server.base_url}/responses/resp_missing", params={"stream": "true"})
    assert missing.status_code == 404


def test_background_needs_store(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as error:
        client.responses.create(model="scripted/scripted-model", input="hi", background=True, store=False)
    assert error.value.body["param"] == "store"


def test_a_background_request_is_checked_before_it_is_queued(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.create(model="scripted/scripted-model", input="hi", background=True,
                                previous_response_id="resp_nope")
    assert missing.value.body["param"] == "previous_response_id"
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="scripted/scripted-model", input=[{"type": "item_reference", "id": "msg_no"}],
                                background=True)


def test_cancel_stops_a_running_response(server: Server, client: openai.OpenAI, upstream, model: str) -> None:
    upstream.script(upstream_name(model), Reply(text="x" * 400, chunk=2, delay=0.05))
    queued = client.responses.create(model=model, input="long", background=True)
    first = resumed_until(server, queued.id, "response.output_text.delta")
    cancelled = client.responses.cancel(queued.id)
    assert cancelled.status == "cancelled"
    check_response(cancelled.model_dump(mode="json"))
    again = client.responses.cancel(queued.id)
    assert again.status == "cancelled"
    time.sleep(0.5)
    stored = client.responses.retrieve(queued.id)
    assert stored.status == "cancelled"
    # the run stopped: far fewer deltas than the reply has
    assert len(stored.output_text) < 200
    events = resumed(server, queued.id)
    assert events[:len(first)] == first
    assert not any(event["type"] in TERMINAL for event in events)


def resumed_until(server: Server, response_id: str, event_type: str) -> list[dict[str, Any]]:
    """The stream's events up to the first of ``event_type``; the connection is then dropped."""
    seen: list[dict[str, Any]] = []
    with httpx.Client(timeout=30) as http, http.stream(
            "GET", f"{server.base_url}/responses/{response_id}", params={"stream": "true"}) as answer:
        buffer = b""
        for chunk in answer.iter_bytes():
            buffer += chunk
            while b"\n\n" in buffer:
                frame, buffer = buffer.split(b"\n\n", 1)
                seen.extend(read_sse(frame + b"\n\n"))
                if seen and seen[-1]["type"] == event_type:
                    return seen
    raise AssertionError(f"no {event_type} in {seen}")


def test_cancel_answers_as_openai_for_what_cannot_be_cancelled(server: Server, client: openai.OpenAI,
                                                                 model: str) -> None:
    plain = client.responses.create(model=model, input="hi")
    with pytest.raises(openai.BadRequestError) as not_background:
        client.responses.cancel(plain.id)
    assert "background" in not_background.value.message
    finished = client.responses.create(model=model, input="hi", background=True)
    wait_for(server, finished.id, "completed")
    with pytest.raises(openai.BadRequestError) as done:
        client.responses.cancel(finished.id)
    assert "completed" in done.value.message
    with pytest.raises(openai.NotFoundError):
        client.responses.cancel("resp_unknown")


def test_chaining_on_an_unfinished_background_response_is_a_400(server: Server, client: openai.OpenAI, upstream,
                                                                 model: str) -> None:
    upstream.script(upstream_name(model), Reply(text="first answer", chunk=2, delay=0.1))
    queued = client.responses.create(model=model, input="one", background=True)
    with pytest.raises(openai.BadRequestError) as error:
        client.responses.create(model=model, input="two", previous_response_id=queued.id)
    assert error.value.code == "previous_response_not_ready"
    wait_for(server, queued.id, "completed")
    upstream.script(upstream_name(model), Reply(text="second answer"))
    second = client.responses.create(model=model, input="two", previous_response_id=queued.id, background=True)
    final = wait_for(server, second.id, "completed")
    assert output_text(final) == "second answer"
    messages = upstream.bodies(upstream_name(model))[-1]["messages"]
    assert messages == [{"role": "user", "content": "one"}, {"role": "assistant", "content": "first answer"},
                        {"role": "user", "content": "two"}]


def test_a_background_response_in_a_conversation_holds_it_and_appends_its_turn(
        server: Server, client: openai.OpenAI, upstream, model: str) -> None:
    conversation = client.conversations.create()
    upstream.script(upstream_name(model), Reply(text="answered later", chunk=2, delay=0.1))
    queued = client.responses.create(model=model, input="in the conversation", background=True,
                                     conversation=conversation.id)
    with pytest.raises(openai.ConflictError):
        client.responses.create(model=model, input="meanwhile", conversation=conversation.id)
    wait_for(server, queued.id, "completed")
    items = client.conversations.items.list(conversation.id, order="asc").data
    assert [item.type for item in items] == ["message", "message"]
    assert items[1].content[0].text == "answered later"


def test_a_background_run_whose_upstream_fails_ends_failed(server: Server, client: openai.OpenAI, upstream,
                                                           model: str) -> None:
    upstream.script(upstream_name(model), Reply(status=500, error={"message": "upstream broke"}))
    queued = client.responses.create(model=model, input="x", background=True)
    failed = wait_for(server, queued.id, "failed")
    assert failed["error"]["code"] == "server_error"
    events = resumed(server, queued.id)
    assert events[-1]["type"] == "response.failed"
    check_events(events, background=True)


def test_a_streamed_response_is_known_before_its_first_event(server: Server, client: openai.OpenAI, upstream,
                                                             model: str) -> None:
    """Its row exists before its id is sent: chaining on it is a 400 from the first event on."""
    upstream.script(upstream_name(model), Reply(text="a fairly slow answer", chunk=2, delay=0.05))
    with client.responses.create(model=model, input="x", stream=True) as stream:
        created = next(iter(stream))
        assert created.type == "response.created"
        stored = client.responses.retrieve(created.response.id)
        assert stored.status == "in_progress"
        with pytest.raises(openai.BadRequestError) as error:
            client.responses.create(model=model, input="y", previous_response_id=created.response.id)
        assert error.value.code == "previous_response_not_ready"
        for _ in stream:
            pass
    assert client.responses.retrieve(created.response.id).status == "completed"
