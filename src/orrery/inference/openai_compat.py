"""A provider for any OpenAI-compatible chat-completions server, over one pooled HTTP transport."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from orrery.config import ProviderConfig
from orrery.inference.chunks import MalformedChunk, checked_chunk
from orrery.inference.errors import UpstreamError, UpstreamFailure, upstream_message
from orrery.inference.sse import LineTooLong, SSEPayloads
from orrery.inference.tokens import TOKENIZED_UPSTREAM, TokenCount, estimate
from orrery.inference.transport import (
    AiohttpTransport,
    Transport,
    TransportError,
    TransportTimeout,
    UpstreamAnswer,
    UpstreamRequest,
)
from orrery.observability import metrics, tracing

LISTING_TIMEOUT = 5.0
"""Seconds a create waits for the model listing that says its model's context window."""
ERROR_BODY_LIMIT = 1024 * 1024
"""Bytes of an upstream's error answer that are read (to quote its message)."""
ANSWER_LIMIT = 512 * 1024 * 1024
"""Bytes of a non-streamed upstream answer (embeddings of a large batch) that are read at most."""
RELIST_AFTER = 300.0
"""Seconds before a model the listing did not name (or a listing that failed) is looked up again."""


def _decode_body(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


def listed_window(entry: dict[str, Any]) -> int | None:
    """The context window a model listing's entry gives, under the names upstreams use for it."""
    meta = entry.get("meta")
    for value in (entry.get("max_model_len"), entry.get("context_length"), entry.get("context_window"),
                  meta.get("n_ctx_train") if isinstance(meta, dict) else None):
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _finishes(chunk: dict[str, Any]) -> bool:
    for choice in chunk.get("choices") or ():  # a loop, not any() over a generator: once per token
        if choice.get("finish_reason"):
            return True
    return False


@functools.cache
def endpoint_url(base_url: str, path: str) -> str:
    """``path`` under ``base_url``, the base URL's query (``?api-version=…``) kept; worked out once
    for each (a provider has a handful), not on every call."""
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + path, fragment=""))


class OpenAICompatProvider:
    """Talks to ``{base_url}/chat/completions``, ``/embeddings`` and ``/models``."""

    def __init__(self, config: ProviderConfig,
                 wrap_transport: Callable[[Transport], Transport] | None = None) -> None:
        """``wrap_transport`` puts a layer (the recorder) between the client and the network."""
        self.id = config.id
        self.base_url = config.base_url
        self.timeout = config.timeout
        headers = {"authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        transport: Transport = AiohttpTransport(base_url=config.base_url, headers=headers, timeout=config.timeout,
                                                connect_timeout=config.connect_timeout)
        self._transport = wrap_transport(transport) if wrap_transport is not None else transport
        self._windows: dict[str, int | None] = {m.name: m.context_window for m in config.models}
        """Context window by model: configured, else as the upstream's model listing says."""
        self._listed_at: float | None = None
        self._tokenize_url = endpoint_url(config.base_url.removesuffix("/v1"), "tokenize")
        self._tokenizes: bool | None = None
        """Whether the upstream has vLLM's ``/tokenize`` (``None`` until asked once)."""

    def serves(self, model: str) -> bool:
        """Any name: the upstream decides."""
        return True

    def _timed_out(self) -> UpstreamError:
        return UpstreamError("timeout", f"upstream {self.id} timed out: no answer within {self.timeout:g} s")

    @contextmanager
    def _upstream_errors(self, kind: UpstreamFailure, what: str) -> Iterator[None]:
        """Turn transport failures in the block into UpstreamError: timeouts, else ``kind`` saying ``what``."""
        try:
            yield
        except TransportTimeout as exc:
            raise self._timed_out() from exc
        except TransportError as exc:
            raise UpstreamError(kind, f"upstream {self.id} {what}: {exc}") from exc

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def _send(self, method: str, url: str, body: dict[str, Any] | None = None) -> UpstreamAnswer:
        request = UpstreamRequest(method, url, orjson.dumps(body) if body is not None else None)
        with self._upstream_errors("connect", "unreachable"):
            return await self._transport.send(request)

    @asynccontextmanager
    async def open_stream(self, path: str, body: dict[str, Any]) -> AsyncIterator[UpstreamAnswer]:
        """POST ``body`` and hold the answer open; a non-2xx answer raises UpstreamError, and so
        may the block reading it. Either is counted, by kind, and ends the call's span failed."""
        url = endpoint_url(self.base_url, path)
        span = tracing.upstream_call(self.id, path, url, body)
        try:
            response = await self._send("POST", url, body)
            span.set_attribute("http.response.status_code", response.status)
            try:
                if response.status >= 400:
                    raw = await self._read(response, ERROR_BODY_LIMIT)
                    payload = _decode_body(raw)
                    raise UpstreamError(
                        "http",
                        upstream_message(payload, f"upstream {self.id} answered HTTP {response.status}"),
                        status=response.status,
                        body=payload,
                    )
                yield response
            finally:
                await response.aclose()
        except UpstreamError as exc:
            metrics.upstream_error(self.id, exc.kind)
            tracing.failed(span, exc.kind)
            raise
        finally:
            span.end()

    async def _read(self, response: UpstreamAnswer, limit: int) -> bytes:
        """The body, read to at most ``limit`` bytes (beyond them, an UpstreamError)."""
        body = bytearray()
        with self._upstream_errors("protocol", "broke its answer"):
            async for chunk in response.chunks():
                body += chunk
                if len(body) > limit:
                    raise UpstreamError("protocol", f"upstream {self.id} answered more than {limit} bytes")
        return bytes(body)

    async def iter_bytes(self, response: UpstreamAnswer) -> AsyncIterator[bytes]:
        """The body, with transport failures turned into UpstreamError."""
        with self._upstream_errors("protocol", "broke the stream"):
            async for chunk in response.chunks():
                yield chunk

    takes_turns = False
    """An HTTP upstream takes requests side by side: ``admit`` has nothing to wait for."""

    async def admit(self) -> None:
        """Nothing to wait for."""

    async def stream_chat(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Yield the chunks of a streamed chat completion as dicts, each checked; an answer that
        is not an event stream, or ends before the upstream said it finished, is an UpstreamError."""
        async with self.open_stream("chat/completions", body) as response:
            content_type = response.content_type
            if "event-stream" not in content_type:
                await self._read(response, ERROR_BODY_LIMIT)
                raise UpstreamError("protocol", f"upstream {self.id} answered {content_type or 'no content type'} "
                                                "where an event stream was asked for")
            payloads = SSEPayloads()
            finished = False
            try:
                with self._upstream_errors("protocol", "broke the stream"):
                    async for data in response.chunks():
                        for chunk in map(self._chunk, payloads.feed(data)):
                            finished = finished or _finishes(chunk)
                            yield chunk
                for chunk in map(self._chunk, payloads.end()):
                    finished = finished or _finishes(chunk)
                    yield chunk
            except orjson.JSONDecodeError as exc:
                raise UpstreamError("protocol", f"upstream {self.id} sent malformed JSON: {exc}") from exc
            except (MalformedChunk, LineTooLong) as exc:
                raise UpstreamError("protocol", f"upstream {self.id} sent {exc}") from exc
            if not finished and not payloads.done:
                raise UpstreamError("protocol", f"upstream {self.id} ended its stream before finishing it "
                                                "(no finish_reason, no [DONE])")

    def _chunk(self, payload: Any) -> dict[str, Any]:
        """A payload of the stream as a checked chunk; an upstream's error object as UpstreamError."""
        if isinstance(payload, dict) and "error" in payload and "choices" not in payload:
            raise UpstreamError("protocol", upstream_message(payload, "upstream sent an error"), body=payload)
        return checked_chunk(payload)

    async def post_json(self, path: str, body: dict[str, Any]) -> Any:
        async with self.open_stream(path, body) as response:
            raw = await self._read(response, ANSWER_LIMIT)
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise UpstreamError("protocol", f"upstream {self.id} sent malformed JSON: {exc}") from exc

    async def context_window(self, model: str, *, discover: bool = False) -> int | None:
        """The configured window, else the one the model listing gives (vLLM's ``max_model_len``,
        ``context_length``, ``context_window``, llama.cpp's ``meta.n_ctx_train``).

        The listing is asked for only when ``discover`` (a request that asked to be fitted to the
        window), so a plain create makes no call but its own."""
        now = time.monotonic()
        if discover and model not in self._windows and (
                self._listed_at is None or now - self._listed_at > RELIST_AFTER):
            self._listed_at = now
            try:
                listed = await asyncio.wait_for(self.list_models(), LISTING_TIMEOUT)
            except (UpstreamError, TimeoutError):
                return None
            for entry in listed:
                self._windows.setdefault(entry["id"], listed_window(entry))
        return self._windows.get(model)

    async def count_tokens(self, body: dict[str, Any]) -> TokenCount:
        """vLLM's ``/tokenize`` (at the server's root: the model's own tokenizer and chat template)
        when the upstream has it, else an estimate."""
        if self._tokenizes is not False:
            counted = await self._tokenized(body)
            if counted is not None:
                return TokenCount(counted, TOKENIZED_UPSTREAM)
        return estimate(body)

    async def _fetch(self, method: str, url: str, body: dict[str, Any] | None = None, *,
                     limit: int = ERROR_BODY_LIMIT) -> tuple[int, Any]:
        """Status and decoded body of a call answered at once (a listing, a token count)."""
        response = await self._send(method, url, body)
        try:
            raw = await self._read(response, limit)
        finally:
            await response.aclose()
        return response.status, _decode_body(raw)

    async def _tokenized(self, body: dict[str, Any]) -> int | None:
        asked: dict[str, Any] = {key: body[key] for key in ("model", "messages", "tools") if key in body}
        try:
            status, data = await self._fetch("POST", self._tokenize_url, asked)
        except UpstreamError:
            return None
        if status in (404, 405, 501):
            self._tokenizes = False
        count = data.get("count") if status == 200 and isinstance(data, dict) else None
        if not isinstance(count, int):
            return None
        self._tokenizes = True
        return count

    async def list_models(self) -> list[dict[str, Any]]:
        status, data = await self._fetch("GET", endpoint_url(self.base_url, "models"), limit=ANSWER_LIMIT)
        if status >= 400:
            raise UpstreamError("http", upstream_message(data, f"HTTP {status}"), status=status, body=data)
        models = data.get("data") if isinstance(data, dict) else None
        return [m for m in models or [] if isinstance(m, dict) and isinstance(m.get("id"), str)]
