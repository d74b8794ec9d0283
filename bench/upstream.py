"""A zero-latency OpenAI-compatible upstream for benchmarks: raw asyncio, canned SSE answers.

``python bench/upstream.py [--port P]`` serves ``POST /v1/chat/completions`` on 127.0.0.1 and
prints the port it listens on as its first stdout line. Every request gets the same streamed
echo reply ("echo: hello" in 4-character deltas, like tests/scripted_upstream.py), followed by a
usage chunk when the body asks for ``stream_options.include_usage``. The whole SSE body is written
at once with a Content-Length, so the upstream costs as little as possible per request.
Other paths answer 404. HTTP/1.1 keep-alive and pipelining are supported; nothing else is.

A model named ``paced-N-MS`` (``up/paced-200-20`` through orrery) gets instead N one-token deltas
("tok ") written MS milliseconds apart, as a real model streams; answers on one connection still
leave in order. ``timed-N-MS`` is the same, but each delta's text is the time it was written, as
20 digits of ``time.monotonic_ns()`` and a space (the clock every process of the machine shares),
so a client can tell how long each token took to reach it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any, cast

import orjson

REPLY_TEXT = "echo: hello"
CHUNK = 4
USAGE = {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4,
         "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}}


def _chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]}


def _sse(chunks: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


def _head(status: str, content_type: bytes, length: int) -> bytes:
    return (f"HTTP/1.1 {status}\r\ncontent-type: ".encode() + content_type
            + f"\r\ncontent-length: {length}\r\n\r\n".encode())


def _http(status: str, content_type: bytes, body: bytes) -> bytes:
    return _head(status, content_type, len(body)) + body


def canned_responses() -> tuple[bytes, bytes]:
    """The full HTTP responses without and with the usage chunk."""
    chunks = [_chunk({"role": "assistant", "content": ""})]
    chunks += [_chunk({"content": REPLY_TEXT[i:i + CHUNK]}) for i in range(0, len(REPLY_TEXT), CHUNK)]
    chunks.append(_chunk({}, "stop"))
    usage = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "m",
             "choices": [], "usage": USAGE}
    sse = b"text/event-stream"
    return _http("200 OK", sse, _sse(chunks)), _http("200 OK", sse, _sse([*chunks, usage]))


PLAIN, WITH_USAGE = canned_responses()
NOT_FOUND = _http("404 Not Found", b"application/json", b'{"error":{"message":"not found"}}')


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


Pieces = tuple[list[bytes], float]
"""An answer written in pieces, with the pause before each piece after the first."""
STAMP = b"\x00" * 20
"""Where a timed delta's text gets the time it is written (as many digits, so lengths hold)."""


def stamped(piece: bytes) -> bytes:
    return piece.replace(STAMP, b"%020d" % time.monotonic_ns()) if STAMP in piece else piece


def paced(deltas: int, pause_ms: int, *, timed: bool = False) -> Pieces:
    text = STAMP.decode() + " " if timed else "tok "
    frames = [b"data: " + orjson.dumps(_chunk({"role": "assistant", "content": ""})) + b"\n\n"]
    frames += [(b"data: " + orjson.dumps(_chunk({"content": text})) + b"\n\n").replace(b"\\u0000", b"\x00")
               for _ in range(deltas)]
    usage = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "m",
             "choices": [], "usage": {**USAGE, "completion_tokens": deltas, "total_tokens": 2 + deltas}}
    frames[-1] += b"data: " + orjson.dumps(_chunk({}, "stop")) + b"\n\n"
    frames[-1] += b"data: " + orjson.dumps(usage) + b"\n\ndata: [DONE]\n\n"
    head = _head("200 OK", b"text/event-stream", sum(len(frame) for frame in frames))
    return [head + frames[0], *frames[1:]], pause_ms / 1000


def _answer(head: bytes, body: bytes) -> bytes | Pieces:
    if not head.startswith(b"POST /v1/chat/completions "):
        return NOT_FOUND
    request = orjson.loads(body)
    model = str(request.get("model", ""))
    if model.startswith(("paced-", "timed-")):
        kind, deltas, pause_ms = model.split("-")
        return paced(int(deltas), int(pause_ms), timed=kind == "timed")
    options = request.get("stream_options") or {}
    return WITH_USAGE if options.get("include_usage") else PLAIN


class UpstreamProtocol(asyncio.Protocol):
    """One client connection: parse requests out of the byte stream, answer each at once (a paced
    one piece by piece, the answers after it waiting their turn)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.writing: asyncio.Task[None] | None = None

    def _write(self, answers: list[bytes | Pieces]) -> None:
        assert self.transport is not None
        if self.writing is None and all(isinstance(answer, bytes) for answer in answers):
            self.transport.write(b"".join(cast(list[bytes], answers)))
            return
        self.writing = asyncio.get_running_loop().create_task(self._write_in_turn(self.writing, answers))

    async def _write_in_turn(self, before: asyncio.Task[None] | None, answers: list[bytes | Pieces]) -> None:
        assert self.transport is not None
        if before is not None:
            await before
        for answer in answers:
            if isinstance(answer, bytes):
                self.transport.write(answer)
                continue
            pieces, pause = answer
            self.transport.write(pieces[0])
            for piece in pieces[1:]:
                await asyncio.sleep(pause)
                if self.transport.is_closing():
                    return
                self.transport.write(stamped(piece))
        if self.writing is asyncio.current_task():
            self.writing = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        out: list[bytes | Pieces] = []
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = self.buffer[:end]
            length = _content_length(head)
            if len(self.buffer) < end + 4 + length:
                break
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            out.append(_answer(head, body))
        if out:
            self._write(out)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(UpstreamProtocol, "127.0.0.1", port, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def event_loop_runner() -> Callable[[Coroutine[Any, Any, Any]], Any]:
    """uvloop's runner when installed (it is with uvicorn[standard]), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    port = parser.parse_args().port
    try:
        event_loop_runner()(serve(port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
