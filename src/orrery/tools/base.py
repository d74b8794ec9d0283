"""What every kind of tool declares, and the shapes the engine exchanges with it.

A kind of tool (``function``, ``file_search``, ``web_search``, ``mcp``…) is one module holding a
``ToolKind`` subclass: its request model, the items it owns, what of them a client sees, how its
stored items are shown to the model again, and, for each request, a ``PreparedTools`` that offers
the model its functions and, for server-side kinds, runs the calls the model makes.

The model sees every tool as chat functions. A call of a server-side tool becomes an output item
of the tool's own type (``file_search_call``, ``web_search_call``, …) that the tool fills in while
announcing its progress; the model reads the tool's answer on its next upstream turn. A call of a
client-side tool ends the response with its call item.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel

if TYPE_CHECKING:
    from orrery.config import Settings
    from orrery.vectors.service import VectorStoreService

Item = dict[str, Any]
"""A Responses item as stored and shown: a JSON object."""

ChatFunction = dict[str, Any]
"""A tool in the chat-completions ``tools`` shape: ``{"type": "function", "function": {...}}``."""

ToolEvent = tuple[str, dict[str, Any]]
"""A stream event the tool announces: its type and fields other than the item id and output index."""


@dataclass(frozen=True)
class ModelCall:
    """A call the model made, its arguments complete."""

    call_id: str
    name: str
    arguments: str


class ToolError(Exception):
    """A tool invocation failed (the service refused, timed out, answered nonsense): the call's
    item says so, and the model is told. ``status`` is the HTTP status of that refusal, if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ToolUnavailable(Exception):
    """A tool cannot be invoked here at all (a replay that has no recording of the call): the
    response fails, as it does when its upstream cannot be reached."""


@dataclass(frozen=True)
class ToolInvocation:
    """One call to the service behind a tool (a search API, an MCP server)."""

    provider: str
    tool_name: str
    kwargs: dict[str, Any]
    """What the service is asked: all that a recording keeps of the call."""
    reach: Any = None
    """How the service is reached (its URL with credentials, headers): used, never recorded."""


class ToolTransport(Protocol):
    """How a tool reaches its service; the recorder wraps it as it wraps upstream transports."""

    async def invoke(self, invocation: ToolInvocation) -> Any:
        """The service's JSON result; raises ``ToolError`` for a failed call."""
        ...


TransportWrapper = Callable[[ToolTransport], ToolTransport]


def unwrapped(transport: ToolTransport) -> ToolTransport:
    return transport


@dataclass(frozen=True)
class ToolSetup:
    """What the server hands every kind of tool when it starts."""

    settings: Settings
    vector_stores: VectorStoreService
    wrap_transport: TransportWrapper = unwrapped
    """Puts the recorder between a tool and its service; the identity in live mode."""


class ServerTool(Protocol):
    """Runs the model's calls of the functions one request's server-side tools offer."""

    def offers(self, function_name: str) -> bool: ...

    def start_item(self, call: ModelCall) -> Item:
        """The output item for ``call``, as announced by ``response.output_item.added``."""
        ...

    def run(self, call: ModelCall, item: Item) -> AsyncIterator[ToolEvent]:
        """Fill in ``item`` (status included), announcing progress; never raises for a failed call
        (``ToolUnavailable`` aside)."""
        ...

    def answer(self, item: Item) -> Any:
        """The ``tool`` message content the model sees for a finished item; ``None`` when the
        model cannot go on until the client acts on the item."""
        ...


class Citations(Protocol):
    """What the model's answer may cite, found by a request's tools as they run."""

    def stream_filter(self) -> TextFilter | None:
        """A fresh filter for one message's streamed text, or ``None``."""
        ...

    def annotations(self, text: str) -> list[dict[str, Any]]:
        """Annotations for a finished message's text (after any filter's)."""
        ...


class TextFilter(Protocol):
    """Streamed text in, text to show and the annotations it completed out."""

    annotations: list[dict[str, Any]]

    def feed(self, delta: str) -> tuple[str, list[dict[str, Any]]]: ...

    def finish(self) -> str: ...


@dataclass(frozen=True)
class OpeningItem:
    """An item a response shows before the model's first turn (an MCP server's tool listing)."""

    item: Item
    announced: Item
    """The item as ``response.output_item.added`` shows it."""
    events: tuple[ToolEvent, ...]
    """Events between the added and done events."""


@dataclass
class PreparedTools:
    """One kind's part in one request, ready before its stream starts."""

    functions: dict[int, list[ChatFunction]] = field(default_factory=dict)
    """Chat functions offered to the model, by the position of their tool in the request's ``tools``."""
    runner: ServerTool | None = None
    """Runs the calls of those functions on the server; ``None`` for tools the client runs."""
    citations: Citations | None = None
    opening_items: list[OpeningItem] = field(default_factory=list)
    opening_calls: list[ModelCall] = field(default_factory=list)
    """Calls the client approved in this request, run by ``runner`` before the model's first turn."""


@dataclass(frozen=True)
class Replay:
    """How a stored item is shown to the model again."""

    calls: tuple[tuple[ModelCall, Any], ...] = ()
    """Calls the model made, each with the ``tool`` message content that answered it (``None``
    when a later item holds the answer); they join the assistant turn of the calls before them."""
    answers: tuple[tuple[str, Any], ...] = ()
    """``tool`` message contents answering earlier calls, by call id (an item the client sent
    with a call's result)."""
    ends_turn: bool = True
    """Whether the item ends the assistant turn of the calls before it (with no calls of its own,
    it is shown as nothing but its answers)."""


SHOWN_AS_NOTHING = Replay(ends_turn=False)
"""An item the model never sees again, which leaves the turn around it as it was."""


class Replayer(Protocol):
    """Shows one history's stored items of a kind to the model; may remember earlier items."""

    def __call__(self, item: Item) -> Replay: ...


@dataclass(frozen=True)
class RequestTools:
    """The parts of a create request the tools of a kind look at."""

    entries: list[tuple[int, Any]]
    """The request's tools of this kind, with their positions in ``tools``."""
    history: list[Item]
    """The items of the chain or conversation the response continues."""
    input_items: list[Item]
    """The request's own input items, as stored."""


class ToolKind:
    """One kind of tool. Subclasses declare the class attributes and override what they use."""

    tool_types: ClassVar[tuple[str, ...]] = ()
    """The ``type`` values of its entries in a request's ``tools``."""
    tool_model: ClassVar[type[BaseModel] | None] = None
    """The request model of those entries."""
    item_models: ClassVar[tuple[type[BaseModel], ...]] = ()
    """Input item models of the item types it owns."""
    item_id_prefixes: ClassVar[dict[str, str]] = {}
    """Id prefixes of its input items that a client may send without an id."""
    call_item_types: ClassVar[frozenset[str]] = frozenset()
    """Output item types that count as server-side tool calls (``max_tool_calls``)."""

    @classmethod
    def start(cls, setup: ToolSetup) -> ToolKind:
        """The kind as the running server uses it."""
        return cls()

    async def aclose(self) -> None:
        """Release what ``start`` opened."""

    @classmethod
    def key(cls, tool: Any) -> str:
        """What names a tool entry (or a ``tool_choice`` naming it): the chat function name it is
        chosen by."""
        return str(tool.type)

    @classmethod
    def echoed(cls, tool: BaseModel) -> dict[str, Any]:
        """The entry as the response object's ``tools`` shows it."""
        return tool.model_dump(exclude_none=True, by_alias=True)

    @classmethod
    def visible(cls, item: Item, include: list[str]) -> Item:
        """An item of this kind as the client sees it, given what ``include`` asks for."""
        return item

    @classmethod
    def as_written(cls, text: str, annotations: list[dict[str, Any]]) -> str:
        """An answer's text as the model wrote it, before this kind's annotations were taken out of
        it (to show the model its own turn again)."""
        return text

    @classmethod
    def replayer(cls) -> Replayer | None:
        """How stored items of this kind are shown to the model again; ``None`` if they are not tool
        items the model made (they are shown by the conversion of messages)."""
        return None

    async def prepare(self, request: RequestTools) -> PreparedTools | None:
        """Check the request's entries of this kind, fetch what they need, and offer them; called for
        every request, with no entries too (``None``: nothing to offer)."""
        return None


def qualified_name(namespace: str | None, name: str) -> str:
    """The chat function name of a tool inside a ``namespace`` tool (or of a plain one)."""
    return f"{namespace}__{name}" if namespace else name


def string_argument(arguments: str, name: str) -> str:
    """The string argument ``name`` of a call (a search's ``query``, a custom tool's ``input``), or
    the raw arguments when the model sent no JSON object with it."""
    try:
        parsed = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return arguments
    value = parsed.get(name) if isinstance(parsed, dict) else None
    return value if isinstance(value, str) else arguments


def query_call(call_id: str, function_name: str, query: str) -> ModelCall:
    """A search call with the arguments as the model sends them (compact JSON)."""
    return ModelCall(call_id, function_name, json.dumps({"query": query}, separators=(",", ":"), ensure_ascii=False))

