"""Chat-completion deltas become Responses output items: opened, filled and closed, with their events.

Reasoning, text, refusals and client function calls are streamed as they arrive; calls of
server-side tools are collected for the run to execute once the model's turn is over.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from orrery.ids import new_id
from orrery.responses.events import EventCounter
from orrery.tools.base import Citations, ModelCall, ServerTool, TextFilter
from orrery.tools.toolset import Toolset
from orrery.wire import objects

Seal = Callable[[dict[str, Any]], str]
"""Seals a payload into an ``encrypted_content`` only this server can read."""


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


class OutputItems:
    """The output of one response, item by item, as the upstream streams it."""

    def __init__(self, event: EventCounter, *, toolset: Toolset, include_logprobs: bool,
                 seal: Seal | None = None) -> None:
        """``toolset``: the request's tools, which run the calls of server-side functions and say
        what the answer may cite (filled in as they run); ``seal``: seals each reasoning item's
        text into its ``encrypted_content`` (when the client asked for it)."""
        self._seal = seal
        self.output: list[dict[str, Any]] = []
        self._event = event
        self.toolset = toolset
        self.include_logprobs = include_logprobs
        self._cited: list[Citations] = toolset.citations
        self._message: _OpenItem | None = None
        self._reasoning: _OpenItem | None = None
        self._refusal: _OpenItem | None = None
        self._calls: dict[int, _OpenItem] = {}
        self._open_call: _OpenItem | None = None
        self._server_calls: dict[int, _OpenItem] = {}
        self._citations: TextFilter | None = None

    def turn_text(self) -> str:
        """The text the model wrote this turn, as it wrote it (citation markers included)."""
        return "".join(self._message.chunks) if self._message is not None else ""

    def take_calls(self) -> tuple[list[tuple[ServerTool, ModelCall]], bool]:
        """The turn's calls of server-side tools, and whether it also called client functions."""
        server_calls = [(pending.item["tool"], ModelCall(pending.item["call_id"],
                                                         self.toolset.original_name(pending.item["name"]),
                                                         "".join(pending.chunks)))
                        for pending in self._server_calls.values()]
        client_calls = bool(self._calls)
        self._server_calls, self._calls = {}, {}
        return server_calls, client_calls

    def has_unparsable_call(self) -> bool:
        """Whether a call of this turn has arguments that are not JSON, as a call cut short leaves them."""
        for pending in (*self._calls.values(), *self._server_calls.values()):
            try:
                orjson.loads("".join(pending.chunks))
            except orjson.JSONDecodeError:
                return True
        return False

    def on_choice(self, choice: dict[str, Any]) -> list[dict[str, Any]]:
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

    def add_item(self, item: dict[str, Any]) -> tuple[_OpenItem, dict[str, Any]]:
        open_item = _OpenItem(item, len(self.output))
        self.output.append(item)
        return open_item, self._event("response.output_item.added", output_index=open_item.index, item=dict(item))

    def _reasoning_delta(self, text: str) -> list[dict[str, Any]]:
        events = []
        if self._reasoning is None:
            events += self.close_all("completed")
            self._reasoning, added = self.add_item(objects.reasoning_item(new_id("rs")))
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
            events += self.close_all("completed")
            self._refusal, added = self.add_item(objects.message_item(new_id("msg")))
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
            events += self.close_all("completed")
            self._message, added = self.add_item(objects.message_item(new_id("msg")))
            self._citations = next((f for f in (c.stream_filter() for c in self._cited) if f is not None), None)
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
        events: list[dict[str, Any]] = []
        position = call.get("index", len(self._calls))
        function = call.get("function") or {}
        server_call = self._server_calls.get(position)
        if server_call is None and self._calls.get(position) is None:
            tool = self.toolset.for_function(function.get("name"))
            if tool is not None:
                server_call = self._server_calls[position] = _OpenItem(
                    {"call_id": call.get("id") or new_id("call"), "name": function["name"], "tool": tool}, -1)
        if server_call is not None:
            server_call.chunks.append(function.get("arguments") or "")
            return events
        open_call = self._calls.get(position)
        if open_call is None:
            events += self.close_all("completed")
            item = objects.function_call_item(
                new_id("fc"), call.get("id") or new_id("call"), self.toolset.original_name(function.get("name") or ""),
            )
            open_call, added = self.add_item(item)
            self._calls[position] = self._open_call = open_call
            events.append(added)
        elif not open_call.item["name"] and function.get("name"):
            open_call.item["name"] = self.toolset.original_name(function["name"])
        arguments = function.get("arguments")
        if arguments:
            open_call.chunks.append(arguments)
            if open_call is self._open_call:
                events.append(self._event(
                    "response.function_call_arguments.delta", item_id=open_call.item["id"],
                    output_index=open_call.index, delta=arguments,
                ))
        return events

    def close_all(self, status: str) -> list[dict[str, Any]]:
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
        if self._seal is not None:
            item["encrypted_content"] = self._seal({"text": text})
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
        for cited in self._cited:
            links = cited.annotations(text)
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
