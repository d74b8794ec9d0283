"""The kinds of tool as the running server uses them, and the tools of one request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from orrery.tools.base import (
    ChatFunction,
    Citations,
    Item,
    ModelCall,
    OpeningItem,
    PreparedTools,
    RequestTools,
    ServerTool,
    ToolKind,
    ToolSetup,
)
from orrery.tools.registry import KINDS, TOOL_KINDS


@dataclass
class Toolset:
    """The tools of one request, every kind's part of it together."""

    functions: dict[int, list[ChatFunction]] = field(default_factory=dict)
    """The chat functions offered to the model, by the position of their tool in the request's ``tools``."""
    runners: list[ServerTool] = field(default_factory=list)
    citations: list[Citations] = field(default_factory=list)
    opening_items: list[OpeningItem] = field(default_factory=list)
    opening_calls: list[tuple[ServerTool, ModelCall]] = field(default_factory=list)

    def for_function(self, function_name: str | None) -> ServerTool | None:
        """The server-side tool that runs calls of ``function_name``; ``None`` for a client's function."""
        if not function_name:
            return None
        return next((runner for runner in self.runners if runner.offers(function_name)), None)

    @classmethod
    def of(cls, prepared: Sequence[PreparedTools]) -> Toolset:
        toolset = cls(functions={position: functions for part in prepared
                                 for position, functions in part.functions.items()})
        for part in prepared:
            if part.runner is not None:
                toolset.runners.append(part.runner)
                toolset.opening_calls += [(part.runner, call) for call in part.opening_calls]
            if part.citations is not None:
                toolset.citations.append(part.citations)
            toolset.opening_items += part.opening_items
        return toolset


class ToolRegistry:
    """Every kind, started with what the server hands it."""

    def __init__(self, kinds: Sequence[ToolKind]) -> None:
        self.kinds = list(kinds)
        self._by_kind = {type(kind): kind for kind in self.kinds}

    @classmethod
    def start(cls, setup: ToolSetup) -> ToolRegistry:
        return cls([kind.start(setup) for kind in KINDS])

    async def aclose(self) -> None:
        for kind in self.kinds:
            await kind.aclose()

    async def prepare(self, tools: Sequence[Any], history: list[Item], input_items: list[Item]) -> Toolset:
        """Every kind's part in a request whose ``tools`` are ``tools``: checked, fetched, offered."""
        entries: dict[type[ToolKind], list[tuple[int, Any]]] = {kind_type: [] for kind_type in self._by_kind}
        for position, tool in enumerate(tools):
            entries[TOOL_KINDS[tool.type]].append((position, tool))
        prepared = []
        for kind_type, kind in self._by_kind.items():
            part = await kind.prepare(RequestTools(entries[kind_type], history, input_items))
            if part is not None:
                prepared.append(part)
        return Toolset.of(prepared)
