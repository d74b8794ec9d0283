"""Create, retrieve, list and delete responses; everything checkable is checked before streaming."""

from __future__ import annotations

import time
from typing import Any

from orrery.errors import APIError, InvalidRequest, NotFound
from orrery.ids import new_id
from orrery.inference.router import ModelRouter
from orrery.responses.convert import chat_request_body, items_to_messages
from orrery.responses.orchestrator import ResponseRun
from orrery.store.responses import Order, ResponseStore, StoredResponse
from orrery.wire import objects
from orrery.wire.requests import CreateResponseRequest

ITEM_ID_PREFIX = {"message": "msg", "function_call": "fc", "function_call_output": "fco", "reasoning": "rs"}
NOT_READY = ("queued", "in_progress")


def _input_items(request: CreateResponseRequest) -> list[dict[str, Any]]:
    """The request's input as stored items, each with an id."""
    if isinstance(request.input, str):
        return [{"id": new_id("msg"), "type": "message", "role": "user", "content": request.input}]
    items = []
    for model in request.input:
        item = model.model_dump(exclude_none=True, by_alias=True)
        item.setdefault("id", new_id(ITEM_ID_PREFIX[item["type"]]))
        items.append(item)
    return items


def _response_view(stored: StoredResponse, output: list[dict[str, Any]]) -> dict[str, Any]:
    return objects.response_object(
        response_id=stored.id,
        created_at=stored.created_at_us // 1_000_000,
        status=stored.status,
        params=stored.params,
        output=output,
        usage=stored.usage,
        error=stored.error,
        incomplete_details=stored.incomplete_details,
        completed_at=stored.completed_at_us // 1_000_000 if stored.completed_at_us else None,
    )


class ResponseService:
    def __init__(self, router: ModelRouter, store: ResponseStore) -> None:
        self.router = router
        self.store = store

    async def create(self, request: CreateResponseRequest) -> ResponseRun:
        if request.background:
            raise InvalidRequest("Background responses are not supported by this server yet.",
                                 param="background", code="unsupported_parameter")
        if request.conversation is not None:
            raise InvalidRequest("Conversations are not supported by this server yet.",
                                 param="conversation", code="unsupported_parameter")
        provider, upstream_model = self.router.resolve(request.model)
        history = await self._history(request.previous_response_id)
        input_items = _input_items(request)
        chat_body = chat_request_body(request, upstream_model, items_to_messages([*history, *input_items],
                                                                                  request.instructions))
        params = objects.response_params(request)
        response_id = new_id("resp")
        created_at_us = time.time_ns() // 1000
        recorder = self.store.begin(response_id=response_id, created_at_us=created_at_us, params=params,
                                    input_items=input_items) if request.store else None
        return ResponseRun(
            response_id=response_id,
            created_at_us=created_at_us,
            params=params,
            provider=provider,
            chat_body=chat_body,
            recorder=recorder,
            include_logprobs=bool(request.include and "message.output_text.logprobs" in request.include),
        )

    async def _history(self, previous_response_id: str | None) -> list[dict[str, Any]]:
        if previous_response_id is None:
            return []
        found = await self.store.get_status_and_history(previous_response_id)
        if found is None:
            raise NotFound(f"Previous response with id '{previous_response_id}' not found.",
                           param="previous_response_id", code="previous_response_not_found")
        status, history = found
        if status in NOT_READY:
            raise InvalidRequest(
                f"Previous response '{previous_response_id}' is still {status}; wait until it finishes.",
                param="previous_response_id", code="previous_response_not_ready",
            )
        return history

    async def retrieve(self, response_id: str) -> dict[str, Any]:
        found = await self.store.get(response_id)
        if found is None:
            raise NotFound(f"Response with id '{response_id}' not found.", param="response_id")
        return _response_view(*found)

    async def list(self, *, after: str | None, limit: int, order: Order, model: str | None) -> dict[str, Any]:
        rows, has_more = await self.store.list_page(after=after, limit=limit, order=order, model=model)
        return objects.list_page([_response_view(stored, output) for stored, output in rows], has_more)

    async def delete(self, response_id: str) -> dict[str, Any]:
        if not await self.store.delete(response_id):
            raise NotFound(f"Response with id '{response_id}' not found.", param="response_id")
        return {"id": response_id, "object": "response", "deleted": True}

    async def input_items(self, response_id: str, *, after: str | None, limit: int, order: Order) -> dict[str, Any]:
        page = await self.store.input_items(response_id, after=after, limit=limit, order=order)
        if page is None:
            raise NotFound(f"Response with id '{response_id}' not found.", param="response_id")
        return objects.list_page([objects.input_item_view(item) for item in page.data], page.has_more)


def failure_error(run: ResponseRun) -> APIError:
    """The HTTP error a non-streaming create answers with when its run failed upstream."""
    assert run.failure is not None
    failure = run.failure
    return APIError(
        f"Response {run.response_id} failed: {failure.message}",
        status_code=failure.http_status,
        error_type="invalid_request_error" if failure.http_status < 500 else "server_error",
        code=failure.response_error_code,
        headers={"x-response-id": run.response_id},
    )
