"""What the rest of orrery needs from a provider: an HTTP upstream or the embedded local model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from orrery.inference.tokens import TokenCount


class StreamedAnswer(Protocol):
    """An answer held open by ``open_stream``; its body is read with the provider's ``iter_bytes``."""

    @property
    def status(self) -> int: ...

    @property
    def content_type(self) -> str: ...


class Provider(Protocol):
    id: str
    takes_turns: bool
    """Whether it answers one request at a time, so that a request may wait for ``admit``."""

    def serves(self, model: str) -> bool:
        """False when the provider knows it has no model of that name."""
        ...

    def stream_chat(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """The chunks of a streamed chat completion; failures raise UpstreamError."""
        ...

    async def admit(self) -> None:
        """Wait, before a stream's first byte, for a model that answers one request at a time;
        the wait's UpstreamError (a 503) if it stays busy. The current task's next ``stream_chat``
        uses the turn waited for; a turn it never uses is given back when the task ends."""
        ...

    def open_stream(self, path: str, body: dict[str, Any]) -> AbstractAsyncContextManager[Any]:
        """POST ``body`` to ``path`` and hold a StreamedAnswer open; a refusal raises UpstreamError."""
        ...

    def iter_bytes(self, answer: Any) -> AsyncIterator[bytes]: ...

    async def post_json(self, path: str, body: dict[str, Any]) -> Any: ...

    async def list_models(self) -> list[dict[str, Any]]: ...

    async def count_tokens(self, body: dict[str, Any]) -> TokenCount:
        """The prompt tokens of a chat-completions body, as exactly as the provider can tell."""
        ...

    async def context_window(self, model: str, *, discover: bool = False) -> int | None:
        """How many tokens ``model`` reads at most, prompt and answer together; ``None``: unknown."""
        ...

    async def aclose(self) -> None: ...
