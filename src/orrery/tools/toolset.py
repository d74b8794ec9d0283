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
    owners: dict[str, tuple[ServerTool | None, str]] = field(default_factory=dict)
    """Chat function name → the tool that runs its calls (``None``: the client) and the name that
    tool knows the function by. A function whose name another tool already offers is offered
    renamed, so no tool shadows another: the server's tools keep their names (``web_search``,
    ``apply_patch``: what ``tool_choice`` names), and the client's own functions give way."""
    citations: list[Citations] = field(default_factory=list)
    opening_items: list[OpeningItem] = field(default_factory=list)
    opening_calls: list[tuple[ServerTool, ModelCall]] = field(default_factory=list)
    _client_names: dict[str, str] = field(default_factory=dict)

    def for_function(self, function_name: str | None) -> ServerTool | None:
        """The server-side tool that runs calls of ``function_name``; ``None`` for a client's function."""
        owner = self.owners.get(function_name or "")
        return owner[0] if owner is not None else None

    def original_name(self, function_name: str) -> str:
        """The name the tool offering ``function_name`` knows it by."""
        owner = self.owners.get(function_name)
        return owner[1] if owner is not None else function_name

    def client_function_name(self, name: str) -> str:
        """The name the client's function ``name`` is offered to the model by (to show the model its
        earlier calls of it under that name)."""
        return self._client_names.get(name, name)

    def _offer(self, position: int, functions: list[ChatFunction], runner: ServerTool | None) -> None:
        offered = self.functions.setdefault(position, [])
        for function in functions:
            name = str(function["function"]["name"])
            if name in self.owners and self.owners[name] == (runner, name):
                continue  # the same tool's function twice (two file_search entries): offered once
            chat_name, number = name, 2
            while chat_name in self.owners:
                chat_name, number = f"{name[:60]}_{number}", number + 1
            if chat_name != name:
                function = {**function, "function": {**function["function"], "name": chat_name}}
                if runner is None:
                    self._client_names[name] = chat_name
            self.owners[chat_name] = (runner, name)
            offered.append(function)

    @classmethod
    def of(cls, prepared: Sequence[PreparedTools]) -> Toolset:
        toolset = cls()
        offers = sorted(((part.runner is None, position, functions, part.runner) for part in prepared
                         for position, functions in part.functions.items()), key=lambda offer: offer[:2])
        for _, position, functions, runner in offers:
            toolset._offer(position, functions, runner)
        for part in prepared:
            if part.runner is not None:
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
