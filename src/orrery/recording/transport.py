"""An httpx2 transport that records upstream calls to files, or answers from them.

It sits under the provider's HTTP client, so replayed answers — streams chunk by chunk, errors
with their status and body — go through exactly the code that handles live ones.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import orjson

from orrery.config import RecordingMode
from orrery.recording.context import current_test_id
from orrery.recording.hashing import request_hash
from orrery.recording.storage import BODY_TYPES, CHUNK_TYPE, ERROR_TYPE, RecordingStore, normalize_ids
from orrery.urls import redacted

log = logging.getLogger(__name__)

SSE_DONE = b"data: [DONE]\n\n"


class RecordingNotFound(httpx2.TransportError):
    """Replay mode met a request it has no recording for."""


def _sse_frame(chunk: Any) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def _sse_payloads(raw: bytes) -> list[Any]:
    payloads = []
    for line in raw.split(b"\n"):
        if line.startswith(b"data:"):
            payload = line[5:].strip()
            if payload and payload != b"[DONE]":
                payloads.append(orjson.loads(payload))
    return payloads


def _json_or_text(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


class _FramesStream(httpx2.AsyncByteStream):
    """A recorded body, sent frame by frame as the upstream sent its chunks."""

    def __init__(self, frames: list[bytes]) -> None:
        self._frames = frames

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for frame in self._frames:
            yield frame


class _TeeStream(httpx2.AsyncByteStream):
    """Passes a live body through and hands the whole of it over once it was read to the end."""

    def __init__(self, inner: httpx2.AsyncByteStream, on_complete: Callable[[bytes], None]) -> None:
        self._inner = inner
        self._on_complete = on_complete

    async def __aiter__(self) -> AsyncIterator[bytes]:
        parts = []
        async for part in self._inner:
            parts.append(part)
            yield part
        self._on_complete(b"".join(parts))

    async def aclose(self) -> None:
        await self._inner.aclose()


def recorded_response(endpoint: str, status: int, content_type: str, raw: bytes,
                      digest: str) -> dict[str, Any]:
    """The ``response`` part of a recording file."""
    if status >= 400:
        return {"body": {"__type__": ERROR_TYPE, "__data__": _json_or_text(raw)}, "is_streaming": False,
                "status": status}
    if content_type.startswith("text/event-stream"):
        chunks = [{"__type__": CHUNK_TYPE, "__data__": normalize_ids(c, digest)} for c in _sse_payloads(raw)]
        return {"body": chunks, "is_streaming": True, "status": status}
    data = _json_or_text(raw)
    if endpoint == "/v1/models" and isinstance(data, dict) and isinstance(data.get("data"), list):
        body: Any = [{"__type__": BODY_TYPES[endpoint], "__data__": model} for model in data["data"]]
    else:
        body = {"__type__": BODY_TYPES.get(endpoint, "json"), "__data__": normalize_ids(data, digest)}
    return {"body": body, "is_streaming": False, "status": status}


def replay_frames(response: dict[str, Any]) -> tuple[int, str, list[bytes]]:
    """Status, content type and body frames of a recorded ``response``."""
    status = int(response.get("status", 200))
    body = response["body"]
    if response.get("is_streaming"):
        return status, "text/event-stream", [_sse_frame(chunk["__data__"]) for chunk in body] + [SSE_DONE]
    if isinstance(body, list):
        return status, "application/json", [orjson.dumps({"object": "list", "data": [m["__data__"] for m in body]})]
    data = body["__data__"]
    if isinstance(data, str):
        return status, "text/plain", [data.encode()]
    return status, "application/json", [orjson.dumps(data)]


class RecordingTransport(httpx2.AsyncBaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport, store: RecordingStore, mode: RecordingMode,
                 *, base_path: str) -> None:
        self._inner = inner
        self._store = store
        self._mode = mode
        self._base_path = base_path.rstrip("/")
        self._replays: dict[str, tuple[int, str, list[bytes]]] = {}

    def endpoint(self, url_path: str) -> str:
        """The API endpoint (``/v1/chat/completions``) of a full upstream URL path."""
        return "/v1/" + url_path.removeprefix(self._base_path).lstrip("/")

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = orjson.loads(request.content) if request.content else {}
        test_id = current_test_id.get()
        digest = request_hash(test_id, request.method, request.url.path, body)
        if self._mode in (RecordingMode.REPLAY, RecordingMode.RECORD_IF_MISSING):
            replay = self._replay(digest)
            if replay is not None:
                self._store.note_used(digest)
                status, content_type, frames = replay
                return httpx2.Response(status, headers={"content-type": content_type},
                                       stream=_FramesStream(frames), request=request)
            if self._mode is RecordingMode.REPLAY:
                raise RecordingNotFound(
                    f"no recording {digest} for {request.method} {request.url.path} "
                    f"(test id {test_id!r}, model {body.get('model')!r}) in {self._store.directory}; "
                    "record it by running the same test with ORRERY_RECORDING_MODE=record-if-missing "
                    "against a live upstream", request=request)
        return await self._record(request, body, test_id, digest)

    def _replay(self, digest: str) -> tuple[int, str, list[bytes]] | None:
        replay = self._replays.get(digest)
        if replay is None:
            recording = self._store.load(digest)
            if recording is None:
                return None
            replay = self._replays[digest] = replay_frames(recording["response"])
        return replay

    async def _record(self, request: httpx2.Request, body: Any, test_id: str | None,
                      digest: str) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        endpoint = self.endpoint(request.url.path)
        content_type = response.headers.get("content-type", "")

        def save(raw: bytes) -> None:
            self._replays.pop(digest, None)
            self._store.save(digest, {
                "test_id": test_id,
                "request": {"method": request.method, "url": redacted(str(request.url.copy_with(userinfo=b""))),
                            "headers": {}, "body": body, "endpoint": endpoint,
                            "model": body.get("model", "") if isinstance(body, dict) else ""},
                "response": recorded_response(endpoint, response.status_code, content_type, raw, digest),
                "id_normalization_mapping": {},
            })
            self._store.note_used(digest)

        assert isinstance(response.stream, httpx2.AsyncByteStream)
        return httpx2.Response(response.status_code, headers=response.headers,
                               stream=_TeeStream(response.stream, save), request=request,
                               extensions=response.extensions)

    async def aclose(self) -> None:
        await self._inner.aclose()
