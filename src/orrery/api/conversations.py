"""HTTP routes of ``/v1/conversations``."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from orrery.api.common import JSONBody, errors, include_param, json_body, services
from orrery.wire.conversations import CreateConversationRequest, CreateItemsRequest, UpdateConversationRequest
from orrery.wire.validation import parse_request

router = APIRouter(responses=errors(400))
"""Every route answers 400 for an id that is not a conversation's (``conv_…``) too."""


@router.post("/v1/conversations", openapi_extra=json_body(CreateConversationRequest))
async def create_conversation(request: Request) -> Response:
    body = parse_request(await request.body(), CreateConversationRequest)
    return JSONBody(await services(request).conversations.create(body.items or [], body.metadata or {}))


@router.get("/v1/conversations/{conversation_id}")
async def retrieve_conversation(request: Request, conversation_id: str) -> Response:
    return JSONBody(await services(request).conversations.retrieve(conversation_id))


@router.post("/v1/conversations/{conversation_id}", openapi_extra=json_body(UpdateConversationRequest))
async def update_conversation(request: Request, conversation_id: str) -> Response:
    body = parse_request(await request.body(), UpdateConversationRequest)
    return JSONBody(await services(request).conversations.update(conversation_id, body.metadata or {}))


@router.delete("/v1/conversations/{conversation_id}")
async def delete_conversation(request: Request, conversation_id: str) -> Response:
    return JSONBody(await services(request).conversations.delete(conversation_id))


@router.post("/v1/conversations/{conversation_id}/items", openapi_extra=json_body(CreateItemsRequest))
async def create_items(request: Request, conversation_id: str) -> Response:
    body = parse_request(await request.body(), CreateItemsRequest)
    return JSONBody(await services(request).conversations.add_items(conversation_id, body.items,
                                                                     include_param(request)))


@router.get("/v1/conversations/{conversation_id}/items")
async def list_items(
    request: Request,
    conversation_id: str,
    after: str | None = None,
    limit: int = Query(20, ge=1, le=100),
    order: Literal["asc", "desc"] = "desc",
) -> Response:
    page = await services(request).conversations.list_items(conversation_id, after=after, limit=limit, order=order,
                                                            include=include_param(request))
    return JSONBody(page)


@router.get("/v1/conversations/{conversation_id}/items/{item_id}")
async def retrieve_item(request: Request, conversation_id: str, item_id: str) -> Response:
    return JSONBody(await services(request).conversations.retrieve_item(conversation_id, item_id,
                                                                        include_param(request)))


@router.delete("/v1/conversations/{conversation_id}/items/{item_id}")
async def delete_item(request: Request, conversation_id: str, item_id: str) -> Response:
    return JSONBody(await services(request).conversations.delete_item(conversation_id, item_id))
