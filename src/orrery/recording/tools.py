"""Record and replay of server-side tool invocations (web searches, MCP calls), as a layer around
the tool's transport, the way ``transport`` wraps an upstream's.

A tool recording has the layout of every other one, with ``request = {test_id, provider,
tool_name, kwargs}`` and the tool's JSON result as ``response.body``. Its hash is taken over that
request object (normalized like bodies), so each test keeps its own recordings, as it does for
upstream calls. ``kwargs`` are what the tool was asked, never how it was reached: no headers,
keys or MCP authorization belong in them (those travel in the invocation's ``reach``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson

from orrery.config import RecordingMode
from orrery.recording.context import current_test_id
from orrery.recording.hashing import normalize_body
from orrery.recording.storage import RecordingStore
from orrery.tools.base import ToolError, ToolInvocation, ToolTransport, ToolUnavailable

RESULT_TYPE = "orrery.tool_result"
ERROR_TYPE = "orrery.tool_error"


class ToolRecordingNotFound(ToolUnavailable):
    """Replay mode met a tool invocation it has no recording for."""


def tool_request_hash(request: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(normalize_body(request), sort_keys=True).encode()).hexdigest()


class RecordingToolTransport:
    """Invokes the inner transport, or answers from (and writes to) the recordings directory.

    A failed invocation (``ToolError``) is recorded too, and replays as the same failure, same
    message and ``status``."""

    def __init__(self, inner: ToolTransport, store: RecordingStore, mode: RecordingMode,
                 replays: dict[str, bytes]) -> None:
        """``replays``: recorded bodies already read, by hash, shared by every tool: a replay reads
        each file once."""
        self.inner = inner
        self.store = store
        self.mode = mode
        self._replays = replays

    async def invoke(self, invocation: ToolInvocation) -> Any:
        tool_name, provider = invocation.tool_name, invocation.provider
        request = {"test_id": current_test_id.get(), "provider": provider, "tool_name": tool_name,
                   "kwargs": invocation.kwargs}
        digest = tool_request_hash(request)
        if self.mode in (RecordingMode.REPLAY, RecordingMode.RECORD_IF_MISSING):
            body = self._recorded_body(digest)
            if body is not None:
                self.store.note_used(digest)
                return _replayed(orjson.loads(body))
            if self.mode is RecordingMode.REPLAY:
                raise ToolRecordingNotFound(
                    f"no recording {digest} for tool {tool_name!r} of {provider!r} (test id "
                    f"{request['test_id']!r}) in {self.store.directory}; record it by running the same test "
                    "with ORRERY_RECORDING_MODE=record-if-missing where the tool can be reached")
        try:
            result = await self.inner.invoke(invocation)
        except ToolError as exc:
            error: dict[str, Any] = {"message": str(exc)}
            if exc.status is not None:
                error["status"] = exc.status
            self._save(digest, request, {"__type__": ERROR_TYPE, "__data__": error})
            raise
        self._save(digest, request, {"__type__": RESULT_TYPE, "__data__": result})
        return result

    def _recorded_body(self, digest: str) -> bytes | None:
        """The recorded ``response.body`` as JSON, so every replay gets its own copy."""
        body = self._replays.get(digest)
        if body is None:
            recording = self.store.load(digest)
            if recording is None:
                return None
            body = self._replays[digest] = orjson.dumps(recording["response"]["body"])
        return body

    def _save(self, digest: str, request: dict[str, Any], body: dict[str, Any]) -> None:
        self._replays.pop(digest, None)
        self.store.save(digest, {"test_id": request["test_id"], "request": request,
                                 "response": {"body": body, "is_streaming": False},
                                 "id_normalization_mapping": {}})
        self.store.note_used(digest)


def _replayed(body: dict[str, Any]) -> Any:
    if body.get("__type__") == ERROR_TYPE:
        raise ToolError(body["__data__"]["message"], body["__data__"].get("status"))
    return body["__data__"]
