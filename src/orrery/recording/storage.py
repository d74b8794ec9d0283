"""Recording files: ``<dir>/<sha256>.json`` in llama-stack's layout, and the usage log.

::

    {"test_id": ..., "request": {"method", "url", "headers": {}, "body", "endpoint", "model"},
     "response": {"body": [{"__type__", "__data__"}, ...] | {"__type__", "__data__"},
                  "is_streaming": bool, "status": int},
     "id_normalization_mapping": {}}

``status`` is ours (llama-stack recorded only successes); a file without it answered 200.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

USAGE_LOG = ".orrery-usage.log"
CHUNK_TYPE = "openai.types.chat.chat_completion_chunk.ChatCompletionChunk"
BODY_TYPES = {
    "/v1/chat/completions": "openai.types.chat.chat_completion.ChatCompletion",
    "/v1/embeddings": "openai.types.create_embedding_response.CreateEmbeddingResponse",
    "/v1/models": "openai.types.model.Model",
}
ERROR_TYPE = "orrery.error"


@dataclass(frozen=True)
class Recording:
    path: Path
    data: dict[str, Any]

    @property
    def request_hash(self) -> str:
        return self.path.stem

    @property
    def test_id(self) -> str | None:
        return self.data.get("test_id")

    @property
    def endpoint(self) -> str:
        """The API endpoint, or ``provider.tool_name`` for a tool invocation."""
        request = self.data["request"]
        if "tool_name" in request:
            return f"{request.get('provider')}.{request['tool_name']}"
        return str(request.get("endpoint", ""))

    @property
    def model(self) -> str:
        return str(self.data["request"].get("model") or "")

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def normalize_ids(data: Any, request_hash: str) -> Any:
    """Make ids and timestamps stable: ``id`` → ``rec-<hash[:12]>``, ``created`` → 0 (models keep theirs)."""
    if isinstance(data, dict) and data.get("object") != "model":
        if "id" in data:
            data["id"] = f"rec-{request_hash[:12]}"
        if "created" in data:
            data["created"] = 0
    return data


class RecordingStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._noted: set[str] = set()

    def path(self, request_hash: str) -> Path:
        return self.directory / f"{request_hash}.json"

    def load(self, request_hash: str) -> dict[str, Any] | None:
        try:
            return orjson.loads(self.path(request_hash).read_bytes())
        except FileNotFoundError:
            return None

    def save(self, request_hash: str, recording: dict[str, Any]) -> None:
        """Write atomically, so a concurrent reader never sees half a file."""
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.path(request_hash)
        temporary = target.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(orjson.dumps(recording, option=orjson.OPT_INDENT_2) + b"\n")
        temporary.replace(target)

    def all(self) -> list[Recording]:
        if not self.directory.is_dir():
            return []
        return [Recording(path, orjson.loads(path.read_bytes())) for path in sorted(self.directory.glob("*.json"))]

    def find(self, prefix: str) -> list[Recording]:
        return [r for r in self.all() if r.request_hash.startswith(prefix)]

    # usage log: which recordings the last run used

    @property
    def usage_log(self) -> Path:
        return self.directory / USAGE_LOG

    def start_usage_log(self) -> None:
        """Begin a run's log; called once by the serving process, before any worker starts."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.usage_log.write_text("")

    def note_used(self, request_hash: str) -> None:
        """Log a recording as used, once per process."""
        if request_hash in self._noted:
            return
        self._noted.add(request_hash)
        with self.usage_log.open("a") as log:
            log.write(request_hash + "\n")

    def used(self) -> set[str] | None:
        try:
            return set(self.usage_log.read_text().split())
        except FileNotFoundError:
            return None
