"""Checks that what orrery sends is OpenAI's wire format, on every object and every stream."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

STREAM_EVENT = TypeAdapter(ResponseStreamEvent)
SEARCH_CALLS = {"file_search_call", "web_search_call"}
TERMINAL = {"response.completed", "response.incomplete", "response.failed"}


def check_response(data: dict[str, Any]) -> Response:
    """Validate a response object against the SDK type and return it typed."""
    response = Response.model_validate(data)
    assert data["object"] == "response"
    return response


DONE_FRAME = b"data: [DONE]\n\n"


def read_sse(raw: bytes) -> list[dict[str, Any]]:
    """Parse SSE frames, asserting LF framing and that each ``event:`` names its data's type.

    A stream that ended with its terminal event closes with Open Responses' ``data: [DONE]``
    frame, which is not an event; nothing may follow it (any other frame is one event)."""
    assert b"\r" not in raw, "SSE frames must use LF line endings"
    assert raw.endswith(b"\n\n"), "the stream must end with a complete frame"
    if raw.endswith(DONE_FRAME):
        raw = raw[:-len(DONE_FRAME)]
    events = []
    for frame in raw.decode().split("\n\n"):
        if not frame:
            continue
        lines = frame.split("\n")
        assert len(lines) == 2, f"a frame is one event: line and one data: line, got {lines!r}"
        assert lines[0].startswith("event: ") and lines[1].startswith("data: "), lines
        event = orjson.loads(lines[1][len("data: "):])
        assert lines[0][len("event: "):] == event["type"]
        events.append(event)
    return events


def stream(base_url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """POST a streaming create over raw HTTP and return its checked events."""
    with httpx.Client(timeout=30) as http:
        response = http.post(f"{base_url}/responses", json={**body, "stream": True}, headers=headers or {})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_sse(response.content)
    check_events(events)
    return events


def resumed(base_url: str, response_id: str, after: int | None = None) -> list[dict[str, Any]]:
    """A background response's stream read again (``GET ?stream=true``), after ``after``; its
    events checked one by one."""
    params: dict[str, Any] = {"stream": "true"}
    if after is not None:
        params["starting_after"] = after
    with httpx.Client(timeout=30) as http:
        answer = http.get(f"{base_url}/responses/{response_id}", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = read_sse(answer.content)
    for event in events:
        STREAM_EVENT.validate_python(event)
    return events


def wait_for_status(base_url: str, response_id: str, *statuses: str, seconds: float = 20) -> dict[str, Any]:
    """The stored response once its status is one of ``statuses``, checked."""
    deadline = time.monotonic() + seconds
    while True:
        stored = httpx.get(f"{base_url}/responses/{response_id}").json()
        if stored.get("status") in statuses:
            check_response(stored)
            return stored
        assert time.monotonic() < deadline, stored
        time.sleep(0.02)


def create(base_url: str, body: dict[str, Any], streamed: bool) -> dict[str, Any]:
    """POST a create, streamed or not, and return its checked final response object."""
    if streamed:
        return stream(base_url, body)[-1]["response"]
    with httpx.Client(timeout=30) as http:
        answer = http.post(f"{base_url}/responses", json=body)
    assert answer.status_code == 200, answer.text
    check_response(answer.json())
    return answer.json()


OPENING = ["response.created", "response.in_progress"]
BACKGROUND_OPENING = ["response.created", "response.queued", "response.in_progress"]


def check_events(events: list[dict[str, Any]], *, background: bool = False) -> dict[str, Any]:
    """Check one response's stream end to end; return the final response object. A background
    response's stream opens with it queued."""
    for event in events:
        STREAM_EVENT.validate_python(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    opening = BACKGROUND_OPENING if background else OPENING
    assert [e["type"] for e in events[:len(opening)]] == opening, [e["type"] for e in events[:3]]
    assert events[0]["response"]["status"] == ("queued" if background else "in_progress")
    assert all(e["response"]["background"] is background for e in events if "response" in e)
    terminal = [e for e in events if e["type"] in TERMINAL]
    assert len(terminal) == 1 and terminal[0] is events[-1], [e["type"] for e in events]
    final = events[-1]["response"]
    check_response(final)
    response_id = events[0]["response"]["id"]
    assert all(e["response"]["id"] == response_id for e in events if "response" in e)

    items: dict[str, dict[str, Any]] = {}
    for event in events[len(opening):-1]:
        kind = event["type"]
        if kind == "response.output_item.added":
            assert event["output_index"] == len(items), "items are added in output order"
            item = event["item"]
            items[item["id"]] = {"index": event["output_index"], "type": item["type"], "text": [], "args": [],
                                 "reasoning": [], "refusal": [], "stage": "added", "done": None, "progress": []}
            continue
        item_id = event["item"]["id"] if "item" in event else event["item_id"]
        state = items[item_id]
        assert event["output_index"] == state["index"], event
        assert state["stage"] != "done", f"{kind} after output_item.done"
        if "content_index" in event:
            assert event["content_index"] == 0
        if kind == "response.content_part.added":
            assert state["stage"] == "added"
            state["stage"] = "part"
        elif kind == "response.output_text.delta":
            assert state["stage"] == "part"
            state["text"].append(event["delta"])
        elif kind == "response.output_text.done":
            assert event["text"] == "".join(state["text"])
            state["stage"] = "text_done"
        elif kind == "response.refusal.delta":
            assert state["stage"] == "part"
            state["refusal"].append(event["delta"])
        elif kind == "response.refusal.done":
            assert event["refusal"] == "".join(state["refusal"])
            state["stage"] = "text_done"
        elif kind == "response.reasoning_text.delta":
            state["reasoning"].append(event["delta"])
        elif kind == "response.reasoning_text.done":
            assert event["text"] == "".join(state["reasoning"])
        elif kind == "response.content_part.done":
            state["stage"] = "part_done"
            part = event["part"]
            if part["type"] == "refusal":
                assert part["refusal"] == "".join(state["refusal"])
            else:
                joined = "".join(state["text"] if part["type"] == "output_text" else state["reasoning"])
                assert part["text"] == joined
        elif kind == "response.function_call_arguments.delta":
            state["args"].append(event["delta"])
        elif kind == "response.function_call_arguments.done":
            assert event["arguments"] == "".join(state["args"])
            state["stage"] = "args_done"
        elif kind.startswith(f"response.{state['type']}."):
            state["progress"].append(kind.rsplit(".", 1)[1])
        elif kind == "response.output_item.done":
            if state["type"] in SEARCH_CALLS:
                completed = event["item"]["status"] == "completed"
                expected = ["in_progress", "searching"] + (["completed"] if completed else [])
                assert state["progress"] == expected, (state["type"], state["progress"])
            if state["type"] == "message":
                assert state["stage"] == "part_done"
            if state["type"] == "function_call":
                assert state["stage"] == "args_done"
            state["stage"] = "done"
            state["done"] = event["item"]
    assert len(final["output"]) == len(items)
    for item_id, state in items.items():
        assert state["stage"] == "done", f"item {item_id} never finished"
        assert final["output"][state["index"]] == state["done"]
    return final


def output_text(response: dict[str, Any]) -> str:
    return "".join(part["text"] for item in response["output"] if item["type"] == "message"
                   for part in item["content"] if part["type"] == "output_text")
