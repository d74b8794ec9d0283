"""The ``local`` provider: a GGUF chat model run in-process by llama.cpp.

Generation runs in one worker thread per model, so the event loop never waits on the model, and
requests take turns at it in arrival order (``model_turns``). Chunks cross to the event loop
through an asyncio queue. When the consumer stops (a client disconnects, the server shuts down)
its generation is told to stop, and stops before its next prompt batch or generated token; a
request still waiting for its turn never starts.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncGenerator, AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from orrery.config import ProviderConfig
from orrery.inference.errors import UpstreamError
from orrery.inference.gguf import model_name
from orrery.inference.llama_model import CONTEXT_TOKENS, LlamaChatModel, ModelLoadError
from orrery.inference.local_request import Sampling, chat_kwargs, invalid
from orrery.inference.model_turns import ModelTurns
from orrery.inference.tokens import TOKENIZED_LOCALLY, TokenCount, estimate

log = logging.getLogger(__name__)

CHAT_PATH = "chat/completions"
_END = object()


def _sse(chunk: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


@dataclass
class LocalStream:
    """A streamed chat completion held open for the pass-through, its first chunk already read."""

    first: dict[str, Any] | None
    rest: AsyncIterator[dict[str, Any]]
    status: int = 200
    content_type: str = "text/event-stream"


class LocalProvider:
    def __init__(self, config: ProviderConfig) -> None:
        assert config.model_path is not None
        self.id = config.id
        self.path = config.model_path
        self.name = model_name(config.model_path)
        self._model = LlamaChatModel(config.model_path, self.name)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"orrery-{self.id}")
        self._generations: set[threading.Event] = set()
        self._turns = ModelTurns(f"{self.id}/{self.name}", config.max_queue_wait)
        self._sampling = Sampling(config.max_output_tokens, config.repeat_penalty)

    def serves(self, model: str) -> bool:
        return model == self.name

    async def list_models(self) -> list[dict[str, Any]]:
        return [{"id": self.name, "object": "model", "created": int(self.path.stat().st_mtime),
                 "owned_by": self.id}]

    async def aclose(self) -> None:
        for cancelled in list(self._generations):
            cancelled.set()
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        self._executor.shutdown(wait=True)
        self._model.close()

    def _failure(self, exc: Exception) -> UpstreamError:
        if isinstance(exc, UpstreamError):
            return exc
        if isinstance(exc, ModelLoadError):
            return UpstreamError("connect", str(exc))
        if isinstance(exc, ValueError):  # llama.cpp's word for a prompt it cannot take
            return invalid(str(exc))
        log.error("local model %s failed", self.name, exc_info=exc)
        return UpstreamError("protocol", f"the local model {self.name} failed: {exc}")

    @asynccontextmanager
    async def _generation(self) -> AsyncIterator[threading.Event]:
        """The stop flag of one generation, raised when its consumer is done with it."""
        cancelled = threading.Event()
        self._generations.add(cancelled)
        try:
            yield cancelled
        finally:
            cancelled.set()
            self._generations.discard(cancelled)

    async def _chunks(self, body: dict[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        kwargs = chat_kwargs(body, self._sampling)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()

        def put(item: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is closed: nobody is listening any more
                cancelled.set()

        def work() -> None:
            try:
                if not cancelled.is_set():
                    for chunk in self._model.chat_stream(kwargs, cancelled):
                        put(chunk)
            except Exception as exc:
                put(exc)
            finally:
                put(_END)

        async with self._turns.turn(), self._generation() as cancelled:
            self._executor.submit(work)
            while (item := await queue.get()) is not _END:
                if isinstance(item, Exception):
                    raise self._failure(item)
                if item["choices"] or include_usage:
                    yield item

    takes_turns = True

    async def admit(self) -> None:
        await self._turns.admit()

    async def stream_chat(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        async for chunk in self._chunks(body):
            yield chunk

    async def _complete(self, body: dict[str, Any]) -> dict[str, Any]:
        kwargs = chat_kwargs(body, self._sampling)
        async with self._turns.turn(), self._generation() as cancelled:
            future = self._executor.submit(self._model.chat, kwargs, cancelled)
            try:
                return await asyncio.wrap_future(future)
            except Exception as exc:
                raise self._failure(exc) from exc

    async def context_window(self, model: str, *, discover: bool = False) -> int | None:
        return CONTEXT_TOKENS

    async def count_tokens(self, body: dict[str, Any]) -> TokenCount:
        future = self._executor.submit(self._model.count_prompt, chat_kwargs(body, self._sampling))
        try:
            counted = await asyncio.wrap_future(future)
        except Exception as exc:
            raise self._failure(exc) from exc
        return TokenCount(counted, TOKENIZED_LOCALLY) if counted is not None else estimate(body)

    def _check_path(self, path: str) -> None:
        if path != CHAT_PATH:
            raise invalid(f"The model '{self.name}' of provider '{self.id}' is a chat model run in-process; it does "
                          f"not serve /v1/{path}. Configure a provider for that with --provider ID=BASE_URL.",
                          param="model")

    async def post_json(self, path: str, body: dict[str, Any]) -> Any:
        self._check_path(path)
        return await self._complete(body)

    @asynccontextmanager
    async def open_stream(self, path: str, body: dict[str, Any]) -> AsyncIterator[LocalStream]:
        """The first chunk is awaited here, so a request the model refuses fails before any byte."""
        self._check_path(path)
        chunks = self._chunks(body)
        try:
            yield LocalStream(await anext(chunks, None), chunks)
        finally:
            await chunks.aclose()

    async def iter_bytes(self, answer: LocalStream) -> AsyncIterator[bytes]:
        if answer.first is not None:
            yield _sse(answer.first)
        async for chunk in answer.rest:
            yield _sse(chunk)
        yield b"data: [DONE]\n\n"

