"""A scripted OpenAI-compatible chat-completions server, started for real on a port.

Tests choose its behaviour per model name: ``upstream.script("m-1", Reply(text="hi"))`` queues
replies for requests naming model ``m-1``; with no reply queued it echoes the last user message.
Every request body it receives is kept in ``upstream.requests`` for exact comparisons.

It also answers as a Tavily-compatible web search API at ``POST /search``: two pages made from
the query, unless ``upstream.script_search(query, SearchReply(...))`` says otherwise.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import zlib
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

MODELS = ("scripted-model", "scripted-other")
VLLM_WINDOWS = {"m-tokenize": 8192, "m-short": 120}


@dataclass
class ToolCall:
    name: str
    arguments: str
    id: str | None = None


@dataclass
class Reply:
    """One scripted answer. ``chunk`` sets how many characters go in each content delta."""

    text: str = ""
    reasoning: str = ""
    refusal: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    chunk: int = 4
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    send_usage: bool = True
    logprobs: bool = False
    delay: float = 0.0
    status: int = 200
    error: dict[str, Any] | None = None
    break_after: int | None = None
    raw: bytes | None = None
    """A streamed answer's whole body, sent as it is, in place of the chunks (a faulty upstream)."""
    content_type: str = "text/event-stream"


@dataclass
class SearchReply:
    """One scripted web search answer: ``results`` as Tavily gives them, or an error status."""

    results: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0


def search_results(query: str) -> list[dict[str, Any]]:
    """The pages the search API finds for ``query`` when nothing else was scripted."""
    slug = "-".join(query.lower().split())[:40] or "empty"
    return [{"title": f"{query} - Encyclopedia", "url": f"https://encyclopedia.example/{slug}",
             "content": f"An article about {query}.", "score": 0.9},
            {"title": f"News on {query}", "url": f"https://news.example/{slug}",
             "content": f"Latest news on {query}.", "score": 0.7}]


@dataclass
class Received:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    caller: str | None = None
    """Who called, for a server configured with ``caller_url(name)`` as its base URL."""
    query: str = ""


class BrokenStream(Exception):
    """Raised inside the body generator so the server drops the connection mid-stream."""


def _usage(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    if reply.usage is not None:
        return reply.usage
    prompt = sum(len(str(m.get("content") or "")) for m in body.get("messages") or []) // 4 + 1
    completion = max(1, len(reply.text) // 4)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}}


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return str(content)
    return ""


def _chunk(model: str, delta: dict[str, Any], finish_reason: str | None = None,
           logprobs: Any = None) -> dict[str, Any]:
    return {"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason,
                                         "logprobs": logprobs}]}


def _logprobs(piece: str) -> dict[str, Any]:
    return {"content": [{"token": piece, "logprob": -0.5, "bytes": list(piece.encode()),
                         "top_logprobs": [{"token": piece, "logprob": -0.5, "bytes": list(piece.encode())}]}]}


def stream_chunks(reply: Reply, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The chat-completion chunks of a streamed reply, usage chunk included when asked for."""
    model = body.get("model", "")
    chunks = [_chunk(model, {"role": "assistant", "content": ""})]
    for start in range(0, len(reply.reasoning), reply.chunk):
        chunks.append(_chunk(model, {"reasoning_content": reply.reasoning[start:start + reply.chunk]}))
    for start in range(0, len(reply.text), reply.chunk):
        piece = reply.text[start:start + reply.chunk]
        chunks.append(_chunk(model, {"content": piece}, logprobs=_logprobs(piece) if reply.logprobs else None))
    for start in range(0, len(reply.refusal), reply.chunk):
        chunks.append(_chunk(model, {"refusal": reply.refusal[start:start + reply.chunk]}))
    for index, call in enumerate(reply.tool_calls):
        call_id = call.id or f"call_{index}_{zlib.crc32(call.name.encode())}"
        chunks.append(_chunk(model, {"tool_calls": [{"index": index, "id": call_id, "type": "function",
                                                     "function": {"name": call.name, "arguments": ""}}]}))
        for start in range(0, len(call.arguments), reply.chunk):
            chunks.append(_chunk(model, {"tool_calls": [{"index": index, "function": {
                "arguments": call.arguments[start:start + reply.chunk]}}]}))
    finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
    chunks.append(_chunk(model, {}, finish))
    if reply.send_usage and (body.get("stream_options") or {}).get("include_usage"):
        chunks.append({"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": int(time.time()),
                       "model": model, "choices": [], "usage": _usage(reply, body)})
    return chunks


def completion(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text}
    if reply.tool_calls:
        message["tool_calls"] = [{"id": c.id or f"call_{i}", "type": "function",
                                  "function": {"name": c.name, "arguments": c.arguments}}
                                 for i, c in enumerate(reply.tool_calls)]
    return {"id": "chatcmpl-scripted", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", ""), "usage": _usage(reply, body),
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": reply.finish_reason or "stop"}]}


class ScriptedUpstream:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.tokenized: list[dict[str, Any]] = []
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._searches: dict[str, deque[SearchReply]] = defaultdict(deque)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def vllm_url(self) -> str:
        """The same upstream as a vLLM server: with its ``/tokenize`` at the root."""
        return f"http://127.0.0.1:{self.port}/vllm/v1"

    def script(self, model: str, *replies: Reply) -> None:
        self._scripts[model].extend(replies)

    @property
    def search_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script_search(self, query: str, *replies: SearchReply) -> None:
        self._searches[query].extend(replies)

    def searches(self, query: str) -> list[Received]:
        """The web search requests for ``query``, oldest first."""
        return [r for r in self.requests if r.path == "search" and r.body.get("query") == query]

    def caller_url(self, caller: str) -> str:
        """A base URL that tags each chat request it receives with ``caller``."""
        return f"http://127.0.0.1:{self.port}/as/{caller}/v1"

    def callers(self, model: str) -> list[str | None]:
        """Who sent each chat request that named ``model``, oldest first."""
        return [r.caller for r in self.requests if r.path == "chat/completions" and r.body.get("model") == model]

    def bodies(self, model: str) -> list[dict[str, Any]]:
        """Bodies of the chat requests that named ``model``, oldest first."""
        return [r.body for r in self.requests if r.path == "chat/completions" and r.body.get("model") == model]

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        queue = self._scripts.get(body.get("model", ""))
        if queue:
            return queue.popleft()
        return Reply(text=f"echo: {_last_user_text(body)}")

    async def _chat(self, request: Request) -> Response:
        body = orjson.loads(await request.body())
        self.requests.append(Received("chat/completions", body, dict(request.headers),
                                      request.path_params.get("caller"), request.url.query))
        reply = self._next_reply(body)
        if reply.error is not None or reply.status != 200:
            await asyncio.sleep(reply.delay)
            return Response(orjson.dumps({"error": reply.error or {"message": "scripted failure"}}),
                            status_code=reply.status, media_type="application/json")
        if not body.get("stream"):
            await asyncio.sleep(reply.delay)
            return Response(orjson.dumps(completion(reply, body)), media_type="application/json")
        if reply.raw is not None:
            return StreamingResponse(self._raw(reply), media_type=reply.content_type)
        return StreamingResponse(self._stream(reply, body), media_type=reply.content_type)

    async def _raw(self, reply: Reply) -> AsyncIterator[bytes]:
        assert reply.raw is not None
        for start in range(0, len(reply.raw), 1 << 20):
            yield reply.raw[start:start + (1 << 20)]

    async def _stream(self, reply: Reply, body: dict[str, Any]) -> AsyncIterator[bytes]:
        for sent, chunk in enumerate(stream_chunks(reply, body)):
            if reply.break_after is not None and sent >= reply.break_after:
                raise BrokenStream("scripted break")
            if reply.delay:
                await asyncio.sleep(reply.delay)
            yield b"data: " + orjson.dumps(chunk) + b"\n\n"
        yield b"data: [DONE]\n\n"

    async def _embeddings(self, request: Request) -> Response:
        body = orjson.loads(await request.body())
        self.requests.append(Received("embeddings", body, dict(request.headers)))
        inputs = body.get("input")
        inputs = [inputs] if isinstance(inputs, str) else inputs or []
        data = [{"object": "embedding", "index": i, "embedding": [float(len(str(x))), 1.0, 0.5]}
                for i, x in enumerate(inputs)]
        return Response(orjson.dumps({"object": "list", "data": data, "model": body.get("model"),
                                      "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}}),
                        media_type="application/json")

    async def _search(self, request: Request) -> Response:
        body = orjson.loads(await request.body())
        self.requests.append(Received("search", body, dict(request.headers)))
        query = str(body.get("query", ""))
        queue = self._searches.get(query)
        reply = queue.popleft() if queue else SearchReply(results=search_results(query))
        await asyncio.sleep(reply.delay)
        if reply.status != 200:
            return Response(orjson.dumps({"detail": {"error": "scripted search failure"}}), status_code=reply.status,
                            media_type="application/json")
        results = reply.results[:body.get("max_results", 5)]
        return Response(orjson.dumps({"query": query, "answer": None, "images": [], "results": results,
                                      "response_time": 0.01}), media_type="application/json")

    async def _tokenize(self, request: Request) -> Response:
        """vLLM's ``/tokenize`` of chat messages: one token a word, and four a message."""
        body = orjson.loads(await request.body())
        self.tokenized.append(body)
        words = sum(len(str(message.get("content") or "").split()) for message in body["messages"])
        return Response(orjson.dumps({"count": words + 4 * len(body["messages"]), "max_model_len": 8192,
                                      "tokens": []}), media_type="application/json")

    async def _vllm_models(self, _: Request) -> Response:
        """vLLM's listing, which gives each model's context window as ``max_model_len``."""
        data = [{"id": model, "object": "model", "owned_by": "vllm", "max_model_len": window}
                for model, window in VLLM_WINDOWS.items()]
        return Response(orjson.dumps({"object": "list", "data": data}), media_type="application/json")

    async def _models(self, _: Request) -> Response:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "scripted"} for m in MODELS]
        return Response(orjson.dumps({"object": "list", "data": data}), media_type="application/json")

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
            Route("/v1/embeddings", self._embeddings, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
            Route("/search", self._search, methods=["POST"]),
            Route("/vllm/v1/chat/completions", self._chat, methods=["POST"]),
            Route("/as/{caller}/v1/chat/completions", self._chat, methods=["POST"]),
            Route("/as/{caller}/v1/models", self._models, methods=["GET"]),
            Route("/vllm/tokenize", self._tokenize, methods=["POST"]),
            Route("/vllm/v1/models", self._vllm_models, methods=["GET"]),
        ])

    def start(self) -> ScriptedUpstream:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app(), log_level="critical", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("scripted upstream did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
