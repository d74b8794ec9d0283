"""WebSocket mode of ``/v1/responses``: ``response.create`` messages in, their responses' events
out as text frames, one response after another on a connection.

A connection keeps its latest response's chain (the items a next turn follows) in memory, so a
turn that continues it with ``previous_response_id`` reads nothing from the store, and a
``store: false`` chain can go on at all. Continuing any other response reads the store, where an
unstored one is not found. A turn that fails, or is answered with an error, drops what the
connection kept.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from orrery.errors import APIError, InvalidRequest
from orrery.responses.service import ResponseService
from orrery.wire.responses import CreateResponseRequest
from orrery.wire.validation import parse_json, parse_request

Send = Callable[[str], Awaitable[None]]

ANSWERED = ("completed", "incomplete")
CONNECTION_LIMIT = InvalidRequest("Responses websocket connection limit reached: create a new websocket connection "
                                  "to continue.", code="websocket_connection_limit_reached")
ENVELOPE_ONLY = ("type", "generate", "stream_id", "stream")
"""Fields of a ``response.create`` message that are not the create body's (``stream`` is implied)."""


def error_event(error: APIError, stream_id: str | None = None) -> dict[str, Any]:
    """An error as the WebSocket mode sends it: the HTTP error body, with its status, as an event.
    A previous response the connection does not have is a 400 there, as OpenAI's guide shows it
    (over HTTP an unknown id is a 404)."""
    status = 400 if error.code == "previous_response_not_found" else error.status_code
    event: dict[str, Any] = {"type": "error", "status": status, **error.body()}
    if stream_id is not None:
        event["stream_id"] = stream_id
    return event


def steer_refused(data: dict[str, Any]) -> dict[str, Any]:
    """The answer to ``response.steer``: responses here run to their end, so input is never
    steered in; it is handed back for the next ``response.create``."""
    return {"type": "response.steer.failed", "sequence_number": 0,
            "error": {"code": "steering_not_supported", "type": "invalid_request_error",
                      "message": "This server does not steer running responses: send the input with the next "
                                 "response.create."},
            "steer": {"input": data.get("input", ""), "previous_response_id": str(data.get("previous_response_id"))}}


class CreateMessage:
    """A ``response.create`` message: the create request, and the envelope's own fields."""

    def __init__(self, data: Any) -> None:
        if not isinstance(data, dict):
            raise InvalidRequest("A message must be a JSON object.", code="invalid_json")
        kind = data.get("type")
        if kind != "response.create":
            raise InvalidRequest(f"Unsupported message type {str(kind)[:64]!r}: this server accepts "
                                 "'response.create'.", param="type", code="invalid_value")
        stream_id, generate = data.get("stream_id"), data.get("generate", True)
        if stream_id is not None and not isinstance(stream_id, str):
            raise InvalidRequest("'stream_id' must be a string.", param="stream_id", code="invalid_type")
        if not isinstance(generate, bool):
            raise InvalidRequest("'generate' must be a boolean.", param="generate", code="invalid_type")
        self.stream_id: str | None = stream_id
        if data.get("background"):
            raise InvalidRequest("Background responses are not supported over WebSocket: create them over HTTP.",
                                 param="background", code="unsupported_parameter")
        body = {key: value for key, value in data.items() if key not in ENVELOPE_ONLY}
        self.request = parse_request(orjson.dumps({**body, "stream": True}), CreateResponseRequest)
        cache = self.request.prompt_cache_options
        self.generate = generate and not (cache is not None and cache.prewarm)


class ResponsesSocket:
    """One WebSocket connection's state: its latest response's chain, and its age."""

    def __init__(self, service: ResponseService, max_age: float) -> None:
        """``max_age``: seconds the connection serves responses."""
        self.service = service
        self.closes_at = time.monotonic() + max_age
        self.latest: tuple[str, list[dict[str, Any]]] | None = None
        """The id of the connection's latest answered response, and the items a next turn follows."""

    def _chain(self, request: CreateResponseRequest) -> list[dict[str, Any]] | None:
        if self.latest is not None and request.previous_response_id == self.latest[0]:
            return self.latest[1]
        return None

    async def handle(self, raw: str | bytes, send: Send) -> bool:
        """Answer one message: the response's events, or one error event; False when the
        connection is past its age and must close."""
        if time.monotonic() > self.closes_at:
            await send(orjson.dumps(error_event(CONNECTION_LIMIT)).decode())
            return False
        stream_id = None
        try:
            data = parse_json(raw.encode() if isinstance(raw, str) else raw)
            if isinstance(data, dict) and data.get("type") == "response.steer":
                await send(orjson.dumps(steer_refused(data)).decode())
                return True
            message = CreateMessage(data)
            stream_id = message.stream_id
            run = await self.service.create(message.request, chain=self._chain(message.request),
                                            generate=message.generate)
            await run.announce()
        except APIError as exc:
            self.latest = None
            await send(orjson.dumps(error_event(exc, stream_id)).decode())
            return True
        lane = {"stream_id": stream_id} if stream_id is not None else {}
        try:
            async with contextlib.aclosing(run.event_batches()) as batches:
                async for batch in batches:
                    for event in batch:
                        await send(orjson.dumps({**event, **lane}).decode())
        finally:
            run.abandon_if_unstarted()
        final = run.final
        answered = final is not None and final["status"] in ANSWERED
        self.latest = (run.response_id, [*run.context, *run.output]) if answered else None
        return True
