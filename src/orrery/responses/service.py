"""Create, retrieve, list and delete responses; everything checkable is checked before streaming."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from orrery import principals
from orrery.conversations.service import ConversationService
from orrery.errors import APIError, InvalidRequest, NotFound
from orrery.ids import new_id
from orrery.inference.errors import UpstreamError, http_error, response_error_code
from orrery.inference.router import ModelRouter
from orrery.inference.tokens import TokenCount
from orrery.responses.compaction import (
    Compacted,
    PendingCompaction,
    compacted,
    expanded,
    latest,
    summarize,
    summary_body,
)
from orrery.responses.context_fit import Fitted, count_beyond, fit
from orrery.responses.convert import chat_request_body, items_to_messages
from orrery.responses.events import QUEUED_EVENTS, EventCounter
from orrery.responses.orchestrator import ChatStreamer, ResponseRun, RunRecord
from orrery.sealing import Sealer
from orrery.store.background import Job
from orrery.store.common import Order
from orrery.store.conversations import ConversationHold
from orrery.store.responses import ResponseStore, StoredResponse
from orrery.tools.registry import visible_item
from orrery.tools.toolset import ToolRegistry, Toolset
from orrery.wire import objects
from orrery.wire.responses import CompactRequest, CountInputTokensRequest, CreateResponseRequest
from orrery.wire.shapes import ListPage, Usage
from orrery.wire.validation import parse_request

NOT_READY = ("queued", "in_progress")


@dataclass(frozen=True)
class Queued:
    """A background response as created: its object, the events its stream starts with, and its
    job (already this process's, when it was created claimed)."""

    response: dict[str, Any]
    events: list[dict[str, Any]]
    job: Job
_NO_USAGE: Usage = {"input_tokens": 0, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                    "output_tokens": 0, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 0}


def _check_context(request: CreateResponseRequest) -> None:
    if request.conversation_id is not None and request.previous_response_id is not None:
        raise InvalidRequest("Mutually exclusive parameters: 'conversation' and 'previous_response_id'. "
                             "Provide one of them, not both.", param="conversation",
                             code="mutually_exclusive_parameters")


def _check_background_options(request: CreateResponseRequest) -> None:
    """The discounted completion windows are for background responses read by polling, as OpenAI has it."""
    window = request.background_options.completion_window if request.background_options else None
    if window in ("2h", "8h") and (not request.background or request.stream):
        raise InvalidRequest(f"The '{window}' completion window requires 'background': true and no 'stream'.",
                             param="background_options.completion_window", code="invalid_value")


def _input_items(request: CreateResponseRequest) -> list[dict[str, Any]]:
    """The request's input as stored items, each with an id; a ``compaction_trigger`` only last."""
    if isinstance(request.input, str):
        return [{"id": new_id("msg"), "type": "message", "role": "user", "content": request.input}]
    items = [objects.stored_item(model) for model in request.input]
    for position, item in enumerate(items[:-1]):
        if item["type"] == "compaction_trigger":
            raise InvalidRequest("A compaction_trigger item must be the last input item.",
                                 param=f"input[{position}]", code="invalid_value")
    return items


def _stored_input(input_items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The input as stored: a ``compaction_trigger`` asks for something, and is no item."""
    return [item for item in input_items if item["type"] != "compaction_trigger"]


def _check_outputs_have_calls(context: list[dict[str, Any]]) -> None:
    """A function's output answers a call before it in the context, as OpenAI checks."""
    called: set[str] = set()
    for item in context:
        call_id = item.get("call_id")
        if not isinstance(call_id, str):
            continue
        if item.get("type") == "function_call_output" and call_id not in called:
            raise InvalidRequest(f"No tool call found for function call output with call_id {call_id}.",
                                 param="input", code="invalid_value")
        called.add(call_id)


def _all_to_compact(history: list[dict[str, Any]], input_items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The whole context as the model is shown it, but a closing ``compaction_trigger``; a 400 if
    that is nothing."""
    context = [*history, *(input_items[:-1] if _compacts_only(input_items) else input_items)]
    if not context:
        raise InvalidRequest("There is nothing to compact: give input, or a previous_response_id.", param="input",
                             code="missing_required_parameter")
    return context


def _compacts_only(input_items: list[dict[str, Any]]) -> bool:
    return bool(input_items) and input_items[-1].get("type") == "compaction_trigger"


def _compacts(request: CreateResponseRequest, input_items: list[dict[str, Any]]) -> bool:
    """Whether the response may compact its context (and so wants its model's window)."""
    return bool(request.context_management) or _compacts_only(input_items)


def _compact_threshold(request: CreateResponseRequest, limit: int | None) -> int | None:
    """Past how many tokens ``context_management`` compacts: its threshold, else the room in the window."""
    if not request.context_management:
        return None
    return request.compact_threshold if request.compact_threshold is not None else limit


def _truncation_edit(fitted: Fitted, limit: int) -> dict[str, Any]:
    """How a response says it was truncated (Open Responses' ``context_edits``)."""
    return {"type": "truncation",
            "summary": f"The {fitted.messages} oldest messages ({fitted.tokens} tokens) were left out so that the "
                       f"input fits the {limit} tokens the context window leaves for it.",
            "details": {"cleared_input_tokens": fitted.tokens, "cleared_tool_call_ids": fitted.tool_call_ids}}


def _response_view(stored: StoredResponse, output: list[dict[str, Any]],
                   include: list[str] | None = None) -> dict[str, Any]:
    """``include``: what the client asks to see now, besides what the response was created with."""
    include = [*(stored.params.get("include") or []), *(include or [])]
    return objects.response_object(
        response_id=stored.id,
        created_at=stored.created_at_us // 1_000_000,
        status=stored.status,
        params=stored.params,
        output=[visible_item(item, include) for item in output],
        usage=stored.usage,
        error=stored.error,
        incomplete_details=stored.incomplete_details,
        completed_at=stored.completed_at_us // 1_000_000 if stored.completed_at_us else None,
    )


class ResponseService:
    def __init__(self, router: ModelRouter, store: ResponseStore, conversations: ConversationService,
                 tools: ToolRegistry, sealer: Sealer, reasoning_history: frozenset[str] = frozenset()) -> None:
        """``sealer``: seals and opens ``encrypted_content``; ``reasoning_history``: the providers
        shown the reasoning of earlier turns."""
        self.router = router
        self.store = store
        self.conversations = conversations
        self.tools = tools
        self.sealer = sealer
        self.reasoning_history = reasoning_history

    async def create(self, request: CreateResponseRequest, *, chain: list[dict[str, Any]] | None = None,
                     generate: bool = True) -> ResponseRun:
        """Check everything checkable and prepare the run; its stream has not started.

        ``chain``: the items of the chain ``previous_response_id`` ends, when the caller has
        them (a WebSocket connection keeps its latest response's); ``generate=False``: the
        response only takes its input in, and ends without calling the model.

        A stored response in a conversation holds the conversation from here on: if anything
        fails before the run exists, the hold is released here; after, the run releases it.
        """
        started_ns = time.time_ns()
        _check_context(request)
        _check_background_options(request)
        provider, upstream_model = self.router.resolve(request.model)
        response_id = new_id("resp")
        input_items = await self._request_input(request)
        hold, history = (None, chain) if chain is not None else await self._context(request, response_id)
        try:
            run = await self._prepared_run(request, response_id, provider, upstream_model, input_items, history,
                                           hold, started_ns=started_ns)
        except BaseException:
            if hold is not None:
                hold.release()
            raise
        if not generate:
            run.chat_body = None
            run.compaction = None
        return run

    async def enqueue(self, request: CreateResponseRequest, body: bytes, *, claimed: bool) -> Queued:
        """Check everything checkable and store a background response, ``queued``, for a
        background run on any process (``body``: the request as sent, sealed with it);
        ``claimed``: this process runs it (the client still sees it created ``queued``)."""
        if not request.store:
            raise InvalidRequest("Background responses must be stored: 'background': true needs 'store': true.",
                                 param="store", code="invalid_value")
        _check_context(request)
        _check_background_options(request)
        self.router.resolve(request.model)
        response_id = new_id("resp")
        input_items = await self._request_input(request)
        hold, _ = await self._context(request, response_id)
        try:
            params = objects.response_params(request)
            created_at_us = time.time_ns() // 1000
            snapshot = objects.response_object(response_id=response_id, created_at=created_at_us // 1_000_000,
                                               status="queued", params=params, output=[])
            event = EventCounter()
            events = [event("response.created", response=snapshot), event("response.queued", response=snapshot)]
            sealed = self.sealer.seal({"request": body.decode()})
            await self.store.enqueue(
                response_id=response_id, created_at_us=created_at_us, params=params,
                input_items=_stored_input(input_items), hold=hold, sealed_request=sealed,
                sealed_by=self.sealer.key_id, events=events, claimed=claimed)
        except BaseException:
            if hold is not None:
                hold.release()
            raise
        return Queued(snapshot, events, Job(response_id, created_at_us, request.conversation_id, sealed,
                                            principals.owner()))

    async def background_run(self, job: Job) -> ResponseRun:
        """The run of a background response this process has taken from the queue: prepared
        from its request as at creation, against the chain or conversation as they are now."""
        started_ns = time.time_ns()
        opened = self.sealer.open(job.request)
        if opened is None or not isinstance(opened.get("request"), str):
            raise InvalidRequest("The request of this background response could not be read: the server's "
                                 "state key changed since it was queued.", param="background")
        request = parse_request(opened["request"].encode(), CreateResponseRequest)
        provider, upstream_model = self.router.resolve(request.model)
        input_items = await self._request_input(request)
        hold = self._job_hold(job)
        try:
            history = await self.conversations.store.all_items(hold.conversation_id) if hold is not None \
                else await self._history(request.previous_response_id)
            return await self._prepared_run(request, job.response_id, provider, upstream_model, input_items,
                                            history, hold, queued_at_us=job.created_at_us, started_ns=started_ns)
        except BaseException:
            if hold is not None:
                hold.release()
            raise

    def _job_hold(self, job: Job) -> ConversationHold | None:
        """The hold a background response took on its conversation when it was queued."""
        if job.conversation_id is None:
            return None
        return ConversationHold(self.conversations.store, job.conversation_id, job.response_id)

    async def end_background(self, job: Job, error: APIError | dict[str, str] | None) -> list[dict[str, Any]]:
        """Store a background response whose run never started: ``failed`` with ``error`` (one
        that stopped its preparation, or the server's), else ``cancelled``; its closing events."""
        found = await self.store.get(job.response_id)
        if found is None:
            return []
        stored, _ = found
        if isinstance(error, APIError):
            error = {"code": response_error_code(error.status_code), "message": error.message}
        ended = replace(stored, status="failed" if error is not None else "cancelled", error=error)
        view = _response_view(ended, [])
        events = [EventCounter(QUEUED_EVENTS)("response.failed", response=view)] if error else []
        record = self.store.resume(response_id=job.response_id, params=stored.params, hold=self._job_hold(job),
                                   conversation_input=None)
        await record.finish({**view, "output": []}, None, events)
        return events

    async def check_resumable(self, response_id: str) -> None:
        """Only a background response's events are kept, so only its stream can be read again."""
        found = await self.store.get(response_id)
        if found is None:
            raise NotFound(f"Response with id '{response_id}' not found.", param="response_id")
        if not found[0].params.get("background"):
            raise InvalidRequest("Only responses created with background=true can be streamed again: this one's "
                                 "events were not kept. Retrieve it without 'stream'.", param="stream",
                                 code="invalid_value")

    async def _request_input(self, request: CreateResponseRequest) -> list[dict[str, Any]]:
        """The request's input as the server keeps it: references resolved, sealed content checked."""
        return self._unsealed(await self._referenced(_input_items(request), request.conversation_id))

    def _unsealed(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Reasoning items with the reasoning their ``encrypted_content`` holds as their ``content``
        (kept sealed too, as the client sent it)."""
        for position, item in enumerate(items):
            if item.get("type") == "compaction":
                self._opened(item, param=f"input[{position}].encrypted_content")
                continue
            if item.get("type") != "reasoning" or not item.get("encrypted_content"):
                continue
            sealed = self.sealer.open(item["encrypted_content"])
            if sealed is None or not isinstance(sealed.get("text"), str):
                raise InvalidRequest("The encrypted content of this reasoning item could not be verified: it was "
                                     "not sealed by this server, or it was changed.",
                                     param=f"input[{position}].encrypted_content", code="invalid_encrypted_content")
            if not item.get("content"):
                items[position] = {**item, "content": [{"type": "reasoning_text", "text": sealed["text"]}]}
        return items

    def _opened(self, item: dict[str, Any], *, param: str) -> Compacted:
        held = Compacted.opened(self.sealer, item["encrypted_content"])
        if held is None:
            raise InvalidRequest("The encrypted content of this compaction item could not be verified: it was not "
                                 "sealed by this server, or it was changed.", param=param,
                                 code="invalid_encrypted_content")
        return held

    def _expanded(self, request: CreateResponseRequest, history: list[dict[str, Any]],
                  input_items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The history and input as the model is shown them: from their latest compaction on."""
        source = "conversation" if request.conversation_id is not None else "previous_response_id"
        return expanded(history, input_items, lambda item, in_input: self._opened(
            item, param="input" if in_input else source))

    async def _referenced(self, items: list[dict[str, Any]], conversation_id: str | None) -> list[dict[str, Any]]:
        """The input with each ``item_reference`` replaced by the stored item it names: an item of
        any stored response, or of the request's conversation."""
        ids = [item["id"] for item in items if item.get("type") == "item_reference"]
        if not ids:
            return items
        found = await self.store.items_by_id(ids)
        missing = [item_id for item_id in ids if item_id not in found]
        if missing and conversation_id is not None:
            found |= await self.conversations.store.items_by_id(conversation_id, missing)
        for position, item in enumerate(items):
            if item.get("type") == "item_reference" and item["id"] not in found:
                raise InvalidRequest(f"Item with id '{item['id']}' not found.", param=f"input[{position}].id",
                                     code="item_not_found")
        return [found[item["id"]] if item.get("type") == "item_reference" else item for item in items]

    async def _context(self, request: CreateResponseRequest,
                       response_id: str) -> tuple[ConversationHold | None, list[dict[str, Any]]]:
        """The response's hold on its conversation (stored responses in one), and its history."""
        conversation_id = request.conversation_id
        if conversation_id is None:
            return None, await self._history(request.previous_response_id)
        if not request.store:
            return None, await self.conversations.history_for(conversation_id)
        return await self.conversations.hold_for(conversation_id, response_id)

    async def count_input_tokens(self, counted: CountInputTokensRequest) -> TokenCount:
        """The prompt tokens of what a create with these fields would send upstream, counted by the
        provider (no generation); it reads the chain or conversation, holds nothing, stores nothing."""
        request = counted.as_create()
        _check_context(request)
        provider, upstream_model = self.router.resolve(request.model)
        input_items = await self._request_input(request)
        _, history = await self._context(request, new_id("resp"))
        history, input_items = self._expanded(request, history, input_items)
        _, chat_body = await self._upstream_body(request, provider, upstream_model, input_items, history)
        return await provider.count_tokens(chat_body)

    async def compact(self, request: CompactRequest) -> dict[str, Any]:
        """``POST /v1/responses/compact``: the context (the chain and the input) compacted into one
        compaction item, its summary written by the model in one upstream call."""
        create = request.as_create()
        provider, upstream_model = self.router.resolve(create.model)
        input_items = await self._request_input(create)
        history, input_items = self._expanded(create, await self._history(create.previous_response_id), input_items)
        context = _all_to_compact(history, input_items)
        messages = items_to_messages(create.instructions, [], context, reasoning=provider.id in self.reasoning_history)
        window = await provider.context_window(upstream_model, discover=True)
        body = await self._summary_body(provider, upstream_model, messages, window)
        try:
            summary, usage = await summarize(provider.stream_chat, body)
        except UpstreamError as exc:
            raise http_error(exc) from None
        return {"id": new_id("resp"), "object": "response.compaction", "created_at": int(time.time()),
                "output": [{"id": new_id("cmp"), "type": "compaction",
                            "encrypted_content": compacted(context, summary, budget=window).seal(self.sealer)}],
                "usage": usage or _NO_USAGE}

    async def _summary_body(self, provider: ChatStreamer, upstream_model: str, messages: list[dict[str, Any]],
                            window: int | None) -> dict[str, Any]:
        """The body that asks for a summary of ``messages``, its oldest ones left out if the window needs it."""
        body = summary_body(upstream_model, messages)
        if window is not None:
            await fit(body, provider.count_tokens, window, truncate=True)
        return body

    async def _upstream_body(self, request: CreateResponseRequest, provider: ChatStreamer, upstream_model: str,
                             input_items: list[dict[str, Any]],
                             history: list[dict[str, Any]]) -> tuple[Toolset, dict[str, Any]]:
        """The request's tools, and the chat-completions body that shows the model the history and input."""
        toolset = await self.tools.prepare(request.tools or [], history, input_items)
        messages = items_to_messages(request.instructions, history, input_items,
                                     history_in_parts=request.conversation_id is not None,
                                     reasoning=provider.id in self.reasoning_history,
                                     function_name=toolset.client_function_name)
        return toolset, chat_request_body(request, upstream_model, messages, toolset.functions)

    async def _prepared_run(self, request: CreateResponseRequest, response_id: str, provider: ChatStreamer,
                            upstream_model: str, input_items: list[dict[str, Any]], history: list[dict[str, Any]],
                            hold: ConversationHold | None, queued_at_us: int | None = None,
                            started_ns: int | None = None) -> ResponseRun:
        """``queued_at_us``: when a background response was queued (its run, taken from the queue);
        ``started_ns``: when the response was asked for, or its run taken from the queue."""
        shown_history, shown_input = self._expanded(request, history, input_items)
        _check_outputs_have_calls([*shown_history, *shown_input])
        toolset, chat_body = await self._upstream_body(request, provider, upstream_model, shown_input, shown_history)
        truncate = request.truncation == "auto"
        window = await provider.context_window(upstream_model, discover=truncate or _compacts(request, input_items))
        limit = window - (request.max_output_tokens or 0) if window is not None else None
        params = objects.response_params(request)
        threshold = _compact_threshold(request, limit)
        counted = await count_beyond(chat_body, provider.count_tokens, threshold) if threshold is not None else None
        compaction = await self._compaction_for(request, provider, upstream_model, toolset, limit, input_items,
                                                shown_history, shown_input, threshold, counted)
        if compaction is None and limit is not None:
            fitted = await fit(chat_body, provider.count_tokens, limit, truncate=truncate, counted=counted)
            if fitted.messages:
                params["context_edits"] = [_truncation_edit(fitted, limit)]
        conversation_id = request.conversation_id
        created_at_us = queued_at_us or time.time_ns() // 1000
        record: RunRecord | None = None
        if request.store:
            stored_input = _stored_input(input_items)
            conversation_input = [objects.input_item_view(item) for item in stored_input] if conversation_id \
                else None
            if queued_at_us is not None:
                record = self.store.resume(response_id=response_id, params=params, hold=hold,
                                           conversation_input=conversation_input)
            else:
                record = self.store.begin(response_id=response_id, created_at_us=created_at_us, params=params,
                                          input_items=stored_input, hold=hold, conversation_input=conversation_input)
        return ResponseRun(
            response_id=response_id,
            created_at_us=created_at_us,
            params=params,
            provider=provider,
            chat_body=chat_body,
            record=record,
            include_logprobs=bool(request.include and "message.output_text.logprobs" in request.include),
            toolset=toolset,
            seal=self.sealer.seal if request.include and "reasoning.encrypted_content" in request.include else None,
            compaction=compaction,
            queued=queued_at_us is not None,
            context=[*history, *_stored_input(input_items)],
            started_ns=started_ns,
        )

    async def _compaction_for(self, request: CreateResponseRequest, provider: ChatStreamer, upstream_model: str,
                              toolset: Toolset, limit: int | None, input_items: list[dict[str, Any]],
                              shown_history: list[dict[str, Any]], shown_input: list[dict[str, Any]],
                              threshold: int | None, counted: TokenCount | None) -> PendingCompaction | None:
        """The compaction the response runs first: all of the context for a ``compaction_trigger``;
        for ``context_management``, when the body (as ``counted``) is past ``threshold``, what came
        before the input."""
        if _compacts_only(input_items):
            return await self._pending_compaction(request, provider, upstream_model, toolset,
                                                  _all_to_compact(shown_history, shown_input), None, limit, limit)
        if threshold is None or counted is None or counted.tokens <= threshold:
            return None
        compacted_input = latest(input_items)
        kept = len(shown_input) - len(input_items) + (compacted_input + 1 if compacted_input is not None else 0)
        earlier = [*shown_history, *shown_input[:kept]]
        if not earlier:
            return None
        return await self._pending_compaction(request, provider, upstream_model, toolset, earlier,
                                              shown_input[kept:], limit, threshold)

    async def _pending_compaction(self, request: CreateResponseRequest, provider: ChatStreamer, upstream_model: str,
                                  toolset: Toolset, earlier: list[dict[str, Any]],
                                  current: list[dict[str, Any]] | None, limit: int | None,
                                  budget: int | None) -> PendingCompaction:
        """The compaction of ``earlier`` a response runs first; ``current``: the input its model then
        answers, kept whole (``None``: the response only compacts); ``budget``: of the user messages kept."""
        reasoning = provider.id in self.reasoning_history
        messages = items_to_messages(request.instructions, [], earlier, reasoning=reasoning,
                                     function_name=toolset.client_function_name)
        body = await self._summary_body(provider, upstream_model, messages, limit)

        async def build(summary: str) -> tuple[str, dict[str, Any] | None]:
            held = compacted(earlier, summary, current, budget)
            if current is None:
                return held.seal(self.sealer), None
            messages = items_to_messages(request.instructions, [], held.items(), reasoning=reasoning,
                                         function_name=toolset.client_function_name)
            chat_body = chat_request_body(request, upstream_model, messages, toolset.functions)
            if limit is not None and request.truncation == "auto":
                await fit(chat_body, provider.count_tokens, limit, truncate=True)
            return held.seal(self.sealer), chat_body

        return PendingCompaction(body, build)

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

    async def retrieve(self, response_id: str, include: list[str]) -> dict[str, Any]:
        found = await self.store.get(response_id)
        if found is None:
            raise NotFound(f"Response with id '{response_id}' not found.", param="response_id")
        return _response_view(*found, include)

    async def list_page(self, *, after: str | None, limit: int, order: Order, model: str | None) -> ListPage:
        rows, has_more = await self.store.list_page(after=after, limit=limit, order=order, model=model)
        return objects.list_page([_response_view(stored, output) for stored, output in rows], has_more)

    async def delete(self, response_id: str) -> dict[str, Any]:
        if not await self.store.delete(response_id):
            raise NotFound(f"Response with id '{response_id}' not found.", param="response_id")
        return {"id": response_id, "object": "response", "deleted": True}

    async def input_items(self, response_id: str, *, after: str | None, limit: int, order: Order,
                          include: list[str]) -> ListPage:
        page = await self.store.input_items(response_id, after=after, limit=limit, order=order)
        if page is None:
            raise NotFound(f"Response with id '{response_id}' not found.", param="response_id")
        return objects.list_page([visible_item(objects.input_item_view(item), include) for item in page.data],
                                 page.has_more)
