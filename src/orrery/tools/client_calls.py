"""Calls of tools the client runs (custom, namespaced functions, shells, patches, tool search).

The model sees such a tool as a chat function. Its call becomes the tool's own call item once the
model's turn is over, with the tool's events, and ends the response: the client runs it and sends
the result back as the tool's output item, which the model reads as the call's ``tool`` message.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from orrery.tools.base import ChatFunction, Item, ModelCall, PreparedTools, RequestTools, ToolEvent

CallItem = tuple[Item, tuple[ToolEvent, ...]]
"""A call's item as announced by ``response.output_item.added``, and the events that fill it in."""


@dataclass(frozen=True)
class ClientFunction:
    """A chat function a client-run tool offers, and how a call of it becomes the tool's item."""

    chat: ChatFunction
    build: Callable[[ModelCall], CallItem]

    @property
    def name(self) -> str:
        return str(self.chat["function"]["name"])


class ClientCallRunner:
    """Turns the model's calls of client-run functions into their call items; runs nothing."""

    def __init__(self, functions: Mapping[str, ClientFunction]) -> None:
        self.functions = functions
        self._events: dict[str, tuple[ToolEvent, ...]] = {}

    def offers(self, function_name: str) -> bool:
        return function_name in self.functions

    def start_item(self, call: ModelCall) -> Item:
        item, events = self.functions[call.name].build(call)
        self._events[call.call_id] = events
        return item

    async def run(self, call: ModelCall, item: Item) -> AsyncIterator[ToolEvent]:
        for event in self._events.pop(call.call_id, ()):
            yield event
        if "status" in item:
            item["status"] = "completed"

    def answer(self, item: Item) -> Any:
        """None: the client answers the call in its next request."""
        return None


def offered_by_every_entry(request: RequestTools, function: ClientFunction) -> PreparedTools | None:
    """A kind whose every entry in ``tools`` offers the one same function."""
    if not request.entries:
        return None
    return PreparedTools(functions={position: [function.chat] for position, _ in request.entries},
                         runner=ClientCallRunner({function.name: function}))


def offered_by_each_entry(request: RequestTools,
                          functions_of: Callable[[Any], list[ClientFunction]]) -> PreparedTools | None:
    """A kind whose each entry in ``tools`` offers functions of its own (``functions_of`` it)."""
    if not request.entries:
        return None
    offered = {position: functions_of(tool) for position, tool in request.entries}
    return PreparedTools(functions={position: [f.chat for f in functions] for position, functions in offered.items()},
                         runner=ClientCallRunner({f.name: f for functions in offered.values() for f in functions}))


def arguments_of(call: ModelCall) -> dict[str, Any]:
    """The call's arguments as a JSON object; ``{}`` when the model sent none that parse."""
    try:
        parsed = json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
