"""One response's run: upstream chat stream in, Responses events out, usage summed, state stored.

The run is an async generator of batches of event dicts. Streaming sends each batch as SSE frames
in one write; non-streaming drains the same generator and keeps the final response object, so both
share one code path.
"""

from __future__ import annotations

import logging
import time
from typing import Any, AsyncIterator, Protocol

from orrery.ids import new_id
from orrery.inference.errors import UpstreamError
from orrery.responses.citations import CitationFilter
from orrery.responses.events import EventCounter
from orrery.tools import web_search as web_search_tool
from orrery.tools.base import ModelCall, ServerTool, ServerTools
from orrery.recording.tools import ToolRecordingNotFound
from orrery.store.writer import StoreWriteError
from orrery.wire import objects

log = logging.getLogger(__name__)

MAX_TURNS = 8
"""Upstream calls one response may make while the model keeps calling server-side tools."""

SERVER_CALL_TYPES = frozenset({"file_search_call", "web_search_call", "mcp_call", "mcp_approval_request"})
INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


class ChatStreamer(Protocol):
    def stream_chat(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]: ...


class RunRecorder(Protocol):
    """Where a stored response's final state goes; ``None`` for ``store=false``."""

    async def finish(self, response: dict[str, Any], completed_at_us: int | None) -> None: ...

    def abandon(self, response: dict[str, Any]) -> None: ...


def _logprobs(choice: dict[str, Any]) -> list[dict[str, Any]]:
    content = (choice.get("logprobs") or {}).get("content") or []
    return [
        {
            "token": entry["token"],
            "bytes": entry.get("bytes") or list(entry["token"].encode()),
            "logprob": entry["logprob"],
            "top_logprobs": [
                {"token": top["token"], "bytes": top.get("bytes") or list(top["token"].encode()),
                 "logprob": top["logprob"]}
                for top in entry.get("top_logprobs") or []
            ],
        }
        for entry in content
    ]


class _OpenItem:
    """An output item still receiving deltas."""

    __slots__ = ("item", "index", "chunks", "shown", "logprobs")

    def __init__(self, item: dict[str, Any], index: int) -> None:
        self.item = item
        self.index = index
        self.chunks: list[str] = []
        self.shown: list[str] = []
        """What the client was shown of ``chunks``: the text without citation markers."""
        self.logprobs: list[dict[str, Any]] = []


class ResponseRun:
    def __init__(
        self,
        *,
        response_id: str,
        created_at_us: int,
        params: dict[str, Any],
        provider: ChatStreamer,
        chat_body: dict[str, Any],
        recorder: RunRecorder | None,
        include_logprobs: bool,
        server_tools: ServerTools | None = None,
        citable_files: dict[str, str] | None = None,
        citable_pages: dict[str, str] | None = None,
        listings: list[dict[str, Any]] | None = None,
        opening_calls: list[tuple[ServerTool, ModelCall]] | None = None,
    ) -> None:
        """``citable_files``: file id → filename of the files the model may cite as ``<|file-…|>``,
        filled in as file searches find them; ``citable_pages``: URL → title of the pages web
        searches found, cited as markdown links. ``None`` when nothing of the kind can be cited.

        ``listings``: ``mcp_list_tools`` items shown first; ``opening_calls``: calls the client
        approved, run before the model's first turn."""
        self.response_id = response_id
        self.created_at = created_at_us // 1_000_000
        self.params = params
        self.provider = provider
        self.chat_body = chat_body
        self.recorder = recorder
        self.include_logprobs = include_logprobs
        self.output: list[dict[str, Any]] = []
        self.usage: dict[str, Any] | None = None
        self.failure: UpstreamError | None = None
        self.final: dict[str, Any] | None = None
        self._event = EventCounter()
        self._message: _OpenItem | None = None
        self._reasoning: _OpenItem | None = None
        self._refusal: _OpenItem | None = None
        self._calls: dict[int, _OpenItem] = {}
        self._open_call: _OpenItem | None = None
        self.server_tools = server_tools or ServerTools([])
        self.citable_files = citable_files
        self.citable_pages = citable_pages
        self.listings = listings or []
        self.opening_calls = opening_calls or []
        self._server_calls: dict[int, _OpenItem] = {}
        self._citations: CitationFilter | None = None
        self._started = False

    def _visible(self, item: dict[str, Any]) -> dict[str, Any]:
        return objects.visible_item(item, self.params["include"])

    def snapshot(self, status: str, **fields: Any) -> dict[str, Any]:
        return objects.response_object(
            response_id=self.response_id, created_at=self.created_at, status=status,
            params=self.params, output=[self._visible(item) for item in self.output], usage=self.usage, **fields,
        )

    def abandon_if_unstarted(self) -> None:
        """Store the response as cancelled if its events were never asked for (its client left
        before the first byte), so it neither stays ``in_progress`` nor holds its conversation."""
        if not self._started and self.recorder is not None:
            self._started = True
            self.recorder.abandon(self._stored(self.snapshot("cancelled")))

    async def event_batches(self) -> AsyncIterator[list[dict[str, Any]]]:
        """The response's events, in batches that leave the server together: those one upstream
        chunk produced, or one tool step's."""
        self._started = True
        event = self._event
        yield [event("response.created", response=self.snapshot("in_progress")),
               event("response.in_progress", response=self.snapshot("in_progress"))]
        finish_reason: str | None = None
        finished = False
        body = self.chat_body
        try:
            for listing in self.listings:
                yield self._listing_events(listing)
            if self.opening_calls:
                answered: list[tuple[ModelCall, Any]] = []
                async for out in self._run_server_calls(self.opening_calls, answered):
                    yield [out]
                if answered:
                    body = self._next_turn(body, answered, "")
            for turn in range(MAX_TURNS if not self.failure else 0):
                finish_reason = None
                try:
                    async for chunk in self.provider.stream_chat(body):
                        usage = chunk.get("usage")
                        if usage:
                            self.usage = objects.add_usage(self.usage, objects.usage_from_chat(usage))
                        for choice in chunk.get("choices") or ():
                            if choice.get("index", 0) != 0:
                                continue
                            batch = self._on_choice(choice)
                            if batch:
                                yield batch
                            finish_reason = choice.get("finish_reason") or finish_reason
                except UpstreamError as exc:
                    self.failure = exc
                server_calls, text = list(self._server_calls.values()), self._turn_text()
                client_calls = bool(self._calls)
                self._server_calls, self._calls = {}, {}
                if self.failure or finish_reason in INCOMPLETE_REASONS or not server_calls:
                    break
                closed = self._close_all("completed")
                if closed:
                    yield closed
                answered = []
                pending = [(call.item["tool"], ModelCall(call.item["call_id"], call.item["name"], "".join(call.chunks)))
                           for call in server_calls][:self._calls_left()]
                if not pending:
                    break
                async for out in self._run_server_calls(pending, answered):
                    yield [out]
                if self.failure or client_calls or len(answered) < len(pending) or turn == MAX_TURNS - 1:
                    break
                body = self._next_turn(body, answered, text)
                if self._calls_left() == 0:
                    body["tool_choice"] = "none"
            status = "failed" if self.failure else "incomplete" if finish_reason in INCOMPLETE_REASONS else "completed"
            closed = self._close_all("incomplete" if status != "completed" else "completed")
            terminal = await self._finish(status, finish_reason)
            finished = True
            yield [*closed, terminal]
        finally:
            if not finished and self.recorder is not None:
                self.recorder.abandon(self._stored(self.snapshot("cancelled")))

    def _stored(self, response: dict[str, Any]) -> dict[str, Any]:
        """What the store keeps: every item whole, search results included, whatever was shown."""
        return {**response, "output": self.output}

    def _turn_text(self) -> str:
        """The text the model wrote this turn, as it wrote it (citation markers included)."""
        return "".join(self._message.chunks) if self._message is not None else ""

    def _calls_left(self) -> int | None:
        """How many more server-side tool calls ``max_tool_calls`` allows (``None``: no limit).

        Calls past the limit are not run, and the model is not shown them; once it is reached,
        the model's next turn may call no tool."""
        limit = self.params["max_tool_calls"]
        if limit is None:
            return None
        made = sum(item["type"] in SERVER_CALL_TYPES for item in self.output)
        return max(0, limit - made)

    def _listing_events(self, listing: dict[str, Any]) -> list[dict[str, Any]]:
        """An MCP server's tool listing, fetched before the stream started, as its item and events."""
        open_item, added = self._add_item(listing)
        ids = {"item_id": listing["id"], "output_index": open_item.index}
        return [{**added, "item": {**listing, "tools": []}},
                self._event("response.mcp_list_tools.in_progress", **ids),
                self._event("response.mcp_list_tools.completed", **ids),
                self._event("response.output_item.done", output_index=open_item.index, item=listing)]

    async def _run_server_calls(self, calls: list[tuple[ServerTool, ModelCall]],
                                answered: list[tuple[ModelCall, Any]]) -> AsyncIterator[dict[str, Any]]:
        """Run calls of server-side tools in order, each as an output item of its tool.

        ``answered`` receives each call the model may see answered, with the answer.
        """
        for tool, call in calls:
            item = tool.start_item(call)
            open_item, added = self._add_item(item)
            yield {**added, "item": self._visible(dict(item))}
            ids = {"item_id": item["id"], "output_index": open_item.index}
            try:
                async for event_type, fields in tool.run(call, item):
                    yield self._event(event_type, **ids, **fields)
            except ToolRecordingNotFound as exc:
                item["status"] = "failed"
                self.failure = UpstreamError("connect", str(exc))
            except Exception:
                log.exception("server-side tool call %s (%s) failed", call.call_id, call.name)
                item["status"] = "failed"
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

    async def _finish(self, status: str, finish_reason: str | None) -> dict[str, Any]:
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
        if self.recorder is not None:
            try:
                await self.recorder.finish(self._stored(self.final), completed_at_us)
            except StoreWriteError:
                log.error("response %s was answered but could not be stored", self.response_id)
        return self._event(f"response.{status}", response=self.final)

    def _on_choice(self, choice: dict[str, Any]) -> list[dict[str, Any]]:
        delta = choice.get("delta") or {}
        events: list[dict[str, Any]] = []
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if reasoning and isinstance(reasoning, str):
            events += self._reasoning_delta(reasoning)
        content = delta.get("content")
        if content:
            events += self._text_delta(content, choice)
        refusal = delta.get("refusal")
        if refusal and isinstance(refusal, str):
            events += self._refusal_delta(refusal)
        for call in delta.get("tool_calls") or ():
            events += self._call_delta(call)
        return events

    def _add_item(self, item: dict[str, Any]) -> tuple[_OpenItem, dict[str, Any]]:
        open_item = _OpenItem(item, len(self.output))
        self.output.append(item)
        return open_item, self._event("response.output_item.added", output_index=open_item.index, item=dict(item))

    def _reasoning_delta(self, text: str) -> list[dict[str, Any]]:
        events = []
        if self._reasoning is None:
            events += self._close_all("completed")
            self._reasoning, added = self._add_item(objects.reasoning_item(new_id("rs")))
            events.append(added)
            events.append(self._event(
                "response.content_part.added", item_id=self._reasoning.item["id"],
                output_index=self._reasoning.index, content_index=0, part=objects.reasoning_text_part(),
            ))
        self._reasoning.chunks.append(text)
        events.append(self._event(
            "response.reasoning_text.delta", item_id=self._reasoning.item["id"],
            output_index=self._reasoning.index, content_index=0, delta=text,
        ))
        return events

    def _refusal_delta(self, text: str) -> list[dict[str, Any]]:
        """A refusal is a message of its own whose one part is a ``refusal``."""
        events = []
        if self._refusal is None:
            events += self._close_all("completed")
            self._refusal, added = self._add_item(objects.message_item(new_id("msg")))
            events.append(added)
            events.append(self._event(
                "response.content_part.added", item_id=self._refusal.item["id"], output_index=self._refusal.index,
                content_index=0, part={"type": "refusal", "refusal": ""},
            ))
        self._refusal.chunks.append(text)
        events.append(self._event("response.refusal.delta", item_id=self._refusal.item["id"],
                                  output_index=self._refusal.index, content_index=0, delta=text))
        return events

    def _text_delta(self, text: str, choice: dict[str, Any]) -> list[dict[str, Any]]:
        events = []
        if self._message is None:
            events += self._close_all("completed")
            self._message, added = self._add_item(objects.message_item(new_id("msg")))
            self._citations = CitationFilter(self.citable_files) if self.citable_files is not None else None
            events.append(added)
            events.append(self._event(
                "response.content_part.added", item_id=self._message.item["id"],
                output_index=self._message.index, content_index=0, part=objects.output_text_part(),
            ))
        logprobs = _logprobs(choice) if self.include_logprobs else []
        self._message.chunks.append(text)
        self._message.logprobs += logprobs
        events += self._shown_text(self._message, text, logprobs)
        return events

    def _shown_text(self, message: _OpenItem, text: str, logprobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Delta and annotation events for model text, citation markers held back and removed."""
        annotations: list[dict[str, Any]] = []
        first_annotation = 0
        if self._citations is not None:
            first_annotation = len(self._citations.annotations)
            text, annotations = self._citations.feed(text)
        ids = {"item_id": message.item["id"], "output_index": message.index, "content_index": 0}
        events = []
        if text:
            message.shown.append(text)
            events.append(self._event("response.output_text.delta", **ids, delta=text, logprobs=logprobs))
        for offset, annotation in enumerate(annotations):
            events.append(self._event("response.output_text.annotation.added", **ids,
                                      annotation_index=first_annotation + offset, annotation=annotation))
        return events

    def _call_delta(self, call: dict[str, Any]) -> list[dict[str, Any]]:
        events = []
        position = call.get("index", len(self._calls))
        function = call.get("function") or {}
        server_call = self._server_calls.get(position)
        if server_call is None and self._calls.get(position) is None:
            tool = self.server_tools.for_function(function.get("name"))
            if tool is not None:
                server_call = self._server_calls[position] = _OpenItem(
                    {"call_id": call.get("id") or new_id("call"), "name": function["name"], "tool": tool}, -1)
        if server_call is not None:
            server_call.chunks.append(function.get("arguments") or "")
            return events
        open_call = self._calls.get(position)
        if open_call is None:
            events += self._close_all("completed")
            item = objects.function_call_item(
                new_id("fc"), call.get("id") or new_id("call"), function.get("name") or "",
            )
            open_call, added = self._add_item(item)
            self._calls[position] = self._open_call = open_call
            events.append(added)
        elif not open_call.item["name"] and function.get("name"):
            open_call.item["name"] = function["name"]
        arguments = function.get("arguments")
        if arguments:
            open_call.chunks.append(arguments)
            if open_call is self._open_call:
                events.append(self._event(
                    "response.function_call_arguments.delta", item_id=open_call.item["id"],
                    output_index=open_call.index, delta=arguments,
                ))
        return events

    def _close_all(self, status: str) -> list[dict[str, Any]]:
        """Finish every open item with its done events, in output order."""
        events: list[dict[str, Any]] = []
        if self._reasoning is not None:
            events += self._close_reasoning(self._reasoning, status)
            self._reasoning = None
        if self._message is not None:
            events += self._close_message(self._message, status)
            self._message = None
        if self._refusal is not None:
            events += self._close_refusal(self._refusal, status)
            self._refusal = None
        if self._open_call is not None:
            events += self._close_call(self._open_call, status)
            self._open_call = None
        return events

    def _close_reasoning(self, open_item: _OpenItem, status: str) -> list[dict[str, Any]]:
        item, index = open_item.item, open_item.index
        text = "".join(open_item.chunks)
        part = objects.reasoning_text_part(text)
        item["content"] = [part]
        item["status"] = status
        return [
            self._event("response.reasoning_text.done", item_id=item["id"], output_index=index,
                        content_index=0, text=text),
            self._event("response.content_part.done", item_id=item["id"], output_index=index,
                        content_index=0, part=part),
            self._event("response.output_item.done", output_index=index, item=item),
        ]

    def _close_message(self, open_item: _OpenItem, status: str) -> list[dict[str, Any]]:
        item, index = open_item.item, open_item.index
        events = []
        annotations: list[dict[str, Any]] = []
        if self._citations is not None:
            rest = self._citations.finish()
            if rest:
                open_item.shown.append(rest)
                events.append(self._event("response.output_text.delta", item_id=item["id"], output_index=index,
                                          content_index=0, delta=rest, logprobs=[]))
            annotations = self._citations.annotations
            self._citations = None
        text = "".join(open_item.shown)
        if self.citable_pages:
            links = web_search_tool.url_citations(text, self.citable_pages)
            events += [self._event("response.output_text.annotation.added", item_id=item["id"], output_index=index,
                                   content_index=0, annotation_index=len(annotations) + offset, annotation=link)
                       for offset, link in enumerate(links)]
            annotations = annotations + links
        part = objects.output_text_part(text, open_item.logprobs, annotations)
        item["content"] = [part]
        item["status"] = status
        return events + [
            self._event("response.output_text.done", item_id=item["id"], output_index=index,
                        content_index=0, text=text, logprobs=open_item.logprobs),
            self._event("response.content_part.done", item_id=item["id"], output_index=index,
                        content_index=0, part=part),
            self._event("response.output_item.done", output_index=index, item=item),
        ]

    def _close_refusal(self, open_item: _OpenItem, status: str) -> list[dict[str, Any]]:
        item, index = open_item.item, open_item.index
        refusal = "".join(open_item.chunks)
        part = {"type": "refusal", "refusal": refusal}
        item["content"] = [part]
        item["status"] = status
        ids = {"item_id": item["id"], "output_index": index, "content_index": 0}
        return [
            self._event("response.refusal.done", **ids, refusal=refusal),
            self._event("response.content_part.done", **ids, part=part),
            self._event("response.output_item.done", output_index=index, item=item),
        ]

    def _close_call(self, open_item: _OpenItem, status: str) -> list[dict[str, Any]]:
        item, index = open_item.item, open_item.index
        item["arguments"] = "".join(open_item.chunks)
        item["status"] = status
        return [
            self._event("response.function_call_arguments.done", item_id=item["id"], output_index=index,
                        arguments=item["arguments"]),
            self._event("response.output_item.done", output_index=index, item=item),
        ]
