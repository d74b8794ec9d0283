"""One response's run: upstream chat stream in, Responses events out, usage summed, state stored.

The run is an async generator of batches of event dicts. Streaming sends each batch as SSE frames
in one write; non-streaming drains the same generator and keeps the final response object, so both
share one code path.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, Protocol

from orrery.errors import InvalidRequest
from orrery.ids import new_id
from orrery.inference.errors import UpstreamError
from orrery.inference.tokens import TokenCount
from orrery.observability import tracing
from orrery.observability.responses import ResponseObservation
from orrery.responses.compaction import PendingCompaction, summarize
from orrery.responses.events import QUEUED_EVENTS, EventCounter
from orrery.responses.output_items import OutputItems, Seal
from orrery.store.writer import StoreWriteError
from orrery.tools.base import ModelCall, OpeningItem, ServerTool, ToolUnavailable
from orrery.tools.registry import CALL_ITEM_TYPES, visible_item
from orrery.tools.toolset import Toolset
from orrery.wire import objects
from orrery.wire.shapes import Usage

log = logging.getLogger(__name__)

MAX_TURNS = 8
"""Upstream calls one response may make while the model keeps calling server-side tools."""

INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


def _cut_short(body: dict[str, Any], written: int | None, items: OutputItems) -> bool:
    """Whether the turn was cut by its token limit although the upstream did not say ``length``.

    Some upstreams end a forced call cut mid-arguments with ``tool_calls`` (llama.cpp's
    grammar-constrained calls do); a call whose arguments are not JSON, from a turn that wrote
    all the tokens it was allowed, was cut short all the same, and is neither run nor finished."""
    limit = body.get("max_tokens")
    return limit is not None and written is not None and written >= limit and items.has_unparsable_call()


class ChatStreamer(Protocol):
    id: str
    takes_turns: bool

    def stream_chat(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]: ...

    async def admit(self) -> None: ...

    async def count_tokens(self, body: dict[str, Any]) -> TokenCount: ...

    async def context_window(self, model: str, *, discover: bool = False) -> int | None: ...


class RunRecord(Protocol):
    """Where a stored response's final state goes; ``None`` for ``store=false``."""

    async def announce(self) -> None: ...

    async def finish(self, response: dict[str, Any], completed_at_us: int | None,
                     closing_events: list[dict[str, Any]]) -> None: ...

    def abandon(self, response: dict[str, Any]) -> None: ...


class ResponseRun:
    def __init__(
        self,
        *,
        response_id: str,
        created_at_us: int,
        params: dict[str, Any],
        provider: ChatStreamer,
        chat_body: dict[str, Any],
        record: RunRecord | None,
        include_logprobs: bool,
        toolset: Toolset | None = None,
        seal: Seal | None = None,
        compaction: PendingCompaction | None = None,
        queued: bool = False,
        context: list[dict[str, Any]] | None = None,
        started_ns: int | None = None,
    ) -> None:
        """``record``: where the response's state is stored, ``None`` for ``store: false``;
        ``toolset``: the request's tools, with the items shown and the calls run before the
        model's first turn; ``seal``: seals reasoning into ``encrypted_content``, when asked for;
        ``compaction``: the compaction run first, as the response's first output item;
        ``queued``: a background response, whose first events were sent when it was queued;
        ``context``: the chain or conversation and the input, as stored (what a next turn follows);
        ``started_ns``: when the response was asked for (ns since the epoch)."""
        self.response_id = response_id
        self.created_at = created_at_us // 1_000_000
        self.params = params
        self.provider = provider
        self.chat_body: dict[str, Any] | None = chat_body
        self.record = record
        self.usage: Usage | None = None
        self.failure: UpstreamError | None = None
        self.final: dict[str, Any] | None = None
        self._event = EventCounter(QUEUED_EVENTS if queued else 0)
        self.queued = queued
        self.context = context or []
        self.toolset = toolset or Toolset()
        self.items = OutputItems(self._event, toolset=self.toolset, include_logprobs=include_logprobs, seal=seal)
        self.output = self.items.output
        self.compaction = compaction
        self._started = False
        self._finish_reason: str | None = None
        self.observed = ResponseObservation(response_id, params["model"], started_ns)

    def _visible(self, item: dict[str, Any]) -> dict[str, Any]:
        return visible_item(item, self.params["include"])

    def snapshot(self, status: str, **fields: Any) -> dict[str, Any]:
        return objects.response_object(
            response_id=self.response_id, created_at=self.created_at, status=status,
            params=self.params, output=[self._visible(item) for item in self.output], usage=self.usage, **fields,
        )

    async def announce(self) -> None:
        """Make the response known to every process before its id is sent (its stream starts)."""
        if self.record is not None:
            with self.observed.store_write("announce"):
                await self.record.announce()

    async def admit(self) -> None:
        """Before a stream's first byte: wait for a model that answers one request at a time, so
        that one which stays busy refuses the stream with a 503 and ``Retry-After`` (raised as the
        UpstreamError, the response stored ``failed``), as it refuses a non-streamed request."""
        try:
            await self.provider.admit()
        except UpstreamError as exc:
            self._started = True
            self.failure = exc
            self.observed.begin()
            await self._finish("failed", None, [])
            self.observed.finished("failed", self.usage, self.output, exc.kind)
            raise

    def abandon_if_unstarted(self) -> None:
        """Store the response as cancelled if its events were never asked for (its client left
        before the first byte), so it neither stays ``in_progress`` nor holds its conversation."""
        if self._started:
            return
        self._started = True
        if self.record is not None:
            self.record.abandon(self._stored(self.snapshot("cancelled")))
        self.observed.finished("cancelled", self.usage, self.output)

    async def event_batches(self) -> AsyncGenerator[list[dict[str, Any]], None]:
        """The response's events, in batches that leave the server together: those one upstream
        chunk produced, or one tool step's."""
        self._started = True
        self.observed.begin()
        event = self._event
        started = self.snapshot("in_progress")  # both opening events show it: nothing changes between them
        opening = [] if self.queued else [event("response.created", response=started)]
        yield [*opening, event("response.in_progress", response=started)]
        finished = False
        try:
            if self.compaction is not None:
                async for out in self._compact(self.compaction):
                    yield [out]
            if self.chat_body is not None and not self.failure:
                answer = self._answer(self.chat_body)
                async for batch in answer:  # the first only: its time is the response's first output
                    self.observed.first_output()
                    yield batch
                    break
                async for batch in answer:
                    yield batch
            finish_reason = self._finish_reason
            status = "failed" if self.failure else "incomplete" if finish_reason in INCOMPLETE_REASONS else "completed"
            closed = self.items.close_all("incomplete" if status != "completed" else "completed")
            closing = await self._finish(status, finish_reason, closed)
            finished = True
            yield closing
        finally:
            if not finished and self.record is not None:
                self.record.abandon(self._stored(self.snapshot("cancelled")))
            self.observed.finished(self.final["status"] if finished and self.final else "cancelled", self.usage,
                                   self.output, self.failure.kind if self.failure else None)

    async def _answer(self, body: dict[str, Any]) -> AsyncIterator[list[dict[str, Any]]]:
        """The model's turns, and the server-side tool calls between them."""
        for opening in self.toolset.opening_items:
            yield self._opening_events(opening)
        if self.toolset.opening_calls:
            answered: list[tuple[ModelCall, Any]] = []
            async for out in self._run_server_calls(self.toolset.opening_calls, answered):
                yield [out]
            if answered:
                body = self._next_turn(body, answered, "")
        for turn in range(MAX_TURNS if not self.failure else 0):
            self._finish_reason = None
            written: int | None = None
            try:
                async for chunk in self.provider.stream_chat(body):
                    usage = chunk.get("usage")
                    if usage:
                        self.usage = objects.add_usage(self.usage, objects.usage_from_chat(usage))
                        written = usage.get("completion_tokens")
                    for choice in chunk.get("choices") or ():
                        if choice.get("index", 0) != 0:
                            continue
                        batch = self.items.on_choice(choice)
                        if batch:
                            yield batch
                        self._finish_reason = choice.get("finish_reason") or self._finish_reason
            except UpstreamError as exc:
                self.failure = exc
            if self._finish_reason not in INCOMPLETE_REASONS and _cut_short(body, written, self.items):
                self._finish_reason = "length"
            text = self.items.turn_text()
            server_calls, client_calls = self.items.take_calls()
            if self.failure or self._finish_reason in INCOMPLETE_REASONS or not server_calls:
                break
            closed = self.items.close_all("completed")
            if closed:
                yield closed
            answered = []
            pending = server_calls[:self._calls_left()]
            if not pending:
                break
            async for out in self._run_server_calls(pending, answered):
                yield [out]
            if self.failure or client_calls or len(answered) < len(pending) or turn == MAX_TURNS - 1:
                break
            body = self._next_turn(body, answered, text)
            if self._calls_left() == 0:
                body["tool_choice"] = "none"

    async def _compact(self, pending: PendingCompaction) -> AsyncIterator[dict[str, Any]]:
        """The compaction item, written by the model before its turn; then ``chat_body`` is the
        compacted context (``None`` for a response that only compacts)."""
        item = {"id": new_id("cmp"), "type": "compaction", "encrypted_content": ""}
        open_item, added = self.items.add_item(item)
        yield added
        yield self._event("response.compaction.compacting", item_id=item["id"], output_index=open_item.index)
        try:
            summary, usage = await summarize(self.provider.stream_chat, pending.body)
            if usage is not None:
                self.usage = objects.add_usage(self.usage, usage)
            item["encrypted_content"], self.chat_body = await pending.build(summary)
        except UpstreamError as exc:
            self.failure = exc
        except InvalidRequest as exc:
            self.failure = UpstreamError("http", exc.message, status=400)
        yield self._event("response.output_item.done", output_index=open_item.index, item=dict(item))

    def _stored(self, response: dict[str, Any]) -> dict[str, Any]:
        """What the store keeps: every item whole, search results included, whatever was shown."""
        return {**response, "output": self.output}

    def _calls_left(self) -> int | None:
        """How many more server-side tool calls ``max_tool_calls`` allows (``None``: no limit).

        Calls past the limit are not run, and the model is not shown them; once it is reached,
        the model's next turn may call no tool."""
        limit: int | None = self.params["max_tool_calls"]
        if limit is None:
            return None
        made = sum(item["type"] in CALL_ITEM_TYPES for item in self.output)
        return max(0, limit - made)

    def _opening_events(self, opening: OpeningItem) -> list[dict[str, Any]]:
        """An item the tools made before the stream started (an MCP tool listing), with its events."""
        item = opening.item
        open_item, added = self.items.add_item(item)
        ids = {"item_id": item["id"], "output_index": open_item.index}
        return [{**added, "item": opening.announced},
                *(self._event(event_type, **ids, **fields) for event_type, fields in opening.events),
                self._event("response.output_item.done", output_index=open_item.index, item=item)]

    async def _run_server_calls(self, calls: list[tuple[ServerTool, ModelCall]],
                                answered: list[tuple[ModelCall, Any]]) -> AsyncIterator[dict[str, Any]]:
        """Run calls of server-side tools in order, each as an output item of its tool.

        ``answered`` receives each call the model may see answered, with the answer.
        """
        for tool, call in calls:
            item = tool.start_item(call)
            open_item, added = self.items.add_item(item)
            yield {**added, "item": self._visible(dict(item))}
            ids = {"item_id": item["id"], "output_index": open_item.index}
            with tracing.tool_call(item["type"], call.name, call.call_id) as span:
                try:
                    async for event_type, fields in tool.run(call, item):
                        yield self._event(event_type, **ids, **fields)
                except ToolUnavailable as exc:
                    item["status"] = "failed"
                    self.failure = UpstreamError("connect", str(exc))
                except Exception:
                    log.exception("server-side tool call %s (%s) failed", call.call_id, call.name)
                    item["status"] = "failed"
                span.set_attribute("orrery.tool.status", str(item.get("status")))
                if item.get("status") == "failed":
                    tracing.failed(span, "tool")
            yield self._event("response.output_item.done", output_index=open_item.index, item=self._visible(item))
            if self.failure:
                return
            answer = tool.answer(item)
            if answer is not None:
                answered.append((call, answer))

    def _next_turn(self, body: dict[str, Any], answered: list[tuple[ModelCall, Any]], text: str) -> dict[str, Any]:
        """The upstream body after the model's server-side calls: the calls and their answers appended."""
        calls = [{"index": position, "id": call.call_id, "type": "function",
                  "function": {"name": call.name, "arguments": call.arguments}}
                 for position, (call, _) in enumerate(answered)]
        answers = [{"role": "tool", "tool_call_id": call.call_id, "content": answer} for call, answer in answered]
        choice = body.get("tool_choice")
        following = {**body, "messages": [*body["messages"], {"role": "assistant", "content": text,
                                                               "tool_calls": calls}, *answers]}
        if choice is not None and choice not in ("auto", "none"):
            following["tool_choice"] = "auto"
        return following

    async def _finish(self, status: str, finish_reason: str | None,
                      closed: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The stream's closing events (``closed``, then the terminal one), once the final state is stored."""
        completed_at_us = time.time_ns() // 1000 if status == "completed" else None
        fields: dict[str, Any] = {}
        if status == "failed":
            assert self.failure is not None
            fields["error"] = {"code": self.failure.response_error_code, "message": self.failure.message}
        elif status == "incomplete":
            fields["incomplete_details"] = {"reason": INCOMPLETE_REASONS[finish_reason or "length"]}
        else:
            fields["completed_at"] = completed_at_us // 1_000_000 if completed_at_us else None
        self.final = self.snapshot(status, **fields)
        closing = [*closed, self._event(f"response.{status}", response=self.final)]
        if self.record is not None:
            try:
                with self.observed.store_write("finish"):
                    await self.record.finish(self._stored(self.final), completed_at_us, closing)
            except StoreWriteError:
                log.error("response %s was answered but could not be stored", self.response_id)
        return closing
