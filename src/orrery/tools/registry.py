"""Every kind of tool the server knows, and what the rest of the server asks of them by type.

Adding a kind of tool is a module with a ``ToolKind`` subclass and one line in ``KINDS``.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel

from orrery.tools import (
    apply_patch,
    custom,
    file_search,
    function,
    local_shell,
    mcp,
    namespace,
    shell,
    tool_search,
    unsupported,
    web_search,
)
from orrery.tools.base import Item, Replay, Replayer, ToolKind

KINDS: tuple[type[ToolKind], ...] = (
    unsupported.UnsupportedKind,  # first: refuses the request before any other kind reaches a service
    function.FunctionKind,
    custom.CustomKind,
    namespace.NamespaceKind,
    local_shell.LocalShellKind,
    shell.ShellKind,
    apply_patch.ApplyPatchKind,
    tool_search.ToolSearchKind,
    file_search.FileSearchKind,
    web_search.WebSearchKind,
    mcp.McpKind,
)


def literal_values(model: type[BaseModel], field: str = "type") -> tuple[str, ...]:
    """The values a model's ``Literal`` field (its ``type``) may take."""
    annotation = model.model_fields[field].annotation
    values: tuple[str, ...] = get_args(annotation)
    return values


TOOL_KINDS: dict[str, type[ToolKind]] = {tool_type: kind for kind in KINDS for tool_type in kind.tool_types}
"""Kind by the ``type`` of a request's tool entry."""

TOOL_MODELS: tuple[type[BaseModel], ...] = tuple(kind.tool_model for kind in KINDS if kind.tool_model is not None)

ITEM_MODELS: tuple[type[BaseModel], ...] = tuple(model for kind in KINDS for model in kind.item_models)

ITEM_KINDS: dict[str, type[ToolKind]] = {item_type: kind for kind in KINDS for model in kind.item_models
                                         for item_type in literal_values(model)}
"""Kind by the ``type`` of an item a kind owns."""

ITEM_ID_PREFIXES: dict[str, str] = {item_type: prefix for kind in KINDS
                                    for item_type, prefix in kind.item_id_prefixes.items()}

CALL_ITEM_TYPES: frozenset[str] = frozenset().union(*(kind.call_item_types for kind in KINDS))
"""Output item types of server-side tool calls, counted by ``max_tool_calls``."""


def key_of(tool: Any) -> str:
    """The name a request's tool entry (or a ``tool_choice`` naming one) is chosen by."""
    return TOOL_KINDS[tool.type].key(tool)


def echoed(tool: Any) -> dict[str, Any]:
    """A request's tool entry as the response object shows it."""
    return TOOL_KINDS[tool.type].echoed(tool)


def visible_item(item: Item, include: list[str]) -> Item:
    """An item as the client sees it: tool results and sources only when ``include`` asks for them."""
    kind = ITEM_KINDS.get(item.get("type", "message"))
    return item if kind is None else kind.visible(item, include)


def as_written(text: str, annotations: list[dict[str, Any]]) -> str:
    """An answer's text as the model wrote it, with what every kind's annotations took out put back."""
    for kind in KINDS:
        text = kind.as_written(text, annotations)
    return text


class HistoryReplay:
    """Shows one history's tool items to the model again, each by its kind's replayer."""

    def __init__(self) -> None:
        self._replayers: dict[type[ToolKind], Replayer | None] = {}

    def __call__(self, item: Item) -> Replay | None:
        """How ``item`` is shown to the model, or ``None`` if it is not a tool item."""
        kind = ITEM_KINDS.get(item.get("type", "message"))
        if kind is None:
            return None
        if kind not in self._replayers:
            self._replayers[kind] = kind.replayer()
        replayer = self._replayers[kind]
        return None if replayer is None else replayer(item)
