"""``/v1/chat/completions`` and ``/v1/embeddings`` forwarded to the provider the model names.

The body goes upstream unchanged but for ``model``; streamed answers are relayed byte for byte.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from orrery.api.common import JSON_OBJECT_BODY, STREAMED, JSONBody, errors, services
from orrery.api.disconnect import unless_disconnected
from orrery.errors import InvalidRequest
from orrery.inference.errors import UpstreamError, http_error
from orrery.inference.provider import Provider
from orrery.wire.validation import parse_json

router = APIRouter()


async def _routed_body(request: Request) -> tuple[Provider, dict[str, Any]]:
    body = parse_json(await request.body())
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("Missing required parameter: 'model'.", param="model",
                             code="missing_required_parameter")
    provider, upstream_model = services(request).router.resolve(model)
    return provider, {**body, "model": upstream_model}


async def _forward(request: Request, provider: Provider, path: str, body: dict[str, Any]) -> Response:
    if not body.get("stream"):
        try:
            answer = await unless_disconnected(request, provider.post_json(path, body))
        except UpstreamError as exc:
            raise http_error(exc) from None
        return answer if isinstance(answer, Response) else JSONBody(answer)
    stack = AsyncExitStack()
    try:
        upstream = await stack.enter_async_context(provider.open_stream(path, body))
    except UpstreamError as exc:
        await stack.aclose()
        raise http_error(exc) from None

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for chunk in provider.iter_bytes(upstream):
                yield chunk
        except UpstreamError as exc:
            yield b"data: " + orjson.dumps({"error": {"message": exc.message, "type": "upstream_error"}}) + b"\n\n"
        finally:
            await stack.aclose()

    return StreamingResponse(relay(), status_code=upstream.status,
                             media_type=upstream.content_type or "text/event-stream",
                             background=BackgroundTask(stack.aclose))


@router.post("/v1/chat/completions", openapi_extra=JSON_OBJECT_BODY, responses={**STREAMED, **errors(404, 502, 504)})
async def chat_completions(request: Request) -> Response:
    provider, body = await _routed_body(request)
    return await _forward(request, provider, "chat/completions", body)


@router.post("/v1/embeddings", openapi_extra=JSON_OBJECT_BODY, responses=errors(404, 502, 504))
async def embeddings(request: Request) -> Response:
    provider, body = await _routed_body(request)
    return await _forward(request, provider, "embeddings", body)
