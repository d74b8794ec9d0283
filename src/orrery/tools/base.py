"""The one interface every server-side tool implements.

The model sees a server-side tool as chat functions. When it calls one, the run turns the call
into an output item of the tool's own type (``file_search_call``, ``web_search_call``, …), lets
the tool fill it in while announcing its progress, and shows the model the tool's answer on the
next upstream turn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, AsyncIterator, Protocol

ToolEvent = tuple[str, dict[str, Any]]
"""A stream event the tool announces: its type and fields other than the item id and output index."""


@dataclass(frozen=True)
class ModelCall:
    """A call the model made, its arguments complete."""

    call_id: str
    name: str
    arguments: str


def query_argument(arguments: str) -> str:
    """The ``query`` argument of a search call, or the raw arguments when the model sent no valid JSON."""
    try:
        parsed = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return arguments
    query = parsed.get("query") if isinstance(parsed, dict) else None
    return query if isinstance(query, str) else arguments


def query_call(call_id: str, function_name: str, query: str) -> ModelCall:
    """A search call with the arguments as the model sends them (compact JSON)."""
    return ModelCall(call_id, function_name, json.dumps({"query": query}, separators=(",", ":"), ensure_ascii=False))


class ServerTool(Protocol):
    def offers(self, function_name: str) -> bool: ...

    def start_item(self, call: ModelCall) -> dict[str, Any]:
        """The output item for ``call``, as announced by ``response.output_item.added``."""
        ...

    def run(self, call: ModelCall, item: dict[str, Any]) -> AsyncIterator[ToolEvent]:
        """Fill in ``item`` (status included), announcing progress; never raises for a failed call."""
        ...

    def answer(self, item: dict[str, Any]) -> Any:
        """The ``tool`` message content the model sees for a finished item; ``None`` when the
        model cannot go on until the client acts on the item."""
        ...


class ServerTools:
    """The server-side tools of one request, found by the function names the model calls."""

    def __init__(self, tools: list[ServerTool]) -> None:
        self.tools = tools

    def for_function(self, function_name: str | None) -> ServerTool | None:
        if not function_name:
            return None
        return next((tool for tool in self.tools if tool.offers(function_name)), None)
