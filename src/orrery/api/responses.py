"""HTTP routes of ``/v1/responses``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from orrery.api.common import STREAMED, JSONBody, errors, include_param, json_body, services
from orrery.api.disconnect import EventStream, unless_disconnected
from orrery.inference.errors import UpstreamError, http_error
from orrery.responses.background import BackgroundRunner
from orrery.responses.orchestrator import ResponseRun
from orrery.responses.service import Queued
from orrery.responses.websocket import ResponsesSocket
from orrery.wire.responses import CompactRequest, CountInputTokensRequest, CreateResponseRequest
from orrery.wire.validation import parse_request

router = APIRouter()

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
SEQUENCE_MAX = 2**31 - 1
"""The largest sequence number the event log holds."""


async def _drain(run: ResponseRun) -> None:
    async for _ in run.event_batches():
        pass


class RunStreamingResponse(EventStream):
    """A response's SSE stream; a run whose stream never started is stored as cancelled."""

    def __init__(self, run: ResponseRun, headers: dict[str, str]) -> None:
        super().__init__(run.event_batches(), headers)
        self.run = run

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.run.abandon_if_unstarted()


async def _queued_stream(queued: Queued, background: BackgroundRunner) -> AsyncIterator[list[dict[str, Any]]]:
    """A background response's stream as its creator reads it: its first events, then its run's."""
    yield queued.events
    async for batch in background.follow(queued.response["id"], queued.events[-1]["sequence_number"]):
        yield batch


def _sse(batches: AsyncIterator[list[dict[str, Any]]], headers: dict[str, str] | None = None) -> EventStream:
    return EventStream(batches, {**SSE_HEADERS, **(headers or {})})


async def _create_background(request: Request, raw: bytes, body: CreateResponseRequest) -> Response:
    background = services(request).background
    queued = await background.enqueue(body, raw)
    headers = {"x-response-id": queued.response["id"]}
    if body.stream:
        return _sse(_queued_stream(queued, background), headers)
    return JSONBody(queued.response, headers=headers)


@router.post("/v1/responses", openapi_extra=json_body(CreateResponseRequest),
             responses={**STREAMED, **errors(404, 409, 424, 502, 504)})
async def create_response(request: Request) -> Response:
    raw = await request.body()
    body = parse_request(raw, CreateResponseRequest)
    if body.background:
        return await _create_background(request, raw, body)
    run = await services(request).responses.create(body)
    headers = {"x-response-id": run.response_id}
    if body.stream:
        try:
            if run.provider.takes_turns:  # it may wait for its turn: a client may leave meanwhile
                gone = await unless_disconnected(request, run.admit())
                if gone is not None:
                    run.abandon_if_unstarted()
                    return gone
            await run.announce()
        except UpstreamError as exc:
            raise http_error(exc, response_id=run.response_id) from None
        except BaseException:
            run.abandon_if_unstarted()
            raise
        return RunStreamingResponse(run, {**SSE_HEADERS, **headers})
    try:
        gone = await unless_disconnected(request, _drain(run))
    finally:
        run.abandon_if_unstarted()
    if gone is not None:
        return gone
    if run.failure is not None:
        raise http_error(run.failure, response_id=run.response_id)
    return JSONBody(run.final, headers=headers)


@router.websocket("/v1/responses")
async def responses_socket(websocket: WebSocket) -> None:
    """WebSocket mode: each text (or binary) message a ``response.create``, answered in turn."""
    await websocket.accept()
    wired = services(websocket)
    socket = ResponsesSocket(wired.responses, wired.websocket_max_age)
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if not await socket.handle(text if text is not None else message.get("bytes") or b"",
                                       websocket.send_text):
                await websocket.close()
                return


@router.post("/v1/responses/input_tokens", openapi_extra=json_body(CountInputTokensRequest),
             responses=errors(404, 424))
async def count_input_tokens(request: Request) -> Response:
    body = parse_request(await request.body(), CountInputTokensRequest)
    counted = await services(request).responses.count_input_tokens(body)
    return JSONBody({"object": "response.input_tokens", "input_tokens": counted.tokens},
                    headers={"x-orrery-token-count": counted.method})


@router.post("/v1/responses/compact", openapi_extra=json_body(CompactRequest), responses=errors(404, 502, 504))
async def compact_response(request: Request) -> Response:
    body = parse_request(await request.body(), CompactRequest)
    return JSONBody(await services(request).responses.compact(body))


@router.get("/v1/responses")
async def list_responses(
    request: Request,
    after: str | None = None,
    limit: int = Query(20, ge=1, le=100),
    order: Literal["asc", "desc"] = "desc",
    model: str | None = None,
) -> Response:
    return JSONBody(await services(request).responses.list_page(after=after, limit=limit, order=order, model=model))


@router.get("/v1/responses/{response_id}", responses=STREAMED)
async def retrieve_response(request: Request, response_id: str, stream: bool = False,
                            starting_after: int | None = Query(None, ge=-1, le=SEQUENCE_MAX)) -> Response:
    """With ``stream=true``, a background response's events past ``starting_after``, then its
    live run's, as SSE."""
    wired = services(request)
    if not stream:
        return JSONBody(await wired.responses.retrieve(response_id, include_param(request)))
    if not wired.background.runs_here(response_id):
        await wired.responses.check_resumable(response_id)
    after = -1 if starting_after is None else starting_after
    return _sse(wired.background.follow(response_id, after))


@router.post("/v1/responses/{response_id}/cancel", responses=errors(400))
async def cancel_response(request: Request, response_id: str) -> Response:
    return JSONBody(await services(request).background.cancel(response_id))


@router.delete("/v1/responses/{response_id}")
async def delete_response(request: Request, response_id: str) -> Response:
    return JSONBody(await services(request).responses.delete(response_id))


@router.get("/v1/responses/{response_id}/input_items")
async def list_input_items(
    request: Request,
    response_id: str,
    after: str | None = None,
    limit: int = Query(20, ge=1, le=100),
    order: Literal["asc", "desc"] = "desc",
) -> Response:
    page = await services(request).responses.input_items(response_id, after=after, limit=limit, order=order,
                                                         include=include_param(request))
    return JSONBody(page)
