"""A transport that records upstream calls to files, or answers from them.

It sits under the provider, in place of its network transport, so replayed answers — streams
chunk by chunk, errors with their status and body — go through exactly the code that handles
live ones.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from orrery.config import RecordingMode
from orrery.inference.transport import Transport, TransportError, UpstreamAnswer, UpstreamRequest
from orrery.recording.context import current_test_id
from orrery.recording.hashing import request_hash
from orrery.recording.storage import BODY_TYPES, CHUNK_TYPE, ERROR_TYPE, RecordingStore, normalize_ids
from orrery.urls import redacted, without_user_info

log = logging.getLogger(__name__)

SSE_DONE = b"data: [DONE]\n\n"


class RecordingNotFound(TransportError):
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


@dataclass(frozen=True, slots=True)
class ReplayedAnswer:
    """A recorded answer, its body sent frame by frame as the upstream sent its chunks."""

    status: int
    content_type: str
    frames: list[bytes]

    async def chunks(self) -> AsyncIterator[bytes]:
        for frame in self.frames:
            yield frame

    async def aclose(self) -> None:
        return None


class TeeAnswer:
    """Passes a live answer through and hands the whole of its body over once it was read to the end."""

    def __init__(self, inner: UpstreamAnswer, on_complete: Callable[[bytes], None]) -> None:
        self._inner = inner
        self._on_complete = on_complete

    @property
    def status(self) -> int:
        return self._inner.status

    @property
    def content_type(self) -> str:
        return self._inner.content_type

    async def chunks(self) -> AsyncIterator[bytes]:
        parts = []
        async for part in self._inner.chunks():
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


class RecordingTransport:
    def __init__(self, inner: Transport, store: RecordingStore, mode: RecordingMode, *, base_path: str) -> None:
        self._inner = inner
        self._store = store
        self._mode = mode
        self._base_path = base_path.rstrip("/")
        self._replays: dict[str, ReplayedAnswer] = {}

    def endpoint(self, url_path: str) -> str:
        """The API endpoint (``/v1/chat/completions``) of a full upstream URL path."""
        return "/v1/" + url_path.removeprefix(self._base_path).lstrip("/")

    async def send(self, request: UpstreamRequest) -> UpstreamAnswer:
        body = orjson.loads(request.body) if request.body else {}
        test_id = current_test_id.get()
        path = urlsplit(request.url).path
        digest = request_hash(test_id, request.method, path, body)
        if self._mode in (RecordingMode.REPLAY, RecordingMode.RECORD_IF_MISSING):
            replay = self._replay(digest)
            if replay is not None:
                self._store.note_used(digest)
                return replay
            if self._mode is RecordingMode.REPLAY:
                raise RecordingNotFound(
                    f"no recording {digest} for {request.method} {path} "
                    f"(test id {test_id!r}, model {body.get('model')!r}) in {self._store.directory}; "
                    "record it by running the same test with ORRERY_RECORDING_MODE=record-if-missing "
                    "against a live upstream")
        return await self._record(request, path, body, test_id, digest)

    def _replay(self, digest: str) -> ReplayedAnswer | None:
        replay = self._replays.get(digest)
        if replay is None:
            recording = self._store.load(digest)
            if recording is None:
                return None
            replay = self._replays[digest] = ReplayedAnswer(*replay_frames(recording["response"]))
        return replay

    async def _record(self, request: UpstreamRequest, path: str, body: Any, test_id: str | None,
                      digest: str) -> UpstreamAnswer:
        response = await self._inner.send(request)
        endpoint = self.endpoint(path)

        def save(raw: bytes) -> None:
            self._replays.pop(digest, None)
            self._store.save(digest, {
                "test_id": test_id,
                "request": {"method": request.method, "url": redacted(without_user_info(request.url)),
                            "headers": {}, "body": body, "endpoint": endpoint,
                            "model": body.get("model", "") if isinstance(body, dict) else ""},
                "response": recorded_response(endpoint, response.status, response.content_type, raw, digest),
                "id_normalization_mapping": {},
            })
            self._store.note_used(digest)

        return TeeAnswer(response, save)

    async def aclose(self) -> None:
        await self._inner.aclose()
